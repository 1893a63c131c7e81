//! Routing through the real binary: rules, priorities, 404s, and errors that
//! stay with the element that has them.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

#[tokio::test]
async fn routes_by_host_path_and_priority() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    by-host:
      rule: "Host(`a.example.com`)"
      service: a
    by-prefix:
      rule: "Host(`b.example.com`) && PathPrefix(`/api`)"
      service: b
    explicit-priority:
      rule: "PathPrefix(`/`)"
      priority: 1
      service: c
    method-and-header:
      rule: "Method(`POST`) && Header(`X-Route`, `b`)"
      service: b
  services:
    a:
      loadBalancer:
        servers: [{{url: "{}"}}]
    b:
      loadBalancer:
        servers: [{{url: "{}"}}]
    c:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        a.url(),
        b.url(),
        c.url()
    );
    let p = Proxy::start("routing", &dynamic, "").await;
    let r = p.wait_status("a.example.com", "/x", 200).await;
    assert_eq!(r.header("x-backend"), Some("a"));

    let cases = [
        (
            "host is case-insensitive and the port ignored",
            "A.Example.COM:8080",
            "/",
            "a",
        ),
        ("prefix on b", "b.example.com", "/api/users", "b"),
        (
            "b outside the prefix falls to the catch-all",
            "b.example.com",
            "/other",
            "c",
        ),
        (
            "unknown host falls to the catch-all",
            "nowhere.test",
            "/",
            "c",
        ),
    ];
    for (what, host, path, want) in cases {
        let r = get(p.web, host, path).await.expect(what);
        assert_eq!(r.header("x-backend"), Some(want), "{what}");
    }
    let r = request(
        p.web,
        http::Method::POST,
        "x.test",
        "/",
        &[("x-route", "b")],
        bytes::Bytes::new(),
    )
    .await
    .expect("post");
    assert_eq!(r.header("x-backend"), Some("b"), "method and header");
}

#[tokio::test]
async fn no_matching_router_is_traefiks_404() {
    let a = Backend::start("a").await;
    let p = Proxy::start("notfound", &host_route("only", "only.test", &a), "").await;
    p.wait_status("only.test", "/", 200).await;
    let r = get(p.web, "other.test", "/").await.expect("request");
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.text(), "404 page not found\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

#[tokio::test]
async fn a_bad_router_is_left_out_and_the_rest_serves() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    good:
      rule: "Host(`good.test`)"
      service: svc
    bad-rule:
      rule: "Host(`bad.test`) &&"
      service: svc
    missing-service:
      rule: "Host(`missing.test`)"
      service: nope
    missing-middleware:
      rule: "Host(`mw.test`)"
      service: svc
      middlewares: [ghost]
    unknown-entrypoint:
      rule: "Host(`ep.test`)"
      entryPoints: [nowhere]
      service: svc
  middlewares:
    weird:
      notARealMiddleware: {{}}
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        a.url()
    );
    let p = Proxy::start("badrouter", &dynamic, "").await;
    p.wait_status("good.test", "/", 200).await;
    for host in ["bad.test", "missing.test", "mw.test", "ep.test"] {
        let r = get(p.web, host, "/").await.expect(host);
        assert_eq!(r.status.as_u16(), 404, "{host} must not be routed");
    }
    let routers = p.api("/api/http/routers").await;
    let by_name = |n: &str| {
        routers
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == n)
            .unwrap_or_else(|| panic!("router {n} missing from API: {routers}"))
            .clone()
    };
    assert_eq!(by_name("good@file")["status"], "enabled");
    for (name, needle) in [
        ("bad-rule@file", "position"),
        ("missing-service@file", "nope@file"),
        ("missing-middleware@file", "ghost@file"),
        ("unknown-entrypoint@file", "nowhere"),
    ] {
        let r = by_name(name);
        assert_eq!(r["status"], "disabled", "{name}: {r}");
        let errors = r["error"].to_string();
        assert!(
            errors.contains(needle),
            "{name}: error should mention {needle}: {errors}"
        );
    }
    let mw = p.api("/api/http/middlewares/weird@file").await;
    assert_eq!(mw["status"], "disabled", "{mw}");
}

#[tokio::test]
async fn router_request_timeout_extension() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    quick:
      rule: "Host(`quick.test`)"
      service: a
      requestTimeout: 300ms
    patient:
      rule: "Host(`patient.test`)"
      service: a
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    );
    let p = Proxy::start("router-timeout", &dynamic, "").await;
    p.wait_status("quick.test", "/", 200).await;
    let r = get(p.web, "quick.test", "/sleep/2000").await.unwrap();
    assert_eq!(r.status, 504);
    assert_eq!(r.body, "Gateway Timeout");
    // Off by default: the other router waits for the slow answer.
    let r = get(p.web, "patient.test", "/sleep/600").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        p.api("/api/http/routers/quick@file").await["requestTimeout"],
        "300ms"
    );
}
