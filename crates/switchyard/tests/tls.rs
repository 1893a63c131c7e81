//! TLS termination on entrypoints: certificates chosen by SNI, TLS and
//! plain routers apart, HTTP/2 by ALPN, entrypoint `http.tls`,
//! redirections to the TLS entrypoint, TLS options (versions, mutual TLS,
//! `sniStrict`, ALPN), and changes that apply to new handshakes only.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::Method;
use switchyard_testkit::tls::{ca_path, fixture_path, write_cert};
use switchyard_testkit::tls_client::TlsClient;

/// A proxy with `web` (plain), `websecure` (with `secure_extra`, YAML
/// indented by 4) and the API on `traefik`.
struct TlsProxy {
    p: Proxy,
    secure: SocketAddr,
}

async fn start(name: &str, dynamic: &str, web_extra: &str, secure_extra: &str) -> TlsProxy {
    let dir = TestDir::new(name);
    let (web, secure, admin) = (free_port(), free_port(), free_port());
    dir.write("dynamic/config.yml", dynamic);
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n{web_extra}  websecure:\n    address: \"127.0.0.1:{secure}\"\n{secure_extra}  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         api:\n  insecure: true\nlog:\n  level: DEBUG\n\
         providers:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{}\"\n    watch: true\n",
        dir.join("dynamic").display()
    );
    dir.write("switchyard.yml", &static_yaml);
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    let addr = |p: u16| -> SocketAddr { format!("127.0.0.1:{p}").parse().unwrap() };
    sy.wait_listening(addr(admin)).await;
    TlsProxy {
        p: Proxy {
            sy,
            dir,
            web: addr(web),
            admin: addr(admin),
        },
        secure: addr(secure),
    }
}

async fn https(
    addr: SocketAddr,
    host: &str,
    path: &str,
) -> switchyard_testkit::tls_client::TlsReply {
    TlsClient::get(addr, host, path).await.unwrap()
}

#[tokio::test]
async fn certificates_by_sni_and_tls_routers_apart() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("tls-certs");
    let (ab, ab_key) = write_cert(certs.path(), "ab", &["a.test", "b.test"]);
    let (wild, wild_key) = write_cert(certs.path(), "wild", &["*.wild.test"]);
    let dynamic = format!(
        r#"
http:
  routers:
    secure:
      rule: "Host(`a.test`) || HostRegexp(`^.+\\.wild\\.test$`) || Host(`unknown.test`)"
      service: a
      tls: {{}}
    plain:
      rule: "Host(`plain.test`)"
      service: a
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  certificates:
    - {{certFile: "{}", keyFile: "{}"}}
    - {{certFile: "{}", keyFile: "{}"}}
"#,
        a.url(),
        ab.display(),
        ab_key.display(),
        wild.display(),
        wild_key.display()
    );
    let t = start("tls-sni", &dynamic, "", "").await;
    // A handshake that began before the configuration applied keeps the
    // certificates it started with: wait for one that began after.
    let r = wait_until("TLS router up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "a.test", "/").await.ok()?;
        (r.reply.status == 200 && r.cert_names[0] == "a.test").then_some(r)
    })
    .await;
    assert_eq!(r.cert_names, ["a.test", "a.test", "b.test"]);
    assert_eq!(
        r.reply.seen_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    // As Traefik: the Host header's port, else the scheme's.
    assert_eq!(
        r.reply.seen_header("x-forwarded-port").as_deref(),
        Some("443")
    );
    // Wildcard, then the generated default for a name no certificate has.
    let r = https(t.secure, "x.wild.test", "/").await;
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.cert_names, ["*.wild.test", "*.wild.test"]);
    let r = https(t.secure, "unknown.test", "/").await;
    assert_eq!(r.reply.status, 200);
    assert_eq!(
        r.cert_names,
        ["SWITCHYARD DEFAULT CERT", "switchyard.default"]
    );
    // Without SNI: the default certificate too.
    let r = TlsClient::default()
        .request(t.secure, Method::GET, "a.test", "/")
        .await
        .unwrap();
    assert_eq!(r.cert_names[0], "SWITCHYARD DEFAULT CERT");

    // A TLS router serves TLS connections only; a plain one plain only.
    assert_eq!(get(t.secure, "a.test", "/").await.unwrap().status, 404);
    assert_eq!(https(t.secure, "plain.test", "/").await.reply.status, 404);
    assert_eq!(get(t.secure, "plain.test", "/").await.unwrap().status, 200);
    // And the TLS router is on every entrypoint, `web` included.
    assert_eq!(https(t.p.web, "a.test", "/").await.reply.status, 200);

    // HTTP/2 by ALPN.
    let r = TlsClient {
        sni: Some("a.test".into()),
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ..TlsClient::default()
    }
    .request(t.secure, Method::GET, "a.test", "/")
    .await
    .unwrap();
    assert_eq!(r.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(r.reply.status, 200);

    // The router's API view shows its TLS settings.
    let api = t.p.api("/api/http/routers/secure@file").await;
    assert_eq!(api["status"], "enabled");
    assert_eq!(api["tls"], serde_json::json!({"options": "default"}));
}

