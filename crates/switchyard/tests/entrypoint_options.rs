//! Entrypoint settings that deployments behind a load balancer rely on:
//! `proxyProtocol` (v1 and v2, trusted and untrusted peers; the client it
//! names feeds X-Forwarded-For, X-Real-Ip, ClientIP rules and ipAllowList),
//! `transport.keepAliveMaxRequests` / `keepAliveMaxTime`, `reusePort`,
//! `forwardedHeaders.connection` and `notAppendXForwardedFor`.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `/` to `a`; `ClientIP(203.0.113.0/24)` on `/client-ip` to `b`; an
/// ipAllowList of 198.51.100.7 on `/allow`.
fn routes(a: &Backend, b: &Backend) -> String {
    format!(
        "http:\n  routers:\n    all:\n      rule: \"PathPrefix(`/`)\"\n      service: a\n\
         \x20   by-client:\n      rule: \"PathPrefix(`/client-ip`) && ClientIP(`203.0.113.0/24`)\"\n      service: b\n\
         \x20   allow:\n      rule: \"PathPrefix(`/allow`)\"\n      middlewares: [only]\n      service: b\n\
         \x20 middlewares:\n    only:\n      ipAllowList:\n        sourceRange: [\"198.51.100.7\"]\n\
         \x20 services:\n    a:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   b:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        a.url(),
        b.url()
    )
}

fn v1(client: &str, port: u16) -> Vec<u8> {
    format!("PROXY TCP4 {client} 127.0.0.1 {port} 80\r\n").into_bytes()
}

fn v2(client: [u8; 4], port: u16) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[0x21, 0x11, 0x00, 0x0c]);
    out.extend_from_slice(&client);
    out.extend_from_slice(&[127, 0, 0, 1]);
    out.extend_from_slice(&port.to_be_bytes());
    out.extend_from_slice(&80u16.to_be_bytes());
    out
}

/// One HTTP/1.1 request on a connection that first sends `preface`.
async fn after_preface(
    addr: SocketAddr,
    preface: &[u8],
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Reply, String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    stream.write_all(preface).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = http::Request::builder().uri(path).header("host", "pp.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

#[tokio::test]
async fn proxy_protocol_from_a_trusted_peer_names_the_client() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start_with(
        "pp-trusted",
        &routes(&a, &b),
        "    proxyProtocol:\n      trustedIPs: [\"127.0.0.1/32\"]\n",
        "",
    )
    .await;
    p.wait_status("pp.test", "/", 200).await;

    for (what, preface, client) in [
        ("v1", v1("203.0.113.9", 40000), "203.0.113.9"),
        ("v2", v2([203, 0, 113, 10], 40001), "203.0.113.10"),
    ] {
        let r = after_preface(p.web, &preface, "/", &[]).await.unwrap();
        assert_eq!(r.status.as_u16(), 200, "{what}");
        assert_eq!(
            r.seen_header("x-forwarded-for").as_deref(),
            Some(client),
            "{what}"
        );
        assert_eq!(
            r.seen_header("x-real-ip").as_deref(),
            Some(client),
            "{what}"
        );
        // ClientIP sees the client the header names.
        let r = after_preface(p.web, &preface, "/client-ip", &[])
            .await
            .unwrap();
        assert_eq!(r.json()["name"], "b", "{what}: ClientIP rule");
    }
    // ipAllowList judges the client the header names.
    let allowed = after_preface(p.web, &v1("198.51.100.7", 1), "/allow", &[])
        .await
        .unwrap();
    assert_eq!(allowed.status.as_u16(), 200);
    let denied = after_preface(p.web, &v1("198.51.100.8", 1), "/allow", &[])
        .await
        .unwrap();
    assert_eq!(denied.status.as_u16(), 403);
    // Without a header the connection is served as it is.
    let plain = get(p.web, "pp.test", "/").await.unwrap();
    assert_eq!(plain.seen_header("x-real-ip").as_deref(), Some("127.0.0.1"));
    let plain = get(p.web, "pp.test", "/client-ip").await.unwrap();
    assert_eq!(plain.json()["name"], "a");
}

#[tokio::test]
async fn proxy_protocol_from_an_untrusted_peer_is_taken_off_and_ignored() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start_with(
        "pp-untrusted",
        &routes(&a, &b),
        "    proxyProtocol:\n      trustedIPs: [\"10.0.0.0/8\"]\n",
        "",
    )
    .await;
    p.wait_status("pp.test", "/", 200).await;
    for preface in [v1("203.0.113.9", 40000), v2([203, 0, 113, 10], 40001)] {
        let r = after_preface(p.web, &preface, "/client-ip", &[])
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.json()["name"], "a", "the named client is not believed");
        assert_eq!(r.seen_header("x-real-ip").as_deref(), Some("127.0.0.1"));
    }
}

