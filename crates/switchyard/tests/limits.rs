//! rateLimit through the real binary, and its buckets surviving a reload
//! that leaves the middleware unchanged.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

fn config(backend: &Backend, extra_router: &str) -> String {
    format!(
        r#"
http:
  routers:
    limited:
      rule: "Host(`limited.test`)"
      service: svc
      middlewares: [slow-down]
    by-header:
      rule: "Host(`header.test`)"
      service: svc
      middlewares: [per-key]
    bad:
      rule: "Host(`bad.test`)"
      service: svc
      middlewares: [with-redis]
{extra_router}
  middlewares:
    slow-down:
      rateLimit:
        average: 1
        period: 1m
        burst: 2
    per-key:
      rateLimit:
        average: 1
        period: 1m
        sourceCriterion:
          requestHeaderName: X-Api-Key
    with-redis:
      rateLimit:
        average: 1
        redis:
          endpoints: ["127.0.0.1:6379"]
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        backend.url()
    )
}

#[tokio::test]
async fn rate_limit_refuses_past_the_burst_and_keeps_state_across_reloads() {
    let b = Backend::start("b").await;
    let p = Proxy::start("ratelimit", &config(&b, ""), "").await;
    p.wait_status("limited.test", "/", 200).await;
    // That was the first token of the burst of two.
    assert_eq!(
        get(p.web, "limited.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
    let r = get(p.web, "limited.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 429);
    assert_eq!(r.text(), "Too Many Requests");
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        (55..=60).contains(&retry),
        "one token per minute: retry after {retry}s"
    );
    assert!(r.header("x-retry-in").is_some());

    // A reload that does not touch the middleware keeps its buckets.
    p.rewrite(&config(
        &b,
        "    extra:\n      rule: \"Host(`extra.test`)\"\n      service: svc\n",
    ));
    p.wait_status("extra.test", "/", 200).await;
    assert_eq!(
        get(p.web, "limited.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        429,
        "still limited after the reload"
    );

    // Per-key buckets.
    let with_key = |key: &'static str| {
        let web = p.web;
        async move {
            request(
                web,
                http::Method::GET,
                "header.test",
                "/",
                &[("x-api-key", key)],
                bytes::Bytes::new(),
            )
            .await
            .unwrap()
            .status
            .as_u16()
        }
    };
    assert_eq!(with_key("one").await, 200);
    assert_eq!(with_key("one").await, 429);
    assert_eq!(with_key("two").await, 200, "another key has its own bucket");

    // Redis settings are read with Traefik's defaults (tests/redis.rs
    // exercises them against a real server).
    let mw = p.api("/api/http/middlewares/with-redis@file").await;
    assert_eq!(mw["status"], "enabled");
    assert_eq!(
        mw["rateLimit"]["redis"]["endpoints"][0], "127.0.0.1:6379",
        "{mw}"
    );
    assert_eq!(mw["rateLimit"]["redis"]["readTimeout"], "3s", "{mw}");
}
