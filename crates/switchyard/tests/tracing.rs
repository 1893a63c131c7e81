//! `tracing` on the real binary, exporting to a collector double that
//! decodes the real OTLP protobuf (HTTP and gRPC): Traefik's spans and
//! their parent/child links and attributes, `traceparent` sent to the
//! backend and continued from the client, `sampleRate: 0`, a router with
//! `observability.tracing: false`, captured headers, query redaction,
//! and a collector that fails for a while.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;
use switchyard_testkit::{OtlpReceiver, ReceivedSpan};

/// Routers on one backend: `min` (Host min.test, minimal), `det` (Host
/// det.test, detailed, through a `headers` middleware) and `off` (Host
/// off.test, tracing off).
fn dynamic(b: &Backend) -> String {
    format!(
        "http:\n  routers:\n\
         \x20   min:\n      rule: \"Host(`min.test`)\"\n      service: svc\n      entryPoints: [web]\n\
         \x20   det:\n      rule: \"Host(`det.test`)\"\n      service: svc\n      entryPoints: [web]\n      middlewares: [hdr]\n      observability:\n        traceVerbosity: detailed\n\
         \x20   off:\n      rule: \"Host(`off.test`)\"\n      service: svc\n      entryPoints: [web]\n      observability:\n        tracing: false\n\
         \x20 middlewares:\n    hdr:\n      headers:\n        customRequestHeaders:\n          X-Added: yes\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        b.url()
    )
}

struct Traced {
    sy: Switchyard,
    _dir: TestDir,
    web: SocketAddr,
}

/// Starts the binary with `tracing` (YAML body, indented by 2) and the
/// batch delay shortened through the standard OpenTelemetry variable.
async fn start(name: &str, b: &Backend, tracing: &str) -> Traced {
    start_with(name, b, tracing, "").await
}

/// [`start`], with `web_extra` (YAML indented by 4) added to the `web`
/// entrypoint.
async fn start_with(name: &str, b: &Backend, tracing: &str, web_extra: &str) -> Traced {
    let dir = TestDir::new(name);
    let (web, admin) = (free_port(), free_port());
    dir.write("dynamic/config.yml", &dynamic(b));
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n{web_extra}  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         ping: {{}}\nlog:\n  level: DEBUG\n\
         providers:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{}\"\n\
         tracing:\n{tracing}",
        dir.join("dynamic").display()
    );
    dir.write("switchyard.yml", &static_yaml);
    let sy = Switchyard::start_with_env(
        Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    );
    let web: SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    sy.wait_listening(web).await;
    wait_until("the routers", Duration::from_secs(10), || async move {
        get(web, "min.test", "/small")
            .await
            .ok()
            .filter(|r| r.status == 200)
    })
    .await;
    Traced { sy, _dir: dir, web }
}

fn http_tracing(recv: &OtlpReceiver, extra: &str) -> String {
    format!(
        "  serviceName: edge\n  resourceAttributes:\n    deployment.environment: test\n\
         \x20 capturedRequestHeaders: [X-Req]\n  capturedResponseHeaders: [X-Backend]\n  safeQueryParams: [keep]\n\
         {extra}  otlp:\n    http:\n      endpoint: \"{}\"\n      headers:\n        Authorization: Bearer t0ken\n",
        recv.http_endpoint()
    )
}

/// The spans of the trace whose server span has `url.path` = `path`, once
/// `n` of them arrived.
async fn trace_of(recv: &OtlpReceiver, path: &str, n: usize) -> Vec<ReceivedSpan> {
    wait_until(
        &format!("{n} spans of the trace of {path}"),
        Duration::from_secs(15),
        || async {
            let spans = recv.spans();
            let server = spans
                .iter()
                .find(|s| s.kind == "SERVER" && s.attr("url.path") == Some(path))?;
            let trace: Vec<ReceivedSpan> = spans
                .iter()
                .filter(|s| s.trace_id == server.trace_id)
                .cloned()
                .collect();
            (trace.len() >= n).then_some(trace)
        },
    )
    .await
}

fn by_name<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

