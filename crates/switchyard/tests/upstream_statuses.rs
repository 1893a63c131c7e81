//! Backends that answer with unusual status lines: what the client sees
//! (as Traefik 3.7 answers them, checked against the real binary; the
//! differential twin is `tests/diff/test_upstream_statuses.py`). A status
//! Go's client cannot parse is a 500, a code Go has no text for keeps its
//! code with `status code N` as the phrase, and a backend's own phrase is
//! replaced by Go's.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The canned answer for `path` (the backend closes after it).
fn canned(path: &str) -> &'static [u8] {
    match path {
        "/205" => b"HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n",
        "/305" => b"HTTP/1.1 305 Use Proxy\r\nContent-Length: 5\r\n\r\nhello",
        "/299" => b"HTTP/1.1 299 Odd\r\nContent-Length: 2\r\n\r\nok",
        "/600" => b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
        "/413" => b"HTTP/1.1 413 Too Big\r\nContent-Length: 2\r\n\r\nok",
        "/no-reason" => b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
        "/letters" => b"HTTP/1.1 2x0 Odd\r\nContent-Length: 2\r\n\r\nok",
        "/four-digits" => b"HTTP/1.1 1000 Odd\r\nContent-Length: 2\r\n\r\nok",
        "/no-colon" => b"HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nok",
        "/bad-length" => b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok",
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    }
}

/// A backend that reads one request head per connection, writes its
/// canned answer and closes.
async fn raw_backend() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
                        Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let path = text.split(' ').nth(1).unwrap_or("/").to_string();
                let _ = s.write_all(canned(&path)).await;
                let _ = s.shutdown().await;
            });
        }
    });
    format!("http://{addr}")
}

/// One request on its own connection: the whole answer, as text.
async fn get(p: &Proxy, path: &str) -> String {
    let mut s = TcpStream::connect(p.web).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn unusual_statuses_answer_as_traefik() {
    let url = raw_backend().await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{url}\"\n"
    );
    let p = Proxy::start("upstream-statuses", &dynamic, "").await;
    p.wait_status("x.test", "/205", 205).await;
    // (path, status line, body)
    let cases = [
        ("/205", "HTTP/1.1 205 Reset Content", ""),
        ("/305", "HTTP/1.1 305 Use Proxy", "hello"),
        ("/299", "HTTP/1.1 299 status code 299", "ok"),
        ("/600", "HTTP/1.1 600 status code 600", "ok"),
        ("/413", "HTTP/1.1 413 Request Entity Too Large", "ok"),
        ("/no-reason", "HTTP/1.1 200 OK", "ok"),
        (
            "/letters",
            "HTTP/1.1 500 Internal Server Error",
            "Internal Server Error",
        ),
        (
            "/four-digits",
            "HTTP/1.1 500 Internal Server Error",
            "Internal Server Error",
        ),
        (
            "/no-colon",
            "HTTP/1.1 500 Internal Server Error",
            "Internal Server Error",
        ),
        (
            "/bad-length",
            "HTTP/1.1 500 Internal Server Error",
            "Internal Server Error",
        ),
    ];
    for (path, line, body) in cases {
        let answer = get(&p, path).await;
        let (head, got_body) = answer.split_once("\r\n\r\n").expect("a head");
        assert_eq!(head.lines().next(), Some(line), "{path}: {answer:?}");
        assert_eq!(got_body, body, "{path}");
        if line.contains(" 500 ") {
            // As Go's proxy writes its error: the text alone, no type.
            let lower = head.to_ascii_lowercase();
            assert!(lower.contains("content-length: 21"), "{path}: {head}");
            assert!(!lower.contains("content-type"), "{path}: {head}");
        }
    }
}
