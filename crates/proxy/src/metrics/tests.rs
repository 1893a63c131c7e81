//! The counters' unit tests: labels, buckets, an answer counted when its
//! body is done.

use super::*;
use http_body_util::BodyExt;

fn labels_of(method: &str, headers: &[(&str, &str)]) -> (&'static str, &'static str) {
    let mut b = http::Request::builder().method(method).uri("/");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(()).unwrap_or_default();
    let (_, m, p) = key_labels(RequestLabels::of(&req).key(200));
    (m, p)
}

#[test]
fn request_labels_table() {
    /// (what, method, headers, expected method and protocol labels)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        (&'a str, &'a str),
    );
    let cases: &[Case] = &[
        ("plain GET", "GET", &[], ("GET", "http")),
        ("unknown method", "PURGE", &[], ("EXTENSION_METHOD", "http")),
        ("PATCH kept", "PATCH", &[], ("PATCH", "http")),
        (
            "websocket",
            "GET",
            &[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "websocket"),
            ],
            ("GET", "websocket"),
        ),
        (
            "upgrade without websocket",
            "GET",
            &[("connection", "upgrade"), ("upgrade", "h2c")],
            ("GET", "http"),
        ),
        (
            "sse",
            "GET",
            &[("accept", "text/event-stream")],
            ("GET", "sse"),
        ),
        (
            "grpc",
            "POST",
            &[("content-type", "application/grpc+proto")],
            ("POST", "grpc"),
        ),
        (
            "grpc-web",
            "POST",
            &[("content-type", "application/grpc-web-text")],
            ("POST", "grpc-web"),
        ),
    ];
    for (what, method, headers, want) in cases {
        assert_eq!(labels_of(method, headers), *want, "{what}");
    }
}

#[test]
fn buckets_are_sorted_and_bounded() {
    let b = Buckets::new(&[5.0, 0.1, f64::INFINITY, 0.1, -1.0, 1.2]);
    assert_eq!(&*b.seconds, &[0.1, 1.2, 5.0]);
    let scope = Scope::new(&["web"], Arc::new(b));
    let l = RequestLabels {
        method: 0,
        protocol: 0,
        h3: false,
    };
    for ms in [50, 100, 150, 6000] {
        scope.observe(l, 200, Duration::from_millis(ms), 1, 2);
    }
    let cells = scope.cells();
    let (key, cell) = &cells[0];
    assert_eq!(key_labels(*key), (200, "GET", "http"));
    let per_bucket: Vec<u64> = cell
        .buckets
        .iter()
        .map(|b| b.load(Ordering::Relaxed))
        .collect();
    assert_eq!(per_bucket, vec![2, 1, 0, 1], "0.1, 1.2, 5, +Inf");
    assert_eq!(cell.requests.load(Ordering::Relaxed), 4);
    assert_eq!(cell.request_bytes.load(Ordering::Relaxed), 4);
    assert_eq!(cell.response_bytes.load(Ordering::Relaxed), 8);
}

#[tokio::test]
async fn answer_counted_when_body_dropped() {
    let scope = Arc::new(Scope::new(&["web"], Arc::new(Buckets::new(&[1.0]))));
    let semconv = Arc::new(crate::semconv::SemConv::new(&[1.0]));
    let req = http::Request::post("/")
        .header("host", "app.test")
        .body(())
        .unwrap_or_default();
    let o = Observation {
        scopes: [Some(scope.clone()), None],
        labels: RequestLabels {
            method: 2,
            protocol: 0,
            h3: false,
        },
        started: Instant::now(),
        request_bytes: Some(Arc::new(AtomicU64::new(7))),
        header_values: None,
        server: Some(crate::semconv::ServerCall::begin(&semconv, &req)),
    };
    let mut resp = Response::new(crate::body::full("hello"));
    *resp.status_mut() = http::StatusCode::CREATED;
    let resp = o.finish(resp);
    assert!(
        scope.cells().is_empty(),
        "counted only once the body is done"
    );
    let body = resp.into_body().collect().await.map(|c| c.to_bytes());
    assert_eq!(body.ok().as_deref(), Some(&b"hello"[..]));
    let cells = scope.cells();
    assert_eq!(cells.len(), 1);
    let (key, cell) = &cells[0];
    assert_eq!(key_labels(*key), (201, "POST", "http"));
    assert_eq!(cell.response_bytes.load(Ordering::Relaxed), 5);
    assert_eq!(cell.request_bytes.load(Ordering::Relaxed), 7);
    let server = semconv.server.snapshot();
    assert_eq!(server.len(), 1, "{server:?}");
    let (attributes, counts) = &server[0];
    let a = attributes
        .as_ref()
        .map(|a| (a.get().method, a.get().status));
    assert_eq!(a, Some(("POST", 201)));
    assert_eq!(counts.count, 1);
}

