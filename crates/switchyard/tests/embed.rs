//! The gateway embedded in this test program through the `switchyard`
//! library: started from code, configurations pushed from code, real
//! requests to real backends, per-element errors, a graceful stop; and the
//! two embedding examples, run.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use switchyard::{dynamic_yaml, ElementKind, ElementStatus, Gateway};

#[allow(dead_code)] // its `main` is the example's, not called here
#[path = "../examples/embed.rs"]
mod embed_example;

#[allow(dead_code)]
#[path = "../examples/custom_provider.rs"]
mod custom_provider_example;

/// One `web` entrypoint on a free port, draining for up to 5 s on stop.
const STATIC: &str = "
entryPoints:
  web:
    address: 127.0.0.1:0
    transport:
      lifeCycle:
        graceTimeOut: 5s
";

async fn backend_of(gateway: &Gateway, host: &str) -> Option<String> {
    let web = gateway.local_addr("web").unwrap();
    let reply = get(web, host, "/").await.unwrap();
    reply.header("x-backend").map(str::to_string)
}

#[tokio::test]
async fn route_break_change_and_stop_from_code() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let gateway = Gateway::builder()
        .static_yaml(STATIC)
        .provider_name("app")
        .start()
        .await
        .unwrap();
    let web = gateway.local_addr("web").unwrap();
    assert_ne!(web.port(), 0, "the bound port, not the configured 0");

    // A configuration pushed from code serves once `apply` returns.
    let applied = gateway
        .apply(dynamic_yaml(&host_route("one", "one.test", &a)).unwrap())
        .await
        .unwrap();
    assert!(applied.is_clean(), "{:?}", applied.errors());
    assert_eq!(backend_of(&gateway, "one.test").await.as_deref(), Some("a"));
    let routers = gateway.routers();
    assert_eq!(routers.len(), 1, "{routers:?}");
    assert_eq!(routers[0]["name"], "one@app");
    assert_eq!(routers[0]["status"], "enabled");
    assert_eq!(routers[0]["provider"], "app");
    let services = gateway.services();
    let service = services
        .iter()
        .find(|s| s["name"] == "one-svc@app")
        .unwrap();
    assert_eq!(service["serverStatus"][a.url()], "UP", "{service}");

    // Broken elements: each is reported and left out, the rest applies.
    let broken = format!(
        "http:
  routers:
    one:
      rule: \"Host(`one.test`)\"
      service: one-svc
    bad-rule:
      rule: \"Host(`x.test`) &&\"
      service: one-svc
    lost:
      rule: \"Host(`lost.test`)\"
      service: nowhere
  services:
    one-svc:
      loadBalancer:
        servers:
          - url: \"{}\"
",
        a.url()
    );
    let applied = gateway.apply(dynamic_yaml(&broken).unwrap()).await.unwrap();
    assert!(!applied.is_clean());
    let names: Vec<&str> = applied.errors().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["bad-rule@app", "lost@app"],
        "{:?}",
        applied.errors()
    );
    let lost = applied.error("lost").unwrap();
    assert_eq!(lost.kind, ElementKind::Router);
    assert_eq!(lost.status, ElementStatus::Disabled);
    assert!(lost.messages[0].contains("nowhere"), "{:?}", lost.messages);
    assert_eq!(backend_of(&gateway, "one.test").await.as_deref(), Some("a"));
    let status = get(web, "lost.test", "/").await.unwrap().status;
    assert_eq!(status.as_u16(), 404);
    let api_view = gateway.routers();
    let lost_view = api_view.iter().find(|r| r["name"] == "lost@app").unwrap();
    assert_eq!(lost_view["status"], "disabled");

    // Text that does not parse is refused before anything is sent: what
    // runs stays as it was.
    let error = dynamic_yaml("http:\n  routers:\n    r:\n      rulez: x\n").unwrap_err();
    assert!(error.to_string().contains("rulez"), "{error}");
    assert_eq!(backend_of(&gateway, "one.test").await.as_deref(), Some("a"));

    // A change is routed.
    gateway
        .apply(dynamic_yaml(&host_route("one", "one.test", &b)).unwrap())
        .await
        .unwrap();
    assert_eq!(backend_of(&gateway, "one.test").await.as_deref(), Some("b"));

    // A graceful stop lets the request in flight finish, then refuses.
    let hits = b.hits();
    let slow = tokio::spawn(async move { get(web, "one.test", "/sleep/700").await });
    wait_until("slow request in flight", Duration::from_secs(5), || async {
        (b.hits() > hits).then_some(())
    })
    .await;
    gateway.shutdown().await;
    let reply = slow
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(reply.status.as_u16(), 200);
    assert!(
        tokio::net::TcpStream::connect(web).await.is_err(),
        "the entrypoint is closed after the stop"
    );
}

#[tokio::test]
async fn providers_of_the_program_replace_only_their_own_elements() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut config = switchyard::config::static_config::StaticConfiguration::default();
    config.entry_points.insert(
        "web".into(),
        switchyard::config::static_config::EntryPoint {
            address: "127.0.0.1:0".into(),
            ..Default::default()
        },
    );
    let gateway = Gateway::builder()
        .static_config(config)
        .start()
        .await
        .unwrap();

    let first = gateway.provider("first").unwrap();
    let second = gateway.provider("second").unwrap();
    assert_eq!(first.name(), "first");
    first
        .send(dynamic_yaml(&host_route("r", "first.test", &a)).unwrap())
        .await
        .unwrap();
    second
        .send(dynamic_yaml(&host_route("r", "second.test", &b)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        backend_of(&gateway, "first.test").await.as_deref(),
        Some("a")
    );
    assert_eq!(
        backend_of(&gateway, "second.test").await.as_deref(),
        Some("b")
    );
    let names: Vec<String> = gateway
        .routers()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["r@first", "r@second"]);

    // An empty configuration takes away the first provider's routes only.
    first
        .send(switchyard::config::dynamic::Configuration::default())
        .await
        .unwrap();
    let web = gateway.local_addr("web").unwrap();
    assert_eq!(
        get(web, "first.test", "/").await.unwrap().status.as_u16(),
        404
    );
    assert_eq!(
        backend_of(&gateway, "second.test").await.as_deref(),
        Some("b")
    );

    // Switchyard's own provider names are not for the program.
    for taken in ["internal", "file", "kubernetescrd", "le.acme", "a@b", ""] {
        let error = gateway.provider(taken).unwrap_err();
        assert!(error.to_string().contains("provider name"), "{error}");
    }
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_bad_static_configuration_is_an_error_naming_the_field() {
    let error = Gateway::builder()
        .static_yaml("entryPoints:\n  web:\n    adress: 127.0.0.1:0\n")
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("adress"), "{error}");
    let error = Gateway::builder().start().await.unwrap_err();
    assert!(
        error.to_string().contains("no static configuration"),
        "{error}"
    );
}

#[tokio::test]
async fn the_embed_example_runs() {
    embed_example::run().await.unwrap();
}

#[tokio::test]
async fn the_custom_provider_example_runs() {
    custom_provider_example::run().await.unwrap();
}
