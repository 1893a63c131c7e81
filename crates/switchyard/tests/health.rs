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
