//! retry through the real binary: network errors move on to another
//! server; retried statuses; POST is not retried by status.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use bytes::Bytes;
use common::*;
use http::Method;

#[tokio::test]
async fn retry_on_network_errors_and_statuses() {
    let live = Backend::start("live").await;
    let flaky = Backend::start("flaky").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dynamic = format!(
        r#"
http:
  routers:
    retried:
      rule: "Host(`retried.test`)"
      service: half-dead
      middlewares: [again]
    plain:
      rule: "Host(`plain.test`)"
      service: half-dead
    statuses:
      rule: "Host(`status.test`)"
      service: flaky
      middlewares: [on-5xx]
  middlewares:
    again:
      retry:
        attempts: 2
        initialInterval: 1ms
    on-5xx:
      retry:
        attempts: 3
        initialInterval: 1ms
        status: ["500-599"]
  services:
    half-dead:
      loadBalancer:
        servers:
          - url: "{dead}"
          - url: "{live}"
    flaky:
      loadBalancer:
        servers: [{{url: "{flaky}"}}]
"#,
        live = live.url(),
        flaky = flaky.url()
    );
    let p = Proxy::start("retry", &dynamic, "").await;
    p.wait_status("status.test", "/", 200).await;
    // Without retry, every other request hits the dead server.
    let mut plain = Vec::new();
    for _ in 0..4 {
        plain.push(get(p.web, "plain.test", "/").await.unwrap().status.as_u16());
    }
    assert!(plain.contains(&502), "{plain:?}");
    // With retry, the second attempt goes to the live one.
    for _ in 0..6 {
        let r = request(
            p.web,
            Method::POST,
            "retried.test",
            "/",
            &[],
            Bytes::from_static(b"payload"),
        )
        .await
        .unwrap();
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.json()["body"], "payload", "the body is sent again whole");
    }
    // Retried statuses: three attempts for GET, one for POST.
    let before = flaky.hits();
    let r = get(p.web, "status.test", "/status/503").await.unwrap();
    assert_eq!(r.status.as_u16(), 503, "the last answer is passed on");
    assert_eq!(flaky.hits() - before, 3);
    let before = flaky.hits();
    request(
        p.web,
        Method::POST,
        "status.test",
        "/status/503",
        &[],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(flaky.hits() - before, 1, "POST is not idempotent");
}
