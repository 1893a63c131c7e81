//! `metrics.otlp` on the real binary, pushing to a collector double that
//! decodes the real OTLP protobuf (HTTP and gRPC, plain and TLS with a
//! client certificate): Traefik's instrument names, kinds, units,
//! temporality and attribute names, the counts of real requests, the
//! resource and scope, the last push at shutdown, a collector that fails
//! for a while, an unusable section, and Prometheus on beside it (one set
//! of counters feeds both).

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;
use switchyard_testkit::{OtlpReceiver, ReceivedMetric};

/// `metrics.otlp` (YAML indented by 2) added to a static configuration.
fn otlp_static(body: &str) -> String {
    format!("metrics:\n  otlp:\n{body}")
}

/// The newest export's instrument `name`, once an export has one whose
/// point with `attrs` has `value`.
async fn wait_metric(
    recv: &OtlpReceiver,
    name: &str,
    attrs: &[(&str, &str)],
    value: f64,
) -> Vec<ReceivedMetric> {
    wait_until(
        &format!("{name} {attrs:?} = {value}"),
        Duration::from_secs(15),
        || async move {
            recv.metric_exports().into_iter().rev().find(|export| {
                export
                    .iter()
                    .find(|m| m.name == name)
                    .and_then(|m| m.point(attrs))
                    .is_some_and(|p| p.value == value)
            })
        },
    )
    .await
}

fn find<'a>(export: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    export
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} not in {:#?}", names(export)))
}

fn names(export: &[ReceivedMetric]) -> Vec<&str> {
    export.iter().map(|m| m.name.as_str()).collect()
}

