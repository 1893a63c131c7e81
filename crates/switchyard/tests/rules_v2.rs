//! Traefik's v2 rule syntax through the real binary: per router
//! (`ruleSyntax: v2`), as the static default (`core.defaultRuleSyntax`),
//! and a syntax change on reload.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;

use std::path::Path;
use std::process::Command;

fn services(a: &Backend, b: &Backend, c: &Backend) -> String {
    format!(
        r#"
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    b: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
    c: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url(),
        b.url(),
        c.url()
    )
}

/// The backend that answers, or the status when none does.
async fn answer(
    p: &Proxy,
    method: http::Method,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    let r = request(p.web, method, host, path, headers, bytes::Bytes::new())
        .await
        .expect("request");
    match r.header("x-backend") {
        Some(b) => b.to_string(),
        None => r.status.as_u16().to_string(),
    }
}

fn router<'a>(routers: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    routers
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("router {name} missing from API: {routers}"))
}

#[tokio::test]
async fn routers_with_rule_syntax_v2() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    hosts:
      rule: "Host(`one.test`, `two.test`)"
      ruleSyntax: v2
      service: a
    template:
      rule: "PathPrefix(`/users/{{id:[0-9]+}}`)"
      ruleSyntax: v2
      service: b
    headers-and-methods:
      rule: "Headers(`X-Env`, `prod`) && Method(`get`, `PUT`)"
      ruleSyntax: v2
      service: c
    query:
      rule: "Query(`tag=x`) && Path(`/q`)"
      ruleSyntax: v2
      service: a
    v2-name-in-v3:
      rule: "Headers(`X-Other`, `1`)"
      service: a
    v3-name-in-v2:
      rule: "Header(`X-Other`, `1`)"
      ruleSyntax: v2
      service: a
    unknown-syntax-is-v3:
      rule: "Host(`*.wild.test`)"
      ruleSyntax: V2
      service: b
{}"#,
        services(&a, &b, &c)
    );
    let p = Proxy::start("rules-v2", &dynamic, "").await;
    p.wait_status("one.test", "/", 200).await;
    let get = http::Method::GET;
    // (what, method, host, path, headers, backend or status)
    type Case<'a> = (
        &'a str,
        http::Method,
        &'a str,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
    );
    let cases: [Case; 11] = [
        ("first host", get.clone(), "one.test", "/", &[], "a"),
        (
            "second host, any case",
            get.clone(),
            "TWO.test:81",
            "/",
            &[],
            "a",
        ),
        (
            "template prefix",
            get.clone(),
            "x.test",
            "/users/42/cart",
            &[],
            "b",
        ),
        (
            "template must match",
            get.clone(),
            "x.test",
            "/users/me",
            &[],
            "404",
        ),
        (
            "headers and a listed method",
            http::Method::PUT,
            "x.test",
            "/",
            &[("x-env", "prod")],
            "c",
        ),
        (
            "method upper-cased",
            get.clone(),
            "x.test",
            "/",
            &[("x-env", "prod")],
            "c",
        ),
        (
            "method not listed",
            http::Method::POST,
            "x.test",
            "/",
            &[("x-env", "prod")],
            "404",
        ),
        (
            "first query value",
            get.clone(),
            "x.test",
            "/q?tag=x&tag=y",
            &[],
            "a",
        ),
        (
            "later query value",
            get.clone(),
            "x.test",
            "/q?tag=y&tag=x",
            &[],
            "404",
        ),
        (
            "V2 reads as v3: wildcard",
            get.clone(),
            "a.wild.test",
            "/",
            &[],
            "b",
        ),
        (
            "v2 names refused in v3",
            get,
            "x.test",
            "/",
            &[("x-other", "1")],
            "404",
        ),
    ];
    for (what, method, host, path, headers, want) in cases {
        assert_eq!(
            answer(&p, method, host, path, headers).await,
            want,
            "{what}"
        );
    }
    let routers = p.api("/api/http/routers").await;
    for name in [
        "hosts@file",
        "template@file",
        "query@file",
        "unknown-syntax-is-v3@file",
    ] {
        assert_eq!(router(&routers, name)["status"], "enabled", "{name}");
    }
    // The default priority is the rule's length, v2 or not.
    assert_eq!(router(&routers, "hosts@file")["priority"], 28);
    assert_eq!(router(&routers, "hosts@file")["ruleSyntax"], "v2");
    for (name, needle) in [
        ("v2-name-in-v3@file", "unsupported function: Headers"),
        ("v3-name-in-v2@file", "unsupported function: Header "),
    ] {
        let r = router(&routers, name);
        assert_eq!(r["status"], "disabled", "{name}: {r}");
        assert!(r["error"].to_string().contains(needle), "{name}: {r}");
    }
}

