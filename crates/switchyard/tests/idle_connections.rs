//! Idle connections: many keep-alive connections held after one request
//! each are all answered when they speak again, pipelined requests after
//! an idle spell are answered in order, a silent WebSocket still echoes,
//! and an idle connection's memory stays small.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Every plain connection served one request at a time (by default only
/// those beyond the first 128 open ones are).
const IDLE_MODE: &[(&str, &str)] = &[("SWITCHYARD_IDLE_MODE_ABOVE", "0")];

fn single(backend_url: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: \"{backend_url}\"\n"
    )
}

/// A keep-alive connection read through a buffer.
type Conn = BufReader<TcpStream>;

/// Reads one response; returns its status and body (`Content-Length` or
/// chunked).
async fn read_response(conn: &mut Conn) -> (u16, String) {
    let read = async {
        let mut status_line = String::new();
        conn.read_line(&mut status_line).await.unwrap();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line, got {status_line:?}"));
        let (mut length, mut chunked) = (None, false);
        loop {
            let mut line = String::new();
            conn.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                conn.read_line(&mut size).await.unwrap();
                let n = usize::from_str_radix(size.trim(), 16).unwrap();
                let mut chunk = vec![0; n + 2];
                conn.read_exact(&mut chunk).await.unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            conn.read_exact(&mut body).await.unwrap();
        }
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("a response in time")
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: app.test\r\n\r\n")
}

/// Opens `n` connections, each answered once for `/<prefix>-<i>`, a few at
/// a time, and keeps them open.
async fn open_idle(web: std::net::SocketAddr, prefix: &str, n: usize) -> Vec<Conn> {
    let mut conns = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(50) {
        let opened = batch.iter().map(|i| {
            let path = format!("/{prefix}-{i}");
            async move {
                let mut c = BufReader::new(TcpStream::connect(web).await.unwrap());
                c.get_mut()
                    .write_all(get_request(&path).as_bytes())
                    .await
                    .unwrap();
                let (status, body) = read_response(&mut c).await;
                assert_eq!(status, 200, "{path}");
                assert!(body.contains(&path), "{path} answered: {body}");
                c
            }
        });
        conns.extend(futures_util::future::join_all(opened).await);
    }
    conns
}

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn many_idle_keep_alive_connections_are_all_answered_again() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with_env("idle-many", &single(&b.url()), "", "", IDLE_MODE).await;
    p.wait_status("app.test", "/", 200).await;
    let mut conns = open_idle(p.web, "first", 500).await;
    // All idle at once; then each speaks again, several at a time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for (i, chunk) in conns.chunks_mut(50).enumerate() {
        let again = chunk.iter_mut().enumerate().map(|(j, c)| async move {
            let path = format!("/again-{i}-{j}");
            c.get_mut()
                .write_all(get_request(&path).as_bytes())
                .await
                .unwrap();
            let (status, body) = read_response(c).await;
            assert_eq!(status, 200, "{path}");
            assert!(body.contains(&path), "{path} answered: {body}");
        });
        futures_util::future::join_all(again).await;
    }
}

#[tokio::test]
async fn pipelined_requests_after_an_idle_spell_are_answered_in_order() {
    let b = Backend::start("b").await;
    let p = Proxy::start_with_env("idle-pipeline", &single(&b.url()), "", "", IDLE_MODE).await;
    p.wait_status("app.test", "/", 200).await;
    let mut c = BufReader::new(TcpStream::connect(p.web).await.unwrap());
    c.get_mut()
        .write_all(get_request("/one").as_bytes())
        .await
        .unwrap();
    assert!(read_response(&mut c).await.1.contains("/one"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Three at once, the third split mid-head, and a POST with a body
    // between them.
    let batch = format!(
        "{}POST /two HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello{}GET /fo",
        get_request("/a"),
        get_request("/b")
    );
    c.get_mut().write_all(batch.as_bytes()).await.unwrap();
    for path in ["/a", "/two", "/b"] {
        let (status, body) = read_response(&mut c).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(path), "{path} in order: {body}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.get_mut()
        .write_all(b"ur HTTP/1.1\r\nHost: app.test\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = read_response(&mut c).await;
    assert_eq!(status, 200);
    assert!(body.contains("/four"), "the split head completed: {body}");
    // A request after idling that closes: answered, then the end.
    c.get_mut()
        .write_all(b"GET /last HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert!(read_response(&mut c).await.1.contains("/last"));
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut rest))
        .await
        .expect("closed in time")
        .unwrap();
    assert_eq!(n, 0, "nothing after the last response");
}

#[tokio::test]
async fn a_silent_websocket_echoes_when_it_speaks_again() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let b = Backend::start("b").await;
    let p = Proxy::start_with_env("idle-ws", &single(&b.url()), "", "", IDLE_MODE).await;
    p.wait_status("app.test", "/", 200).await;
    // A plain request first on the same connection, then the upgrade.
    let mut c = BufReader::new(TcpStream::connect(p.web).await.unwrap());
    c.get_mut()
        .write_all(get_request("/before").as_bytes())
        .await
        .unwrap();
    assert!(read_response(&mut c).await.1.contains("/before"));
    let (mut ws, resp) = tokio_tungstenite::client_async("ws://app.test/ws", c.into_inner())
        .await
        .expect("websocket handshake on a kept-alive connection");
    assert_eq!(resp.status().as_u16(), 101);
    let mut others = Vec::new();
    for _ in 0..20 {
        let (w, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", p.web))
            .await
            .expect("websocket handshake");
        others.push(w);
    }
    for round in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = format!("round {round} on the kept-alive connection");
        ws.send(Message::text(text.clone())).await.unwrap();
        let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("echo in time")
            .expect("echo")
            .expect("frame");
        assert_eq!(echo.into_text().unwrap().as_str(), text);
        for (i, w) in others.iter_mut().enumerate() {
            let text = format!("round {round} socket {i} {}", "x".repeat(i * 1000));
            w.send(Message::text(text.clone())).await.unwrap();
            let echo = tokio::time::timeout(Duration::from_secs(10), w.next())
                .await
                .expect("echo in time")
                .expect("echo")
                .expect("frame");
            assert_eq!(echo.into_text().unwrap().as_str(), text);
        }
    }
    ws.close(None).await.unwrap();
}

/// Held keep-alive connections cost little memory each: the budget is
/// generous (a debug build, the allocator's rounding; under 1 KiB measured
/// here), and far below what a connection holding hyper's buffers costs
/// (~36 KiB).
#[tokio::test]
async fn an_idle_keep_alive_connection_costs_little_memory() {
    const N: usize = 600;
    const BUDGET_KIB: u64 = 8;
    let b = Backend::start("b").await;
    let p = Proxy::start_with_env("idle-rss", &single(&b.url()), "", "", IDLE_MODE).await;
    p.wait_status("app.test", "/", 200).await;
    // Warm-up: the code and the allocator's first pages for connections.
    let warm = open_idle(p.web, "warm", 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(p.sy.pid());
    let held = open_idle(p.web, "held", N).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib(p.sy.pid());
    let per_conn = after.saturating_sub(before) * 1024 / N as u64;
    eprintln!("RSS {before} KiB -> {after} KiB for {N} idle connections: {per_conn} bytes each");
    assert!(
        per_conn < BUDGET_KIB * 1024,
        "{per_conn} bytes per idle connection, budget {BUDGET_KIB} KiB"
    );
    drop((warm, held));
}
