use std::sync::Arc;

use switchyard_otlp::{MemorySpans, SpanExporter, SpanKind, Status, Value};

use super::*;
use crate::body;
use crate::handler::FnHandler;

fn tracer(rate: f64) -> (Arc<Tracer>, MemorySpans) {
    let (exporter, spans) = SpanExporter::in_memory(64);
    let settings = TracerSettings {
        sample_rate: rate,
        captured_request_headers: vec!["X-Req".into(), "User-Agent".into()],
        captured_response_headers: vec!["x-resp".into()],
        safe_query_params: vec!["keep".into()],
        add_internals: false,
    };
    (Arc::new(Tracer::new(exporter, &settings)), spans)
}

fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
    let mut b = http::Request::builder()
        .uri(uri)
        .header("host", "example.test");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body::empty()).expect("request")
}

/// A backend that answers 200 with `x-resp`, and echoes the
/// `traceparent` it got in `x-got-traceparent`; with the load balancer's
/// `Service` span.
fn backend() -> BoxHandler {
    Arc::new(FnHandler(|mut req: Request| -> HandlerFuture {
        let service = service_span(&mut req, "s@file");
        let span = ClientSpan::start(&mut req);
        let got = req.headers().get("traceparent").cloned();
        Box::pin(async move {
            let mut resp = Response::new(body::empty());
            resp.headers_mut()
                .insert("x-resp", HeaderValue::from_static("r1"));
            if let Some(v) = got {
                resp.headers_mut().insert("x-got-traceparent", v);
            }
            let result = ClientSpan::end(span, Ok(resp));
            match service {
                Some(service) => service.end_with(result),
                None => result,
            }
        })
    }))
}

fn attr<'a>(r: &'a SpanRecord, key: &str) -> Option<&'a Value> {
    r.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

