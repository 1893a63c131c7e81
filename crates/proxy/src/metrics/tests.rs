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