#[tokio::test]
async fn entrypoint_tls_and_redirection_end_to_end() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: a
      entryPoints: [websecure]
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  stores:
    default:
      defaultCertificate:
        certFile: "{}"
        keyFile: "{}"
"#,
        a.url(),
        fixture_path("server.pem").display(),
        fixture_path("server.key").display()
    );
    let t = start(
        "tls-redirect",
        &dynamic,
        "    http:\n      redirections:\n        entryPoint:\n          to: websecure\n          scheme: https\n",
        "    http:\n      tls: {}\n",
    )
    .await;
    // The router has no `tls` of its own: the entrypoint's makes it a TLS one.
    let r = wait_until("app up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "app.test", "/").await.ok()?;
        (r.reply.status == 200 && r.cert_names[0] == "localhost").then_some(r)
    })
    .await;
    // The store's default certificate (the fixture's, for localhost).
    assert_eq!(r.cert_names[0], "localhost");
    assert_eq!(get(t.secure, "app.test", "/").await.unwrap().status, 404);
    // Plain HTTP on `web` is sent to `websecure`, which answers over TLS.
    let r = get(t.p.web, "app.test", "/page?x=1").await.unwrap();
    assert_eq!(r.status, 301);
    let location = r.header("location").unwrap().to_string();
    assert_eq!(
        location,
        format!("https://app.test:{}/page?x=1", t.secure.port())
    );
    let r = https(t.secure, "app.test", "/page?x=1").await;
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.reply.json()["uri"], "/page?x=1");
}