#[tokio::test]
async fn proxy_protocol_insecure_and_malformed_headers() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start_with(
        "pp-insecure",
        &routes(&a, &b),
        "    proxyProtocol:\n      insecure: true\n",
        "",
    )
    .await;
    p.wait_status("pp.test", "/", 200).await;
    let r = after_preface(p.web, &v1("203.0.113.77", 5), "/", &[])
        .await
        .unwrap();
    assert_eq!(r.seen_header("x-real-ip").as_deref(), Some("203.0.113.77"));

    // A malformed header closes the connection without an answer.
    let hits = a.hits();
    let mut s = TcpStream::connect(p.web).await.unwrap();
    s.write_all(b"PROXY TCP4 203.0.113.1 nonsense\r\nGET / HTTP/1.1\r\nHost: pp.test\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "no answer: {}", String::from_utf8_lossy(&got));
    assert_eq!(a.hits(), hits, "the backend saw nothing of it");
}

/// Sends `count` requests on one connection; the `Connection` header of
/// each answer, and whether the server closed the connection after.
async fn keep_alive_run(addr: SocketAddr, count: usize, pause: Duration) -> (Vec<String>, bool) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let mut seen = Vec::new();
    for _ in 0..count {
        tokio::time::sleep(pause).await;
        if sender.ready().await.is_err() {
            break;
        }
        let req = http::Request::builder()
            .uri("/")
            .header("host", "ka.test")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let Ok(resp) = sender.send_request(req).await else {
            break;
        };
        seen.push(
            resp.headers()
                .get("connection")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        );
        let _ = resp.into_body().collect().await;
    }
    drop(sender);
    let closed = tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .is_ok();
    (seen, closed)
}

#[tokio::test]
async fn keep_alive_max_requests_closes_after_the_limit() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with(
        "ka-requests",
        &host_route("r", "ka.test", &b),
        "    transport:\n      keepAliveMaxRequests: 3\n",
        "",
    )
    .await;
    p.wait_status("ka.test", "/", 200).await;
    let (seen, closed) = keep_alive_run(p.web, 5, Duration::ZERO).await;
    assert_eq!(
        seen,
        ["", "", "close"],
        "the third answer says close, no fourth"
    );
    assert!(closed);

    // HTTP/2: the connection is wound down with GOAWAY after the third.
    let stream = TcpStream::connect(p.web).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        TokioIo::new(stream),
    )
    .await
    .unwrap();
    let conn = tokio::spawn(conn);
    let mut answered = 0;
    for _ in 0..5 {
        if sender.ready().await.is_err() {
            break;
        }
        let req = http::Request::builder()
            .uri("http://ka.test/")
            .body(Full::new(Bytes::new()))
            .unwrap();
        match sender.send_request(req).await {
            Ok(resp) if resp.status() == 200 => {
                answered += 1;
                let _ = resp.into_body().collect().await;
            }
            _ => break,
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, 3, "three answers before GOAWAY");
    drop(sender);
    assert!(tokio::time::timeout(Duration::from_secs(5), conn)
        .await
        .is_ok());
}

