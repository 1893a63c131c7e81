//! Hostile HTTP/1.x, byte by byte: each request gets the RFC's (and Go's)
//! answer, and no ambiguous framing ever reaches a backend: a refused
//! request is seen by no backend, and a request hidden in another one's
//! body (CL.TE, TE.CL, TE.TE obfuscations, CL.CL, chunk abuse) is never
//! forwarded as a request of its own.
//!
//! Each case runs on a fresh connection; `hits` counts what the backends
//! received (the smuggled requests go to `/smuggled`, which the `s`
//! backend alone serves, so any hit on it is a smuggled request).

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn routes(a: &Backend, b: &Backend, s: &Backend) -> String {
    format!(
        "http:\n  routers:\n    a:\n      rule: \"Host(`a.test`)\"\n      service: a\n\
         \x20   b:\n      rule: \"Host(`b.test`)\"\n      service: b\n\
         \x20   smuggled:\n      rule: \"Path(`/smuggled`)\"\n      priority: 1000\n      service: s\n\
         \x20 services:\n    a:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   b:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   s:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        a.url(),
        b.url(),
        s.url()
    )
}

/// What came back on one connection: the status codes in order, whether
/// the proxy closed it, and the raw text.
struct Answer {
    statuses: Vec<u16>,
    closed: bool,
    text: String,
}

/// Writes `raw` and reads until the proxy closes, or until it has been
/// quiet for `quiet` (a kept-alive connection).
async fn exchange(addr: std::net::SocketAddr, raw: &[u8], quiet: Duration) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A refused request may be answered (and the socket closed) before all
    // of it is written.
    let _ = s.write_all(raw).await;
    let mut got = Vec::new();
    let mut closed = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut buf = vec![0u8; 64 * 1024];
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(quiet, s.read(&mut buf)).await {
            Err(_) => break,
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    let statuses = text
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| text.get(i + 9..i + 12)?.parse().ok())
        .collect();
    Answer {
        statuses,
        closed,
        text,
    }
}

const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n";

fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /p HTTP/1.1\r\nHost: a.test\r\n{headers}\r\n{body}").into_bytes()
}

/// An expected outcome: the statuses answered, whether the connection must
/// end, and how many requests backends `a` and `b` get (a request on
/// `/smuggled` always fails the case).
struct Want {
    statuses: &'static [u16],
    closed: bool,
    /// Requests backend `a` gets, at least and at most (a request whose
    /// body fails may or may not have reached it).
    a: (u64, u64),
    b: u64,
}

const REFUSED_400: Want = Want {
    statuses: &[400],
    closed: true,
    a: (0, 0),
    b: 0,
};
const SERVED: Want = Want {
    statuses: &[200],
    closed: false,
    a: (1, 1),
    b: 0,
};

