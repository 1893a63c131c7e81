//! The HTTP provider against a real endpoint served by the test: routes
//! appear and change with the endpoint's answer, an unchanged answer sends
//! nothing, a failing endpoint (status, bad body, too large, too slow,
//! gone) keeps the last good configuration and is logged once, headers
//! (and a Host override) are sent, TLS with a test CA and a client
//! certificate.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::*;
use switchyard_testkit::tls::{ca_path, fixture_path, TlsOptions};
use switchyard_testkit::ConfigServer;

struct Started {
    sy: Switchyard,
    _dir: TestDir,
    web: SocketAddr,
}

/// Switchyard with only the HTTP provider, `http_extra` (YAML indented by
/// 4) added to `providers.http`.
async fn start(name: &str, endpoint: &str, http_extra: &str) -> Started {
    let dir = TestDir::new(name);
    let (web, admin) = (free_port(), free_port());
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         api:\n  insecure: true\nlog:\n  level: DEBUG\n\
         providers:\n  providersThrottleDuration: 0s\n  http:\n    endpoint: \"{endpoint}\"\n    pollInterval: 100ms\n{http_extra}"
    );
    dir.write("switchyard.yml", &static_yaml);
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    sy.wait_listening(format!("127.0.0.1:{admin}").parse().unwrap())
        .await;
    Started {
        sy,
        _dir: dir,
        web: format!("127.0.0.1:{web}").parse().unwrap(),
    }
}

/// A JSON configuration routing `Host(host)` to `backend`.
fn json_route(host: &str, backend: &Backend) -> String {
    format!(
        r#"{{"http":{{"routers":{{"r":{{"rule":"Host(`{host}`)","service":"s"}}}},"services":{{"s":{{"loadBalancer":{{"servers":[{{"url":"{}"}}]}}}}}}}}}}"#,
        backend.url()
    )
}