/// The `traceparent` the backend received (its echo).
fn backend_traceparent(reply: &Reply) -> Option<String> {
    reply.json()["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0] == "traceparent")
        .and_then(|h| h[1].as_str())
        .map(str::to_string)
}

#[tokio::test]
async fn minimal_router_sends_server_and_client_spans() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let t = start("trace-min", &b, &http_tracing(&recv, "")).await;
    let reply = request(
        t.web,
        Method::GET,
        "min.test",
        "/some/path?keep=1&secret=2",
        &[("X-Req", "hello"), ("User-Agent", "agent/1")],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    let spans = trace_of(&recv, "/some/path", 2).await;
    assert_eq!(
        spans.len(),
        2,
        "minimal: server and client only: {spans:#?}"
    );
    let server = by_name(&spans, "GET");
    let client = by_name(&spans, "ReverseProxy");
    assert_eq!(server.kind, "SERVER");
    assert_eq!(client.kind, "CLIENT");
    assert_eq!(server.parent, None);
    assert_eq!(client.parent.as_deref(), Some(server.span_id.as_str()));
    assert_eq!(server.attr("entry_point"), Some("web"));
    assert_eq!(server.attr("http.request.method"), Some("GET"));
    assert_eq!(server.attr("network.protocol.version"), Some("1.1"));
    assert_eq!(server.attr("url.query"), Some("keep=1&secret=REDACTED"));
    assert_eq!(server.attr("url.scheme"), Some("http"));
    assert_eq!(server.attr("server.address"), Some("min.test"));
    assert_eq!(server.attr("client.address"), Some("127.0.0.1"));
    assert_eq!(server.attr("user_agent.original"), Some("agent/1"));
    assert_eq!(server.attr("http.request.header.x-req"), Some("[hello]"));
    assert_eq!(server.attr("http.response.status_code"), Some("200"));
    assert_eq!(server.attr("http.response.header.x-backend"), Some("[b]"));
    let backend = b.addr();
    assert_eq!(
        client.attr("url.full"),
        Some(format!("http://{backend}/some/path?keep=1&secret=REDACTED").as_str())
    );
    assert_eq!(client.attr("server.address"), Some("127.0.0.1"));
    assert_eq!(
        client.attr("server.port"),
        Some(backend.port().to_string().as_str())
    );
    assert_eq!(client.attr("http.response.status_code"), Some("200"));
    assert_eq!(client.attr("http.request.header.x-req"), Some("[hello]"));
    assert_eq!(server.status, "UNSET");
    // The resource and the scope.
    assert_eq!(
        server.resource.get("service.name").map(String::as_str),
        Some("edge")
    );
    assert_eq!(
        server
            .resource
            .get("deployment.environment")
            .map(String::as_str),
        Some("test")
    );
    assert_eq!(server.scope, "github.com/traefik/traefik");
    // The backend got the client span's context.
    let sent = backend_traceparent(&reply).expect("traceparent sent to the backend");
    assert_eq!(
        sent,
        format!("00-{}-{}-01", client.trace_id, client.span_id)
    );
    // The export: POST /v1/traces with the configured header.
    let export = recv.exports().into_iter().next().unwrap();
    assert_eq!(export.path, "/v1/traces");
    assert!(export
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer t0ken"));
    assert!(export
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/x-protobuf"));
    assert!(
        export
            .headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip"),
        "gzip, as Traefik's exporter"
    );
    // HTTP/2 (prior knowledge): Traefik writes Go's protocol string.
    let h2 = switchyard_testkit::h2c_get(t.web, "min.test", "/h2")
        .await
        .unwrap();
    assert_eq!(h2.status, 200);
    let spans = trace_of(&recv, "/h2", 2).await;
    let server = by_name(&spans, "GET");
    assert_eq!(server.attr("network.protocol.version"), Some("HTTP/2.0"));
    assert_eq!(server.attr("server.address"), Some("min.test"));
    assert_eq!(
        by_name(&spans, "ReverseProxy").attr("network.protocol.version"),
        Some("1.1")
    );
}

#[tokio::test]
async fn detailed_router_nests_router_middleware_service_spans() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let t = start("trace-det", &b, &http_tracing(&recv, "")).await;
    let reply = get(t.web, "det.test", "/det").await.unwrap();
    assert_eq!(reply.status, 200);
    let spans = trace_of(&recv, "/det", 5).await;
    let names: Vec<&str> = ["GET", "Router", "Headers", "Service", "ReverseProxy"]
        .into_iter()
        .collect();
    let mut parent: Option<String> = None;
    for name in names {
        let s = by_name(&spans, name);
        assert_eq!(s.parent, parent, "{name}'s parent");
        parent = Some(s.span_id.clone());
    }
    let router = by_name(&spans, "Router");
    assert_eq!(router.kind, "INTERNAL");
    assert_eq!(router.attr("traefik.router.name"), Some("det@file"));
    assert_eq!(router.attr("traefik.service.name"), Some("svc@file"));
    assert_eq!(router.attr("http.route"), Some("Host(`det.test`)"));
    let mw = by_name(&spans, "Headers");
    assert_eq!(mw.attr("traefik.middleware.name"), Some("hdr@file"));
    assert_eq!(
        by_name(&spans, "Service").attr("traefik.service.name"),
        Some("svc@file")
    );
    // Children end before their parents.
    for pair in ["GET", "Router", "Headers", "Service", "ReverseProxy"].windows(2) {
        let (outer, inner) = (by_name(&spans, pair[0]), by_name(&spans, pair[1]));
        assert!(inner.start_ns >= outer.start_ns && inner.end_ns <= outer.end_ns);
    }
}

/// `entryPoints.web.observability.traceVerbosity: detailed` is the default
/// of its routers: `min`, which says nothing, gets the detailed spans.
#[tokio::test]
async fn entrypoint_verbosity_is_the_routers_default() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let t = start_with(
        "trace-ep-detailed",
        &b,
        &http_tracing(&recv, ""),
        "    observability:\n      traceVerbosity: detailed\n",
    )
    .await;
    let reply = get(t.web, "min.test", "/ep-detailed").await.unwrap();
    assert_eq!(reply.status, 200);
    let spans = trace_of(&recv, "/ep-detailed", 4).await;
    let router = by_name(&spans, "Router");
    assert_eq!(router.attr("traefik.router.name"), Some("min@file"));
    by_name(&spans, "Service");
}

#[tokio::test]
async fn incoming_traceparent_is_continued_and_off_router_is_not_traced() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    // Not a single new trace is sampled: only the caller's decision counts.
    let t = start("trace-cont", &b, &http_tracing(&recv, "  sampleRate: 0\n")).await;
    // Tracing off: nothing recorded, nothing added for the backend.
    let off = get(t.web, "off.test", "/off").await.unwrap();
    assert_eq!(off.status, 200);
    assert_eq!(backend_traceparent(&off), None);
    // Not sampled (rate 0): ids sent on, flagged not sampled.
    let unsampled = get(t.web, "min.test", "/unsampled").await.unwrap();
    let sent = backend_traceparent(&unsampled).expect("traceparent even when not sampled");
    assert!(sent.starts_with("00-") && sent.ends_with("-00"), "{sent}");
    // The caller's sampled trace is continued.
    let caller_trace = "0af7651916cd43dd8448eb211c80319c";
    let reply = request(
        t.web,
        Method::GET,
        "min.test",
        "/continued",
        &[
            (
                "traceparent",
                &format!("00-{caller_trace}-b7ad6b7169203331-01"),
            ),
            ("tracestate", "vendor=1"),
        ],
        Bytes::new(),
    )
    .await
    .unwrap();
    let spans = trace_of(&recv, "/continued", 2).await;
    let server = by_name(&spans, "GET");
    let client = by_name(&spans, "ReverseProxy");
    assert_eq!(server.trace_id, caller_trace);
    assert_eq!(server.parent.as_deref(), Some("b7ad6b7169203331"));
    assert_eq!(server.trace_state, "vendor=1");
    assert_eq!(server.flags & 0x300, 0x300, "the parent is remote");
    assert_eq!(
        backend_traceparent(&reply),
        Some(format!("00-{caller_trace}-{}-01", client.span_id))
    );
    let state = reply.json()["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "tracestate")
        .and_then(|h| h[1].as_str().map(str::to_string));
    assert_eq!(state.as_deref(), Some("vendor=1"));
    // The off router's and the unsampled requests left no span (their
    // spans would have been in the same or an earlier batch).
    let paths: Vec<String> = recv
        .spans()
        .iter()
        .filter_map(|s| s.attr("url.path").map(str::to_string))
        .collect();
    assert_eq!(paths, ["/continued"], "only the continued trace");
}

// Two workers: the collector double answers while the test waits for the
// process to exit (and so would see a late export).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_rate_zero_sends_nothing() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let mut t = start(
        "trace-zero",
        &b,
        &http_tracing(&recv, "  sampleRate: 0.0\n"),
    )
    .await;
    for path in ["/a", "/b", "/c"] {
        assert_eq!(get(t.web, "det.test", path).await.unwrap().status, 200);
    }
    // Stopping flushes what is queued: still nothing.
    t.sy.signal("TERM");
    assert_eq!(t.sy.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(recv.exports().is_empty(), "{:?}", recv.spans());
}