#[tokio::test]
async fn changing_only_the_syntax_rebuilds_the_rule() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let with = |syntax: &str| {
        format!(
            r#"
http:
  routers:
    r:
      rule: "Host(`h.test`) && PathPrefix(`/u/{{id}}`)"
      ruleSyntax: {syntax}
      service: a
{}"#,
            services(&a, &b, &c)
        )
    };
    let p = Proxy::start("rules-v2-reload", &with("v2"), "").await;
    p.wait_status("h.test", "/u/7", 200).await;
    // The same text in v3: `{id}` is literal, /u/7 no longer matches.
    p.rewrite(&with("v3"));
    p.wait_status("h.test", "/u/7", 404).await;
    assert_eq!(
        answer(&p, http::Method::GET, "h.test", "/u/%7Bid%7D/x", &[]).await,
        "a"
    );
    p.rewrite(&with("v2"));
    p.wait_status("h.test", "/u/7", 200).await;
}

#[tokio::test]
async fn static_default_rule_syntax_v2() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let dynamic = format!(
        r#"
http:
  routers:
    default-v2:
      rule: "HostHeader(`v2.test`) || Headers(`X-Two`, `yes`)"
      service: a
    own-v3:
      rule: "Header(`X-Three`, `yes`)"
      ruleSyntax: v3
      service: b
    default-v2-refuses-v3:
      rule: "Header(`X-Nope`, `yes`)"
      service: c
{}"#,
        services(&a, &b, &c)
    );
    let p = Proxy::start(
        "rules-v2-default",
        &dynamic,
        "core:\n  DefaultRuleSyntax: v2\n",
    )
    .await;
    p.wait_status("v2.test", "/", 200).await;
    let get = http::Method::GET;
    assert_eq!(
        answer(&p, get.clone(), "x.test", "/", &[("x-two", "yes")]).await,
        "a"
    );
    assert_eq!(
        answer(&p, get.clone(), "x.test", "/", &[("x-three", "yes")]).await,
        "b"
    );
    assert_eq!(
        answer(&p, get, "x.test", "/", &[("x-nope", "yes")]).await,
        "404"
    );
    let routers = p.api("/api/http/routers").await;
    assert_eq!(router(&routers, "default-v2@file")["ruleSyntax"], "v2");
    assert_eq!(router(&routers, "own-v3@file")["ruleSyntax"], "v3");
    let refused = router(&routers, "default-v2-refuses-v3@file");
    assert_eq!(refused["status"], "disabled", "{refused}");
}

#[tokio::test]
async fn an_unknown_default_rule_syntax_stops_the_start() {
    let dir = TestDir::new("rules-v2-bad-default");
    let web = free_port();
    dir.write(
        "switchyard.yml",
        &format!("entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\ncore:\n  defaultRuleSyntax: V2\n"),
    );
    let out = Command::new(Path::new(BIN))
        .current_dir(dir.path())
        .arg("--configFile=switchyard.yml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("unsupported default rule syntax configuration: \"V2\"")
            && err.contains("switchyard.yml:5"),
        "Traefik's error, located: {err}"
    );
}
