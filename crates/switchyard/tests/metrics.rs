//! `metrics.prometheus` on the real binary: requests counted per
//! entrypoint, router and service and per label set, bytes, histograms,
//! TLS-free scrapes not counted (internal), the series of a removed router
//! gone after the next scrape, config reloads, retries, `server_up`
//! following the health check, certificates' not-after, `manualRouting`
//! with `headerLabels`, a client gone before its answer counted as
//! Traefik's 499, and `promtool check metrics` on the output.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;

/// One sample of the exposition: name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition (the subset Switchyard and Traefik write:
/// label values without `}` or `,` escapes).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap();
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line}: {e}")),
        };
        out.push(Sample {
            name: name.to_string(),
            labels: map,
            value,
        });
    }
    out
}

/// The value of the series `name` whose labels are exactly `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

async fn scrape_text(addr: SocketAddr, path: &str) -> String {
    let r = get(addr, "localhost", path).await.unwrap();
    assert_eq!(r.status.as_u16(), 200, "GET {path}: {}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    r.text()
}

async fn scrape(addr: SocketAddr) -> Vec<Sample> {
    parse(&scrape_text(addr, "/metrics").await)
}

/// Waits until the API shows the router `name` (its configuration is
/// applied) without sending it traffic that would be counted.
async fn wait_router(p: &Proxy, name: &str) {
    let admin = p.admin;
    let path = format!("/api/http/routers/{name}");
    wait_until(&path, Duration::from_secs(10), || {
        let path = path.clone();
        async move {
            get(admin, "localhost", &path)
                .await
                .ok()
                .filter(|r| r.status.as_u16() == 200)
        }
    })
    .await;
}

/// One GET that must answer `status`.
async fn get_status(addr: SocketAddr, host: &str, path: &str, status: u16) {
    let r = get(addr, host, path).await.unwrap();
    assert_eq!(r.status.as_u16(), status, "{host}{path}: {}", r.text());
}

/// Scrapes until `name{labels}` equals `want` (answers are counted when
/// their body is done, just after the client has it).
async fn wait_value(
    addr: SocketAddr,
    name: &str,
    labels: &[(&str, &str)],
    want: f64,
) -> Vec<Sample> {
    let mut last = None;
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let r = get(addr, "localhost", "/metrics").await.unwrap();
            let samples = if r.status.as_u16() == 200 {
                parse(&r.text())
            } else {
                Vec::new()
            };
            last = value(&samples, name, labels);
            if last == Some(want) {
                return samples;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("{name}{labels:?}: want {want}, last {last:?}"))
}

/// `promtool check metrics` on `text`; skipped (with a message) when
/// promtool is missing (`scripts/test` installs it).
fn promtool_check(text: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("promtool not found: the exposition's promtool check is skipped");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const ROUTERS_ON: &str = "metrics:\n  prometheus:\n    addRoutersLabels: true\n";

fn two_routers(b: &Backend, with_gone: bool) -> String {
    let gone = if with_gone {
        "    gone:\n      rule: \"Host(`g.test`)\"\n      service: gsvc\n"
    } else {
        ""
    };
    let gone_svc = if with_gone {
        format!(
            "    gsvc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
            b.url()
        )
    } else {
        String::new()
    };
    format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n{gone}\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n{gone_svc}",
        b.url()
    )
}

#[tokio::test]
async fn requests_counted_per_label_set() {
    let b = Backend::start("b").await;
    let p = Proxy::start("metrics-counts", &two_routers(&b, false), ROUTERS_ON).await;
    wait_router(&p, "r@file").await;
    for _ in 0..3 {
        get_status(p.web, "a.test", "/small", 200).await;
    }
    get_status(p.web, "a.test", "/status/404", 404).await;
    get_status(p.web, "nobody.test", "/", 404).await;
    let posted = request(
        p.web,
        Method::POST,
        "a.test",
        "/echo",
        &[],
        Bytes::from_static(b"hello"),
    )
    .await
    .unwrap();
    assert_eq!(posted.text(), "hello");

    let ep_post = [
        ("code", "200"),
        ("entrypoint", "web"),
        ("method", "POST"),
        ("protocol", "http"),
    ];
    let s = wait_value(p.admin, "traefik_entrypoint_requests_total", &ep_post, 1.0).await;
    let ep_get = [
        ("code", "200"),
        ("entrypoint", "web"),
        ("method", "GET"),
        ("protocol", "http"),
    ];
    let router_get = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("router", "r@file"),
        ("service", "svc@file"),
    ];
    let svc_get = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("service", "svc@file"),
    ];
    /// (what, family, labels, value)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], f64);
    let cases: &[Case] = &[
        (
            "3 GETs on the entrypoint",
            "traefik_entrypoint_requests_total",
            &ep_get,
            3.0,
        ),
        (
            "3 GETs on the router",
            "traefik_router_requests_total",
            &router_get,
            3.0,
        ),
        (
            "3 GETs on the service",
            "traefik_service_requests_total",
            &svc_get,
            3.0,
        ),
        (
            "the backend's 404 and the unrouted one on the entrypoint",
            "traefik_entrypoint_requests_total",
            &[
                ("code", "404"),
                ("entrypoint", "web"),
                ("method", "GET"),
                ("protocol", "http"),
            ],
            2.0,
        ),
        (
            "only the backend's 404 on the router",
            "traefik_router_requests_total",
            &[
                ("code", "404"),
                ("method", "GET"),
                ("protocol", "http"),
                ("router", "r@file"),
                ("service", "svc@file"),
            ],
            1.0,
        ),
        (
            "the POST's body on the entrypoint",
            "traefik_entrypoint_requests_bytes_total",
            &ep_post,
            5.0,
        ),
        (
            "the echo's body on the entrypoint",
            "traefik_entrypoint_responses_bytes_total",
            &ep_post,
            5.0,
        ),
        (
            "the POST's body on the service",
            "traefik_service_requests_bytes_total",
            &[
                ("code", "200"),
                ("method", "POST"),
                ("protocol", "http"),
                ("service", "svc@file"),
            ],
            5.0,
        ),
        (
            "the 3 GETs' `ok` on the service",
            "traefik_service_responses_bytes_total",
            &svc_get,
            6.0,
        ),
        (
            "histogram count",
            "traefik_router_request_duration_seconds_count",
            &router_get,
            3.0,
        ),
        (
            "the scrape's own connection",
            "traefik_open_connections",
            &[("entrypoint", "traefik"), ("protocol", "TCP")],
            1.0,
        ),
        (
            "a reload at least",
            "traefik_config_reloads_total",
            &[],
            0.0,
        ),
    ];
    for (what, name, labels, want) in cases {
        let got = value(&s, name, labels);
        if *name == "traefik_config_reloads_total" {
            assert!(got.is_some_and(|v| v >= 1.0), "{what}: {got:?}");
            continue;
        }
        assert_eq!(got, Some(*want), "{what}: {name}{labels:?}");
    }
    let mut inf = router_get.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        value(&s, "traefik_router_request_duration_seconds_bucket", &inf),
        Some(3.0)
    );
    // Internal services are not counted without addInternals, and Go's
    // runtime families have no meaning here.
    assert!(
        !s.iter().any(
            |x| x.labels.get("entrypoint").map(String::as_str) == Some("traefik")
                && x.name.starts_with("traefik_entrypoint_")
        ),
        "the scrapes are not counted"
    );
    assert!(!s.iter().any(|x| x.name.starts_with("go_")));
    assert!(value(&s, "process_cpu_seconds_total", &[]).is_some());
    assert!(value(&s, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));

    promtool_check(&scrape_text(p.admin, "/metrics").await);
}