fn keys(m: &ReceivedMetric) -> Vec<&str> {
    m.points[0].attributes.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn http_push_carries_traefik_instruments_and_counts() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let config = otlp_static(&format!(
        "    addRoutersLabels: true\n    pushInterval: 200ms\n    explicitBoundaries: [0.5, 2]\n\
         \x20   serviceName: edge\n    resourceAttributes:\n      team: metrics\n\
         \x20   http:\n      endpoint: \"http://{}\"\n      headers:\n        Authorization: Bearer t0ken\n",
        recv.addr()
    ));
    let p = Proxy::start("motlp-http", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    for _ in 0..2 {
        assert_eq!(get(p.web, "app.test", "/x").await.unwrap().status, 200);
    }
    // POST: a series of its own (the wait above may have seen 404s).
    for _ in 0..2 {
        let r = request(
            p.web,
            Method::POST,
            "nowhere.test",
            "/",
            &[],
            Bytes::from("abc"),
        )
        .await
        .unwrap();
        assert_eq!(r.status, 404);
    }
    let posted = request(
        p.web,
        Method::POST,
        "app.test",
        "/p",
        &[],
        Bytes::from("abcd"),
    );
    assert_eq!(posted.await.unwrap().status, 200);
    let ok = [
        ("entrypoint", "web"),
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
    ];
    let export = wait_metric(&recv, "traefik_entrypoint_requests_total", &ok, 3.0).await;
    let export = export.as_slice();

    let requests = find(export, "traefik_entrypoint_requests_total");
    assert_eq!(
        (
            requests.kind.as_str(),
            requests.temporality,
            requests.monotonic
        ),
        ("sum", 2, true),
        "a cumulative monotonic sum"
    );
    assert_eq!(requests.unit, "1");
    assert_eq!(keys(requests), ["code", "entrypoint", "method", "protocol"]);
    let not_found = requests
        .point(&[("entrypoint", "web"), ("code", "404"), ("method", "POST")])
        .expect("404 series");
    assert_eq!(not_found.value, 2.0);
    let request_bytes = find(export, "traefik_service_requests_bytes_total");
    let posted = request_bytes
        .point(&[("code", "200"), ("method", "POST")])
        .expect("request bytes series");
    assert_eq!(posted.value, 4.0, "the body the backend read");
    assert!(not_found.start_ns > 0 && not_found.start_ns <= not_found.time_ns);

    let duration = find(export, "traefik_entrypoint_request_duration_seconds");
    assert_eq!(
        (duration.kind.as_str(), duration.temporality),
        ("histogram", 2)
    );
    assert_eq!(duration.unit, "s");
    let d = duration.point(&ok).expect("200 series");
    assert_eq!(d.value, 3.0, "count");
    assert_eq!(d.bounds, [0.5, 2.0], "explicitBoundaries");
    assert_eq!(d.bucket_counts.iter().sum::<u64>(), 3);
    assert_eq!(d.bucket_counts.len(), 3, "one more than the bounds");
    // As Traefik's SDK: the smallest and largest duration too.
    let (min, max) = (d.min.unwrap_or(-1.0), d.max.unwrap_or(-1.0));
    assert!(
        0.0 < min && min <= max && max <= d.sum && min * 3.0 <= d.sum,
        "{d:?}"
    );

    let router = find(export, "traefik_router_requests_total");
    assert_eq!(
        keys(router),
        ["code", "method", "protocol", "router", "service"]
    );
    let r = router
        .point(&[
            ("router", "app@file"),
            ("service", "app-svc@file"),
            ("code", "200"),
            ("method", "GET"),
        ])
        .expect("router series");
    assert_eq!(r.value, 3.0);
    let service = find(export, "traefik_service_requests_total");
    assert_eq!(keys(service), ["code", "method", "protocol", "service"]);
    assert_eq!(
        service
            .point(&[
                ("service", "app-svc@file"),
                ("code", "200"),
                ("method", "GET")
            ])
            .expect("service series")
            .value,
        3.0
    );
    let response_bytes = find(export, "traefik_service_responses_bytes_total");
    assert!(response_bytes.points[0].value > 0.0);

    let open = find(export, "traefik_open_connections");
    assert_eq!((open.kind.as_str(), open.unit.as_str()), ("gauge", "1"));
    assert!(open
        .point(&[("entrypoint", "web"), ("protocol", "TCP")])
        .is_some());
    let reloads = find(export, "traefik_config_reloads_total");
    assert_eq!(reloads.kind, "sum");
    assert!(reloads.points[0].value >= 1.0);
    let last = find(export, "traefik_config_last_reload_success");
    assert_eq!((last.kind.as_str(), last.unit.as_str()), ("gauge", "ms"));

    // No TLS, no retries, no health check: nothing recorded, nothing sent.
    for absent in [
        "traefik_entrypoint_requests_tls_total",
        "traefik_service_retries_total",
        "traefik_service_server_up",
    ] {
        assert!(
            !names(export).contains(&absent),
            "{absent} in {:?}",
            names(export)
        );
    }
    assert_eq!(requests.scope, "github.com/traefik/traefik");
    assert_eq!(
        requests.resource.get("service.name").map(String::as_str),
        Some("edge")
    );
    assert_eq!(
        requests.resource.get("team").map(String::as_str),
        Some("metrics")
    );
    let exports = recv.exports();
    assert!(
        exports.iter().all(|e| e.path == "/v1/metrics"),
        "{exports:?}"
    );
    assert!(exports[0]
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer t0ken"));
    assert!(
        !p.sy.logged("not implemented by Switchyard"),
        "metrics.otlp is no longer in the start-up warning"
    );
    // Without `metrics.prometheus` there is no `/metrics`.
    let scrape = get(p.admin, "localhost", "/metrics").await.unwrap();
    assert_eq!(scrape.status, 404);

    // A client that gives up before the answer: Traefik's proxy answers
    // 499 `Client Closed Request` (21 bytes), and every family counts it.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        get(p.web, "app.test", "/sleep/1500"),
    );
    assert!(gave_up.await.is_err(), "the client went away first");
    let gone = [("code", "499"), ("method", "GET")];
    let export = wait_metric(&recv, "traefik_entrypoint_requests_total", &gone, 1.0).await;
    for name in [
        "traefik_router_requests_total",
        "traefik_service_requests_total",
        "traefik_entrypoint_request_duration_seconds",
    ] {
        let point = find(&export, name).point(&gone);
        assert_eq!(point.map(|p| p.value), Some(1.0), "{name}");
    }
    for name in [
        "traefik_entrypoint_responses_bytes_total",
        "traefik_router_responses_bytes_total",
        "traefik_service_responses_bytes_total",
    ] {
        let point = find(&export, name).point(&gone);
        assert_eq!(point.map(|p| p.value), Some(21.0), "{name}");
    }
    let d = find(&export, "traefik_entrypoint_request_duration_seconds");
    let waited = d.point(&gone).and_then(|p| p.min).unwrap_or_default();
    assert!(
        (0.3..1.5).contains(&waited),
        "until the client went: {waited}"
    );
}

// Multi-threaded: the collector answers while the test waits for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_push_at_shutdown_carries_the_last_requests() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    // An interval longer than the test: the only push is the last one.
    let config = otlp_static(&format!(
        "    pushInterval: 1h\n    grpc:\n      endpoint: \"{}\"\n      insecure: true\n",
        recv.addr()
    ));
    let mut p = Proxy::start("motlp-grpc", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    assert_eq!(get(p.web, "app.test", "/y").await.unwrap().status, 200);
    assert!(
        recv.metric_exports().is_empty(),
        "nothing before the interval"
    );
    p.sy.signal("TERM");
    assert_eq!(p.sy.wait_exit(Duration::from_secs(15)), Some(0));
    let exports = recv.metric_exports();
    assert_eq!(exports.len(), 1, "one push, at shutdown");
    let service = find(&exports[0], "traefik_service_requests_total");
    assert_eq!(
        service
            .point(&[("service", "app-svc@file"), ("code", "200")])
            .expect("service series")
            .value,
        2.0
    );
    assert!(
        !names(&exports[0]).contains(&"traefik_router_requests_total"),
        "addRoutersLabels is off by default"
    );
    let e = &recv.exports()[0];
    assert_eq!(
        e.path,
        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
    );
    assert!(e
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "application/grpc"));
}

