//! Dynamic keys Traefik knows and Switchyard does not act on, through the
//! real binary: the file applies; a key not implemented yet is a warning on
//! its element (API and log), which keeps working; a refused key disables
//! its element only; a TCP weighted service whose `healthCheck` cannot
//! follow a child is refused as Traefik refuses it; a key
//! Traefik does not know refuses the file, which keeps its last good
//! content.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use common::*;
use std::time::Duration;

fn errors(element: &serde_json::Value) -> Vec<String> {
    element["error"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn keys_not_implemented_warn_on_their_element_which_keeps_working() {
    let (app, auth) = (Backend::start("app").await, Backend::start("auth").await);
    let tls = Backend::start_tls("tls").await;
    let dynamic = format!(
        r#"
http:
  routers:
    guarded:
      rule: "Host(`guarded.test`)"
      service: app
      middlewares: [auth]
      observability:
        accessLogs: false
    child:
      rule: "Host(`child.test`)"
      service: app
      parentRefs: [guarded]
    spiffed:
      rule: "Host(`spiffed.test`)"
      service: spiffed
    timed:
      rule: "Host(`timed.test`)"
      service: timed
  middlewares:
    auth:
      forwardAuth:
        address: "{auth}/check"
        maxResponseBodySize: 4096
  services:
    app:
      loadBalancer:
        servers: [{{url: "{app}"}}]
    spiffed:
      loadBalancer:
        serversTransport: spiffe
        servers: [{{url: "{tls}"}}]
    timed:
      loadBalancer:
        serversTransport: timeouts
        servers: [{{url: "{app}"}}]
  serversTransports:
    spiffe:
      spiffe:
        ids: ["spiffe://switchyard.test/backend"]
    timeouts:
      forwardingTimeouts:
        readTimeout: 5s
tcp:
  routers:
    raw:
      rule: "ClientIP(`192.0.2.1`)"
      service: raw
  services:
    raw:
      loadBalancer:
        servers: [{{address: "{app_addr}"}}]
    rawsplit:
      weighted:
        healthCheck: {{}}
        services: [{{name: raw}}]
udp:
  services:
    dns:
      loadBalancer:
        servers: [{{address: "127.0.0.1:53"}}]
"#,
        auth = auth.url(),
        app = app.url(),
        app_addr = app.addr(),
        tls = tls.https_url(),
    );
    let p = Proxy::start("dynamic-keys", &dynamic, "").await;

    // The middleware with a key not implemented works, and says so.
    let r = p.wait_status("guarded.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("app"));
    assert!(auth.hits() > 0, "the authentication server was asked");
    let m = p.api("/api/http/middlewares/auth@file").await;
    assert_eq!(m["status"], "warning", "{m}");
    assert_eq!(
        errors(&m),
        ["forwardAuth.maxResponseBodySize is not implemented by Switchyard yet and is ignored"]
    );
    // `observability.accessLogs` is implemented: no warning.
    let r = p.api("/api/http/routers/guarded@file").await;
    assert_eq!(r["status"], "enabled", "{r}");
    // A transport's key not implemented shows on the services using it.
    p.wait_status("timed.test", "/", 200).await;
    let s = p.api("/api/http/services/timed@file").await;
    assert_eq!(s["status"], "warning", "{s}");
    assert!(
        errors(&s)[0].contains("forwardingTimeouts.readTimeout is not implemented"),
        "{s}"
    );

    // Refused keys disable their element, and only it.
    let s = p.api("/api/http/services/spiffed@file").await;
    assert_eq!(s["status"], "disabled", "{s}");
    assert!(
        errors(&s)[0].contains("spiffe is not supported by Switchyard yet"),
        "{s}"
    );
    assert_eq!(
        get(p.web, "spiffed.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        404
    );
    let r = p.api("/api/http/routers/child@file").await;
    assert_eq!(r["status"], "disabled", "{r}");
    assert!(errors(&r)[0].contains("parentRefs"), "{r}");
    assert_eq!(
        get(p.web, "child.test", "/").await.unwrap().status.as_u16(),
        404,
        "a child router is never reachable without its parent"
    );

    // The log names each of these (UDP is routed: `udp.rs`).
    for needle in [
        "forwardAuth.maxResponseBodySize is not implemented",
        "spiffe is not supported by Switchyard yet",
        "TCP service \"rawsplit@file\": cannot register raw as updater for rawsplit: healthCheck not enabled",
    ] {
        wait_until(needle, Duration::from_secs(5), || async {
            p.sy.logged(needle).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn a_key_traefik_does_not_know_refuses_the_file() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start("dynamic-unknown", &host_route("one", "one.test", &a), "").await;
    p.wait_status("one.test", "/", 200).await;
    let typo = format!(
        "{}\n  middlewares:\n    auth:\n      forwardAuth:\n        address: http://127.0.0.1:9\n        maxResponseBodySise: 10\n",
        host_route("one", "one.test", &b).trim_end()
    );
    p.rewrite(&typo);
    wait_until(
        "the unknown key is logged with file, line and field",
        Duration::from_secs(5),
        || async {
            p.sy.log()
                .iter()
                .any(|l| {
                    l.contains("config.yml:15:")
                        && l.contains("http.middlewares.auth.forwardAuth.maxResponseBodySise")
                        && l.contains("not a Traefik dynamic configuration option")
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        get(p.web, "one.test", "/")
            .await
            .unwrap()
            .header("x-backend"),
        Some("a"),
        "the last good content keeps serving"
    );
    // With the key spelled right, the file applies, with a warning.
    p.rewrite(&typo.replace("Sise", "Size"));
    wait_until("fix applied", Duration::from_secs(5), || async {
        get(p.web, "one.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
    let m = p.api("/api/http/middlewares/auth@file").await;
    assert_eq!(m["status"], "warning", "{m}");
}
