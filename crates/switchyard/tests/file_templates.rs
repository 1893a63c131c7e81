//! Dynamic files are Go templates (as Traefik's file provider has them):
//! `env` reads the process environment, `range` generates routers, a
//! template error names file and line and keeps the last good
//! configuration, `debugLogGeneratedTemplate` logs the rendered text.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;

/// Switchyard on one `filename` (`dyn.yml`), with `env` set on the process.
struct Started {
    sy: Switchyard,
    dir: TestDir,
    web: SocketAddr,
}

async fn start(name: &str, dynamic: &str, file_extra: &str, env: &[(&str, &str)]) -> Started {
    let dir = TestDir::new(name);
    let (web, admin) = (free_port(), free_port());
    dir.write("dyn.yml", dynamic);
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         api:\n  insecure: true\nlog:\n  level: DEBUG\n\
         providers:\n  providersThrottleDuration: 0s\n  file:\n    filename: \"{}\"\n    watch: true\n{file_extra}",
        dir.join("dyn.yml").display()
    );
    dir.write("switchyard.yml", &static_yaml);
    let sy = Switchyard::start_with_env(
        Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
        env,
    );
    sy.wait_listening(format!("127.0.0.1:{admin}").parse().unwrap())
        .await;
    Started {
        sy,
        dir,
        web: format!("127.0.0.1:{web}").parse().unwrap(),
    }
}

async fn wait_backend(web: SocketAddr, host: &str, backend: &str) {
    wait_until(
        &format!("{host} routed to {backend}"),
        Duration::from_secs(10),
        || async move {
            get(web, host, "/")
                .await
                .ok()
                .filter(|r| r.status.as_u16() == 200 && r.header("x-backend") == Some(backend))
        },
    )
    .await;
}

fn service(backend: &Backend) -> String {
    format!(
        "  services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        backend.url()
    )
}

#[tokio::test]
async fn env_in_a_router_rule_reads_the_process_environment() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`{{{{ env \"SY_TEMPLATE_HOST\" }}}}`)\"\n      service: svc\n{}",
        service(&a)
    );
    let s = start(
        "tmpl-env",
        &dynamic,
        "",
        &[("SY_TEMPLATE_HOST", "from-env.test")],
    )
    .await;
    wait_backend(s.web, "from-env.test", "a").await;
    assert_eq!(
        get(s.web, "other.test", "/").await.unwrap().status.as_u16(),
        404
    );
}

#[tokio::test]
async fn range_generates_routers_and_a_template_error_keeps_the_last_good_config() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let generated = |hosts: &str, backend: &Backend| {
        format!(
            "http:\n  routers:\n{{{{- range $i, $h := splitList \",\" \"{hosts}\" }}}}\n    r{{{{ $i }}}}:\n      rule: \"Host(`{{{{ $h }}}}.test`)\"\n      service: svc\n{{{{- end }}}}\n{}",
            service(backend)
        )
    };
    let s = start(
        "tmpl-range",
        &generated("one,two,three", &a),
        "    debugLogGeneratedTemplate: true\n",
        &[],
    )
    .await;
    for host in ["one.test", "two.test", "three.test"] {
        wait_backend(s.web, host, "a").await;
    }
    // The rendered text is logged at debug level.
    wait_until(
        "the rendered text is logged",
        Duration::from_secs(5),
        || async {
            let log = s.sy.log().join("\n");
            // Only the rendered text has the host spelled out.
            (log.contains("Rendering results") && log.contains("Host(`three.test`)")).then_some(())
        },
    )
    .await;

    // A change of the template is routed.
    s.dir.write("dyn.yml", &generated("one,four", &b));
    wait_backend(s.web, "four.test", "b").await;
    wait_backend(s.web, "one.test", "b").await;
    assert_eq!(
        get(s.web, "two.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // A template error (unknown function on line 4): logged with file and
    // line, the last good configuration keeps serving.
    s.dir.write(
        "dyn.yml",
        "http:\n  routers:\n    r0:\n      rule: \"Host(`{{ nosuchfunc }}`)\"\n      service: svc\n",
    );
    wait_until(
        "the template error is logged",
        Duration::from_secs(5),
        || async {
            s.sy.log()
                .iter()
                .any(|l| l.contains("dyn.yml:4:") && l.contains("nosuchfunc"))
                .then_some(())
        },
    )
    .await;
    wait_backend(s.web, "four.test", "b").await;
    wait_backend(s.web, "one.test", "b").await;

    // An execution error (division by zero) is treated the same.
    s.dir.write("dyn.yml", "http:\n  routers: {{ div 1 0 }}\n");
    wait_until(
        "the execution error is logged",
        Duration::from_secs(5),
        || async {
            s.sy.log()
                .iter()
                .any(|l| l.contains("dyn.yml:2:") && l.contains("integer divide by zero"))
                .then_some(())
        },
    )
    .await;
    wait_backend(s.web, "four.test", "b").await;

    // Fixed: applied.
    s.dir.write("dyn.yml", &generated("five", &a));
    wait_backend(s.web, "five.test", "a").await;
    assert_eq!(
        get(s.web, "four.test", "/").await.unwrap().status.as_u16(),
        404
    );
}