#[tokio::test]
async fn failing_collector_is_logged_once_and_the_next_push_catches_up() {
    let recv = OtlpReceiver::start().await;
    recv.set_failing(Some(503));
    let b = Backend::start("b").await;
    let config = otlp_static(&format!(
        "    pushInterval: 100ms\n    http:\n      endpoint: \"http://{}/otlp/v1/metrics\"\n",
        recv.addr()
    ));
    let p = Proxy::start("motlp-fail", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    let r = &recv;
    wait_until(
        "three refused pushes",
        Duration::from_secs(10),
        || async move { (r.exports().len() >= 3).then_some(()) },
    )
    .await;
    // Requests are served meanwhile.
    assert_eq!(get(p.web, "app.test", "/z").await.unwrap().status, 200);
    let warned =
        p.sy.log()
            .iter()
            .filter(|l| l.contains("WARN") && l.contains("OTLP metric export failed"))
            .count();
    assert_eq!(warned, 1, "{:#?}", p.sy.log());
    assert!(recv.metric_exports().is_empty());
    recv.set_failing(None);
    let ok = [("entrypoint", "web"), ("code", "200")];
    wait_metric(&recv, "traefik_entrypoint_requests_total", &ok, 2.0).await;
    assert!(recv.exports().iter().all(|e| e.path == "/otlp/v1/metrics"));
    let r = &p.sy;
    wait_until(
        "the recovery logged",
        Duration::from_secs(5),
        || async move { r.logged("OTLP metric export works again").then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn prometheus_and_otlp_read_the_same_counters() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let config = format!(
        "metrics:\n  prometheus: {{}}\n  otlp:\n    pushInterval: 100ms\n    http:\n      endpoint: \"http://{}\"\n",
        recv.addr()
    );
    let p = Proxy::start("motlp-both", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    for _ in 0..4 {
        assert_eq!(get(p.web, "app.test", "/w").await.unwrap().status, 200);
    }
    let series = [("service", "app-svc@file"), ("code", "200")];
    wait_metric(&recv, "traefik_service_requests_total", &series, 5.0).await;
    let scrape = get(p.admin, "localhost", "/metrics").await.unwrap();
    assert_eq!(scrape.status, 200);
    let text = scrape.text();
    assert!(
        text.contains(
            "traefik_service_requests_total{code=\"200\",method=\"GET\",protocol=\"http\",service=\"app-svc@file\"} 5\n"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn unusable_otlp_section_is_an_error_and_the_rest_serves() {
    let b = Backend::start("b").await;
    // A gRPC endpoint must be host:port.
    let config = otlp_static("    grpc:\n      endpoint: \"http://collector/v1\"\n");
    let p = Proxy::start("motlp-bad", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    assert!(
        p.sy.log().iter().any(|l| l.contains("ERROR")
            && l.contains("unable to start the OTLP metric export")
            && l.contains("metrics.otlp.grpc")),
        "{:#?}",
        p.sy.log()
    );
}

#[tokio::test]
async fn different_bounds_with_prometheus_are_a_warning() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let config = format!(
        "metrics:\n  prometheus:\n    buckets: [0.1, 1]\n  otlp:\n    pushInterval: 100ms\n    explicitBoundaries: [5]\n\
         \x20   http:\n      endpoint: \"http://{}\"\n",
        recv.addr()
    );
    let p = Proxy::start("motlp-bounds", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    assert!(p
        .sy
        .logged("explicitBoundaries differ from metrics.prometheus.buckets"));
    let ok = [("entrypoint", "web"), ("code", "200")];
    let export = wait_metric(&recv, "traefik_entrypoint_requests_total", &ok, 1.0).await;
    let d = find(&export, "traefik_entrypoint_request_duration_seconds");
    assert_eq!(d.points[0].bounds, [0.1, 1.0], "the Prometheus buckets");
}

#[tokio::test]
async fn bad_prometheus_header_label_leaves_otlp_on() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let config = format!(
        "metrics:\n  prometheus:\n    headerLabels:\n      bad-label: X-Tenant\n\
         \x20 otlp:\n    pushInterval: 100ms\n    http:\n      endpoint: \"http://{}\"\n",
        recv.addr()
    );
    let p = Proxy::start("motlp-badprom", &host_route("app", "app.test", &b), &config).await;
    p.wait_status("app.test", "/", 200).await;
    assert!(p.sy.logged("unable to register Prometheus metrics"));
    let ok = [("entrypoint", "web"), ("code", "200")];
    wait_metric(&recv, "traefik_entrypoint_requests_total", &ok, 1.0).await;
}

#[tokio::test]
async fn push_over_tls_with_the_configured_ca_and_client_certificate() {
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
            format!("    http:\n      endpoint: \"https://{}\"\n", recv.addr())
        };
        let config = otlp_static(&format!(
            "    pushInterval: 100ms\n{transport}      tls:\n        ca: \"{}\"\n        cert: \"{}\"\n        key: \"{}\"\n",
            ca.display(),
            cert.display(),
            key.display()
        ));
        let name = if grpc {
            "motlp-tls-grpc"
        } else {
            "motlp-tls-http"
        };
        let p = Proxy::start(name, &host_route("app", "app.test", &b), &config).await;
        p.wait_status("app.test", "/", 200).await;
        let ok = [("entrypoint", "web"), ("code", "200")];
        wait_metric(&recv, "traefik_entrypoint_requests_total", &ok, 1.0).await;
        let path = &recv.exports()[0].path;
        assert_eq!(path.contains("MetricsService"), grpc, "{path}");
    }
}

/// The points of `m` with their attributes as text, sorted, for a
/// message that shows everything.
fn described(m: &ReceivedMetric) -> Vec<String> {
    let mut out: Vec<String> = m
        .points
        .iter()
        .map(|p| format!("{:?} count={}", p.attributes, p.value))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn semconv_histograms_record_server_and_client_calls() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    // No request family at all: the semantic-convention histograms record
    // anyway, as Traefik's.
    let config = otlp_static(&format!(
        "    addEntryPointsLabels: false\n    addServicesLabels: false\n    pushInterval: 200ms\n\
         \x20   explicitBoundaries: [0.5, 2]\n    http:\n      endpoint: \"http://{}\"\n",
        recv.addr()
    ));
    let dynamic = format!(
        "http:\n  routers:\n    app:\n      rule: \"Host(`app.test`)\"\n      service: app-svc\n\
         \x20   broken:\n      rule: \"Host(`broken.test`)\"\n      service: dead\n\
         \x20 services:\n    app-svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   dead:\n      loadBalancer:\n        servers:\n          - url: \"{dead}\"\n",
        b.url()
    );
    let p = Proxy::start("motlp-semconv", &dynamic, &config).await;
    p.wait_status("app.test", "/", 200).await;
    // POST only: the waits above are GETs.
    let post = |host: &'static str, path: &'static str| {
        request(p.web, Method::POST, host, path, &[], Bytes::new())
    };
    for (host, path, status) in [
        ("app.test", "/a", 200),
        ("app.test", "/b", 200),
        ("app.test", "/sleep/600", 200),
        ("app.test", "/status/500", 500),
        ("nowhere.test", "/", 404),
        ("broken.test", "/", 502),
    ] {
        let r = post(host, path).await.unwrap();
        assert_eq!(r.status.as_u16(), status, "POST {host}{path}");
    }
    let h2 = h2c_get(p.web, "app.test", "/h2").await.unwrap();
    assert_eq!(h2.status.as_u16(), 200);
    // The API (internal, without addInternals) is not recorded.
    assert!(p.api("/api/rawdata").await["routers"].is_object());

    let ok = [
        ("http.request.method", "POST"),
        ("http.response.status_code", "200"),
    ];
    let export = wait_metric(&recv, "http.server.request.duration", &ok, 3.0).await;
    let export = export.as_slice();
    let server = find(export, "http.server.request.duration");
    assert_eq!(
        (
            server.kind.as_str(),
            server.temporality,
            server.unit.as_str()
        ),
        ("histogram", 2, "s")
    );
    assert_eq!(server.description, "Duration of HTTP server requests.");
    assert_eq!(server.scope, "github.com/traefik/traefik");
    let s = server.point(&ok).unwrap();
    assert_eq!(
        s.attributes.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "http.request.method",
            "http.response.status_code",
            "network.protocol.name",
            "network.protocol.version",
            "server.address",
            "url.scheme"
        ]
    );
    let want = [
        ("network.protocol.name", "http/1.1"),
        ("network.protocol.version", "1.1"),
        ("server.address", "app.test"),
        ("url.scheme", "http"),
    ];
    assert!(server.point(&want).is_some(), "{:#?}", described(server));
    assert_eq!(s.bounds, [0.5, 2.0]);
    assert_eq!(
        s.bucket_counts,
        [2, 1, 0],
        "the 600 ms answer in the second"
    );
    assert!(s.sum >= 0.6, "{}", s.sum);
    // (status, host, count) of the failures, with their error.type.
    for (status, host) in [
        ("500", "app.test"),
        ("404", "nowhere.test"),
        ("502", "broken.test"),
    ] {
        let p = server
            .point(&[
                ("http.request.method", "POST"),
                ("http.response.status_code", status),
                ("error.type", status),
                ("server.address", host),
            ])
            .unwrap_or_else(|| panic!("{status} {host}: {:#?}", described(server)));
        assert_eq!(p.value, 1.0, "{status}");
    }
    let h2 = server
        .point(&[
            ("network.protocol.name", "http/2.0"),
            ("network.protocol.version", "HTTP/2.0"),
        ])
        .unwrap_or_else(|| panic!("h2c: {:#?}", described(server)));
    assert_eq!(h2.value, 1.0);
    assert!(
        server
            .points
            .iter()
            .all(|p| p.attributes.get("server.address").map(String::as_str) != Some("localhost")),
        "internal routers are not recorded: {:#?}",
        described(server)
    );

    let client = find(export, "http.client.request.duration");
    assert_eq!(client.description, "Duration of HTTP client requests.");
    let backend = b.addr().to_string();
    let c = client
        .point(&[
            ("http.request.method", "POST"),
            ("http.response.status_code", "200"),
            ("server.address", &backend),
        ])
        .unwrap_or_else(|| panic!("{:#?}", described(client)));
    assert_eq!(c.value, 3.0);
    assert_eq!(c.bucket_counts, [2, 1, 0]);
    assert_eq!(
        c.attributes.get("server.port").map(String::as_str),
        Some("0"),
        "Traefik's: the URL names a port"
    );
    assert_eq!(
        (
            c.attributes["network.protocol.name"].as_str(),
            c.attributes["network.protocol.version"].as_str(),
            c.attributes["url.scheme"].as_str()
        ),
        ("http/1.1", "1.1", "http")
    );
    let failed = client
        .point(&[("http.response.status_code", "500"), ("error.type", "500")])
        .unwrap_or_else(|| panic!("{:#?}", described(client)));
    assert_eq!(failed.value, 1.0);
    let unreachable = client
        .point(&[
            ("http.response.status_code", "502"),
            ("error.type", "502"),
            ("server.address", dead.trim_start_matches("http://")),
        ])
        .unwrap_or_else(|| panic!("{:#?}", described(client)));
    assert_eq!(unreachable.value, 1.0);
    assert!(
        client
            .point(&[("http.response.status_code", "404")])
            .is_none(),
        "no server call for a request no router takes"
    );
    for absent in [
        "traefik_entrypoint_requests_total",
        "traefik_service_requests_total",
    ] {
        assert!(!names(export).contains(&absent), "{absent}");
    }

    // A client that gives up before the answer: Traefik's 499, on both.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        get(p.web, "app.test", "/sleep/1500"),
    );
    assert!(gave_up.await.is_err(), "the client went away first");
    let gone = [("http.response.status_code", "499"), ("error.type", "499")];
    // (The call to the server is dropped, so recorded, first.)
    let export = wait_metric(&recv, "http.server.request.duration", &gone, 1.0).await;
    let client = find(&export, "http.client.request.duration");
    let p499 = client
        .point(&gone)
        .unwrap_or_else(|| panic!("{:#?}", described(client)));
    assert_eq!(p499.value, 1.0);
}

#[tokio::test]
async fn semconv_follows_the_router_switch_and_records_each_attempt() {
    let recv = OtlpReceiver::start().await;
    let b = Backend::start("b").await;
    let dead = format!("127.0.0.1:{}", free_port());
    let config = otlp_static(&format!(
        "    pushInterval: 200ms\n    http:\n      endpoint: \"http://{}\"\n",
        recv.addr()
    ));
    // As checked against Traefik 3.7: each attempt of `retry` is a call to
    // a server of its own; a router with `observability.metrics: false`
    // records nothing.
    let dynamic = format!(
        "http:\n  routers:\n    retried:\n      rule: \"Host(`retry.test`)\"\n      service: dead\n\
         \x20     middlewares: [retry]\n\
         \x20   quiet:\n      rule: \"Host(`quiet.test`)\"\n      service: app\n\
         \x20     observability:\n        metrics: false\n\
         \x20 middlewares:\n    retry:\n      retry:\n        attempts: 3\n\
         \x20 services:\n    app:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   dead:\n      loadBalancer:\n        servers:\n          - url: \"http://{dead}\"\n",
        b.url()
    );
    let p = Proxy::start("motlp-semconv-switch", &dynamic, &config).await;
    p.wait_status("quiet.test", "/", 200).await;
    for _ in 0..3 {
        assert_eq!(get(p.web, "quiet.test", "/q").await.unwrap().status, 200);
    }
    let r = get(p.web, "retry.test", "/r").await.unwrap();
    assert_eq!(r.status, 502);
    let retried = [("server.address", "retry.test")];
    let export = wait_metric(&recv, "http.server.request.duration", &retried, 1.0).await;
    let client = find(&export, "http.client.request.duration");
    let attempts = client
        .point(&[("server.address", dead.as_str()), ("error.type", "502")])
        .unwrap_or_else(|| panic!("{:#?}", described(client)));
    assert_eq!(attempts.value, 3.0, "one per attempt");
    assert_eq!(client.points.len(), 1, "{:#?}", described(client));
    // (The wait may have seen 404s before the router was there.)
    let server = find(&export, "http.server.request.duration");
    let quiet = [
        ("server.address", "quiet.test"),
        ("http.response.status_code", "200"),
    ];
    assert!(server.point(&quiet).is_none(), "{:#?}", described(server));
}