#[tokio::test]
async fn removed_router_series_go_after_the_next_scrape() {
    let b = Backend::start("b").await;
    let p = Proxy::start("metrics-removed", &two_routers(&b, true), ROUTERS_ON).await;
    wait_router(&p, "gone@file").await;
    get_status(p.web, "a.test", "/small", 200).await;
    get_status(p.web, "g.test", "/small", 200).await;
    let gone = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("router", "gone@file"),
        ("service", "gsvc@file"),
    ];
    let before = wait_value(p.admin, "traefik_router_requests_total", &gone, 1.0).await;
    let reloads = value(&before, "traefik_config_reloads_total", &[]).unwrap();

    p.rewrite(&two_routers(&b, false));
    p.wait_status("g.test", "/small", 404).await;
    // The first scrape after the configuration that removed them still
    // shows them (as Traefik's), the next does not.
    let first = scrape(p.admin).await;
    // (The polls above went through `gone` until the reload applied.)
    assert!(value(&first, "traefik_router_requests_total", &gone).is_some_and(|v| v >= 1.0));
    assert!(value(&first, "traefik_config_reloads_total", &[]).unwrap() > reloads);
    assert!(value(&first, "traefik_config_last_reload_success", &[]).unwrap() > 1.7e9);
    let second = scrape(p.admin).await;
    for s in &second {
        let named = |k: &str, v: &str| s.labels.get(k).map(String::as_str) == Some(v);
        assert!(
            !named("router", "gone@file") && !named("service", "gsvc@file"),
            "still there: {s:?}"
        );
    }
    let kept = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("router", "r@file"),
        ("service", "svc@file"),
    ];
    assert_eq!(
        value(&second, "traefik_router_requests_total", &kept),
        Some(1.0)
    );
}

