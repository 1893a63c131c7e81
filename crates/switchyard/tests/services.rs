//! The weighted service: shares by weight, nesting, health propagation,
//! and errors that stay with the service that has them.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;

async fn counts(p: &Proxy, host: &str, n: usize) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for _ in 0..n {
        let r = get(p.web, host, "/").await.unwrap();
        *out.entry(r.header("x-backend").unwrap_or("-").to_string())
            .or_default() += 1;
    }
    out
}

#[tokio::test]
async fn weighted_services() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    split:
      rule: "Host(`split.test`)"
      service: split
    nested:
      rule: "Host(`nested.test`)"
      service: outer
    healthy:
      rule: "Host(`healthy.test`)"
      service: healthy
    loop:
      rule: "Host(`loop.test`)"
      service: loop-a
  services:
    split:
      weighted:
        services:
          - {{name: svc-a, weight: 3}}
          - {{name: svc-b, weight: 1}}
    outer:
      weighted:
        services:
          - {{name: split, weight: 1}}
          - {{name: svc-c, weight: 1}}
    healthy:
      weighted:
        healthCheck: {{}}
        services:
          - {{name: checked-a}}
          - {{name: svc-b}}
    loop-a:
      weighted:
        services: [{{name: loop-b}}]
    loop-b:
      weighted:
        services: [{{name: loop-a}}]
    svc-a:
      loadBalancer:
        servers: [{{url: "{a}"}}]
    svc-b:
      loadBalancer:
        servers: [{{url: "{b}"}}]
    svc-c:
      loadBalancer:
        servers: [{{url: "{c}"}}]
    checked-a:
      loadBalancer:
        healthCheck: {{path: /health, interval: 100ms, timeout: 1s}}
        servers: [{{url: "{a}"}}]
"#,
        a = a.url(),
        b = b.url(),
        c = c.url()
    );
    let p = Proxy::start("weighted", &dynamic, "").await;
    p.wait_status("split.test", "/", 200).await;
    let got = counts(&p, "split.test", 7).await; // 1 + 7 = two full cycles of 4
    let total_a = got.get("a").copied().unwrap_or(0) + 1; // the wait_status request
    assert_eq!(
        (total_a, got.get("b").copied().unwrap_or(0)),
        (6, 2),
        "3:1 over 8 requests: {got:?}"
    );

    let got = counts(&p, "nested.test", 8).await;
    assert_eq!(got.get("c").copied(), Some(4), "half to c: {got:?}");

    // Health propagation: with checked-a down, all traffic goes to svc-b.
    assert_eq!(counts(&p, "healthy.test", 4).await.len(), 2);
    a.set_healthy(false);
    wait_until(
        "checked-a reported down",
        Duration::from_secs(5),
        || async {
            let got = counts(&p, "healthy.test", 2).await;
            (got.get("b").copied() == Some(2)).then_some(())
        },
    )
    .await;
    let got = counts(&p, "healthy.test", 6).await;
    assert_eq!(got.get("b").copied(), Some(6), "{got:?}");

    // A cycle is those services' error; their router is left out.
    assert_eq!(
        get(p.web, "loop.test", "/").await.unwrap().status.as_u16(),
        404
    );
    let s = p.api("/api/http/services/loop-a@file").await;
    assert_eq!(s["status"], "disabled", "{s}");
    assert!(s["error"].to_string().contains("recursion"), "{s}");
    assert_eq!(
        p.api("/api/http/services/split@file").await["type"],
        "weighted"
    );
}