#[tokio::test]
async fn tls_options_versions_mutual_tls_sni_strict_alpn() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("tls-opt-certs");
    let mut names = Vec::new();
    for host in ["modern", "mtls", "strict", "h1", "certs"] {
        let (c, k) = write_cert(certs.path(), host, &[&format!("{host}.test")]);
        names.push(format!(
            "    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
            c.display(),
            k.display()
        ));
    }
    let dynamic = format!(
        r#"
http:
  routers:
    modern:
      rule: "Host(`modern.test`)"
      service: a
      tls: {{options: modern}}
    mtls:
      rule: "Host(`mtls.test`)"
      service: a
      tls: {{options: mtls}}
    certs:
      rule: "Host(`certs.test`)"
      service: a
      middlewares: [certs]
      tls: {{options: mtls}}
    strict:
      rule: "Host(`strict.test`) || Host(`nocert.test`)"
      service: a
      tls: {{options: strict}}
    weak:
      rule: "Host(`weak.test`)"
      service: a
      tls: {{options: weak}}
    h1:
      rule: "Host(`h1.test`)"
      service: a
      tls: {{options: h1only}}
    broken:
      rule: "Host(`broken.test`)"
      service: a
      tls: {{options: nope}}
  middlewares:
    certs:
      passTLSClientCert:
        pem: true
        info: {{subject: {{commonName: true}}}}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  certificates:
{}  options:
    modern: {{minVersion: VersionTLS13}}
    mtls:
      clientAuth:
        caFiles: ["{}"]
        clientAuthType: RequireAndVerifyClientCert
    strict: {{sniStrict: true}}
    h1only: {{alpnProtocols: [http/1.1], curvePreferences: [CurveP256]}}
    weak: {{cipherSuites: [TLS_RSA_WITH_AES_128_CBC_SHA]}}
"#,
        a.url(),
        names.concat(),
        ca_path().display()
    );
    let t = start("tls-options", &dynamic, "", "").await;
    wait_until("routers up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "modern.test", "/").await.ok()?;
        (r.reply.status == 200).then_some(())
    })
    .await;
    let tls12 = |sni: &str| TlsClient {
        sni: Some(sni.into()),
        versions: vec![&switchyard_testkit::rustls::version::TLS12],
        ..TlsClient::default()
    };
    // minVersion: TLS 1.2 clients are refused for modern.test only.
    assert!(tls12("modern.test").handshake(t.secure).await.is_err());
    let r = tls12("h1.test")
        .request(t.secure, Method::GET, "h1.test", "/")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(
        r.version,
        Some(switchyard_testkit::rustls::ProtocolVersion::TLSv1_2)
    );
    // curvePreferences: P-256 for h1.test; elsewhere the post-quantum
    // hybrid first (the test client offers it), as Go's defaults.
    assert_eq!(
        r.kx_group,
        Some(switchyard_testkit::rustls::NamedGroup::secp256r1)
    );
    let r = TlsClient::get(t.secure, "modern.test", "/").await.unwrap();
    assert_eq!(
        r.kx_group,
        Some(switchyard_testkit::rustls::NamedGroup::X25519MLKEM768)
    );

    // Mutual TLS: no certificate, no handshake; the fixture's, accepted.
    let no_cert = TlsClient {
        sni: Some("mtls.test".into()),
        ..TlsClient::default()
    };
    let refused = match no_cert.handshake(t.secure).await {
        Err(_) => true,
        // TLS 1.3 reports the refusal on the first read.
        Ok(s) => no_cert_fails_later(s).await,
    };
    assert!(refused, "a client without a certificate got through");
    let with_cert = |sni: &str| TlsClient {
        sni: Some(sni.into()),
        client_cert: Some((fixture_path("client.pem"), fixture_path("client.key"))),
        ..TlsClient::default()
    };
    let r = with_cert("mtls.test")
        .request(t.secure, Method::GET, "mtls.test", "/")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 200);
    // passTLSClientCert now sees the certificate.
    let r = with_cert("certs.test")
        .request(t.secure, Method::GET, "certs.test", "/")
        .await
        .unwrap();
    assert_eq!(
        r.reply
            .seen_header("x-forwarded-tls-client-cert-info")
            .as_deref(),
        Some("Subject%3D%22CN%3Dswitchyard-client%22")
    );
    assert!(r
        .reply
        .seen_header("x-forwarded-tls-client-cert")
        .unwrap()
        .starts_with("MIIC"));

    // sniStrict: a name without a certificate gets no handshake (instead
    // of the default certificate); one with a certificate does.
    let sni = |name: &str| TlsClient {
        sni: Some(name.into()),
        ..TlsClient::default()
    };
    assert!(sni("nocert.test").handshake(t.secure).await.is_err());
    assert!(sni("strict.test").handshake(t.secure).await.is_ok());
    // alpnProtocols: h2 is not offered to h1.test.
    let r = TlsClient {
        sni: Some("h1.test".into()),
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        ..TlsClient::default()
    }
    .request(t.secure, Method::GET, "h1.test", "/")
    .await
    .unwrap();
    assert_eq!(r.alpn.as_deref(), Some(&b"http/1.1"[..]));

    // Unknown and unusable options are errors the API shows.
    let api = t.p.api("/api/http/routers/broken@file").await;
    assert_eq!(api["status"], "disabled");
    assert_eq!(
        api["error"][0],
        "building router handler: unknown TLS options: nope@file"
    );
    let api = t.p.api("/api/http/routers/weak@file").await;
    assert_eq!(api["status"], "disabled");
    let err = api["error"][0].as_str().unwrap();
    assert!(err.contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{err}");
}

/// Reads from a TLS 1.3 stream whose client certificate the server refused.
async fn no_cert_fails_later(
    mut s: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = s
        .write_all(b"GET / HTTP/1.1\r\nhost: mtls.test\r\n\r\n")
        .await;
    let mut buf = [0u8; 64];
    !matches!(s.read(&mut buf).await, Ok(n) if n > 0)
}