#[tokio::test]
async fn grpc_export_is_decoded_by_the_collector() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let tracing = format!(
        "  otlp:\n    grpc:\n      endpoint: \"{}\"\n      insecure: true\n      headers:\n        x-tenant: t1\n",
        recv.addr()
    );
    let t = start("trace-grpc", &b, &tracing).await;
    assert_eq!(get(t.web, "min.test", "/grpc").await.unwrap().status, 200);
    let spans = trace_of(&recv, "/grpc", 2).await;
    assert_eq!(by_name(&spans, "ReverseProxy").kind, "CLIENT");
    assert_eq!(
        spans[0].resource.get("service.name").map(String::as_str),
        Some("traefik"),
        "the default service name"
    );
    let export = recv.exports().into_iter().next().unwrap();
    assert_eq!(
        export.path,
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    );
    assert!(export
        .headers
        .iter()
        .any(|(k, v)| k == "x-tenant" && v == "t1"));
    assert!(export
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/grpc"));
    assert!(export
        .headers
        .iter()
        .any(|(k, v)| k == "grpc-encoding" && v == "gzip"));
}

#[tokio::test]
async fn failing_collector_is_retried_and_logged_once() {
    let recv = OtlpReceiver::start().await;
    recv.set_failing(Some(503));
    let b = Backend::start("b").await;
    let t = start("trace-fail", &b, &http_tracing(&recv, "")).await;
    assert_eq!(get(t.web, "min.test", "/first").await.unwrap().status, 200);
    // The batch is tried again after a pause.
    wait_until("two failed attempts", Duration::from_secs(10), || async {
        (recv.exports().len() >= 2).then_some(())
    })
    .await;
    recv.set_failing(None);
    let spans = trace_of(&recv, "/first", 2).await;
    assert_eq!(spans.len(), 2);
    let warnings =
        t.sy.log()
            .iter()
            .filter(|l| l.contains("OTLP trace export failed") && l.contains("WARN"))
            .count();
    assert_eq!(warnings, 1, "{:#?}", t.sy.log());
}

