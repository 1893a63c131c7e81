//! Redirects, IP allow lists, basic auth and in-flight limits through the
//! real binary.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;

fn config(backend: &Backend, users_file: &str) -> String {
    format!(
        r#"
http:
  routers:
    to-https:
      rule: "Host(`redirect.test`)"
      service: svc
      middlewares: [to-https]
    regex:
      rule: "Host(`old.test`)"
      service: svc
      middlewares: [regex]
    allowed:
      rule: "Host(`allowed.test`)"
      service: svc
      middlewares: [local-only]
    denied:
      rule: "Host(`denied.test`)"
      service: svc
      middlewares: [ten-only]
    by-depth:
      rule: "Host(`depth.test`)"
      service: svc
      middlewares: [by-depth]
    legacy:
      rule: "Host(`legacy.test`)"
      service: svc
      middlewares: [legacy]
    auth:
      rule: "Host(`auth.test`)"
      service: svc
      middlewares: [auth]
    auth-file:
      rule: "Host(`authfile.test`)"
      service: svc
      middlewares: [auth-file]
    limited:
      rule: "Host(`limited.test`)"
      service: svc
      middlewares: [one-at-a-time]
    broken:
      rule: "Host(`broken.test`)"
      service: svc
      middlewares: [empty-range]
  middlewares:
    to-https:
      redirectScheme:
        scheme: https
        port: "8443"
        permanent: true
    regex:
      redirectRegex:
        regex: "^http://old.test/(.*)"
        replacement: "http://new.test/${{1}}"
    local-only:
      ipAllowList:
        sourceRange: ["127.0.0.1/32", "::1"]
    ten-only:
      ipAllowList:
        sourceRange: ["10.0.0.0/8"]
        rejectStatusCode: 404
    by-depth:
      ipAllowList:
        sourceRange: ["192.0.2.0/24"]
        ipStrategy:
          depth: 2
    legacy:
      ipWhiteList:
        sourceRange: ["127.0.0.1"]
    auth:
      basicAuth:
        users:
          - "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/"
          - "sha:{{SHA}}5en6G6MezRroT3XKqkdPOmY/BfQ="
        realm: "Staff only"
        headerField: X-Auth-User
        removeHeader: true
    auth-file:
      basicAuth:
        usersFile: "{users_file}"
    one-at-a-time:
      inFlightReq:
        amount: 1
    empty-range:
      ipAllowList:
        sourceRange: []
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        backend.url()
    )
}

/// The backend, the proxy, and the folder of the users file (kept until the
/// test ends, then removed).
async fn start(name: &str) -> (Backend, Proxy, TestDir) {
    start_with(name, "").await
}

async fn start_with(name: &str, web_extra: &str) -> (Backend, Proxy, TestDir) {
    let b = Backend::start("b").await;
    let dir = TestDir::new(&format!("{name}-users"));
    let users = dir.write(
        "users",
        "# a comment\nfile-user:$1$saltsalt$9xy1btjgzLYfb7hivXtC//\n",
    );
    let p = Proxy::start_with(
        name,
        &config(&b, &users.display().to_string()),
        web_extra,
        "",
    )
    .await;
    p.wait_status("allowed.test", "/", 200).await;
    (b, p, dir)
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn redirects() {
    let (_b, p, _users) = start("redirects").await;
    let r = get(p.web, "redirect.test:8000", "/a?b=1").await.unwrap();
    assert_eq!(r.status.as_u16(), 301);
    assert_eq!(
        r.header("location"),
        Some("https://redirect.test:8443/a?b=1")
    );
    assert_eq!(r.text(), "Moved Permanently");
    let r = request(
        p.web,
        Method::POST,
        "redirect.test",
        "/form",
        &[],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status.as_u16(), 308);
    let r = get(p.web, "old.test", "/x/y").await.unwrap();
    assert_eq!(r.status.as_u16(), 302);
    assert_eq!(r.header("location"), Some("http://new.test/x/y"));
}

#[tokio::test]
async fn ip_allow_lists() {
    // X-Forwarded-For from an untrusted peer is dropped at the entrypoint
    // (as in Traefik), so the depth strategy needs a trusted one.
    let (_b, p, _users) =
        start_with("ipallow", "    forwardedHeaders:\n      insecure: true\n").await;
    assert_eq!(
        get(p.web, "allowed.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        get(p.web, "legacy.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200,
        "ipWhiteList alias"
    );
    let r = get(p.web, "denied.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 404, "rejectStatusCode");
    // Depth 2 looks at the second address from the right of X-Forwarded-For.
    let via = |xff: &'static str| {
        let web = p.web;
        async move {
            request(
                web,
                Method::GET,
                "depth.test",
                "/",
                &[("x-forwarded-for", xff)],
                Bytes::new(),
            )
            .await
            .unwrap()
            .status
            .as_u16()
        }
    };
    assert_eq!(via("192.0.2.7, 198.51.100.1").await, 200);
    assert_eq!(via("198.51.100.1, 192.0.2.7").await, 403);
    assert_eq!(via("192.0.2.7").await, 403, "too few addresses");
    // A bad definition is that middleware's error; its router is left out.
    assert_eq!(
        get(p.web, "broken.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        404
    );
    let mw = p.api("/api/http/middlewares/empty-range@file").await;
    assert_eq!(mw["status"], "disabled");
    assert!(
        mw["error"].to_string().contains("sourceRange is empty"),
        "{mw}"
    );
}

#[tokio::test]
async fn basic_auth() {
    let (_b, p, _users) = start("basicauth").await;
    let r = get(p.web, "auth.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"Staff only\"")
    );
    assert_eq!(r.text(), "401 Unauthorized\n");
    for (user, password, want) in [
        ("test", "test", 200),
        ("test", "wrong", 401),
        ("sha", "secret", 200),
        ("nobody", "test", 401),
    ] {
        let auth = basic(user, password);
        let r = request(
            p.web,
            Method::GET,
            "auth.test",
            "/",
            &[("authorization", &auth)],
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(r.status.as_u16(), want, "{user}:{password}");
        if want == 200 {
            assert_eq!(r.seen_header("x-auth-user").as_deref(), Some(user));
            assert_eq!(r.seen_header("authorization"), None, "removeHeader");
        }
    }
    let auth = basic("file-user", "secret");
    let r = request(
        p.web,
        Method::GET,
        "authfile.test",
        "/",
        &[("authorization", &auth)],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status.as_u16(), 200, "usersFile");
    assert_eq!(
        r.seen_header("authorization").as_deref(),
        Some(auth.as_str()),
        "kept without removeHeader"
    );
    let r = get(p.web, "authfile.test", "/").await.unwrap();
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"traefik\""),
        "default realm"
    );
}

#[tokio::test]
async fn in_flight_requests_are_limited() {
    let (b, p, _users) = start("inflight").await;
    let web = p.web;
    let slow = tokio::spawn(async move { get(web, "limited.test", "/sleep/800").await });
    wait_until("slow request in flight", Duration::from_secs(5), || async {
        (b.hits() >= 2).then_some(())
    })
    .await;
    let r = get(p.web, "limited.test", "/").await.unwrap();
    assert_eq!(
        r.status.as_u16(),
        429,
        "second request while one is in flight"
    );
    assert_eq!(slow.await.unwrap().unwrap().status.as_u16(), 200);
    let r = get(p.web, "limited.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 200, "the slot is free again");
}