#[tokio::test]
async fn hostile_requests_get_the_rfc_answer_and_nothing_is_smuggled() {
    let (a, b, s) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("s").await,
    );
    let p = Proxy::start("hostile-http1", &routes(&a, &b, &s), "").await;
    p.wait_status("a.test", "/", 200).await;

    let headers_200: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let headers_4000: String = (0..4000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let headers_5000: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    // The longest request target the `http` crate holds (65534 bytes).
    let longest = format!("/{}", "a".repeat(65533));
    let cases: Vec<(&str, Vec<u8>, Want)> = vec![
        // Hosts.
        ("two Host headers", b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n".to_vec(), REFUSED_400),
        ("Host with a space", b"GET / HTTP/1.1\r\nHost: a.test b\r\n\r\n".to_vec(), REFUSED_400),
        ("Host with a slash", b"GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n".to_vec(), REFUSED_400),
        ("HTTP/1.1 without Host", b"GET / HTTP/1.1\r\n\r\n".to_vec(), REFUSED_400),
        ("absolute form routes by its authority", b"GET http://b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(),
            Want { statuses: &[200], closed: false, a: (0, 0), b: 1 }),
        ("absolute form with user information", b"GET http://u:p@b.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(),
            Want { statuses: &[200], closed: false, a: (0, 0), b: 1 }),
        // Request line.
        ("fragment in the target", b"GET /x#frag HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("HTTP/1.2 is served as 1.1", b"GET / HTTP/1.2\r\nHost: a.test\r\n\r\n".to_vec(), SERVED),
        ("HTTP/2.0 in an HTTP/1 request line", b"GET / HTTP/2.0\r\nHost: a.test\r\n\r\n".to_vec(),
            Want { statuses: &[505], closed: true, a: (0, 0), b: 0 }),
        ("HTTP/0.9", b"GET / HTTP/0.9\r\nHost: a.test\r\n\r\n".to_vec(), Want { statuses: &[505], closed: true, a: (0, 0), b: 0 }),
        ("HTTP/1.10", b"GET / HTTP/1.10\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("lower-case version", b"GET / http/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("two spaces in the request line", b"GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("tab in the request line", b"GET\t/ HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("space in the target", b"GET /a b HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("control byte in the target", b"GET /a\x01b HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("bad method token", b"G{T / HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(), REFUSED_400),
        ("OPTIONS * is answered by the server", b"OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n".to_vec(),
            Want { statuses: &[200], closed: false, a: (0, 0), b: 0 }),
        ("longest target the URI type holds", format!("GET {longest} HTTP/1.1\r\nHost: a.test\r\n\r\n").into_bytes(), SERVED),
        ("one byte longer: 414", format!("GET {longest}a HTTP/1.1\r\nHost: a.test\r\n\r\n").into_bytes(),
            Want { statuses: &[414], closed: true, a: (0, 0), b: 0 }),
        // Header section.
        ("200 header lines", format!("GET / HTTP/1.1\r\nHost: a.test\r\n{headers_200}\r\n").into_bytes(), SERVED),
        ("4000 header lines", format!("GET / HTTP/1.1\r\nHost: a.test\r\n{headers_4000}\r\n").into_bytes(), SERVED),
        ("5000 header lines: past hyper's table of 4096", format!("GET / HTTP/1.1\r\nHost: a.test\r\n{headers_5000}\r\n").into_bytes(),
            Want { statuses: &[431], closed: true, a: (0, 0), b: 0 }),
        ("Expect other than 100-continue", b"GET / HTTP/1.1\r\nHost: a.test\r\nExpect: foo\r\n\r\n".to_vec(),
            Want { statuses: &[417], closed: true, a: (0, 0), b: 0 }),
        ("bare CR in a value", b"GET / HTTP/1.1\r\nHost: a.test\r\nX: a\rb\r\n\r\n".to_vec(), REFUSED_400),
        ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a.test\r\nX: a\x00b\r\n\r\n".to_vec(), REFUSED_400),
        ("whitespace before the colon", b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Foo : b\r\n\r\n".to_vec(), REFUSED_400),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a.test\r\nX-Foo: a\r\n b\r\n\r\n".to_vec(), REFUSED_400),
        ("line without a colon", b"GET / HTTP/1.1\r\nHost: a.test\r\nXFoo\r\n\r\n".to_vec(), REFUSED_400),
        // Smuggling: CL.TE, TE.CL, TE.TE, CL.CL.
        ("CL.TE", post(&format!("Content-Length: {}\r\nTransfer-Encoding: chunked\r\n", 5), &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", &format!("5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE gzip only", post("Transfer-Encoding: gzip\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE chunked, gzip", post("Transfer-Encoding: chunked, gzip\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE gzip, chunked", post("Transfer-Encoding: gzip, chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[501], closed: true, a: (0, 0), b: 0 }),
        ("TE chunked, chunked", post("Transfer-Encoding: chunked, chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[501], closed: true, a: (0, 0), b: 0 }),
        ("TE on two lines", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[501], closed: true, a: (0, 0), b: 0 }),
        ("TE chunked and x on two lines", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE xchunked", post("Transfer-Encoding: xchunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE space before the colon", post("Transfer-Encoding : chunked\r\nContent-Length: 4\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE obs-fold", post("Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE vertical tab", post("Transfer-Encoding: \x0bchunked\r\n", &format!("0\r\n\r\n{SMUGGLED}")), REFUSED_400),
        ("TE identity", post("Transfer-Encoding: identity\r\nContent-Length: 0\r\n", SMUGGLED), REFUSED_400),
        ("TE on HTTP/1.0", format!("POST /p HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{SMUGGLED}").into_bytes(), REFUSED_400),
        ("CL.CL different", post("Content-Length: 0\r\nContent-Length: 5\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        ("CL list", post("Content-Length: 5, 5\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        ("CL with a plus sign", post("Content-Length: +5\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        ("CL negative", post("Content-Length: -1\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        ("CL in hex", post("Content-Length: 0x5\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        ("CL overflowing", post("Content-Length: 99999999999999999999999\r\n", &format!("hello{SMUGGLED}")), REFUSED_400),
        // Chunk abuse: the body fails, the connection ends, nothing behind it runs.
        ("chunk size with 0x", post("Transfer-Encoding: chunked\r\n", &format!("0x5\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk size overflowing", post("Transfer-Encoding: chunked\r\n", &format!("1ffffffffffffffff1\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk size negative", post("Transfer-Encoding: chunked\r\n", &format!("-5\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk extension with a bare LF", post("Transfer-Encoding: chunked\r\n", &format!("5;a=\nb\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk extension of 70 KB", post("Transfer-Encoding: chunked\r\n", &format!("5;{}\r\nhello\r\n0\r\n\r\n{SMUGGLED}", "a".repeat(70_000))),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk lines ended by LF", post("Transfer-Encoding: chunked\r\n", &format!("5\nhello\n0\n\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
        ("chunk longer than its size", post("Transfer-Encoding: chunked\r\n", &format!("3\r\nhello\r\n0\r\n\r\n{SMUGGLED}")),
            Want { statuses: &[502],
                closed: true,
                a: (0, 1), b: 0 }),
    ];
    for (what, raw, want) in cases {
        let (a0, b0, s0) = (a.hits(), b.hits(), s.hits());
        let quiet = Duration::from_millis(if want.closed { 3000 } else { 400 });
        let got = exchange(p.web, &raw, quiet).await;
        let head = got.text.lines().next().unwrap_or("").to_string();
        assert_eq!(got.statuses, want.statuses, "{what}: {head:?}");
        assert_eq!(
            got.closed, want.closed,
            "{what}: connection closed? {head:?}"
        );
        assert_eq!(
            s.hits() - s0,
            0,
            "{what}: a smuggled request reached a backend"
        );
        // Backends count on their side of the exchange: give a request
        // in flight a moment to be counted.
        wait_until(what, Duration::from_secs(2), || async {
            let got = a.hits() - a0;
            (got >= want.a.0 && got <= want.a.1 && b.hits() - b0 == want.b).then_some(())
        })
        .await;
    }
}

/// Pipelined requests with unambiguous framing are each answered, in
/// order: the requests a body carries stay in that body.
#[tokio::test]
async fn framed_bodies_keep_what_they_carry() {
    let (a, b, s) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("s").await,
    );
    let p = Proxy::start("hostile-http1-framing", &routes(&a, &b, &s), "").await;
    p.wait_status("a.test", "/", 200).await;
    let len = SMUGGLED.len();
    let cases: Vec<(&str, Vec<u8>, &[u16], u64)> = vec![
        (
            "a request in a Content-Length body",
            format!("GET /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: {len}\r\n\r\n{SMUGGLED}")
                .into_bytes(),
            &[200],
            0,
        ),
        (
            "a request in a chunk",
            post(
                "Transfer-Encoding: chunked\r\n",
                &format!("{len:x}\r\n{SMUGGLED}\r\n0\r\n\r\n"),
            ),
            &[200],
            0,
        ),
        (
            "two pipelined requests",
            format!("GET /p HTTP/1.1\r\nHost: a.test\r\n\r\n{SMUGGLED}").into_bytes(),
            &[200, 200],
            1,
        ),
        (
            "trailer then a pipelined request",
            post(
                "Transfer-Encoding: chunked\r\n",
                &format!("0\r\nX: y\r\n\r\n{SMUGGLED}"),
            ),
            &[200, 200],
            1,
        ),
    ];
    for (what, raw, statuses, behind) in cases {
        let s0 = s.hits();
        let got = exchange(p.web, &raw, Duration::from_millis(400)).await;
        assert_eq!(got.statuses, statuses, "{what}: {}", got.text);
        wait_until(what, Duration::from_secs(2), || async {
            (s.hits() - s0 == behind).then_some(())
        })
        .await;
    }
    // The request a body carried arrived as that body.
    let raw =
        format!("POST /echo HTTP/1.1\r\nHost: a.test\r\nContent-Length: {len}\r\n\r\n{SMUGGLED}");
    let got = exchange(p.web, raw.as_bytes(), Duration::from_millis(400)).await;
    assert!(got.text.contains("GET /smuggled"), "{}", got.text);
}

/// The Host the backend sees for an absolute-form request is its
/// authority's, as Traefik forwards it.
#[tokio::test]
async fn absolute_form_forwards_its_authority_as_host() {
    let (a, b, s) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("s").await,
    );
    let p = Proxy::start("hostile-http1-absolute", &routes(&a, &b, &s), "").await;
    p.wait_status("b.test", "/", 200).await;
    for (target, host) in [
        ("http://b.test/x", "b.test"),
        ("http://b.test:8080/x", "b.test:8080"),
        ("https://u:p@b.test/x", "b.test"),
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
        let got = exchange(p.web, raw.as_bytes(), Duration::from_secs(3)).await;
        assert_eq!(got.statuses, [200], "{target}: {}", got.text);
        let body = got.text.split("\r\n\r\n").nth(1).unwrap_or("");
        let json: serde_json::Value = serde_json::from_str(body).expect("echo JSON");
        let seen = |name: &str| -> Vec<String> {
            json["headers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|pair| pair[0] == name)
                .filter_map(|pair| pair[1].as_str().map(str::to_string))
                .collect()
        };
        assert_eq!(seen("host"), [host], "{target}: {json}");
        assert_eq!(seen("x-forwarded-host"), [host], "{target}: {json}");
    }
}

/// `maxHeaderBytes` bounds the head: the request line and the fields
/// together, however they are spread.
#[tokio::test]
async fn heads_past_max_header_bytes_get_431() {
    let (a, b, s) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("s").await,
    );
    let p = Proxy::start_with(
        "hostile-http1-limit",
        &routes(&a, &b, &s),
        "    http:\n      maxHeaderBytes: 8192\n",
        "",
    )
    .await;
    p.wait_status("a.test", "/", 200).await;
    let lines: String = (0..1000).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "one big field",
            format!(
                "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: {}\r\n\r\n",
                "a".repeat(64 * 1024)
            ),
            431,
        ),
        (
            "many small fields",
            format!("GET / HTTP/1.1\r\nHost: a.test\r\n{lines}\r\n"),
            431,
        ),
        (
            "a long target",
            format!(
                "GET /{} HTTP/1.1\r\nHost: a.test\r\n\r\n",
                "a".repeat(16 * 1024)
            ),
            431,
        ),
        (
            "garbage request line",
            "NOT HTTP AT ALL\r\n\r\n".into(),
            400,
        ),
        (
            "just under the limit",
            format!(
                "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: {}\r\n\r\n",
                "a".repeat(7000)
            ),
            200,
        ),
    ];
    for (what, raw, status) in cases {
        let got = exchange(p.web, raw.as_bytes(), Duration::from_millis(400)).await;
        assert_eq!(
            got.statuses,
            [status],
            "{what}: {:?}",
            got.text.lines().next()
        );
    }
    assert_eq!(s.hits(), 0);
}