#[tokio::test]
async fn export_over_tls_with_the_configured_ca_and_client_certificate() {
    let ca = switchyard_testkit::tls::ca_path();
    let cert = switchyard_testkit::tls::fixture_path("client.pem");
    let key = switchyard_testkit::tls::fixture_path("client.key");
    let b = Backend::start("b").await;
    // HTTPS, and gRPC over TLS (h2 by ALPN), each requiring the client
    // certificate.
    for grpc in [false, true] {
        let recv = OtlpReceiver::start_tls(true).await;
        let transport = if grpc {
            format!("    grpc:\n      endpoint: \"{}\"\n", recv.addr())
        } else {
            format!(
                "    http:\n      endpoint: \"https://{}/v1/traces\"\n",
                recv.addr()
            )
        };
        let tracing = format!(
            "  otlp:\n{transport}      tls:\n        ca: \"{}\"\n        cert: \"{}\"\n        key: \"{}\"\n",
            ca.display(),
            cert.display(),
            key.display()
        );
        let name = if grpc {
            "trace-tls-grpc"
        } else {
            "trace-tls-http"
        };
        let t = start(name, &b, &tracing).await;
        assert_eq!(get(t.web, "min.test", "/tls").await.unwrap().status, 200);
        let spans = trace_of(&recv, "/tls", 2).await;
        assert_eq!(spans.len(), 2, "grpc: {grpc}");
    }
}