async fn run(
    tracer: &Arc<Tracer>,
    verbosity: Verbosity,
    mut req: Request,
    chain: BoxHandler,
) -> Response {
    let span = tracer.begin_server(&mut req, "web", verbosity, false);
    let resp = match chain.call(req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let resp = match span {
        Some(span) => span.finish(resp),
        None => resp,
    };
    // The spans end with the body: read it to its end, as a client would.
    let (parts, body) = resp.into_parts();
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    Response::from_parts(parts, crate::body::full(bytes))
}

#[tokio::test]
async fn minimal_has_server_and_client_spans() {
    let (tracer, mut spans) = tracer(1.0);
    let req = request(
        "/a%20b?secret=1&keep=2",
        &[
            ("x-req", "hello"),
            ("user-agent", "ua"),
            ("x-forwarded-proto", "http"),
        ],
    );
    let chain = Traced::router("r@file", "Path(`/`)", "s@file", backend());
    let resp = run(&tracer, Verbosity::Minimal, req, chain).await;
    let got = spans.drain();
    let names: Vec<_> = got.iter().map(|r| (r.name.as_ref(), r.kind)).collect();
    assert_eq!(
        names,
        [
            ("ReverseProxy", SpanKind::Client),
            ("GET", SpanKind::Server)
        ],
        "no router span at minimal verbosity"
    );
    let (client, server) = (&got[0], &got[1]);
    assert_eq!(client.trace_id, server.trace_id);
    assert_eq!(client.parent, Some(server.span_id));
    assert_eq!(server.parent, None);
    assert_eq!(attr(server, "url.path"), Some(&s("/a b")));
    assert_eq!(
        attr(server, "url.query"),
        Some(&s("keep=2&secret=REDACTED"))
    );
    assert_eq!(attr(server, "entry_point"), Some(&s("web")));
    assert_eq!(attr(server, "server.address"), Some(&s("example.test")));
    assert_eq!(
        attr(server, "http.request.header.x-req"),
        Some(&Value::StrList(vec!["hello".into()]))
    );
    assert_eq!(attr(server, "http.request.header.user-agent"), None);
    assert_eq!(attr(server, "user_agent.original"), Some(&s("ua")));
    assert_eq!(
        attr(server, "http.response.header.x-resp"),
        Some(&Value::StrList(vec!["r1".into()]))
    );
    assert_eq!(
        attr(server, "http.response.status_code"),
        Some(&Value::Int(200))
    );
    // The backend got the client span's id.
    let sent = resp
        .headers()
        .get("x-got-traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .expect("traceparent sent");
    assert_eq!(sent.trace_id, client.trace_id);
    assert_eq!(sent.span_id, client.span_id);
    assert!(sent.sampled);
}

#[tokio::test]
async fn detailed_nests_router_middleware_service() {
    let (tracer, mut spans) = tracer(1.0);
    let mw = Traced::middleware("hdr@file", "headers", backend());
    let chain = Traced::router("r@file", "Path(`/`)", "s@file", mw);
    run(&tracer, Verbosity::Detailed, request("/", &[]), chain).await;
    let got = spans.drain();
    let names: Vec<&str> = got.iter().map(|r| r.name.as_ref()).collect();
    assert_eq!(
        names,
        ["ReverseProxy", "Service", "Headers", "Router", "GET"]
    );
    for pair in got.windows(2) {
        assert_eq!(
            pair[0].parent,
            Some(pair[1].span_id),
            "{} under {}",
            pair[0].name,
            pair[1].name
        );
    }
    assert!(got[1..4].iter().all(|r| r.kind == SpanKind::Internal));
    assert_eq!(attr(&got[3], "http.route"), Some(&s("Path(`/`)")));
    assert_eq!(
        attr(&got[2], "traefik.middleware.name"),
        Some(&s("hdr@file"))
    );
}

#[tokio::test]
async fn incoming_traceparent_is_continued() {
    let (tracer, mut spans) = tracer(0.0);
    let req = request(
        "/",
        &[
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("tracestate", "a=1"),
        ],
    );
    let resp = run(&tracer, Verbosity::Minimal, req, backend()).await;
    let got = spans.drain();
    assert_eq!(got.len(), 2, "the caller sampled it, whatever the rate");
    let server = &got[1];
    assert_eq!(server.trace_id.to_hex(), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(
        server.parent.map(|p| p.to_hex()).as_deref(),
        Some("b7ad6b7169203331")
    );
    assert!(server.parent_remote);
    assert_eq!(server.trace_state.as_deref(), Some("a=1"));
    let sent = resp.headers()["x-got-traceparent"].to_str().expect("ascii");
    assert!(
        sent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
        "{sent}"
    );
}

#[tokio::test]
async fn unsampled_sends_ids_but_no_span() {
    let (never, mut spans) = tracer(0.0);
    let resp = run(&never, Verbosity::Detailed, request("/", &[]), backend()).await;
    assert!(spans.drain().is_empty());
    let sent = resp.headers()["x-got-traceparent"].to_str().expect("ascii");
    let parsed = TraceParent::parse(sent).expect("valid");
    assert!(!parsed.sampled);
    // A caller that did not sample keeps it unsampled at rate 1.
    let (always, mut spans) = tracer(1.0);
    let req = request(
        "/",
        &[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        )],
    );
    run(&always, Verbosity::Minimal, req, backend()).await;
    assert!(spans.drain().is_empty());
}

#[tokio::test]
async fn off_and_internal_are_not_traced() {
    let (tracer, mut spans) = tracer(1.0);
    let resp = run(&tracer, Verbosity::Off, request("/", &[]), backend()).await;
    assert!(spans.drain().is_empty());
    assert!(
        resp.headers().get("x-got-traceparent").is_none(),
        "no traceparent"
    );
    let mut req = request("/", &[]);
    assert!(tracer
        .begin_server(&mut req, "web", Verbosity::Minimal, true)
        .is_none());
}

#[tokio::test]
async fn errors_set_the_status() {
    let (tracer, mut spans) = tracer(1.0);
    let failing: BoxHandler = Arc::new(FnHandler(|mut req: Request| -> HandlerFuture {
        let span = ClientSpan::start(&mut req);
        Box::pin(async move { ClientSpan::end(span, Err(crate::ProxyError::NoAvailableServer)) })
    }));
    let resp = run(&tracer, Verbosity::Minimal, request("/", &[]), failing).await;
    assert_eq!(resp.status(), 503);
    let got = spans.drain();
    assert_eq!(got.len(), 2);
    assert!(matches!(got[0].status, Status::Error(_)));
    assert_eq!(
        attr(&got[1], "http.response.status_code"),
        Some(&Value::Int(503))
    );
    assert!(matches!(got[1].status, Status::Error(_)));
}

#[test]
fn status_table() {
    let cases = [
        (200, false, false),
        (404, false, true),
        (499, false, true),
        (500, true, true),
        (99, true, true),
        (600, true, true),
    ];
    for (code, server_error, client_error) in cases {
        assert_eq!(
            matches!(attrs::server_status(code), Status::Error(_)),
            server_error,
            "server {code}"
        );
        assert_eq!(
            matches!(attrs::client_status(code), Status::Error(_)),
            client_error,
            "client {code}"
        );
    }
}

#[test]
fn redact_query_table() {
    let safe = vec!["keep".to_string(), "a b".to_string()];
    let cases = [
        ("empty", "", ""),
        ("one redacted", "secret=1", "secret=REDACTED"),
        (
            "safe kept, keys sorted",
            "z=1&keep=2&a=3",
            "a=REDACTED&keep=2&z=REDACTED",
        ),
        (
            "repeated safe values kept in order",
            "keep=2&keep=1",
            "keep=2&keep=1",
        ),
        ("repeated unsafe values become one", "x=1&x=2", "x=REDACTED"),
        ("key without value", "keep", "keep="),
        (
            "escapes decoded then re-encoded",
            "keep=a%2Fb+c",
            "keep=a%2Fb+c",
        ),
        ("decoded key matches", "a+b=1", "a+b=1"),
        ("semicolon pair dropped", "x=1;y=2&keep=1", "keep=1"),
        ("broken escape dropped", "keep=%zz&b=1", "b=REDACTED"),
    ];
    for (what, query, want) in cases {
        assert_eq!(redact_query(query, &safe), want, "{what}");
    }
}

proptest::proptest! {
    /// Whatever the query, redaction never panics, and no value of a
    /// parameter outside `safe` survives it.
    #[test]
    fn redaction_keeps_only_safe_values(q in "[a-z=&%+;0-9A-F]{0,60}") {
        let safe = vec!["a".to_string()];
        let out = redact_query(&q, &safe);
        for pair in out.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if k != "a" {
                proptest::prop_assert_eq!(v, "REDACTED", "{} -> {}", q, out);
            }
        }
    }
}

#[test]
fn verbosity_table() {
    use switchyard_config::node::{Scalar, Value as V};
    use switchyard_config::{Location, Node};
    let map = |pairs: &[(&str, Scalar)]| {
        let loc = Location::named("test");
        Node::new(
            V::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Node::scalar(v.clone(), loc.clone())))
                    .collect(),
            ),
            loc.clone(),
        )
    };
    let cases = [
        ("none", None, Verbosity::Minimal),
        ("empty", Some(map(&[])), Verbosity::Minimal),
        (
            "off",
            Some(map(&[("tracing", Scalar::Bool(false))])),
            Verbosity::Off,
        ),
        (
            "off as text",
            Some(map(&[("tracing", Scalar::Str("false".into()))])),
            Verbosity::Off,
        ),
        (
            "detailed",
            Some(map(&[("traceVerbosity", Scalar::Str("detailed".into()))])),
            Verbosity::Detailed,
        ),
        (
            "off wins over detailed",
            Some(map(&[
                ("traceVerbosity", Scalar::Str("detailed".into())),
                ("tracing", Scalar::Bool(false)),
            ])),
            Verbosity::Off,
        ),
        (
            "lower-case keys (labels, KV)",
            Some(map(&[("traceverbosity", Scalar::Str("Detailed".into()))])),
            Verbosity::Detailed,
        ),
    ];
    for (what, node, want) in cases {
        assert_eq!(Verbosity::of_router(node.as_ref()), want, "{what}");
    }
}

