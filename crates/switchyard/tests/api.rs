//! The API on the `traefik` entrypoint: Traefik's paths and JSON shapes.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

#[tokio::test]
async fn api_shapes() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        r#"
http:
  routers:
    web-router:
      entryPoints: [web]
      rule: "Host(`api.test`)"
      service: svc
      middlewares: [strip]
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/x"]
  services:
    svc:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        b.url()
    );
    let p = Proxy::start("api", &dynamic, "").await;
    p.wait_status("api.test", "/", 200).await;

    let r = p.api("/api/http/routers/web-router@file").await;
    assert_eq!(r["name"], "web-router@file");
    assert_eq!(r["provider"], "file");
    assert_eq!(r["status"], "enabled");
    assert_eq!(r["rule"], "Host(`api.test`)");
    assert_eq!(r["service"], "svc");
    assert_eq!(r["using"], serde_json::json!(["web"]));
    assert_eq!(r["entryPoints"], serde_json::json!(["web"]));

    let s = p.api("/api/http/services/svc@file").await;
    assert_eq!(s["type"], "loadbalancer");
    assert_eq!(s["usedBy"], serde_json::json!(["web-router@file"]));
    assert_eq!(s["serverStatus"][&b.url()], "UP");
    assert_eq!(s["loadBalancer"]["servers"][0]["url"], b.url());

    let m = p.api("/api/http/middlewares/strip@file").await;
    assert_eq!(m["type"], "stripprefix");
    assert_eq!(m["stripPrefix"]["prefixes"], serde_json::json!(["/x"]));
    assert_eq!(m["usedBy"], serde_json::json!(["web-router@file"]));

    let list = p.api("/api/http/routers").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"api@internal"), "{names:?}");
    assert!(names.contains(&"web-router@file"), "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "routers are listed by name");

    let overview = p.api("/api/overview").await;
    assert!(overview["http"]["routers"]["total"].as_u64().unwrap() >= 2);
    let raw = p.api("/api/rawdata").await;
    assert!(raw["routers"]["web-router@file"].is_object());
    let eps = p.api("/api/entrypoints").await;
    assert!(eps.as_array().unwrap().iter().any(|e| e["name"] == "web"));
    let v = p.api("/api/version").await;
    assert!(v["Version"].is_string());

    // Pagination.
    let r = get(p.admin, "localhost", "/api/http/routers?per_page=1&page=1")
        .await
        .unwrap();
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.header("x-next-page"), Some("2"));

    // Unknown names are 404.
    let r = get(p.admin, "localhost", "/api/http/routers/nope@file")
        .await
        .unwrap();
    assert_eq!(r.status.as_u16(), 404);

    // Ping.
    let r = get(p.admin, "localhost", "/ping").await.unwrap();
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.text(), "OK");
}