#[tokio::test]
async fn untrusted_collector_certificate_is_refused() {
    let recv = OtlpReceiver::start_tls(false).await;
    let b = Backend::start("b").await;
    // No `tls.ca`: the system's roots, which do not know the test CA.
    let tracing = format!(
        "  otlp:\n    http:\n      endpoint: \"https://{}/v1/traces\"\n",
        recv.addr()
    );
    let t = start("trace-tls-untrusted", &b, &tracing).await;
    assert_eq!(
        get(t.web, "min.test", "/untrusted").await.unwrap().status,
        200
    );
    wait_until(
        "the export failure logged",
        Duration::from_secs(10),
        || async {
            t.sy.log()
                .iter()
                .any(|l| l.contains("OTLP trace export failed"))
                .then_some(())
        },
    )
    .await;
    assert!(
        recv.exports().is_empty(),
        "no request got through the handshake"
    );
}

#[tokio::test]
async fn access_log_names_the_trace() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let dir = TestDir::new("trace-alog-file");
    let log = dir.join("access.log");
    // The top-level `accessLog` follows the `tracing` block.
    let tracing = format!(
        "{}accessLog:\n  format: json\n  filePath: \"{}\"\n",
        http_tracing(&recv, ""),
        log.display()
    );
    let t = start("trace-alog", &b, &tracing).await;
    assert_eq!(get(t.web, "min.test", "/logged").await.unwrap().status, 200);
    assert_eq!(
        get(t.web, "off.test", "/not-traced").await.unwrap().status,
        200
    );
    let spans = trace_of(&recv, "/logged", 2).await;
    let server = by_name(&spans, "GET");
    let lines = wait_until("both access log lines", Duration::from_secs(10), || {
        let log = log.clone();
        async move {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .filter(|l: &serde_json::Value| {
                    matches!(l["RequestPath"].as_str(), Some("/logged" | "/not-traced"))
                })
                .collect();
            (lines.len() == 2).then_some(lines)
        }
    })
    .await;
    let traced = lines
        .iter()
        .find(|l| l["RequestPath"] == "/logged")
        .unwrap();
    assert_eq!(traced["TraceId"], server.trace_id.as_str());
    assert_eq!(traced["SpanId"], server.span_id.as_str());
    assert_eq!(traced["trace_id"], server.trace_id.as_str());
    assert_eq!(traced["span_id"], server.span_id.as_str());
    let untraced = lines
        .iter()
        .find(|l| l["RequestPath"] == "/not-traced")
        .unwrap();
    assert!(untraced.get("TraceId").is_none(), "{untraced}");
}