#[tokio::test]
async fn keep_alive_max_time_closes_an_old_connection() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with(
        "ka-time",
        &host_route("r", "ka.test", &b),
        "    transport:\n      keepAliveMaxTime: 300ms\n",
        "",
    )
    .await;
    p.wait_status("ka.test", "/", 200).await;
    let (seen, closed) = keep_alive_run(p.web, 3, Duration::from_millis(200)).await;
    assert_eq!(seen, ["", "close"], "the answer after 300 ms says close");
    assert!(closed);
}

#[tokio::test]
async fn reuse_port_lets_two_processes_share_a_port() {
    let b = Backend::start("b").await;
    let port = free_port();
    let start = |name: &str, reuse: bool| {
        let dir = TestDir::new(name);
        dir.write("dynamic/config.yml", &host_route("r", "rp.test", &b));
        dir.write(
            "switchyard.yml",
            &format!(
                "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\n    reusePort: {reuse}\n\
                 log:\n  level: INFO\nproviders:\n  file:\n    directory: \"{}\"\n",
                dir.join("dynamic").display()
            ),
        );
        let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
        (dir, sy)
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (_d1, first) = start("reuse-1", true);
    first.wait_listening(addr).await;
    let (_d2, mut second) = start("reuse-2", true);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        second.wait_exit(Duration::from_millis(100)),
        None,
        "the second process runs: {:?}",
        second.log()
    );
    assert!(second.logged("entrypoint listening"));
    // Without reusePort on the newcomer, the port is taken.
    let (_d3, mut third) = start("reuse-3", false);
    assert_eq!(third.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(third.logged("cannot listen"), "{:?}", third.log());
}

#[tokio::test]
async fn forwarded_headers_connection_keeps_listed_headers_for_routing() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dynamic = format!(
        "http:\n  routers:\n    all:\n      rule: \"PathPrefix(`/`)\"\n      service: a\n\
         \x20   keep:\n      rule: \"Header(`X-Keep`, `1`)\"\n      priority: 100\n      service: b\n\
         \x20 services:\n    a:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   b:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        a.url(),
        b.url()
    );
    let p = Proxy::start_with(
        "fh-connection",
        &dynamic,
        "    forwardedHeaders:\n      connection: [\"X-Keep\"]\n      insecure: true\n      notAppendXForwardedFor: true\n",
        "",
    )
    .await;
    p.wait_status("c.test", "/", 200).await;
    let headers = [
        ("connection", "X-Keep, X-Drop"),
        ("x-keep", "1"),
        ("x-drop", "1"),
    ];
    let r = request(
        p.web,
        http::Method::GET,
        "c.test",
        "/",
        &headers,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.json()["name"], "b", "X-Keep reached the router");
    assert_eq!(
        r.seen_header("x-keep"),
        None,
        "but not the backend (hop-by-hop)"
    );
    assert_eq!(r.seen_header("x-drop"), None);
    // notAppendXForwardedFor: the trusted client's value arrives as sent.
    let xff = [("x-forwarded-for", "192.0.2.44")];
    let r = request(p.web, http::Method::GET, "c.test", "/", &xff, Bytes::new())
        .await
        .unwrap();
    assert_eq!(
        r.seen_header("x-forwarded-for").as_deref(),
        Some("192.0.2.44")
    );

    // Without the list, the Connection header takes X-Keep away before routing.
    let p2 = Proxy::start("fh-connection-default", &dynamic, "").await;
    p2.wait_status("c.test", "/", 200).await;
    let r = request(
        p2.web,
        http::Method::GET,
        "c.test",
        "/",
        &headers,
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.json()["name"], "a");
    let r = request(p2.web, http::Method::GET, "c.test", "/", &xff, Bytes::new())
        .await
        .unwrap();
    assert_eq!(
        r.seen_header("x-forwarded-for").as_deref(),
        Some("127.0.0.1"),
        "an untrusted client's value is replaced, then the client appended"
    );
}