#[tokio::test]
async fn retries_are_counted_on_the_service() {
    let dead = free_port();
    let dynamic = format!(
        "http:\n  routers:\n    flaky:\n      rule: \"Host(`f.test`)\"\n      service: dead\n      middlewares: [again]\n\
         \x20 middlewares:\n    again:\n      retry:\n        attempts: 3\n\
         \x20 services:\n    dead:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:{dead}\"\n"
    );
    let p = Proxy::start("metrics-retries", &dynamic, "metrics:\n  prometheus: {}\n").await;
    wait_router(&p, "flaky@file").await;
    get_status(p.web, "f.test", "/", 502).await;
    let s = wait_value(
        p.admin,
        "traefik_service_retries_total",
        &[("service", "dead@file")],
        2.0,
    )
    .await;
    assert_eq!(
        value(
            &s,
            "traefik_service_requests_total",
            &[
                ("code", "502"),
                ("method", "GET"),
                ("protocol", "http"),
                ("service", "dead@file")
            ]
        ),
        Some(3.0),
        "every attempt reaches the service"
    );
    assert!(
        !s.iter().any(|x| x.name.starts_with("traefik_router_")),
        "addRoutersLabels is off by default"
    );
}

#[tokio::test]
async fn client_gone_before_the_answer_is_a_499() {
    let b = Backend::start("b").await;
    let p = Proxy::start(
        "metrics-client-gone",
        &host_route("app", "app.test", &b),
        "metrics:\n  prometheus:\n    addRoutersLabels: true\n",
    )
    .await;
    wait_router(&p, "app@file").await;
    // As Traefik 3.7 counts it: its proxy answers `499 Client Closed
    // Request` to a request whose client went away, and every family
    // counts that answer, its 21 bytes included.
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        get(p.web, "app.test", "/sleep/1500"),
    );
    assert!(gave_up.await.is_err(), "the client went away first");
    let gone = [("code", "499"), ("method", "GET"), ("protocol", "http")];
    let with = |label: (&'static str, &'static str)| {
        let mut l = gone.to_vec();
        l.push(label);
        l
    };
    let entrypoint = with(("entrypoint", "web"));
    let s = wait_value(
        p.admin,
        "traefik_entrypoint_requests_total",
        &entrypoint,
        1.0,
    )
    .await;
    let router = [
        with(("router", "app@file")),
        vec![("service", "app-svc@file")],
    ]
    .concat();
    let service = with(("service", "app-svc@file"));
    for (family, labels) in [
        ("entrypoint", &entrypoint),
        ("router", &router),
        ("service", &service),
    ] {
        let v = |name: &str| value(&s, &format!("traefik_{family}_{name}"), labels);
        assert_eq!(v("requests_total"), Some(1.0), "{family}");
        assert_eq!(v("responses_bytes_total"), Some(21.0), "{family}");
        assert_eq!(v("request_duration_seconds_count"), Some(1.0), "{family}");
        let waited = v("request_duration_seconds_sum").unwrap_or_default();
        assert!((0.3..1.5).contains(&waited), "{family}: {waited}");
    }
}

#[tokio::test]
async fn server_up_follows_the_health_check() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        healthCheck:\n          path: /health\n          interval: 100ms\n          timeout: 1s\n\
         \x20       servers:\n          - url: \"{}\"\n",
        b.url()
    );
    let p = Proxy::start("metrics-up", &dynamic, "metrics:\n  prometheus: {}\n").await;
    let url = b.url();
    let labels = [("service", "svc@file"), ("url", url.as_str())];
    wait_value(p.admin, "traefik_service_server_up", &labels, 1.0).await;
    b.set_healthy(false);
    wait_value(p.admin, "traefik_service_server_up", &labels, 0.0).await;
    b.set_healthy(true);
    wait_value(p.admin, "traefik_service_server_up", &labels, 1.0).await;
}