#[test]
fn entrypoint_observability_is_the_routers_default() {
    use switchyard_config::node::{Location, Scalar, Value as V};
    use switchyard_config::static_config::EntryPointObservability as Ep;
    use switchyard_config::Node;
    let map = |pairs: &[(&str, Scalar)]| {
        let loc = Location::named("test");
        Node::new(
            V::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Node::scalar(v.clone(), loc.clone())))
                    .collect(),
            ),
            loc.clone(),
        )
    };
    let ep = |tracing: Option<bool>, verbosity: &str| Ep {
        tracing,
        trace_verbosity: verbosity.into(),
        ..Ep::default()
    };
    let cases: Vec<(&str, Option<switchyard_config::Node>, Ep, Verbosity)> = vec![
        ("entrypoint off", None, ep(Some(false), ""), Verbosity::Off),
        (
            "entrypoint detailed",
            None,
            ep(None, "detailed"),
            Verbosity::Detailed,
        ),
        (
            "entrypoint on",
            None,
            ep(Some(true), ""),
            Verbosity::Minimal,
        ),
        (
            "router on beats entrypoint off",
            Some(map(&[("tracing", Scalar::Bool(true))])),
            ep(Some(false), ""),
            Verbosity::Minimal,
        ),
        (
            "router minimal beats entrypoint detailed",
            Some(map(&[("traceVerbosity", Scalar::Str("minimal".into()))])),
            ep(None, "detailed"),
            Verbosity::Minimal,
        ),
        (
            "router says only accessLogs",
            Some(map(&[("accessLogs", Scalar::Bool(false))])),
            ep(Some(false), ""),
            Verbosity::Off,
        ),
    ];
    for (what, node, ep, want) in cases {
        assert_eq!(
            Verbosity::of_router_on(node.as_ref(), Some(&ep)),
            want,
            "{what}"
        );
    }
}