async fn wait_routed(web: SocketAddr, host: &str, backend: &str) {
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

fn count(sy: &Switchyard, needles: &[&str]) -> usize {
    sy.log()
        .iter()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .count()
}

async fn wait_hits(server: &ConfigServer, more_than: u64) {
    wait_until(
        "the endpoint polled again",
        Duration::from_secs(10),
        || async { (server.hits() > more_than).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn routes_follow_the_endpoint_and_failures_keep_the_last_config() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let server = ConfigServer::start(&json_route("one.test", &a)).await;
    let s = start(
        "http-provider",
        &server.url(),
        "    pollTimeout: 300ms\n    maxResponseBodySize: 4096\n    headers:\n      X-Token: secret\n      Host: config.example\n",
    )
    .await;
    wait_routed(s.web, "one.test", "a").await;
    // Headers, and the Host override.
    assert_eq!(server.last_header("x-token").as_deref(), Some("secret"));
    assert_eq!(
        server.last_header("host").as_deref(),
        Some("config.example")
    );

    // The same answer, polled again and again, sends nothing more.
    let hits = server.hits();
    wait_hits(&server, hits + 3).await;
    let changes = [r#"provider="http""#, "configuration change detected"];
    assert_eq!(
        count(&s.sy, &changes),
        1,
        "one configuration sent for one answer"
    );

    // A new answer (YAML this time) is routed.
    server.set(
        200,
        &format!(
            "http:\n  routers:\n    r:\n      rule: Host(`two.test`)\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: {}\n",
            b.url()
        ),
    );
    wait_routed(s.web, "two.test", "b").await;
    assert_eq!(
        get(s.web, "one.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // Failures: each keeps two.test on b, and is logged once while it lasts.
    let failed = "cannot fetch configuration data";
    let cases: &[(&str, u16, String, Duration, &str)] = &[
        (
            "status 500",
            500,
            "{}".to_string(),
            Duration::ZERO,
            "received non-ok response code: 500",
        ),
        (
            "too large",
            200,
            format!("{{\"http\":{{}}, \"x\": \"{}\"}}", "a".repeat(5000)),
            Duration::ZERO,
            "response body too large",
        ),
        (
            "too slow",
            200,
            json_route("slow.test", &a),
            Duration::from_millis(800),
            "pollTimeout",
        ),
    ];
    for (desc, status, body, delay, why) in cases {
        server.set_delay(*delay);
        server.set(*status, body);
        let before = count(&s.sy, &[failed, why]);
        wait_until(
            &format!("{desc}: the failure is logged"),
            Duration::from_secs(10),
            || async { (count(&s.sy, &[failed, why]) > before).then_some(()) },
        )
        .await;
        // Several more polls fail; the failure is not logged again.
        let hits = server.hits();
        wait_hits(&server, hits + 2).await;
        assert_eq!(
            count(&s.sy, &[failed, why]),
            before + 1,
            "{desc}: logged once"
        );
        wait_routed(s.web, "two.test", "b").await;
        // Recovery with the same good body: logged, nothing re-sent.
        server.set_delay(Duration::ZERO);
        server.set(
            200,
            &format!(
                "http:\n  routers:\n    r:\n      rule: Host(`two.test`)\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: {}\n",
                b.url()
            ),
        );
        let recovered = count(&s.sy, &["endpoint answers again"]);
        wait_until(
            &format!("{desc}: recovery logged"),
            Duration::from_secs(10),
            || async { (count(&s.sy, &["endpoint answers again"]) > recovered).then_some(()) },
        )
        .await;
    }
    assert_eq!(
        count(&s.sy, &changes),
        2,
        "recovering to the same answer re-sends nothing"
    );

    // A body that does not decode: logged once, the last config serves.
    server.set(200, "http:\n  routers: [unclosed\n");
    wait_until(
        "the decode error is logged",
        Duration::from_secs(10),
        || async { (count(&s.sy, &["cannot decode configuration data"]) == 1).then_some(()) },
    )
    .await;
    let hits = server.hits();
    wait_hits(&server, hits + 2).await;
    assert_eq!(count(&s.sy, &["cannot decode configuration data"]), 1);
    wait_routed(s.web, "two.test", "b").await;

    // The endpoint goes away entirely: the last config still serves.
    drop(server);
    wait_until(
        "the connection failure is logged",
        Duration::from_secs(10),
        || async { (count(&s.sy, &[failed, "do fetch request"]) >= 1).then_some(()) },
    )
    .await;
    wait_routed(s.web, "two.test", "b").await;
}

#[tokio::test]
async fn tls_endpoint_with_a_test_ca_and_a_client_certificate() {
    let a = Backend::start("a").await;
    let options = TlsOptions {
        require_client_cert: true,
        ..TlsOptions::default()
    };
    let server = ConfigServer::start_tls(&json_route("tls.test", &a), &options).await;
    let tls = format!(
        "    tls:\n      ca: \"{}\"\n      cert: \"{}\"\n      key: \"{}\"\n",
        ca_path().display(),
        fixture_path("client.pem").display(),
        fixture_path("client.key").display()
    );
    let s = start("http-provider-tls", &server.url(), &tls).await;
    wait_routed(s.web, "tls.test", "a").await;

    // Without the client certificate the handshake is refused: nothing
    // routed, the failure logged.
    let server2 = ConfigServer::start_tls(&json_route("tls2.test", &a), &options).await;
    let tls = format!("    tls:\n      ca: \"{}\"\n", ca_path().display());
    let s2 = start("http-provider-tls-nocert", &server2.url(), &tls).await;
    wait_until(
        "the refused handshake is logged",
        Duration::from_secs(10),
        || async { (count(&s2.sy, &["cannot fetch configuration data"]) == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        get(s2.web, "tls2.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // Without the CA the server is not trusted, unless insecureSkipVerify.
    let server3 =
        ConfigServer::start_tls(&json_route("tls3.test", &a), &TlsOptions::default()).await;
    let s3 = start("http-provider-tls-noca", &server3.url(), "").await;
    wait_until(
        "the untrusted certificate is logged",
        Duration::from_secs(10),
        || async { (count(&s3.sy, &["cannot fetch configuration data"]) == 1).then_some(()) },
    )
    .await;
    assert_eq!(
        get(s3.web, "tls3.test", "/").await.unwrap().status.as_u16(),
        404
    );
    let s4 = start(
        "http-provider-tls-insecure",
        &server3.url(),
        "    tls:\n      insecureSkipVerify: true\n",
    )
    .await;
    wait_routed(s4.web, "tls3.test", "a").await;
}
