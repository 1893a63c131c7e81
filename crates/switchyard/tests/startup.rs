//! Starting the Traefik way: a configuration file found or named, CLI flags,
//! environment variables; warnings for what is not supported yet; graceful
//! shutdown.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

async fn wait_routed(addr: std::net::SocketAddr, host: &str) -> Reply {
    wait_until(
        &format!("{host} routed on {addr}"),
        Duration::from_secs(10),
        || async move {
            get(addr, host, "/")
                .await
                .ok()
                .filter(|r| r.status.as_u16() == 200)
        },
    )
    .await
}

#[tokio::test]
async fn cli_flags_configure_everything() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("flags");
    dir.write("dynamic/routes.yml", &host_route("r", "flags.test", &b));
    let web = free_port();
    let sy = Switchyard::start(
        Path::new(BIN),
        dir.path(),
        &[
            &format!("--entryPoints.web.address=127.0.0.1:{web}"),
            "--PROVIDERS.FILE.DIRECTORY=./dynamic",
            "--log.level=debug",
        ],
    );
    wait_routed(format!("127.0.0.1:{web}").parse().unwrap(), "flags.test").await;
    drop(sy);
}

#[tokio::test]
async fn environment_variables_configure_everything() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("env");
    dir.write("dynamic/routes.yml", &host_route("r", "env.test", &b));
    let web = free_port();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env(
            "TRAEFIK_ENTRYPOINTS_WEB_ADDRESS",
            format!("127.0.0.1:{web}"),
        )
        .env("SWITCHYARD_PROVIDERS_FILE_DIRECTORY", "./dynamic")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let routed = tokio::time::timeout(
        Duration::from_secs(15),
        wait_routed(format!("127.0.0.1:{web}").parse().unwrap(), "env.test"),
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    routed.expect("routed with env configuration");
}

#[tokio::test]
async fn toml_file_found_in_the_working_directory() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("toml");
    let web = free_port();
    dir.write("dynamic.toml", &format!("[http.routers.r]\nrule = \"Host(`toml.test`)\"\nservice = \"s\"\n[[http.services.s.loadBalancer.servers]]\nurl = \"{}\"\n", b.url()));
    dir.write(
        "traefik.toml",
        &format!("[entryPoints.web]\naddress = \"127.0.0.1:{web}\"\n[providers.file]\nfilename = \"dynamic.toml\"\n[metrics.statsD]\n"),
    );
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &[]);
    wait_routed(format!("127.0.0.1:{web}").parse().unwrap(), "toml.test").await;
    assert!(
        sy.log().iter().any(
            |l| l.contains("not implemented by Switchyard yet") && l.contains("metrics.statsD")
        ),
        "one warning names the unsupported sections: {:?}",
        sy.log()
    );
}

#[tokio::test]
async fn bad_static_configuration_is_a_located_error() {
    let dir = TestDir::new("badstatic");
    dir.write(
        "switchyard.yml",
        "entryPoints:\n  web:\n    address: \":80\"\n    bogusField: 1\n",
    );
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg("--configFile=switchyard.yml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("switchyard.yml") && err.contains(":4"),
        "file and line in: {err}"
    );
    assert!(err.to_lowercase().contains("bogusfield"), "field in: {err}");
}

#[tokio::test]
async fn refused_static_values_stop_the_start_with_their_key() {
    // (configuration, what the error must name)
    let cases = [
        (
            "entryPoints:\n  web:\n    address: \"127.0.0.1:0\"\nproviders:\n  precedence: [file, internal]\n",
            "\"internal\" is not a valid provider name",
        ),
        (
            "entryPoints:\n  web:\n    address: \"127.0.0.1:0\"\n    http:\n      redirections:\n        entryPoint:\n          to: nowhere\n",
            "redirections.entryPoint.to",
        ),
        (
            "entryPoints:\n  web:\n    address: \"127.0.0.1:0\"\n    proxyProtocol:\n      trustedIPs: [\"10.0.0.0/40\"]\n",
            "proxyProtocol.trustedIPs",
        ),
        (
            "serversTransport:\n  spiffe:\n    ids: [\"spiffe://x/y\"]\n",
            "serversTransport.spiffe",
        ),
    ];
    for (i, (config, needle)) in cases.iter().enumerate() {
        let dir = TestDir::new(&format!("refused-{i}"));
        dir.write("switchyard.yml", config);
        let out = Command::new(BIN)
            .current_dir(dir.path())
            .arg("--configFile=switchyard.yml")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{config}");
        let err = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(err.contains(needle), "{needle:?} in: {err}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("graceful");
    let web = free_port();
    dir.write("dyn.yml", &host_route("r", "g.test", &b));
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n    transport:\n      lifeCycle:\n        graceTimeOut: 5s\nproviders:\n  file:\n    filename: dyn.yml\n"
        ),
    );
    let mut sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    wait_routed(addr, "g.test").await;
    let slow = tokio::spawn(async move { get(addr, "g.test", "/sleep/700").await });
    // Let the slow request reach the backend before asking to stop.
    wait_until("slow request in flight", Duration::from_secs(5), || async {
        (b.hits() >= 2).then_some(())
    })
    .await;
    sy.signal("TERM");
    let r = slow.await.unwrap().expect("in-flight request completes");
    assert_eq!(r.status.as_u16(), 200);
    let code = tokio::task::spawn_blocking(move || sy.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "exits 0 after draining");
}

#[tokio::test]
async fn json_logs_to_a_file() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("jsonlog");
    let web = free_port();
    dir.write("dyn.yml", &host_route("r", "log.test", &b));
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\nlog:\n  level: INFO\n  format: json\n  filePath: out.log\nproviders:\n  file:\n    filename: dyn.yml\n"
        ),
    );
    let _sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    wait_routed(format!("127.0.0.1:{web}").parse().unwrap(), "log.test").await;
    let path = dir.join("out.log");
    let line = wait_until(
        "applied line in the log file",
        Duration::from_secs(5),
        || {
            let path = path.clone();
            async move {
                std::fs::read_to_string(&path)
                    .ok()?
                    .lines()
                    .find(|l| l.contains("configuration applied") && l.contains("\"routers\""))
                    .map(String::from)
            }
        },
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(&line).expect("each log line is JSON");
    assert_eq!(json["level"], "INFO");
    assert!(json["build_ms"].is_number(), "{json}");
}
