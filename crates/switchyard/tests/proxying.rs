//! What crosses the proxy: headers, bodies both ways, upgrades, HTTP/2, and
//! Traefik's status codes when the backend cannot answer.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use bytes::Bytes;
use common::*;
use http::Method;

fn single(backend_url: &str, extra_lb: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n{extra_lb}        servers:\n          - url: \"{backend_url}\"\n"
    )
}

#[tokio::test]
async fn forwarded_headers_and_hop_by_hop() {
    let b = Backend::start("b").await;
    let p = Proxy::start("fwd", &single(&b.url(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    let r = request(
        p.web,
        Method::GET,
        "app.test:8080",
        "/x?y=1",
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("connection", "keep-alive, x-drop-me, X-Real-Ip"),
            ("x-drop-me", "1"),
            ("keep-alive", "timeout=5"),
            ("x-kept", "yes"),
            ("X_Forwarded_For", "203.0.113.9"),
            ("x_forwarded_host", "evil.test"),
            ("X-Forwarded_Proto", "https"),
            ("X_REAL_IP", "203.0.113.9"),
            ("X_Forwarded_Tls_Client_Cert", "forged"),
            ("x_auth_user", "not managed"),
        ],
        Bytes::new(),
    )
    .await
    .expect("request");
    assert_eq!(r.status.as_u16(), 200);
    let seen = |h: &str| r.seen_header(h);
    // 127.0.0.1 is not trusted: the client's X-Forwarded-* are replaced.
    assert_eq!(seen("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(seen("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(seen("x-forwarded-host").as_deref(), Some("app.test:8080"));
    assert_eq!(seen("x-forwarded-port").as_deref(), Some("8080"));
    assert_eq!(seen("x-real-ip").as_deref(), Some("127.0.0.1"));
    assert!(seen("x-forwarded-server").is_some());
    assert_eq!(
        seen("host").as_deref(),
        Some("app.test:8080"),
        "passHostHeader defaults to true"
    );
    assert_eq!(
        seen("x-drop-me"),
        None,
        "headers named in Connection are removed"
    );
    assert_eq!(seen("keep-alive"), None);
    assert_eq!(seen("x-kept").as_deref(), Some("yes"));
    assert_eq!(r.json()["uri"], "/x?y=1");
    // Their `_` spellings go too (a backend folding `_` into `-` would
    // read them as the real ones); other names with `_` are forwarded.
    for alias in [
        "x_forwarded_for",
        "x_forwarded_host",
        "x-forwarded_proto",
        "x_real_ip",
        "x_forwarded_tls_client_cert",
    ] {
        assert_eq!(seen(alias), None, "{alias} is removed");
    }
    assert_eq!(seen("x_auth_user").as_deref(), Some("not managed"));
}

#[tokio::test]
async fn alias_headers_strategies() {
    let b = Backend::start("b").await;
    let headers: &[(&str, &str)] = &[
        ("x_forwarded_for", "203.0.113.9"),
        ("x.auth.user", "dotted"),
        ("a!b", "bang"),
        ("x-plain-9", "kept"),
    ];
    // delete: every aliasing name goes, before the forwarded headers are
    // handled (so from a trusted peer too).
    let p = Proxy::start_with(
        "alias-delete",
        &single(&b.url(), ""),
        "    forwardedHeaders: {insecure: true}\n    http: {aliasHeadersStrategy: delete}\n",
        "",
    )
    .await;
    p.wait_status("app.test", "/", 200).await;
    let r = request(p.web, Method::GET, "app.test", "/", headers, Bytes::new())
        .await
        .expect("request");
    assert_eq!(r.status.as_u16(), 200);
    for gone in ["x_forwarded_for", "x.auth.user", "a!b"] {
        assert_eq!(r.seen_header(gone), None, "{gone} is deleted");
    }
    assert_eq!(r.seen_header("x-plain-9").as_deref(), Some("kept"));
    assert_eq!(
        r.seen_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1")
    );
    drop(p);

    // reject (here through the older underscoreHeadersStrategy: `_` only).
    let p = Proxy::start_with(
        "underscore-reject",
        &single(&b.url(), ""),
        "    http: {underscoreHeadersStrategy: reject}\n",
        "",
    )
    .await;
    p.wait_status("app.test", "/", 200).await;
    let hits = b.hits();
    let r = request(p.web, Method::GET, "app.test", "/", headers, Bytes::new())
        .await
        .expect("request");
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.text(), "Bad Request\n");
    assert_eq!(b.hits(), hits, "a refused request reaches no backend");
    let r = request(
        p.web,
        Method::GET,
        "app.test",
        "/",
        &[("x.auth.user", "dotted")],
        Bytes::new(),
    )
    .await
    .expect("request");
    assert_eq!(r.status.as_u16(), 200, "a dot is no underscore");
    assert_eq!(r.seen_header("x.auth.user").as_deref(), Some("dotted"));
    drop(p);

    // Values are Traefik's, lowercase; the two options must agree.
    for (http, needle) in [
        (
            "{aliasHeadersStrategy: Delete}",
            "invalid aliasHeadersStrategy value",
        ),
        (
            "{aliasHeadersStrategy: delete, underscoreHeadersStrategy: keep}",
            "cannot have both",
        ),
    ] {
        let dir = TestDir::new("alias-bad");
        dir.write(
            "switchyard.yml",
            &format!(
                "entryPoints:\n  web:\n    address: \"127.0.0.1:{}\"\n    http: {http}\n",
                free_port()
            ),
        );
        let out = std::process::Command::new(BIN)
            .current_dir(dir.path())
            .arg("--configFile=switchyard.yml")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{http} is refused");
        let err = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(
            err.contains(needle) && err.contains("entryPoints.web.http"),
            "{http}: {err}"
        );
    }
}

#[tokio::test]
async fn trusted_peers_keep_their_forwarded_headers() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with(
        "trusted",
        &single(&b.url(), ""),
        "    forwardedHeaders:\n      trustedIPs: [\"127.0.0.1/32\"]\n",
        "",
    )
    .await;
    p.wait_status("app.test", "/", 200).await;
    let r = request(
        p.web,
        Method::GET,
        "app.test",
        "/",
        &[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-real-ip", "203.0.113.9"),
        ],
        Bytes::new(),
    )
    .await
    .expect("request");
    assert_eq!(
        r.seen_header("x-forwarded-for").as_deref(),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(r.seen_header("x-forwarded-proto").as_deref(), Some("https"));
    assert_eq!(r.seen_header("x-real-ip").as_deref(), Some("203.0.113.9"));
}

#[tokio::test]
async fn pass_host_header_false_sends_the_server_host() {
    let b = Backend::start("b").await;
    let p = Proxy::start(
        "passhost",
        &single(&b.url(), "        passHostHeader: false\n"),
        "",
    )
    .await;
    let r = p.wait_status("app.test", "/", 200).await;
    assert_eq!(r.seen_header("host"), Some(b.addr().to_string()));
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let b = Backend::start("b").await;
    let p = Proxy::start("bodies", &single(&b.url(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;

    // A 16 MiB upload echoed back whole.
    let big: Bytes = (0..16 * 1024 * 1024)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let r = request(p.web, Method::POST, "app.test", "/echo", &[], big.clone())
        .await
        .expect("upload");
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.body.len(), big.len());
    assert!(r.body == big, "echoed body differs");

    // Chunked request body (no content-length) reaches the backend whole.
    let chunks = futures_util::stream::iter((0..5).map(|i| {
        Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(format!(
            "part{i};"
        ))))
    }));
    let stream = tokio::net::TcpStream::connect(p.web).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::post("/chunked")
        .header("host", "app.test")
        .body(http_body_util::StreamBody::new(chunks))
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["body"], "part0;part1;part2;part3;part4;");

    // A streamed response arrives chunk by chunk.
    let r = get(p.web, "app.test", "/stream/5").await.expect("stream");
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");

    // HEAD has headers and no body.
    let r = request(
        p.web,
        Method::HEAD,
        "app.test",
        "/bytes/100",
        &[],
        Bytes::new(),
    )
    .await
    .expect("head");
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn trailers_cross_the_proxy() {
    let b = Backend::start("b").await;
    let p = Proxy::start("trailers", &single(&b.url(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    let stream = tokio::net::TcpStream::connect(p.web).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("/trailers")
        .header("host", "app.test")
        .header("te", "trailers")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    use http_body_util::BodyExt;
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers arrive");
    assert_eq!(trailers.get("x-checksum").unwrap(), "abc");
    assert_eq!(collected.to_bytes(), "body with trailers");
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let b = Backend::start("b").await;
    let p = Proxy::start("h2c", &single(&b.url(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    let r = h2c_get(p.web, "app.test", "/over-h2")
        .await
        .expect("h2c request");
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.json()["path"], "/over-h2");
    assert_eq!(r.seen_header("host").as_deref(), Some("app.test"));
    assert_eq!(
        r.seen_header("x-forwarded-host").as_deref(),
        Some("app.test")
    );
}

#[tokio::test]
async fn websocket_upgrade() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let b = Backend::start("b").await;
    let p = Proxy::start("ws", &single(&b.url(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    let url = format!("ws://{}/ws", p.web);
    let (mut ws, resp) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket handshake through the proxy");
    assert_eq!(resp.status().as_u16(), 101);
    for i in 0..3 {
        ws.send(Message::text(format!("hello {i}"))).await.unwrap();
        let echo = ws.next().await.expect("echo").expect("frame");
        assert_eq!(echo.into_text().unwrap().as_str(), format!("hello {i}"));
    }
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn upstream_failures_have_traefiks_statuses() {
    // A port nothing listens on.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let slow = Backend::start("slow").await;
    let dynamic = format!(
        r#"
http:
  routers:
    refused:
      rule: "Host(`refused.test`)"
      service: refused
    empty:
      rule: "Host(`empty.test`)"
      service: empty
    slow:
      rule: "Host(`slow.test`)"
      service: slow
  services:
    refused:
      loadBalancer:
        servers: [{{url: "{dead}"}}]
    empty:
      loadBalancer:
        servers: []
    slow:
      loadBalancer:
        serversTransport: quick
        servers: [{{url: "{}"}}]
  serversTransports:
    quick:
      forwardingTimeouts:
        responseHeaderTimeout: 200ms
"#,
        slow.url()
    );
    let p = Proxy::start("failures", &dynamic, "").await;
    let r = p.wait_status("refused.test", "/", 502).await;
    assert_eq!(r.text(), "Bad Gateway");
    let r = get(p.web, "empty.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 503);
    assert_eq!(r.text(), "no available server\n");
    let r = get(p.web, "slow.test", "/sleep/2000").await.unwrap();
    assert_eq!(r.status.as_u16(), 504);
    assert_eq!(r.text(), "Gateway Timeout");
    let r = get(p.web, "slow.test", "/sleep/1").await.unwrap();
    assert_eq!(
        r.status.as_u16(),
        200,
        "a fast answer passes the same transport"
    );
}

#[tokio::test]
async fn https_backends_with_root_cas_and_insecure_skip_verify() {
    let b = Backend::start_tls("tls").await;
    let ca = switchyard_testkit::tls::ca_path();
    let port = b.addr().port();
    let dynamic = format!(
        r#"
http:
  routers:
    trusted:
      rule: "Host(`trusted.test`)"
      service: trusted
    by-name:
      rule: "Host(`byname.test`)"
      service: by-name
    insecure:
      rule: "Host(`insecure.test`)"
      service: insecure
    untrusted:
      rule: "Host(`untrusted.test`)"
      service: untrusted
  services:
    trusted:
      loadBalancer:
        serversTransport: with-ca
        servers: [{{url: "https://127.0.0.1:{port}"}}]
    by-name:
      loadBalancer:
        serversTransport: with-name
        servers: [{{url: "https://127.0.0.1:{port}"}}]
    insecure:
      loadBalancer:
        serversTransport: skip
        servers: [{{url: "https://127.0.0.1:{port}"}}]
    untrusted:
      loadBalancer:
        servers: [{{url: "https://127.0.0.1:{port}"}}]
  serversTransports:
    with-ca:
      rootCAs: ["{ca}"]
    with-name:
      rootCAs: ["{ca}"]
      serverName: backend.test
    skip:
      insecureSkipVerify: true
"#,
        ca = ca.display()
    );
    let p = Proxy::start("https-backend", &dynamic, "").await;
    let r = p.wait_status("trusted.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("tls"));
    assert_eq!(
        get(p.web, "byname.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        get(p.web, "insecure.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
    // The system store does not know the test CA.
    assert_eq!(
        get(p.web, "untrusted.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        502
    );
}

#[tokio::test]
async fn event_streams_are_forwarded_as_they_come() {
    let b = Backend::start("b").await;
    // A long flush interval changes nothing: every chunk is sent on at once.
    let p = Proxy::start(
        "sse",
        &single(
            &b.url(),
            "        responseForwarding: {flushInterval: 10s}\n",
        ),
        "",
    )
    .await;
    p.wait_status("app.test", "/", 200).await;
    let stream = tokio::net::TcpStream::connect(p.web).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get("/gated")
        .header("host", "app.test")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = tx.send_request(req).await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    use http_body_util::BodyExt;
    let mut body = resp.into_body();
    // The first event arrives while the backend still holds the second.
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
        .await
        .expect("the first event was held back")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(first, "data: event 0\n\n");
    b.open_gate();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "data: event 1\n\n");
}