#[tokio::test]
async fn new_certificates_apply_to_new_handshakes_only() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("tls-reload-certs");
    let (first, first_key) = write_cert(certs.path(), "first", &["site.test"]);
    let config = |cert: &Path, key: &Path, extra_router: &str| {
        format!(
            r#"
http:
  routers:
    site:
      rule: "Host(`site.test`)"
      service: a
      tls: {{}}
{extra_router}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  certificates:
    - {{certFile: "{}", keyFile: "{}"}}
"#,
            a.url(),
            cert.display(),
            key.display()
        )
    };
    let t = start("tls-reload", &config(&first, &first_key, ""), "", "").await;
    wait_until("site up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "site.test", "/").await.ok()?;
        (r.reply.status == 200).then_some(())
    })
    .await;
    // An established HTTP/1.1 connection...
    let tls = TlsClient {
        sni: Some("site.test".into()),
        ..TlsClient::default()
    }
    .handshake(t.secure)
    .await
    .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let send = |sender: &mut hyper::client::conn::http1::SendRequest<
        http_body_util::Empty<bytes::Bytes>,
    >| {
        sender.send_request(
            http::Request::get("/")
                .header("host", "site.test")
                .body(http_body_util::Empty::new())
                .unwrap(),
        )
    };
    assert_eq!(send(&mut sender).await.unwrap().status(), 200);
    // ...outlives a change of certificate and routers.
    let (second, second_key) = write_cert(certs.path(), "second", &["site.test", "more.test"]);
    t.p.dir.write(
        "dynamic/config.yml",
        &config(
            &second,
            &second_key,
            "    more:\n      rule: \"Host(`more.test`)\"\n      service: a\n      tls: {}\n",
        ),
    );
    let r = wait_until(
        "new certificate served",
        Duration::from_secs(10),
        || async {
            // A handshake that began just before the switch still gets the
            // old store's default certificate while its request, arriving
            // after it, already finds the new router: wait for both.
            let r = TlsClient::get(t.secure, "more.test", "/").await.ok()?;
            (r.reply.status == 200 && r.cert_names.first().is_some_and(|n| n == "site.test"))
                .then_some(r)
        },
    )
    .await;
    assert_eq!(r.cert_names, ["site.test", "site.test", "more.test"]);
    assert_eq!(send(&mut sender).await.unwrap().status(), 200);
    // A broken certificate file keeps the rest serving, and says why.
    std::fs::write(certs.join("broken.pem"), "not a certificate").unwrap();
    t.p.dir.write(
        "dynamic/broken.yml",
        &format!(
            "tls:\n  certificates:\n    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
            certs.join("broken.pem").display(),
            second_key.display()
        ),
    );
    wait_until("error logged", Duration::from_secs(10), || async {
        t.p.sy.logged("broken.pem").then_some(())
    })
    .await;
    assert_eq!(https(t.secure, "more.test", "/").await.reply.status, 200);
}

#[tokio::test]
async fn replaced_certificate_files_apply_without_a_restart() {
    let a = Backend::start("a").await;
    // Certificates in their own folder, outside the watched configuration.
    let certs = TestDir::new("tls-files");
    let (cert, key) = write_cert(certs.path(), "site", &["site.test"]);
    let dynamic = format!(
        r#"
http:
  routers:
    site:
      rule: "Host(`site.test`) || Host(`renamed.test`)"
      service: a
      tls: {{}}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  certificates:
    - {{certFile: "{}", keyFile: "{}"}}
"#,
        a.url(),
        cert.display(),
        key.display()
    );
    let t = start("tls-files", &dynamic, "", "").await;
    let r = wait_until("site up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "site.test", "/").await.ok()?;
        (r.reply.status == 200 && r.cert_names[0] == "site.test").then_some(r)
    })
    .await;
    assert_eq!(r.cert_names, ["site.test", "site.test"]);
    // The same files, new content: the configuration is untouched.
    write_cert(certs.path(), "site", &["site.test", "renamed.test"]);
    wait_until(
        "new certificate served",
        Duration::from_secs(10),
        || async {
            let r = TlsClient::get(t.secure, "renamed.test", "/").await.ok()?;
            (r.cert_names == ["site.test", "site.test", "renamed.test"]).then_some(())
        },
    )
    .await;
    // A broken replacement keeps the last good certificate, with an error.
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    wait_until("error reported", Duration::from_secs(10), || async {
        t.p.sy.logged("keeping the last good one").then_some(())
    })
    .await;
    let r = https(t.secure, "renamed.test", "/").await;
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.cert_names, ["site.test", "site.test", "renamed.test"]);
}

