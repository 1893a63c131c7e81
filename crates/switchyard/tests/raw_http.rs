//! Requests written byte by byte: 100-continue, timeouts, and keep-alive
//! connections that outlive a reload (malformed and hostile requests are
//! in `hostile_http1.rs`).

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

fn single(backend_url: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{backend_url}\"\n"
    )
}

/// Reads one response head and returns (status line, head text).
async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(10), r.read_line(&mut line))
            .await
            .expect("head in time")
            .expect("read");
        if n == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    head
}

#[tokio::test]
async fn expect_100_continue() {
    let b = Backend::start("b").await;
    let p = Proxy::start("continue", &single(&b.url()), "").await;
    p.wait_status("x.test", "/", 200).await;
    let stream = TcpStream::connect(p.web).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    wr.write_all(b"POST /upload HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").await.unwrap();
    let interim = read_head(&mut rd).await;
    assert!(
        interim.starts_with("HTTP/1.1 100"),
        "expected 100 Continue before the body, got {interim:?}"
    );
    wr.write_all(b"hello").await.unwrap();
    let head = read_head(&mut rd).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("content-length");
    let mut body = vec![0; len];
    rd.read_exact(&mut body).await.unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["body"], "hello");
}

#[tokio::test]
async fn keep_alive_connection_uses_the_new_runtime_for_its_next_request() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start("keepalive", &single(&a.url()), "").await;
    p.wait_status("x.test", "/", 200).await;
    let stream = TcpStream::connect(p.web).await.unwrap();
    let (mut tx, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let send =
        |tx: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<bytes::Bytes>>| {
            let req = http::Request::get("/")
                .header("host", "x.test")
                .body(http_body_util::Empty::new())
                .unwrap();
            tx.send_request(req)
        };
    let r1 = send(&mut tx).await.unwrap();
    assert_eq!(r1.headers()["x-backend"], "a");
    use http_body_util::BodyExt;
    r1.into_body().collect().await.unwrap();
    p.rewrite(&single(&b.url()));
    p.wait_status("x.test", "/", 200).await;
    wait_until("reload", Duration::from_secs(5), || async {
        get(p.web, "x.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
    let r2 = send(&mut tx).await.unwrap();
    assert_eq!(
        r2.headers()["x-backend"],
        "b",
        "same connection, new runtime"
    );
}

#[tokio::test]
async fn read_and_write_timeouts_end_slow_exchanges() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with(
        "timeouts",
        &single(&b.url()),
        "    transport:\n      respondingTimeouts:\n        readTimeout: 300ms\n        writeTimeout: 500ms\n",
        "",
    )
    .await;
    p.wait_status("x.test", "/", 200).await;

    // A body that stops halfway: the exchange ends (no hang, no 200).
    let mut s = TcpStream::connect(p.web).await.unwrap();
    s.write_all(b"POST /collect HTTP/1.1\r\nHost: x.test\r\nContent-Length: 10\r\n\r\nhalf!")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the connection must end once readTimeout passes"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.starts_with("HTTP/1.1 200"),
        "a cut body is not answered 200: {text:?}"
    );

    // A response that streams for ~1 s is cut at writeTimeout.
    let r = get(p.web, "x.test", "/stream/100").await;
    match r {
        Err(_) => {}
        Ok(r) => assert!(
            r.body.len() < "chunk 99\n".len() * 100,
            "response was not cut: {} bytes",
            r.body.len()
        ),
    }
    // A quick one passes.
    let r = get(p.web, "x.test", "/stream/3")
        .await
        .expect("quick stream");
    assert_eq!(r.text(), "chunk 0\nchunk 1\nchunk 2\n");
}
