//! errors: pages from another service under the original (or rewritten)
//! status; a missing page service is that middleware's error.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

#[tokio::test]
async fn error_pages() {
    let (app, pages) = (Backend::start("app").await, Backend::start("pages").await);
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
      middlewares: [pages]
    broken:
      rule: "Host(`broken.test`)"
      service: app
      middlewares: [no-service]
  middlewares:
    pages:
      errors:
        status: ["500-599"]
        service: pages
        query: "/oops/{{status}}/{{originalStatus}}"
        statusRewrites:
          "503": 500
    no-service:
      errors:
        status: ["500"]
        service: nowhere
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
    pages:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        app.url(),
        pages.url()
    );
    let p = Proxy::start("errors", &dynamic, "").await;
    p.wait_status("app.test", "/", 200).await;
    let r = get(p.web, "app.test", "/status/502").await.unwrap();
    assert_eq!(r.status.as_u16(), 502);
    assert_eq!(r.header("x-backend"), Some("pages"));
    assert_eq!(r.json()["uri"], "/oops/502/502");
    let r = get(p.web, "app.test", "/status/503").await.unwrap();
    assert_eq!(r.status.as_u16(), 500, "statusRewrites");
    assert_eq!(r.json()["uri"], "/oops/500/503");
    let r = get(p.web, "app.test", "/status/404").await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.header("x-backend")),
        (404, Some("app")),
        "outside the ranges"
    );
    let mw = p.api("/api/http/middlewares/no-service@file").await;
    assert_eq!(mw["status"], "disabled");
    assert!(mw["error"].to_string().contains("nowhere@file"), "{mw}");
}
