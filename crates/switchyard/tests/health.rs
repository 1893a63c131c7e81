//! Active health checks take servers out of rotation and back in, and the API
//! shows each server's status.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;

#[tokio::test]
async fn unhealthy_servers_leave_and_rejoin_rotation() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dynamic = format!(
        r#"
http:
  routers:
    r:
      rule: "Host(`hc.test`)"
      service: svc
  services:
    svc:
      loadBalancer:
        healthCheck:
          path: /health
          interval: 100ms
          timeout: 1s
        servers:
          - url: "{}"
          - url: "{}"
"#,
        a.url(),
        b.url()
    );
    let p = Proxy::start("health", &dynamic, "").await;
    p.wait_status("hc.test", "/", 200).await;
    wait_until("health checks running", Duration::from_secs(5), || async {
        (b.health_hits() > 0).then_some(())
    })
    .await;

    b.set_healthy(false);
    let url_b = b.url();
    wait_until("b reported DOWN", Duration::from_secs(5), || {
        let url_b = url_b.clone();
        let p = &p;
        async move {
            let svc = p.api("/api/http/services/svc@file").await;
            (svc["serverStatus"][&url_b] == "DOWN").then_some(())
        }
    })
    .await;
    for _ in 0..6 {
        let r = get(p.web, "hc.test", "/").await.unwrap();
        assert_eq!(
            r.header("x-backend"),
            Some("a"),
            "only the healthy server gets traffic"
        );
    }

    a.set_healthy(false);
    wait_until("no server left", Duration::from_secs(5), || async {
        get(p.web, "hc.test", "/")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 503)
    })
    .await;

    b.set_healthy(true);
    let r = wait_until("b back in rotation", Duration::from_secs(5), || async {
        get(p.web, "hc.test", "/")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 200)
    })
    .await;
    assert_eq!(r.header("x-backend"), Some("b"));
    let svc = p.api("/api/http/services/svc@file").await;
    assert_eq!(svc["serverStatus"][&b.url()], "UP");
    assert_eq!(svc["serverStatus"][&a.url()], "DOWN");
}

#[tokio::test]
async fn grpc_health_checks() {
    let (a, b) = (Backend::start_h2c("a").await, Backend::start_h2c("b").await);
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
  services:
    app:
      loadBalancer:
        healthCheck: {{mode: grpc, interval: 100ms, timeout: 1s}}
        servers: [{{url: "h2c://{}"}}, {{url: "h2c://{}"}}]
"#,
        a.addr(),
        b.addr()
    );
    let p = Proxy::start("grpc-health", &dynamic, "").await;
    p.wait_status("app.test", "/", 200).await;
    wait_until(
        "both probed",
        std::time::Duration::from_secs(10),
        || async { (a.health_hits() > 0 && b.health_hits() > 0).then_some(()) },
    )
    .await;
    b.set_healthy(false);
    let status = wait_until("b down", std::time::Duration::from_secs(10), || async {
        let s = p.api("/api/http/services/app@file").await;
        (s["serverStatus"][format!("h2c://{}", b.addr())] == "DOWN").then_some(s)
    })
    .await;
    assert_eq!(status["serverStatus"][format!("h2c://{}", a.addr())], "UP");
    for _ in 0..4 {
        let r = get(p.web, "app.test", "/").await.unwrap();
        assert_eq!(r.header("x-backend"), Some("a"));
    }
    b.set_healthy(true);
    wait_until("b back", std::time::Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (r.header("x-backend") == Some("b")).then_some(())
    })
    .await;
}
