//! The keep-alive pool to `http://` servers, seen from a backend that
//! counts its connections: sequential requests share one connection, a
//! body read to its end gives the connection back (a chunked one too),
//! `idleConnTimeout` closes an idle connection, `maxIdleConnsPerHost`
//! bounds what is kept, a connection the server closed while idle is
//! never a failed request, and no request waits behind another's upload.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// What the counting backend saw.
#[derive(Default)]
struct Seen {
    accepted: AtomicUsize,
    /// Connections the proxy closed (EOF while waiting for a request).
    closed_by_peer: AtomicUsize,
}

/// A raw HTTP/1.1 backend: `/chunked` answers in chunks, `/slow` after
/// 300 ms, `/early` at once and then holds the connection without reading
/// (a request body stays unread), anything else at once with a length; with `close_after` it closes each connection (without
/// saying so) after that many answers.
async fn counting_backend(close_after: Option<usize>) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let n = seen2.accepted.fetch_add(1, Ordering::SeqCst) + 1;
            let seen = seen2.clone();
            tokio::spawn(async move {
                let mut conn = BufReader::new(stream);
                let mut answered = 0;
                loop {
                    let mut target = String::new();
                    let mut line = String::new();
                    // Request line and headers (the tests send no bodies).
                    loop {
                        line.clear();
                        match conn.read_line(&mut line).await {
                            Ok(0) | Err(_) => {
                                seen.closed_by_peer.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            Ok(_) => {}
                        }
                        if target.is_empty() {
                            target = line.split(' ').nth(1).unwrap_or("").to_string();
                        } else if line == "\r\n" {
                            break;
                        }
                    }
                    if target == "/slow" {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                    let answer = if target == "/chunked" {
                        format!(
                            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nconn \r\n{:x}\r\n{n}\r\n0\r\n\r\n",
                            n.to_string().len()
                        )
                    } else {
                        let body = format!("conn {n}");
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    if conn.get_mut().write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    answered += 1;
                    if target == "/early" {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    if close_after.is_some_and(|limit| answered >= limit) {
                        // No `Connection: close`: the connection just ends.
                        return;
                    }
                }
            });
        }
    });
    (url, seen)
}

fn config(url: &str, transport: &str) -> String {
    format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n  services:\n    s:\n      loadBalancer:\n        serversTransport: t\n        servers:\n          - url: \"{url}\"\n  serversTransports:\n    t:\n{transport}"
    )
}

#[tokio::test]
async fn sequential_requests_share_one_connection_until_it_idles_out() {
    let (url, seen) = counting_backend(None).await;
    let p = Proxy::start(
        "pool-reuse",
        &config(
            &url,
            "      forwardingTimeouts:\n        idleConnTimeout: 400ms\n",
        ),
        "",
    )
    .await;
    p.wait_status("a.test", "/", 200).await;
    for path in ["/", "/chunked", "/", "/chunked", "/"] {
        let r = get(p.web, "a.test", path).await.unwrap();
        assert_eq!(r.status.as_u16(), 200, "{path}");
        assert_eq!(r.text(), "conn 1", "{path}: the first connection again");
    }
    assert_eq!(seen.accepted.load(Ordering::SeqCst), 1);
    // Idle past idleConnTimeout: the proxy closes it, the next request
    // dials again.
    wait_until(
        "the idle connection to be closed",
        Duration::from_secs(5),
        || async { (seen.closed_by_peer.load(Ordering::SeqCst) == 1).then_some(()) },
    )
    .await;
    let r = get(p.web, "a.test", "/").await.unwrap();
    assert_eq!(r.text(), "conn 2");
}

#[tokio::test]
async fn max_idle_conns_per_host_bounds_the_kept_connections() {
    let (url, seen) = counting_backend(None).await;
    let p = Proxy::start(
        "pool-max-idle",
        &config(&url, "      maxIdleConnsPerHost: 1\n"),
        "",
    )
    .await;
    p.wait_status("a.test", "/", 200).await;
    let before = seen.accepted.load(Ordering::SeqCst);
    // Three slow ones at once need three connections; one stays.
    let (a, b, c) = tokio::join!(
        get(p.web, "a.test", "/slow"),
        get(p.web, "a.test", "/slow"),
        get(p.web, "a.test", "/slow"),
    );
    for r in [a, b, c] {
        assert_eq!(r.unwrap().status.as_u16(), 200);
    }
    let opened = seen.accepted.load(Ordering::SeqCst) - before;
    assert!(opened >= 2, "opened {opened}");
    wait_until(
        "the connections beyond the one kept to be closed",
        Duration::from_secs(5),
        || async {
            let open =
                seen.accepted.load(Ordering::SeqCst) - seen.closed_by_peer.load(Ordering::SeqCst);
            (open == 1).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_connection_the_server_closed_is_never_a_failed_request() {
    let (url, seen) = counting_backend(Some(1)).await;
    let p = Proxy::start(
        "pool-stale",
        &config(&url, "      maxIdleConnsPerHost: 4\n"),
        "",
    )
    .await;
    p.wait_status("a.test", "/", 200).await;
    for i in 0..20 {
        let r = get(p.web, "a.test", "/").await.unwrap();
        assert_eq!(r.status.as_u16(), 200, "request {i}: {}", r.text());
        if i % 5 == 0 {
            // Give the close time to arrive, and sometimes not.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(seen.accepted.load(Ordering::SeqCst) >= 20);
}

#[tokio::test]
async fn no_request_waits_behind_an_upload_its_server_answered_early() {
    let (url, _seen) = counting_backend(None).await;
    let p = Proxy::start(
        "pool-busy",
        &config(&url, "      maxIdleConnsPerHost: 4\n"),
        "",
    )
    .await;
    p.wait_status("a.test", "/", 200).await;
    // An upload that stalls; its server answers before reading it.
    let mut upload = tokio::net::TcpStream::connect(p.web).await.unwrap();
    upload
        .write_all(
            b"POST /early HTTP/1.1\r\nHost: a.test\r\nContent-Length: 100000\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let mut upload = BufReader::new(upload);
    let mut status = String::new();
    upload.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    // The connection of that exchange is still sending; others go ahead.
    for i in 0..3 {
        let r = tokio::time::timeout(Duration::from_secs(5), get(p.web, "a.test", "/"))
            .await
            .unwrap_or_else(|_| panic!("request {i} waited behind the upload"))
            .unwrap();
        assert_eq!(r.status.as_u16(), 200);
    }
    drop(upload);
}
