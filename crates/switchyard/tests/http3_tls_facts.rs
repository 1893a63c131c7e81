//! HTTP/3 requests carry their connection's TLS facts as Traefik 3.7's do
//! (checked against the real binary): the access log's `TLSVersion` (`1.3`)
//! and `TLSCipher` (the suite the QUIC handshake chose, by Go's name), and
//! the `requests_tls_total` counters. A client that closes its QUIC
//! connection before the answer has its request dropped then; the
//! metrics and the access log count it as Traefik 3.7 does over HTTP/3:
//! 502 (`Bad Gateway`).

#![cfg(feature = "http3")]
#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use http::Method;
use switchyard_testkit::tls::write_cert;
use switchyard_testkit::tls_client::TlsClient;
use tokio_rustls::rustls::CipherSuite;

/// The access log's JSON line for `path`, once written.
async fn logged(p: &Proxy, path: &str) -> serde_json::Value {
    let file = p.dir.join("access.log");
    wait_until(
        &format!("{path} logged"),
        Duration::from_secs(10),
        || async {
            std::fs::read_to_string(&file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["RequestPath"] == path)
        },
    )
    .await
}

#[tokio::test]
async fn http3_requests_have_their_tls_version_and_cipher() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("h3-facts-certs");
    let (cert, key) = write_cert(certs.path(), "site", &["a.test"]);
    let dynamic = format!(
        "http:\n  routers:\n    secure:\n      rule: \"Host(`a.test`)\"\n      service: a\n      tls: {{}}\n\
         \x20 services:\n    a: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n\
         tls:\n  certificates:\n    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
        a.url(),
        cert.display(),
        key.display()
    );
    let p = Proxy::start_with(
        "h3-facts",
        &dynamic,
        "    http3: {}\n",
        "accessLog:\n  filePath: access.log\n  format: json\nmetrics:\n  prometheus: {}\n",
    )
    .await;
    let h3 = |path: &'static str, suites: Vec<CipherSuite>| {
        let web = p.web;
        async move {
            TlsClient {
                sni: Some("a.test".into()),
                cipher_suites: suites,
                ..TlsClient::default()
            }
            .request_h3(web, Method::GET, "a.test", path, bytes::Bytes::new())
            .await
        }
    };
    wait_until(
        "the TLS router over QUIC",
        Duration::from_secs(10),
        || async {
            let r = h3("/ready", Vec::new()).await.ok()?;
            (r.reply.status == 200).then_some(())
        },
    )
    .await;

    // (what, suites the client offers, the cipher logged): the server's
    // order picks AES-128-GCM when offered; otherwise what the client has.
    let cases = [
        (
            "default client",
            "/default",
            vec![],
            "TLS_AES_128_GCM_SHA256",
        ),
        (
            "ChaCha20 only",
            "/chacha",
            vec![CipherSuite::TLS13_CHACHA20_POLY1305_SHA256],
            "TLS_CHACHA20_POLY1305_SHA256",
        ),
        (
            "AES-256 only",
            "/aes256",
            vec![CipherSuite::TLS13_AES_256_GCM_SHA384],
            "TLS_AES_256_GCM_SHA384",
        ),
    ];
    for (what, path, suites, cipher) in &cases {
        let r = h3(path, suites.clone()).await.unwrap();
        assert_eq!(r.reply.status, 200, "{what}");
        let line = logged(&p, path).await;
        assert_eq!(line["RequestProtocol"], "HTTP/3.0", "{what}");
        assert_eq!(line["TLSVersion"], "1.3", "{what}");
        assert_eq!(line["TLSCipher"], *cipher, "{what}");
    }

    // The TLS request counters count them too.
    let scrape = get(p.admin, "localhost", "/metrics").await.unwrap();
    let text = scrape.text();
    for (what, _, _, cipher) in &cases {
        let counted = text.lines().any(|l| {
            l.starts_with("traefik_entrypoint_requests_tls_total{")
                && l.contains("entrypoint=\"web\"")
                && l.contains(&format!("tls_cipher=\"{cipher}\""))
                && l.contains("tls_version=\"1.3\"")
        });
        assert!(counted, "{what}: {cipher} in\n{text}");
    }
}

#[tokio::test]
async fn http3_client_gone_before_the_answer_is_dropped_then() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("h3-gone-certs");
    let (cert, key) = write_cert(certs.path(), "site", &["a.test"]);
    let dynamic = format!(
        "http:\n  routers:\n    secure:\n      rule: \"Host(`a.test`)\"\n      service: a\n      tls: {{}}\n\
         \x20 services:\n    a: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\n\
         tls:\n  certificates:\n    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
        a.url(),
        cert.display(),
        key.display()
    );
    let p = Proxy::start_with(
        "h3-gone",
        &dynamic,
        "    http3: {}\n",
        "accessLog:\n  filePath: access.log\n  format: json\n\
         metrics:\n  prometheus:\n    addRoutersLabels: true\n",
    )
    .await;
    let client = TlsClient {
        sni: Some("a.test".into()),
        ..TlsClient::default()
    };
    wait_until(
        "the TLS router over QUIC",
        Duration::from_secs(10),
        || async {
            let r = client
                .request_h3(p.web, Method::GET, "a.test", "/ready", bytes::Bytes::new())
                .await
                .ok()?;
            (r.reply.status == 200).then_some(())
        },
    )
    .await;
    client
        .give_up_h3(p.web, "a.test", "/sleep/1500", Duration::from_millis(300))
        .await
        .unwrap();
    // The access log, written when the request is dropped, says what the
    // metrics count: 502 and the 11 bytes of `Bad Gateway`, as Traefik's.
    let line = logged(&p, "/sleep/1500").await;
    assert_eq!(line["DownstreamStatus"], 502, "{line}");
    assert_eq!(line["DownstreamContentSize"], 11, "{line}");
    let text = get(p.admin, "localhost", "/metrics").await.unwrap().text();
    for family in ["entrypoint", "router", "service"] {
        let count = |name: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("traefik_{family}_{name}{{"))
                        && l.contains("code=\"502\"")
                })
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_string)
        };
        assert_eq!(
            count("requests_total").as_deref(),
            Some("1"),
            "{family}\n{text}"
        );
        assert_eq!(
            count("responses_bytes_total").as_deref(),
            Some("11"),
            "{family}"
        );
    }
    let waited = line["Duration"].as_u64().unwrap_or_default();
    assert!(
        (250_000_000..1_400_000_000).contains(&waited),
        "until the client went: {waited} ns"
    );
}