#[cfg(feature = "http3")]
/// An HTTP/3 request to `addr` for `host` (SNI and authority).
async fn h3(
    addr: SocketAddr,
    host: &str,
    method: Method,
    path: &str,
    body: &'static [u8],
) -> Result<switchyard_testkit::tls_client::TlsReply, String> {
    TlsClient {
        sni: Some(host.into()),
        ..TlsClient::default()
    }
    .request_h3(addr, method, host, path, bytes::Bytes::from_static(body))
    .await
}

#[cfg(feature = "http3")]
#[tokio::test]
async fn http3_on_the_entrypoint_port_with_alt_svc() {
    let a = Backend::start("a").await;
    let certs = TestDir::new("h3-certs");
    let (ab, ab_key) = write_cert(certs.path(), "ab", &["a.test", "m.test"]);
    let (c, c_key) = write_cert(certs.path(), "c", &["c.test"]);
    let dynamic = |with_c: bool| {
        let (extra_router, extra_cert) = if with_c {
            (
                "    c:\n      rule: \"Host(`c.test`)\"\n      service: a\n      tls: {}\n"
                    .to_string(),
                format!(
                    "    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
                    c.display(),
                    c_key.display()
                ),
            )
        } else {
            (String::new(), String::new())
        };
        format!(
            r#"
http:
  routers:
    secure:
      rule: "Host(`a.test`)"
      service: a
      tls: {{}}
    mutual:
      rule: "Host(`m.test`)"
      service: a
      tls: {{options: mtls}}
    plain:
      rule: "Host(`plain.test`)"
      service: a
{extra_router}  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
tls:
  options:
    mtls:
      clientAuth:
        caFiles: ["{}"]
        clientAuthType: RequireAndVerifyClientCert
  certificates:
    - {{certFile: "{}", keyFile: "{}"}}
{extra_cert}"#,
            a.url(),
            ca_path().display(),
            ab.display(),
            ab_key.display(),
        )
    };
    let t = start(
        "h3",
        &dynamic(false),
        "    http3:\n      advertisedPort: 443\n",
        "    http3: {}\n    http:\n      maxHeaderBytes: 8192\n",
    )
    .await;
    wait_until("TLS router up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "a.test", "/").await.ok()?;
        (r.reply.status == 200 && r.cert_names[0] == "a.test").then_some(())
    })
    .await;

    // TLS responses on TCP advertise HTTP/3 on the entrypoint's own port,
    // or on `advertisedPort`; plain ones do not.
    let r = https(t.secure, "a.test", "/").await;
    assert_eq!(
        r.reply.header("alt-svc"),
        Some(format!("h3=\":{}\"; ma=2592000", t.secure.port()).as_str())
    );
    let r = https(t.p.web, "a.test", "/").await;
    assert_eq!(r.reply.header("alt-svc"), Some("h3=\":443\"; ma=2592000"));
    let r = get(t.secure, "plain.test", "/").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("alt-svc"), None);
    // Not to names whose options HTTP/3 cannot honour (client certificates).
    let r = TlsClient {
        sni: Some("m.test".into()),
        client_cert: Some((fixture_path("client.pem"), fixture_path("client.key"))),
        ..TlsClient::default()
    }
    .request(t.secure, Method::GET, "m.test", "/")
    .await
    .unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.reply.header("alt-svc"), None);

    // Over QUIC: the TLS routers, the SNI's certificate, https forwarded.
    let r = h3(t.secure, "a.test", Method::GET, "/over/quic?x=1", b"")
        .await
        .unwrap();
    assert_eq!(r.alpn.as_deref(), Some(&b"h3"[..]));
    assert_eq!(r.cert_names[0], "a.test");
    assert_eq!(r.reply.status, 200);
    let seen = r.reply.json();
    assert_eq!(seen["uri"], "/over/quic?x=1");
    assert_eq!(seen["body_len"], 0);
    assert_eq!(seen["version"], "HTTP/1.1");
    assert_eq!(
        r.reply.seen_header("x-forwarded-proto").as_deref(),
        Some("https")
    );
    assert_eq!(r.reply.seen_header("host").as_deref(), Some("a.test"));
    assert!(r.reply.seen_header("transfer-encoding").is_none());
    // HTTP/3 answers do not advertise HTTP/3 again.
    assert_eq!(r.reply.header("alt-svc"), None);
    // A request body arrives whole.
    let r = h3(t.secure, "a.test", Method::POST, "/post", b"quic body")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.reply.json()["body"], "quic body");
    // A header section over `maxHeaderBytes` is refused with 431.
    let long = format!("/{}", "x".repeat(10_000));
    let r = h3(t.secure, "a.test", Method::GET, &long, b"")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 431);
    // The `web` entrypoint has HTTP/3 too, on its own port.
    let r = h3(t.p.web, "a.test", Method::GET, "/", b"").await.unwrap();
    assert_eq!(r.reply.status, 200);
    // Plain routers are not reachable over QUIC; no router is a 404.
    let r = h3(t.secure, "plain.test", Method::GET, "/", b"")
        .await
        .unwrap();
    assert_eq!(r.reply.status, 404);
    // The mutual-TLS name is refused over QUIC (its clients stay on TCP).
    let refused = h3(t.secure, "m.test", Method::GET, "/", b"").await;
    assert!(refused.is_err(), "{refused:?}");

    // A new router and certificate apply to new QUIC handshakes.
    t.p.dir.write("dynamic/config.yml", &dynamic(true));
    let r = wait_until("c.test over HTTP/3", Duration::from_secs(10), || async {
        let r = h3(t.secure, "c.test", Method::GET, "/", b"").await.ok()?;
        (r.reply.status == 200 && r.cert_names[0] == "c.test").then_some(r)
    })
    .await;
    assert_eq!(r.reply.json()["uri"], "/");

    // A stop with an HTTP/3 connection just used ends well within the
    // grace period (10 s), with exit status 0.
    let mut t = t;
    t.p.sy.signal("TERM");
    let code = tokio::task::spawn_blocking(move || t.p.sy.wait_exit(Duration::from_secs(8)))
        .await
        .unwrap();
    assert_eq!(code, Some(0));
}