/// A gRPC answer: `data`, then trailers with `status` when given.
fn grpc_answer(data: &'static str, status: Option<&'static str>) -> Response {
    let mut frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![Ok(Frame::data(Bytes::from(data)))];
    if let Some(s) = status {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", http::HeaderValue::from_static(s));
        frames.push(Ok(Frame::trailers(t)));
    }
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    Response::new(BodyExt::boxed(body))
}

#[tokio::test]
async fn grpc_code_from_head_or_trailers() {
    // (what, grpc-status in the head, in the trailers, code counted)
    let cases: &[(&str, Option<&'static str>, Option<&'static str>, u32)] = &[
        ("trailers say OK", None, Some("0"), 0),
        ("trailers say NOT_FOUND", None, Some("5"), 5),
        ("trailers-only answer", Some("12"), None, 12),
        ("no status at all: Unknown", None, None, 2),
    ];
    for (what, head, trailers, want) in cases {
        let scope = Arc::new(Scope::new(&["web"], Arc::new(Buckets::new(&[1.0]))));
        let o = Observation {
            scopes: [Some(scope.clone()), None],
            labels: RequestLabels {
                method: 2,
                protocol: GRPC,
                h3: false,
            },
            started: Instant::now(),
            request_bytes: None,
            header_values: None,
            server: None,
        };
        let mut resp = grpc_answer("abc", *trailers);
        if let Some(h) = head {
            resp.headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static(h));
        }
        let done = o.finish(resp).into_body().collect().await;
        assert!(done.is_ok(), "{what}");
        let cells = scope.cells();
        assert_eq!(cells.len(), 1, "{what}");
        assert_eq!(key_labels(cells[0].0), (*want, "POST", "grpc"), "{what}");
    }
}

#[test]
fn durations_keep_their_extremes() {
    let scope = Scope::new(&["web"], Arc::new(Buckets::new(&[1.0])));
    let l = RequestLabels {
        method: 0,
        protocol: 0,
        h3: false,
    };
    for ms in [300, 20, 900, 40] {
        scope.observe(l, 200, Duration::from_millis(ms), 0, 0);
    }
    let cells = scope.cells();
    let cell = &cells[0].1;
    assert_eq!(cell.min_nanos.load(Ordering::Relaxed), 20_000_000);
    assert_eq!(cell.max_nanos.load(Ordering::Relaxed), 900_000_000);
}

/// An observation of a request on `scope` with `protocol` and a server
/// call, as the entrypoint begins one.
fn pending(
    scope: &Arc<Scope>,
    (protocol, h3): (u8, bool),
    semconv: &Arc<crate::semconv::SemConv>,
) -> Observation {
    let req = http::Request::get("/")
        .header("host", "app.test")
        .body(())
        .unwrap_or_default();
    Observation {
        scopes: [Some(scope.clone()), None],
        labels: RequestLabels {
            method: 0,
            protocol,
            h3,
        },
        started: Instant::now(),
        request_bytes: Some(Arc::new(AtomicU64::new(3))),
        header_values: None,
        server: Some(crate::semconv::ServerCall::begin(semconv, &req)),
    }
}