#[tokio::test]
async fn failover_services() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dynamic = format!(
        r#"
http:
  routers:
    fo:
      rule: "Host(`fo.test`)"
      service: fo
    on-status:
      rule: "Host(`status.test`)"
      service: on-status
  services:
    fo:
      failover:
        service: main
        fallback: backup
    on-status:
      failover:
        service: plain-a
        fallback: backup
        errors:
          status: ["500-599"]
    main:
      loadBalancer:
        healthCheck: {{path: /health, interval: 100ms, timeout: 1s}}
        servers: [{{url: "{a}"}}]
    plain-a:
      loadBalancer:
        healthCheck: {{path: /health, interval: 1s}}
        servers: [{{url: "{a}"}}]
    unchecked:
      loadBalancer:
        servers: [{{url: "{a}"}}]
    needs-check:
      failover:
        service: unchecked
        fallback: backup
    backup:
      loadBalancer:
        servers: [{{url: "{b}"}}]
"#,
        a = a.url(),
        b = b.url()
    );
    let p = Proxy::start("failover", &dynamic, "").await;
    let r = p.wait_status("fo.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("a"), "main while it is up");
    // An error status from the main service is answered by the fallback.
    let r = get(p.web, "status.test", "/status/503").await.unwrap();
    assert_eq!((r.status.as_u16(), r.header("x-backend")), (503, Some("b")));
    let r = get(p.web, "status.test", "/status/404").await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.header("x-backend")),
        (404, Some("a")),
        "404 is not in the ranges"
    );
    // Main down: the fallback takes over, and back.
    a.set_healthy(false);
    wait_until("fallback takes over", Duration::from_secs(5), || async {
        get(p.web, "fo.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
    a.set_healthy(true);
    wait_until("main is back", Duration::from_secs(5), || async {
        get(p.web, "fo.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("a"))
    })
    .await;
    assert_eq!(
        p.api("/api/http/services/fo@file").await["type"],
        "failover"
    );
    // As in Traefik, the main service must check its health.
    let s = p.api("/api/http/services/needs-check@file").await;
    assert_eq!(s["status"], "disabled", "{s}");
    assert!(
        s["error"].to_string().contains("healthCheck not enabled"),
        "{s}"
    );
}

#[tokio::test]
async fn failover_on_status_without_health_check() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dynamic = format!(
        r#"
http:
  routers:
    on-status:
      rule: "Host(`status.test`)"
      service: on-status
    refused:
      rule: "Host(`refused.test`)"
      service: refused
    size-only:
      rule: "Host(`size.test`)"
      service: size-only
  services:
    on-status:
      failover:
        service: plain-a
        fallback: backup
        errors:
          status: ["500-599"]
          maxRequestBodyBytes: 5
    refused:
      failover:
        service: dead
        fallback: backup
        errors: {{status: ["502"]}}
    size-only:
      failover:
        service: plain-a
        fallback: backup
        errors: {{maxRequestBodyBytes: 5}}
    plain-a:
      loadBalancer:
        servers: [{{url: "{a}"}}]
    dead:
      loadBalancer:
        servers: [{{url: "{dead}"}}]
    backup:
      loadBalancer:
        servers: [{{url: "{b}"}}]
"#,
        a = a.url(),
        b = b.url()
    );
    let p = Proxy::start("failover-errors", &dynamic, "").await;
    let r = p.wait_status("status.test", "/status/200", 200).await;
    assert_eq!(r.header("x-backend"), Some("a"));
    // A status in the ranges: the fallback answers, with the body again.
    let post = |path: &'static str, body: &'static str| {
        request(
            p.web,
            Method::POST,
            "status.test",
            path,
            &[],
            Bytes::from_static(body.as_bytes()),
        )
    };
    let asked = a.hits();
    let r = post("/status/503", "hello").await.unwrap();
    assert_eq!((r.status.as_u16(), r.header("x-backend")), (503, Some("b")));
    assert_eq!(r.json()["body"], "hello", "the body is sent again");
    assert_eq!(a.hits(), asked + 1, "main was asked first");
    let r = post("/status/404", "hello").await.unwrap();
    assert_eq!((r.status.as_u16(), r.header("x-backend")), (404, Some("a")));
    // Over maxRequestBodyBytes: 413, and no service is asked.
    let hits = (a.hits(), b.hits());
    let r = post("/status/200", "hello!").await.unwrap();
    assert_eq!(r.status.as_u16(), 413);
    assert_eq!(r.text(), "Request body too large\n");
    assert_eq!((a.hits(), b.hits()), hits);
    // A refused connection counts as 502.
    let r = get(p.web, "refused.test", "/x").await.unwrap();
    assert_eq!((r.status.as_u16(), r.header("x-backend")), (200, Some("b")));
    // Without errors.status, the main service must still check its health.
    let s = p.api("/api/http/services/size-only@file").await;
    assert_eq!(s["status"], "disabled", "{s}");
    assert_eq!(s["failover"]["errors"]["maxRequestBodyBytes"], 5, "{s}");
    let s = p.api("/api/http/services/on-status@file").await;
    assert_eq!(s["status"], "enabled", "{s}");
}

#[tokio::test]
async fn service_level_middlewares() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    direct:
      rule: "Host(`direct.test`)"
      service: tagged
    nested:
      rule: "Host(`nested.test`)"
      service: outer
    broken:
      rule: "Host(`broken.test`)"
      service: broken
  middlewares:
    tag:
      headers:
        customRequestHeaders: {{X-Layer: service}}
    strip:
      stripPrefix: {{prefixes: [/api]}}
  services:
    tagged:
      middlewares: [tag, strip]
      loadBalancer: {{servers: [{{url: "{a}"}}]}}
    outer:
      weighted:
        services: [{{name: tagged}}]
    broken:
      middlewares: [nope]
      loadBalancer: {{servers: [{{url: "{a}"}}]}}
"#,
        a = a.url()
    );
    let p = Proxy::start("service-mws", &dynamic, "").await;
    let r = p.wait_status("direct.test", "/api/x", 200).await;
    assert_eq!(r.json()["path"], "/x");
    assert_eq!(r.seen_header("x-layer").as_deref(), Some("service"));
    // A parent service reaches the child through the child's middlewares.
    let r = get(p.web, "nested.test", "/api/y").await.unwrap();
    assert_eq!(r.json()["path"], "/y");
    assert_eq!(r.seen_header("x-layer").as_deref(), Some("service"));
    // A missing middleware is the service's error; its router is disabled.
    assert_eq!(get(p.web, "broken.test", "/").await.unwrap().status, 404);
    let s = p.api("/api/http/services/broken@file").await;
    assert_eq!(s["status"], "disabled");
    assert_eq!(s["error"][0], "middleware \"nope@file\" does not exist");
}
