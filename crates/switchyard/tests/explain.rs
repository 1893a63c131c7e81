//! `GET /api/explain` and `switchyard explain` against the real binary: how
//! a running instance routes one request, router by router and matcher by
//! matcher, checked against what the same request really gets.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::process::Command;

use common::*;
use serde_json::Value;

fn dynamic(backend: &Backend) -> String {
    format!(
        r#"http:
  routers:
    api:
      rule: "Host(`a.test`) && PathPrefix(`/api`)"
      service: app
      middlewares: [strip]
    site:
      rule: "Host(`a.test`)"
      service: app
    admin:
      rule: "Host(`a.test`) && Header(`X-Env`, `prod`) && Method(`POST`) && ClientIP(`10.0.0.0/8`)"
      priority: 1000
      service: app
    other:
      rule: "Host(`b.test`)"
      service: app
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/api"]
  services:
    app:
      loadBalancer:
        servers: [{{url: "{}"}}]
"#,
        backend.url()
    )
}

fn router<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["routers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {v}"))
}

fn terms(r: &Value) -> Vec<(String, bool)> {
    r["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["term"].as_str().unwrap().to_string(),
                t["matched"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_api_explains_the_choice_matcher_by_matcher() {
    let b = Backend::start("app").await;
    let p = Proxy::start("explain-api", &dynamic(&b), "").await;
    p.wait_status("a.test", "/api/x", 200).await;

    let v = p
        .api("/api/explain?url=http%3A%2F%2Fa.test%2Fapi%2Fx&entryPoint=web")
        .await;
    assert_eq!(v["router"], "api@file", "{v}");
    assert_eq!(v["middlewares"], serde_json::json!(["strip@file"]));
    assert_eq!(v["service"], "app@file");
    let answer = v["answer"].as_str().unwrap();
    assert!(answer.contains(&b.url()), "{answer}");
    // Tried in priority order: admin (1000) first, then the longer rule.
    let order: Vec<&str> = v["routers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(order[..2], ["admin@file", "api@file"], "{v}");
    let admin = router(&v, "admin@file");
    assert_eq!(admin["matched"], false);
    assert_eq!(
        terms(admin),
        [
            ("Host(`a.test`)".to_string(), true),
            ("Header(`X-Env`, `prod`)".to_string(), false),
            ("Method(`POST`)".to_string(), false),
            ("ClientIP(`10.0.0.0/8`)".to_string(), false),
        ]
    );
    assert_eq!(router(&v, "site@file")["matched"], true);
    assert_eq!(router(&v, "other@file")["matched"], false);

    // Method, header and client address given: the admin router wins.
    let v = p
        .api("/api/explain?url=http%3A%2F%2Fa.test%2F&entryPoint=web&method=POST&header=X-Env%3A%20prod&clientIp=10.1.2.3")
        .await;
    assert_eq!(v["router"], "admin@file", "{v}");
    assert!(terms(router(&v, "admin@file")).iter().all(|(_, m)| *m));

    // No router: why the answer is 404, as the request really gets.
    let v = p
        .api("/api/explain?url=http%3A%2F%2Fc.test%2F&entryPoint=web")
        .await;
    assert!(v.get("router").is_none(), "{v}");
    assert!(v["answer"].as_str().unwrap().starts_with("404"), "{v}");
    assert_eq!(
        get(p.web, "c.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // A query that says too little is a 400 naming what is missing.
    for (query, words) in [
        ("", "url is required"),
        ("?url=http%3A%2F%2Fa.test%2F", "entryPoint is required"),
        (
            "?url=ftp%3A%2F%2Fa.test%2F&entryPoint=web",
            "http:// or https://",
        ),
        (
            "?url=http%3A%2F%2Fa.test%2F&entryPoint=nope",
            "has no routers",
        ),
    ] {
        let r = get(p.admin, "localhost", &format!("/api/explain{query}"))
            .await
            .unwrap();
        assert_eq!(r.status.as_u16(), 400, "{query}");
        assert!(r.text().contains(words), "{query}: {}", r.text());
    }
}

#[tokio::test]
async fn the_command_asks_the_running_instance() {
    let b = Backend::start("app").await;
    let p = Proxy::start("explain-cli", &dynamic(&b), "").await;
    p.wait_status("a.test", "/api/x", 200).await;
    let dir = p.dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args([
                "explain",
                "--configFile=switchyard.yml",
                "http://a.test/api/x",
                "--entrypoint",
                "web",
                "-H",
                "X-Env: prod",
            ])
            .current_dir(dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("answer: router api@file → middlewares strip@file → service app@file"),
        "{text}"
    );
    assert!(
        text.contains("no match  admin@file (priority 1000)"),
        "{text}"
    );
    assert!(text.contains("yes Header(`X-Env`, `prod`)"), "{text}");
    assert!(text.contains("no  Method(`POST`)"), "{text}");
}