#[test]
fn client_gone_before_the_answer_is_traefiks_499() {
    // (what, protocol, over HTTP/3, code counted, the status and body
    // Traefik's proxy writes): gRPC's code is `Unknown`, as Traefik reads
    // it from an answer that has no grpc-status; over HTTP/3 Traefik 3.7
    // answers 502 (quic-go cancels with the connection's error).
    type Case<'a> = (&'a str, u8, bool, u32, u16, &'a str);
    let cases: &[Case] = &[
        ("http", 0, false, 499, 499, "Client Closed Request"),
        ("grpc", GRPC, false, 2, 499, "Client Closed Request"),
        ("http/3", 0, true, 502, 502, "Bad Gateway"),
    ];
    for (what, protocol, h3, want, status, text) in cases {
        let scope = Arc::new(Scope::new(&["web"], Arc::new(Buckets::new(&[1.0]))));
        let semconv = Arc::new(crate::semconv::SemConv::new(&[1.0]));
        drop(pending(&scope, (*protocol, *h3), &semconv));
        let cells = scope.cells();
        assert_eq!(cells.len(), 1, "{what}");
        let (key, cell) = &cells[0];
        assert_eq!(key_labels(*key).0, *want, "{what}");
        assert_eq!(cell.requests.load(Ordering::Relaxed), 1, "{what}");
        assert_eq!(
            cell.response_bytes.load(Ordering::Relaxed),
            text.len() as u64,
            "{what}: the bytes of Traefik's answer"
        );
        assert_eq!(cell.request_bytes.load(Ordering::Relaxed), 3, "{what}");
        let server = semconv.server.snapshot();
        assert_eq!(server.len(), 1, "{what}: once on the server histogram");
        let status_seen = server[0].0.as_ref().map(|a| a.get().status);
        assert_eq!(status_seen, Some(*status), "{what}");
    }

    // Counted once: an answer, or an answer's body, is not also a 499.
    let scope = Arc::new(Scope::new(&["web"], Arc::new(Buckets::new(&[1.0]))));
    let semconv = Arc::new(crate::semconv::SemConv::new(&[1.0]));
    pending(&scope, (0, false), &semconv).record_now(502, 11);
    drop(pending(&scope, (0, false), &semconv).finish(Response::new(crate::body::full("ok"))));
    let mut codes: Vec<(u32, u64)> = scope
        .cells()
        .iter()
        .map(|(k, c)| (key_labels(*k).0, c.requests.load(Ordering::Relaxed)))
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [(200, 1), (502, 1)]);
    assert_eq!(semconv.server.snapshot().len(), 2);
}

#[test]
fn attribute_sets_beyond_the_limit_overflow_across_scopes() {
    let budget = Arc::new(SetBudget::default());
    let buckets = Arc::new(Buckets::new(&[1.0]));
    let a = Scope::sharing(&["a"], buckets.clone(), budget.clone());
    let b = Scope::sharing(&["b"], buckets.clone(), budget.clone());
    let alone = Scope::new(&["alone"], buckets);
    let l = RequestLabels {
        method: 0,
        protocol: 0,
        h3: false,
    };
    // 1,500 sets on `a`, then 600 on `b`: the limit's 1,999 own sets are
    // the first seen, whichever scope has them.
    for code in 0..1500u16 {
        a.observe(l, 1000 + code, Duration::ZERO, 0, 0);
        alone.observe(l, 1000 + code, Duration::ZERO, 0, 0);
    }
    for code in 0..600u16 {
        b.observe(l, 1000 + code, Duration::ZERO, 0, 0);
        a.observe(l, 1000, Duration::ZERO, 0, 0); // an existing set stays its own
    }
    let own = |s: &Scope| s.cells().iter().filter(|(_, c)| c.own_set).count();
    assert_eq!(own(&a), 1500);
    assert_eq!(own(&b), CARDINALITY_LIMIT - 1 - 1500);
    assert_eq!(b.cells().len(), 600, "every set still counted (Prometheus)");
    assert_eq!(
        own(&alone),
        1500,
        "a scope of another kind has its own limit"
    );

    for (i, cipher) in ["X", "Y"].into_iter().enumerate() {
        a.observe_tls(TlsSession {
            version: "1.3",
            cipher,
        });
        let sets = a.tls_sets();
        assert!(sets.iter().all(|(_, n, own)| *n == 1 && *own), "{i}");
    }
    b.retry();
    a.retry();
    assert!(!b.retries_overflow.load(Ordering::Relaxed));
    assert!(!a.retries_overflow.load(Ordering::Relaxed));
}
