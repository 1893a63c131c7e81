//! `switchyard healthcheck` against the real binary, as `traefik healthcheck`
//! behaves: same static configuration sources, Traefik's messages and exit
//! codes, nothing bound.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// Runs `switchyard healthcheck ARGS` in `dir` with `env`; (exit code,
/// stdout).
async fn healthcheck(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("healthcheck").args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHYARD_") || k.starts_with("TRAEFIK_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn a_running_instance_is_healthy_and_the_check_binds_nothing() {
    let b = Backend::start("b").await;
    let p = Proxy::start("hc-ok", &host_route("r", "hc.test", &b), "").await;
    p.wait_status("hc.test", "/", 200).await;
    let port = p.admin.port();

    // The proxy holds both ports: a check that tried to bind would fail.
    let by_file = healthcheck(p.dir.path(), &["--configFile=switchyard.yml"], &[]).await;
    assert_eq!(
        by_file,
        (Some(0), format!("OK: http://127.0.0.1:{port}/ping\n"))
    );
    // Flags (in a directory without a configuration file, which would win
    // over them), with an address without host: dialled on this machine.
    let empty = TestDir::new("hc-flags");
    let home = empty.path().display().to_string();
    let address = format!("--entryPoints.traefik.address=:{port}");
    let by_flags = healthcheck(empty.path(), &["--ping", &address], &[("HOME", &home)]).await;
    assert_eq!(by_flags, (Some(0), format!("OK: http://:{port}/ping\n")));
    // Environment variables, the ping on another entrypoint name.
    let addr = format!("127.0.0.1:{port}");
    let by_env = healthcheck(
        empty.path(),
        &[],
        &[
            ("HOME", &home),
            ("TRAEFIK_PING_ENTRYPOINT", "admin"),
            ("TRAEFIK_ENTRYPOINTS_ADMIN_ADDRESS", &addr),
        ],
    )
    .await;
    assert_eq!(by_env, (Some(0), format!("OK: http://{addr}/ping\n")));

    // Still serving, nothing taken from it.
    p.wait_status("hc.test", "/", 200).await;
}

#[tokio::test]
async fn a_stopped_instance_is_unhealthy() {
    let p = Proxy::start("hc-stopped", "", "").await;
    let port = p.admin.port();
    let Proxy { mut sy, dir, .. } = p;
    wait_until("signal handlers", Duration::from_secs(10), || async {
        sy.logged("waiting for signals").then_some(())
    })
    .await;
    sy.signal("TERM");
    let code = tokio::task::spawn_blocking(move || sy.wait_exit(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
    let out = healthcheck(dir.path(), &["--configFile=switchyard.yml"], &[]).await;
    assert_eq!(
        out,
        (
            Some(1),
            format!(
                "Error calling healthcheck: Head \"http://127.0.0.1:{port}/ping\": dial tcp 127.0.0.1:{port}: connect: connection refused\n"
            )
        )
    );
}

#[tokio::test]
async fn without_ping_or_its_entrypoint_the_check_fails_as_traefiks() {
    let dir = TestDir::new("hc-noping");
    let port = free_port();
    dir.write(
        "noping.yml",
        &format!("entryPoints:\n  traefik:\n    address: \"127.0.0.1:{port}\"\n"),
    );
    dir.write(
        "manual.yml",
        &format!("entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\nping:\n  manualRouting: true\n"),
    );
    let cases = [
        (
            "--configFile=noping.yml",
            "Error calling healthcheck: please enable `ping` to use health check\n",
        ),
        (
            "--configFile=manual.yml",
            "Error calling healthcheck: ping: missing traefik entry point\n",
        ),
    ];
    for (arg, want) in cases {
        assert_eq!(
            healthcheck(dir.path(), &[arg], &[]).await,
            (Some(1), want.to_string()),
            "{arg}"
        );
    }
}

#[tokio::test]
async fn manual_routing_without_a_router_answers_404() {
    let dir = TestDir::new("hc-manual");
    let port = free_port();
    dir.write(
        "switchyard.yml",
        &format!("entryPoints:\n  traefik:\n    address: \"127.0.0.1:{port}\"\nping:\n  manualRouting: true\n"),
    );
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    sy.wait_listening(format!("127.0.0.1:{port}").parse().unwrap())
        .await;
    let out = healthcheck(dir.path(), &["--configFile=switchyard.yml"], &[]).await;
    assert_eq!(
        out,
        (
            Some(1),
            "Bad healthcheck status: 404 Not Found\n".to_string()
        )
    );
}

#[tokio::test]
async fn help_and_version_stay_as_they_are() {
    let dir = TestDir::new("hc-help");
    let (code, text) = healthcheck(dir.path(), &["--help"], &[]).await;
    assert_eq!(code, Some(0));
    assert!(text.contains("switchyard healthcheck"), "{text}");
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("switchyard version"));
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("switchyard {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// As Traefik's, the check speaks plain HTTP even to a TLS entrypoint, where
/// the ping router only answers over TLS: 404.
#[tokio::test]
async fn a_tls_ping_entrypoint_answers_the_plain_check_404() {
    let dir = TestDir::new("hc-tls");
    let port = free_port();
    dir.write(
        "switchyard.yml",
        &format!("entryPoints:\n  traefik:\n    address: \"127.0.0.1:{port}\"\n    http:\n      tls: {{}}\nping: {{}}\n"),
    );
    let _sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until("ping over TLS", Duration::from_secs(10), || async move {
        switchyard_testkit::tls_client::TlsClient::get(addr, "localhost", "/ping")
            .await
            .ok()
            .filter(|r| r.reply.status.as_u16() == 200)
    })
    .await;
    let out = healthcheck(dir.path(), &["--configFile=switchyard.yml"], &[]).await;
    assert_eq!(
        out,
        (
            Some(1),
            "Bad healthcheck status: 404 Not Found\n".to_string()
        )
    );
}