/// `accessLog.otlp`: each line goes out as a log record (the line as its
/// body, its fields as attributes, in the request's trace), and to the file
/// only with `dualOutput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_log_otlp_sends_each_line() {
    for dual in [false, true] {
        let recv = OtlpReceiver::start().await;
        let b = Backend::start("b").await;
        let dir = TestDir::new("alog-otlp-file");
        let log = dir.join("access.log");
        let tracing = format!(
            "{}accessLog:\n  format: json\n  filePath: \"{}\"\n  dualOutput: {dual}\n\
             \x20 fields:\n    names:\n      ClientUsername: drop\n\
             \x20 otlp:\n    serviceName: edge-access\n    http:\n      endpoint: \"http://{}/v1/logs\"\n",
            http_tracing(&recv, ""),
            log.display(),
            recv.addr()
        );
        let t = start("alog-otlp", &b, &tracing).await;
        assert_eq!(
            get(t.web, "min.test", "/sent?q=1").await.unwrap().status,
            200
        );
        let spans = trace_of(&recv, "/sent", 2).await;
        let server = by_name(&spans, "GET");
        let record = wait_until("the access log record", Duration::from_secs(10), || async {
            recv.logs()
                .into_iter()
                .find(|l| l.attributes.get("RequestPath").map(String::as_str) == Some("/sent?q=1"))
        })
        .await;
        assert_eq!(record.severity_text, "info");
        assert_eq!(record.severity_number, 9);
        assert_eq!(record.scope, "traefik");
        assert_eq!(
            record.resource.get("service.name").map(String::as_str),
            Some("edge-access")
        );
        let attr = |k: &str| record.attributes.get(k).map(String::as_str);
        assert_eq!(attr("DownstreamStatus"), Some("200"));
        assert_eq!(attr("RouterName"), Some("min@file"));
        assert_eq!(attr("RequestHost"), Some("min.test"));
        assert_eq!(attr("ClientUsername"), None, "the field modes apply");
        // Times as nanoseconds since the epoch, as Traefik's bridge sends them.
        let start: i64 = attr("StartUTC").unwrap().parse().unwrap();
        assert!(start > 1_700_000_000_000_000_000, "{start}");
        assert_eq!(record.trace_id, server.trace_id);
        assert_eq!(record.span_id, server.span_id);
        // The body is the line as the file would hold it.
        let line: serde_json::Value = serde_json::from_str(record.body.trim_end()).unwrap();
        assert_eq!(line["RequestPath"], "/sent?q=1");
        assert_eq!(line["DownstreamStatus"], 200);
        assert!(record.body.ends_with('\n'), "{:?}", record.body);
        // The file: the line only with dualOutput.
        assert_eq!(get(t.web, "min.test", "/second").await.unwrap().status, 200);
        wait_until("the second record", Duration::from_secs(10), || async {
            recv.logs()
                .iter()
                .any(|l| l.attributes.get("RequestPath").map(String::as_str) == Some("/second"))
                .then_some(())
        })
        .await;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            text.contains("/sent?q=1"),
            dual,
            "dualOutput {dual}: {text:?}"
        );
        assert_eq!(
            text.contains("/second"),
            dual,
            "dualOutput {dual}: {text:?}"
        );
    }
}

// Two workers: the collector double answers while the test waits for the
// process to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_otlp_sends_the_log_records() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let dir = TestDir::new("log-otlp");
    let web = free_port();
    dir.write("dynamic/config.yml", &dynamic(&b));
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n\
         log:\n  level: INFO\n  otlp:\n    serviceName: edge-logs\n    resourceAttributes:\n      team: edge\n\
         \x20   http:\n      endpoint: \"http://{}/v1/logs\"\n\
         providers:\n  file:\n    directory: \"{}\"\n",
        recv.addr(),
        dir.join("dynamic").display()
    );
    dir.write("switchyard.yml", &static_yaml);
    let mut sy = Switchyard::start_with_env(
        Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    );
    let web: SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    sy.wait_listening(web).await;
    let listening = wait_until(
        "the entrypoint's log record",
        Duration::from_secs(10),
        || async {
            recv.logs()
                .into_iter()
                .find(|l| l.body == "entrypoint listening")
        },
    )
    .await;
    assert_eq!(listening.severity_text, "INFO");
    assert_eq!(
        listening.attributes.get("entrypoint").map(String::as_str),
        Some("web")
    );
    assert_eq!(
        listening.resource.get("service.name").map(String::as_str),
        Some("edge-logs")
    );
    assert_eq!(
        listening.resource.get("team").map(String::as_str),
        Some("edge")
    );
    // The level filters what is sent: no DEBUG record at INFO.
    assert!(recv.logs().iter().all(|l| l.severity_text != "DEBUG"));
    // The same lines still go to stdout.
    assert!(sy.logged("entrypoint listening"));
    // What is logged while stopping is flushed before the exit.
    sy.signal("TERM");
    assert_eq!(sy.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        recv.logs().iter().any(|l| l.body == "stopped"),
        "{:#?}",
        recv.logs()
    );
}

#[tokio::test]
async fn unusable_tracing_section_is_a_warning_and_the_rest_serves() {
    let b = Backend::start("b").await;
    // A gRPC endpoint must be host:port.
    let t = start(
        "trace-bad-endpoint",
        &b,
        "  otlp:\n    grpc:\n      endpoint: \"http://collector/v1\"\n",
    )
    .await;
    assert_eq!(get(t.web, "min.test", "/still").await.unwrap().status, 200);
    assert!(
        t.sy.log().iter().any(|l| l.contains("WARN")
            && l.contains("unable to create the tracer")
            && l.contains("tracing.otlp.grpc")),
        "{:#?}",
        t.sy.log()
    );
}
