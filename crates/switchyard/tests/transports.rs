//! serversTransports beyond the basics: HTTP/2 to TLS servers by ALPN (and
//! `disableHTTP2`), `h2c://` servers, client certificates (mTLS to the
//! backend), TLS versions and cipher suites, and bad transport settings.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;
use switchyard_testkit::tls::{ca_path, fixture_path, TlsOptions};

fn version_seen(r: &Reply) -> String {
    r.json()["version"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn h2_by_alpn_h2c_and_disable_http2() {
    let h2 = Backend::start_tls_with(
        "h2",
        &TlsOptions {
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            ..TlsOptions::default()
        },
    )
    .await;
    let h2c = Backend::start_h2c("h2c").await;
    let ca = ca_path();
    let dynamic = format!(
        r#"
http:
  routers:
    alpn:
      rule: "Host(`alpn.test`)"
      service: alpn
    h1:
      rule: "Host(`h1.test`)"
      service: h1
    cleartext:
      rule: "Host(`h2c.test`)"
      service: cleartext
  services:
    alpn:
      loadBalancer:
        serversTransport: tls
        servers: [{{url: "{h2}"}}]
    h1:
      loadBalancer:
        serversTransport: tls-h1
        servers: [{{url: "{h2}"}}]
    cleartext:
      loadBalancer:
        servers: [{{url: "h2c://{h2c}"}}]
  serversTransports:
    tls:
      rootCAs: ["{ca}"]
    tls-h1:
      rootCAs: ["{ca}"]
      disableHTTP2: true
"#,
        h2 = h2.https_url(),
        h2c = h2c.addr(),
        ca = ca.display()
    );
    let p = Proxy::start("h2-upstream", &dynamic, "").await;
    let r = p.wait_status("alpn.test", "/", 200).await;
    assert_eq!(version_seen(&r), "HTTP/2.0", "ALPN picks h2");
    assert_eq!(
        r.seen_header("x-forwarded-host").as_deref(),
        Some("alpn.test")
    );
    let r = p.wait_status("h1.test", "/", 200).await;
    assert_eq!(version_seen(&r), "HTTP/1.1", "disableHTTP2 keeps HTTP/1.1");
    let r = p.wait_status("h2c.test", "/", 200).await;
    assert_eq!(version_seen(&r), "HTTP/2.0");
    assert_eq!(r.header("x-backend"), Some("h2c"));
    // Bodies cross both ways over h2.
    let r = request(
        p.web,
        http::Method::POST,
        "alpn.test",
        "/echo",
        &[],
        bytes::Bytes::from_static(b"over h2"),
    )
    .await
    .unwrap();
    assert_eq!(r.body, "over h2");
}

#[tokio::test]
async fn client_certificates_versions_and_cipher_suites() {
    let mtls = Backend::start_tls_with(
        "mtls",
        &TlsOptions {
            require_client_cert: true,
            ..TlsOptions::default()
        },
    )
    .await;
    let tls12 = Backend::start_tls_with(
        "tls12",
        &TlsOptions {
            versions: vec![&switchyard_testkit::rustls::version::TLS12],
            ..TlsOptions::default()
        },
    )
    .await;
    let ca = ca_path();
    let cert = fixture_path("client.pem");
    let key = fixture_path("client.key");
    let inline_cert = std::fs::read_to_string(&cert).unwrap();
    let inline_key = std::fs::read_to_string(&key).unwrap();
    let indent = |pem: &str| pem.replace('\n', "\n        ");
    let dynamic = format!(
        r#"
http:
  routers:
    with-cert:
      rule: "Host(`with-cert.test`)"
      service: with-cert
    inline-cert:
      rule: "Host(`inline-cert.test`)"
      service: inline-cert
    no-cert:
      rule: "Host(`no-cert.test`)"
      service: no-cert
    only13:
      rule: "Host(`only13.test`)"
      service: only13
    max12:
      rule: "Host(`max12.test`)"
      service: max12
    suites:
      rule: "Host(`suites.test`)"
      service: suites
    bad:
      rule: "Host(`bad.test`)"
      service: bad
  services:
    with-cert:
      loadBalancer:
        serversTransport: client-cert
        servers: [{{url: "{mtls}"}}]
    inline-cert:
      loadBalancer:
        serversTransport: client-inline
        servers: [{{url: "{mtls}"}}]
    no-cert:
      loadBalancer:
        serversTransport: ca-only
        servers: [{{url: "{mtls}"}}]
    only13:
      loadBalancer:
        serversTransport: min13
        servers: [{{url: "{tls12}"}}]
    max12:
      loadBalancer:
        serversTransport: max12
        servers: [{{url: "{tls12}"}}]
    suites:
      loadBalancer:
        serversTransport: suites
        servers: [{{url: "{tls12}"}}]
    bad:
      loadBalancer:
        serversTransport: broken
        servers: [{{url: "{tls12}"}}]
  serversTransports:
    client-cert:
      rootCAs: ["{ca}"]
      certificates:
        - certFile: "{cert}"
          keyFile: "{key}"
    client-inline:
      rootCAs: ["{ca}"]
      certificates:
        - certFile: |
            {inline_cert}
          keyFile: |
            {inline_key}
    ca-only:
      rootCAs: ["{ca}"]
    min13:
      rootCAs: ["{ca}"]
      minVersion: VersionTLS13
    max12:
      rootCAs: ["{ca}"]
      maxVersion: VersionTLS12
    suites:
      rootCAs: ["{ca}"]
      cipherSuites: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]
    broken:
      rootCAs: ["{ca}"]
      cipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]
"#,
        mtls = mtls.https_url(),
        tls12 = tls12.https_url(),
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
        inline_cert = indent(inline_cert.trim_end()).replace("\n        ", "\n            "),
        inline_key = indent(inline_key.trim_end()).replace("\n        ", "\n            "),
    );
    let p = Proxy::start("client-certs", &dynamic, "").await;
    let r = p.wait_status("with-cert.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("mtls"));
    p.wait_status("inline-cert.test", "/", 200).await;
    // Without a certificate the backend refuses the handshake.
    assert_eq!(
        get(p.web, "no-cert.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        502
    );
    // A TLS 1.2-only backend: reachable unless TLS 1.3 is required.
    p.wait_status("max12.test", "/", 200).await;
    assert_eq!(
        get(p.web, "only13.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        502
    );
    p.wait_status("suites.test", "/", 200).await;
    // A suite rustls lacks: the service reports it, the rest serves.
    let api = get(p.admin, "localhost", "/api/http/services/bad@file")
        .await
        .unwrap()
        .json();
    assert_eq!(api["status"], "disabled");
    let err = api["error"][0].as_str().unwrap();
    assert!(err.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{err}");
    assert_eq!(
        get(p.web, "bad.test", "/").await.unwrap().status.as_u16(),
        404
    );
}

/// `peerCertURI` and `peerCertSANs`, as Traefik checks them (peerCertURI
/// cases as the real Traefik 3.7 answers them; peerCertSANs as Traefik's
/// next release, which adds it, checks them): the usual verification of the
/// chain and the server name first, unless `insecureSkipVerify`; then, in
/// any case, the chain against the roots and one of the names. The fixture
/// certificate names localhost, backend.test, 127.0.0.1, ::1 and
/// spiffe://switchyard.test/backend; the server URL is https://127.0.0.1.
#[tokio::test]
async fn peer_cert_names_as_traefik_checks_them() {
    let tls = Backend::start_tls("tls").await;
    let ca = ca_path().display().to_string();
    let uri = "spiffe://switchyard.test/backend";
    // (name, transport settings, whether the backend is reached)
    let cases: &[(&str, String, bool)] = &[
        ("uri", format!("rootCAs: [{ca}]\n      peerCertURI: {uri}"), true),
        (
            "uri-other",
            format!("rootCAs: [{ca}]\n      peerCertURI: spiffe://switchyard.test/other"),
            false,
        ),
        (
            "uri-unnamed-host",
            format!("rootCAs: [{ca}]\n      serverName: not-in-the-cert.test\n      peerCertURI: {uri}"),
            false,
        ),
        (
            "uri-named-host",
            format!("rootCAs: [{ca}]\n      serverName: backend.test\n      peerCertURI: {uri}"),
            true,
        ),
        (
            "uri-insecure-any-host-any-case",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      serverName: not-in-the-cert.test\n      peerCertURI: SPIFFE://switchyard.test/BACKEND"),
            true,
        ),
        (
            "uri-insecure-other",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      peerCertURI: spiffe://switchyard.test/other"),
            false,
        ),
        (
            "uri-insecure-unknown-ca",
            format!("insecureSkipVerify: true\n      peerCertURI: {uri}"),
            false,
        ),
        (
            "host-unnamed",
            format!("rootCAs: [{ca}]\n      serverName: not-in-the-cert.test"),
            false,
        ),
        (
            "sans-dns",
            format!("rootCAs: [{ca}]\n      peerCertSANs: [{{type: DNSName, value: backend.test}}]"),
            true,
        ),
        (
            "sans-dns-other",
            format!("rootCAs: [{ca}]\n      peerCertSANs: [{{type: DNSName, value: other.test}}]"),
            false,
        ),
        (
            "sans-unnamed-host",
            format!("rootCAs: [{ca}]\n      serverName: not-in-the-cert.test\n      peerCertSANs: [{{type: DNSName, value: backend.test}}]"),
            false,
        ),
        (
            "sans-insecure-decoupled",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      serverName: not-in-the-cert.test\n      peerCertSANs: [{{type: DNSName, value: backend.test}}]"),
            true,
        ),
        (
            "sans-insecure-unknown-ca",
            "insecureSkipVerify: true\n      peerCertSANs: [{type: DNSName, value: backend.test}]".to_string(),
            false,
        ),
        (
            "sans-one-of",
            format!("rootCAs: [{ca}]\n      peerCertSANs:\n        - {{type: DNSName, value: other.test}}\n        - {{type: URI, value: \"{uri}\"}}"),
            true,
        ),
        (
            "sans-ip",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      peerCertSANs: [{{type: DNSName, value: 127.0.0.1}}]"),
            true,
        ),
        (
            "sans-with-uri-other",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      peerCertURI: spiffe://switchyard.test/other\n      peerCertSANs: [{{type: DNSName, value: localhost}}]"),
            true,
        ),
        (
            "sans-uri-is-no-dns-name",
            format!("rootCAs: [{ca}]\n      insecureSkipVerify: true\n      peerCertSANs: [{{type: URI, value: backend.test}}]"),
            false,
        ),
    ];
    let url = tls.https_url();
    let mut dynamic = String::from("http:\n  routers:\n");
    for (name, _, _) in cases {
        dynamic.push_str(&format!(
            "    {name}:\n      rule: \"Host(`{name}.test`)\"\n      service: {name}\n"
        ));
    }
    dynamic.push_str("    bad-type:\n      rule: \"Host(`bad-type.test`)\"\n      service: bad-type\n  services:\n");
    for name in cases.iter().map(|c| c.0).chain(["bad-type"]) {
        dynamic.push_str(&format!(
            "    {name}:\n      loadBalancer:\n        serversTransport: {name}\n        servers: [{{url: \"{url}\"}}]\n"
        ));
    }
    dynamic.push_str("  serversTransports:\n");
    for (name, settings, _) in cases {
        dynamic.push_str(&format!("    {name}:\n      {settings}\n"));
    }
    dynamic.push_str(&format!(
        "    bad-type:\n      rootCAs: [{ca}]\n      peerCertSANs: [{{type: dnsname, value: backend.test}}]\n"
    ));
    let p = Proxy::start("peer-cert-names", &dynamic, "").await;
    p.wait_status("uri.test", "/", 200).await;
    for (name, _, reached) in cases {
        let r = get(p.web, &format!("{name}.test"), "/").await.unwrap();
        // A refused certificate answers 502 (Traefik answers 500).
        let want = if *reached { 200 } else { 502 };
        assert_eq!(r.status.as_u16(), want, "{name}");
        if *reached {
            assert_eq!(r.header("x-backend"), Some("tls"), "{name}");
        }
    }
    // A type Traefik would never match is the transport's error.
    let s = p.api("/api/http/services/bad-type@file").await;
    assert_eq!(s["status"], "disabled", "{s}");
    let err = s["error"][0].as_str().unwrap();
    assert!(
        err.contains("peerCertSANs[0]") && err.contains("expected DNSName or URI"),
        "{err}"
    );
}