/// A proxy routing `site.test` over TLS, with a certificate file of its own,
/// to a backend `a`, once it answers; the backend and the certificates'
/// directory live as long as the caller keeps them.
async fn site_with_certificate(name: &str) -> (TlsProxy, Backend, TestDir) {
    let a = Backend::start("a").await;
    let certs = TestDir::new(&format!("{name}-certs"));
    let (cert, key) = write_cert(certs.path(), "site", &["site.test"]);
    let dynamic = format!(
        "http:\n  routers:\n    site:\n      rule: \"Host(`site.test`)\"\n      service: a\n      tls: {{}}\n  services:\n    a: {{loadBalancer: {{servers: [{{url: \"{}\"}}]}}}}\ntls:\n  certificates:\n    - {{certFile: \"{}\", keyFile: \"{}\"}}\n",
        a.url(),
        cert.display(),
        key.display()
    );
    let t = start(name, &dynamic, "", "").await;
    wait_until("site up", Duration::from_secs(10), || async {
        let r = TlsClient::get(t.secure, "site.test", "/").await.ok()?;
        (r.reply.status == 200).then_some(())
    })
    .await;
    (t, a, certs)
}

/// A client session store that records when a TLS 1.3 ticket arrives.
#[derive(Debug)]
struct TicketWatch {
    inner: rustls::client::ClientSessionMemoryCache,
    tickets: std::sync::atomic::AtomicUsize,
}

impl rustls::client::ClientSessionStore for TicketWatch {
    fn set_kx_hint(
        &self,
        server_name: rustls::pki_types::ServerName<'static>,
        group: rustls::NamedGroup,
    ) {
        self.inner.set_kx_hint(server_name, group)
    }
    fn kx_hint(
        &self,
        server_name: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::NamedGroup> {
        self.inner.kx_hint(server_name)
    }
    fn set_tls12_session(
        &self,
        server_name: rustls::pki_types::ServerName<'static>,
        value: rustls::client::Tls12ClientSessionValue,
    ) {
        self.inner.set_tls12_session(server_name, value)
    }
    fn tls12_session(
        &self,
        server_name: &rustls::pki_types::ServerName<'_>,
    ) -> Option<rustls::client::Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }
    fn remove_tls12_session(&self, server_name: &rustls::pki_types::ServerName<'static>) {
        self.inner.remove_tls12_session(server_name)
    }
    fn insert_tls13_ticket(
        &self,
        server_name: rustls::pki_types::ServerName<'static>,
        value: rustls::client::Tls13ClientSessionValue,
    ) {
        self.tickets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.insert_tls13_ticket(server_name, value)
    }
    fn take_tls13_ticket(
        &self,
        server_name: &rustls::pki_types::ServerName<'static>,
    ) -> Option<rustls::client::Tls13ClientSessionValue> {
        self.inner.take_tls13_ticket(server_name)
    }
}

