//! forwardAuth through the real binary: allowed, denied, what the
//! authentication server is told, and settings not supported yet.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

#[tokio::test]
async fn forward_auth() {
    let (app, auth) = (Backend::start("app").await, Backend::start("auth").await);
    let dynamic = format!(
        r#"
http:
  routers:
    allowed:
      rule: "Host(`allowed.test`)"
      service: app
      middlewares: [allow]
    denied:
      rule: "Host(`denied.test`)"
      service: app
      middlewares: [deny]
    with-tls:
      rule: "Host(`tls.test`)"
      service: app
      middlewares: [with-tls]
  middlewares:
    allow:
      forwardAuth:
        address: "{auth}/check"
        authResponseHeadersRegex: "^X-Back"
    deny:
      forwardAuth:
        address: "{auth}/status/401"
    with-tls:
      forwardAuth:
        address: "{auth}/check"
        tls: {{insecureSkipVerify: true}}
  services:
    app:
      loadBalancer:
        servers: [{{url: "{app}"}}]
"#,
        auth = auth.url(),
        app = app.url()
    );
    let p = Proxy::start("forwardauth", &dynamic, "").await;
    let r = p.wait_status("allowed.test", "/page?x=1", 200).await;
    assert_eq!(r.header("x-backend"), Some("app"));
    assert_eq!(
        r.seen_header("x-backend").as_deref(),
        Some("auth"),
        "authResponseHeadersRegex copied the header"
    );

    let r = get(p.web, "denied.test", "/secret?y=2").await.unwrap();
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(
        r.header("x-backend"),
        Some("auth"),
        "the auth answer is passed on"
    );
    let seen = r.json();
    assert_eq!(seen["method"], "GET");
    assert_eq!(
        r.seen_header("x-forwarded-uri").as_deref(),
        Some("/secret?y=2")
    );
    assert_eq!(
        r.seen_header("x-forwarded-host").as_deref(),
        Some("denied.test")
    );
    assert_eq!(r.seen_header("x-forwarded-method").as_deref(), Some("GET"));
    assert_eq!(r.seen_header("host"), Some(auth.addr().to_string()));
    assert_eq!(app.hits(), 1, "the denied request never reached the app");

    let mw = p.api("/api/http/middlewares/with-tls@file").await;
    assert_eq!(mw["status"], "disabled");
    assert!(mw["error"].to_string().contains("forwardAuth.tls"), "{mw}");
}
