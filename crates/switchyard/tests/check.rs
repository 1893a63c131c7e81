//! `switchyard check` against the real binary: a configuration checked
//! offline, each problem printed with its file and line, exit 0 or 1,
//! nothing bound and no provider reached.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::path::Path;
use std::process::Command;

use common::*;

/// Runs `switchyard check ARGS` in `dir`; (exit code, stdout).
fn check(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("check").args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHYARD_") || k.starts_with("TRAEFIK_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn static_file(dir: &TestDir, port: u16, extra: &str) {
    dir.write(
        "traefik.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\nproviders:\n  file:\n    directory: \"{}\"\n{extra}",
            dir.join("dynamic").display()
        ),
    );
}

const GOOD: &str = r#"http:
  routers:
    app:
      rule: "Host(`app.test`) && PathPrefix(`/api`)"
      service: app
      middlewares: [strip]
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/api"]
  services:
    app:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9"}]
"#;

#[test]
fn a_good_configuration_passes_without_binding_its_port() {
    let dir = TestDir::new("check-good");
    // The entrypoint's port is taken: a check that bound it would fail.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    static_file(&dir, port, "");
    dir.write("dynamic/app.yml", GOOD);
    dir.write(
        "dynamic/templated.yml",
        "http:\n  routers:\n{{ range $i, $h := list \"a\" \"b\" }}    r{{ $i }}:\n      rule: \"Host(`{{ $h }}.test`)\"\n      service: app@file\n{{ end }}",
    );
    let (code, out) = check(dir.path(), &["--configFile=traefik.yml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("dynamic files read: 2"), "{out}");
    assert!(out.ends_with("0 errors, 0 warnings\n"), "{out}");
}

#[test]
fn each_problem_is_named_with_its_file_and_line_and_the_exit_code_is_1() {
    let dir = TestDir::new("check-bad");
    static_file(&dir, free_port(), "metrics:\n  statsd: {}\n");
    dir.write(
        "dynamic/routers.yml",
        r#"http:
  routers:
    ok:
      rule: "Host(`ok.test`)"
      service: app
    broken-rule:
      rule: "Host(`a.test`"
      service: app
    no-service:
      rule: "Host(`b.test`)"
      service: missing
  services:
    app:
      loadBalancer:
        servers: [{url: "http://127.0.0.1:9"}]
"#,
    );
    dir.write(
        "dynamic/typo.yml",
        "http:\n  routers:\n    r:\n      rule: Host(`c.test`)\n      servise: app\n",
    );
    dir.write(
        "dynamic/template.yml",
        "http:\n  routers: {{ nosuchfunction }}\n",
    );
    let (code, out) = check(dir.path(), &["--configFile=traefik.yml"]);
    assert_eq!(code, Some(1), "{out}");
    let routers = dir.join("dynamic/routers.yml").display().to_string();
    let typo = dir.join("dynamic/typo.yml").display().to_string();
    let template = dir.join("dynamic/template.yml").display().to_string();
    let lines: Vec<&str> = out.lines().collect();
    let has = |prefix: &str, words: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(prefix) && l.contains(words))
    };
    assert!(has("warning: metrics.statsd", "not implemented"), "{out}");
    assert!(has(&format!("error: {typo}:5:"), "servise"), "{out}");
    assert!(
        has(&format!("error: template: {template}:2:"), "nosuchfunction"),
        "{out}"
    );
    assert!(
        has(&format!("error: {routers}:7:"), "broken-rule@file"),
        "{out}"
    );
    assert!(
        has(
            &format!("error: {routers}:10:"),
            "\"missing@file\" does not exist"
        ),
        "{out}"
    );
    assert!(!out.contains("\"ok@file\""), "{out}");
    assert!(out.ends_with("4 errors, 1 warning\n"), "{out}");
}

#[test]
fn a_bad_static_file_and_live_providers() {
    let dir = TestDir::new("check-static");
    dir.write(
        "traefik.yml",
        "entryPoints:\n  web:\n    address: \":80\"\n    bogus: 1\n",
    );
    let (code, out) = check(dir.path(), &["--configFile=traefik.yml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("traefik.yml:4"), "{out}");
    assert!(out.contains("bogus"), "{out}");

    // A store is not reached offline: named, not an error.
    static_file(
        &dir,
        free_port(),
        "  redis:\n    endpoints: [\"127.0.0.1:1\"]\n",
    );
    dir.write("dynamic/app.yml", GOOD);
    let (code, out) = check(dir.path(), &["--configFile=traefik.yml"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("note: providers.redis: not checked"), "{out}");
}

#[test]
fn udp_entrypoints_and_routers_are_checked() {
    let dir = TestDir::new("check-udp");
    static_file(&dir, free_port(), "");
    // A UDP entrypoint added after the `web` one.
    let text = std::fs::read_to_string(dir.join("traefik.yml"))
        .unwrap()
        .replace(
            "providers:",
            "  dns:\n    address: \"127.0.0.1:5353/udp\"\n    udp:\n      timeout: 0s\nproviders:",
        );
    dir.write("traefik.yml", &text);
    dir.write(
        "dynamic/udp.yml",
        "udp:\n  routers:\n    ok:\n      service: pool\n    lost:\n      entryPoints: [dns, web]\n      service: nowhere\n  services:\n    pool:\n      loadBalancer:\n        servers: [{address: \"127.0.0.1:9\"}]\n",
    );
    let (code, out) = check(dir.path(), &["--configFile=traefik.yml"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("entryPoints.dns.udp.timeout: timeout should be greater than zero"),
        "{out}"
    );
    assert!(
        out.contains(
            "error: UDP router \"lost@file\": the UDP service \"nowhere@file\" does not exist"
        ),
        "{out}"
    );
    assert!(
        out.contains("UDP router \"lost@file\": entryPoint \"web\" doesn't exist"),
        "{out}"
    );
    assert!(!out.contains("\"ok@file\""), "{out}");
}