/// Session tickets: sent right after the handshake to a client that has not
/// spoken yet (so a client with Nagle's algorithm on is not held back waiting
/// for an acknowledgement), and good for resuming; requests go through on
/// both the first and the resumed connection, over TLS 1.3 and TLS 1.2.
#[tokio::test]
async fn session_tickets_come_unprompted_and_resume() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (t, _backend, _certs) = site_with_certificate("tls-tickets").await;

    let watch = Arc::new(TicketWatch {
        inner: rustls::client::ClientSessionMemoryCache::new(8),
        tickets: Default::default(),
    });
    let mut config = TlsClient {
        sni: Some("site.test".into()),
        ..TlsClient::default()
    }
    .client_config()
    .unwrap();
    config.resumption = rustls::client::Resumption::store(watch.clone());
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from("site.test").unwrap();
    let request = b"GET /hello HTTP/1.1\r\nhost: site.test\r\nconnection: close\r\n\r\n";

    let tcp = tokio::net::TcpStream::connect(t.secure).await.unwrap();
    let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
    assert_eq!(
        tls.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
    // Reading processes what the server sends; there is no answer to read
    // before a request, only the ticket.
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while watch.tickets.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no session ticket before the first request"
        );
        let _ = tokio::time::timeout(Duration::from_millis(50), tls.read(&mut buf)).await;
    }
    tls.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-backend: a"), "{answer}");

    // Resumed with that ticket; the request follows the handshake at once.
    let tcp = tokio::net::TcpStream::connect(t.secure).await.unwrap();
    let mut tls = connector.connect(name.clone(), tcp).await.unwrap();
    assert_eq!(
        tls.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    tls.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // TLS 1.2: the server's last flight goes out before the client speaks.
    let r = TlsClient {
        sni: Some("site.test".into()),
        versions: vec![&rustls::version::TLS12],
        ..TlsClient::default()
    }
    .request(t.secure, Method::GET, "site.test", "/")
    .await
    .unwrap();
    assert_eq!(r.reply.status, 200);
    assert_eq!(r.version, Some(rustls::ProtocolVersion::TLSv1_2));
}

/// Bodies far larger than a TLS record and than rustls's buffers, both
/// ways, over HTTP/1.1 and HTTP/2: the entrypoint's TLS stream must pass
/// every byte in order when its buffer fills and the socket pushes back.
#[tokio::test]
async fn large_bodies_both_ways_over_tls() {
    use http_body_util::{BodyExt, Full};
    let (t, _backend, _certs) = site_with_certificate("tls-large").await;
    const SIZE: usize = 3 * 1024 * 1024 + 17;
    let upload: bytes::Bytes = (0..SIZE).map(|i| (i * 7 % 251) as u8).collect();

    // HTTP/1.1: one connection, a large download then a large upload echoed.
    let tls = TlsClient {
        sni: Some("site.test".into()),
        ..TlsClient::default()
    }
    .handshake(t.secure)
    .await
    .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            http::Request::get(format!("/bytes/{SIZE}"))
                .header("host", "site.test")
                .body(Full::new(bytes::Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got.len(), SIZE);
    assert!(got.iter().all(|b| *b == b'a'));
    let resp = sender
        .send_request(
            http::Request::post("/echo")
                .header("host", "site.test")
                .body(Full::new(upload.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        echoed == upload,
        "HTTP/1.1 echo differs ({} bytes back)",
        echoed.len()
    );

    // HTTP/2 by ALPN: the same upload, echoed on a stream.
    let tls = TlsClient {
        sni: Some("site.test".into()),
        alpn: vec![b"h2".to_vec()],
        ..TlsClient::default()
    }
    .handshake(t.secure)
    .await
    .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tls),
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let resp = sender
        .send_request(
            http::Request::post("https://site.test/echo")
                .body(Full::new(upload.clone()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echoed = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(
        echoed == upload,
        "HTTP/2 echo differs ({} bytes back)",
        echoed.len()
    );
}