#[tokio::test]
async fn certificates_not_after() {
    use switchyard_testkit::tls::fixture_path;
    let b = Backend::start("b").await;
    let dynamic = format!(
        "{}tls:\n  certificates:\n    - certFile: \"{}\"\n      keyFile: \"{}\"\n",
        host_route("r", "a.test", &b),
        fixture_path("server.pem").display(),
        fixture_path("server.key").display()
    );
    let p = Proxy::start("metrics-certs", &dynamic, "metrics:\n  prometheus: {}\n").await;
    p.wait_status("a.test", "/small", 200).await;
    // The fixture (crates/testkit/fixtures/make-certs.sh): CN localhost,
    // DNS names localhost and backend.test, serial 0x4C0F…742E, not after
    // 2126-11-01 03:47:10 UTC.
    wait_value(
        p.admin,
        "traefik_tls_certs_not_after",
        &[
            ("cn", "localhost"),
            ("sans", "backend.test,localhost"),
            ("serial", "434224870801185270854677670821680526415247471662"),
        ],
        4949178430.0,
    )
    .await;
}

#[tokio::test]
async fn manual_routing_with_header_labels() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n\
         \x20   mine:\n      rule: \"Host(`m.test`)\"\n      service: prometheus@internal\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        b.url()
    );
    let p = Proxy::start(
        "metrics-manual",
        &dynamic,
        "metrics:\n  addInternals: true\n  prometheus:\n    manualRouting: true\n    headerLabels:\n      agent: X-Agent\n",
    )
    .await;
    p.wait_status("a.test", "/small", 200).await;
    request(
        p.web,
        Method::GET,
        "a.test",
        "/small",
        &[("x-agent", "probe")],
        Bytes::new(),
    )
    .await
    .unwrap();
    // No router on the traefik entrypoint: only the user's serves it.
    let r = get(p.admin, "localhost", "/metrics").await.unwrap();
    assert_eq!(r.status.as_u16(), 404);
    let labels = [
        ("agent", "probe"),
        ("code", "200"),
        ("entrypoint", "web"),
        ("method", "GET"),
        ("protocol", "http"),
    ];
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let r = get(p.web, "m.test", "/anything").await.unwrap();
            assert_eq!(r.status.as_u16(), 200, "{}", r.text());
            let s = parse(&r.text());
            if value(&s, "traefik_entrypoint_requests_total", &labels) == Some(1.0) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the request with X-Agent counted with its label");
    // With addInternals the scrapes through the user's router count too.
    assert!(found
        .iter()
        .any(|s| s.name == "traefik_service_requests_total"
            && s.labels.get("agent").map(String::as_str) == Some("probe")));
    assert!(value(
        &found,
        "traefik_entrypoint_requests_total",
        &[
            ("agent", ""),
            ("code", "200"),
            ("entrypoint", "web"),
            ("method", "GET"),
            ("protocol", "http"),
        ]
    )
    .is_some_and(|v| v >= 1.0));
}

/// `entryPoints.web.observability.metrics: false` is the default of the
/// entrypoint's routers: a router without its own switch is not counted,
/// one that says `metrics: true` is.
#[tokio::test]
async fn entrypoint_switch_is_the_routers_default() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n\
         \x20   loud:\n      rule: \"Host(`l.test`)\"\n      service: svc\n      observability:\n        metrics: true\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        b.url()
    );
    let p = Proxy::start_with(
        "metrics-ep-switch",
        &dynamic,
        "    observability:\n      metrics: false\n",
        ROUTERS_ON,
    )
    .await;
    wait_router(&p, "loud@file").await;
    wait_router(&p, "r@file").await;
    get_status(p.web, "a.test", "/small", 200).await;
    get_status(p.web, "a.test", "/small", 200).await;
    get_status(p.web, "l.test", "/small", 200).await;
    let loud = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("router", "loud@file"),
        ("service", "svc@file"),
    ];
    let s = wait_value(p.admin, "traefik_router_requests_total", &loud, 1.0).await;
    let quiet = [
        ("code", "200"),
        ("method", "GET"),
        ("protocol", "http"),
        ("router", "r@file"),
        ("service", "svc@file"),
    ];
    assert_eq!(
        value(&s, "traefik_router_requests_total", &quiet),
        None,
        "the router without a switch is not counted"
    );
}