#[test]
fn server_span_dropped_unfinished_is_a_499() {
    let (tracer, mut spans) = tracer(1.0);
    let mut req = request("/gone", &[]);
    let span = tracer.begin_server(&mut req, "web", Verbosity::Minimal, false);
    assert!(span.is_some());
    drop(span);
    let got = spans.drain();
    assert_eq!(got.len(), 1);
    assert_eq!(
        attr(&got[0], "http.response.status_code"),
        Some(&Value::Int(499))
    );
    assert_eq!(got[0].status, Status::Unset, "4xx is not a server error");
}

/// Spans end when the body has gone out, not at the answer's head: a body
/// whose last bytes come 50 ms after its head keeps the server, service and
/// client spans open at least that long.
#[tokio::test]
async fn spans_end_with_the_body() {
    let (tracer, mut spans) = tracer(1.0);
    let slow = Arc::new(FnHandler(|mut req: Request| -> HandlerFuture {
        let service = service_span(&mut req, "s@file");
        let span = ClientSpan::start(&mut req);
        Box::pin(async move {
            let chunks = futures_util::stream::unfold(0u8, |i| async move {
                match i {
                    0 => Some((Ok(http_body::Frame::data(bytes::Bytes::from("a"))), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        Some((Ok(http_body::Frame::data(bytes::Bytes::from("b"))), 2))
                    }
                    _ => None,
                }
            });
            let body = http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(chunks));
            let result = ClientSpan::end(span, Ok(Response::new(body)));
            match service {
                Some(service) => service.end_with(result),
                None => result,
            }
        })
    }));
    let resp = run(&tracer, Verbosity::Detailed, request("/", &[]), slow).await;
    let got = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    assert_eq!(&got[..], b"ab");
    let recorded = spans.drain();
    for name in ["GET", "Service", "ReverseProxy"] {
        let span = recorded
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {recorded:?}"));
        let open = span.end.duration_since(span.start).unwrap_or_default();
        assert!(
            open >= std::time::Duration::from_millis(50),
            "{name} ended {open:?} after it began, before its body"
        );
    }
}
