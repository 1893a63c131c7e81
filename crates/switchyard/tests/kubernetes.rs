//! The `kubernetesCRD` provider of the real binary against the testkit's
//! Kubernetes API server double (no real API server can be installed
//! here): IngressRoutes with Middlewares routed to testkit backends through
//! their Services' EndpointSlices, live changes followed, and the last
//! configuration kept while the API server is away.

mod common;

use std::time::Duration;

use common::*;
use switchyard_testkit::{KubeDouble, KubeOptions};

const TOKEN: &str = "sy-kube-test";

/// Services `whoami-a` and `whoami-b`, each with one ready endpoint: the
/// backends' ports on 127.0.0.1.
fn services(a: &Backend, b: &Backend) -> String {
    let mut out = String::new();
    for (name, backend) in [("whoami-a", a), ("whoami-b", b)] {
        out.push_str(&format!(
            "---\napiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\n\
             spec:\n  ports: [{{name: web, port: 80, targetPort: 8080}}]\n\
             ---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: {name}-1\n  namespace: default\n\
             \x20 labels: {{kubernetes.io/service-name: {name}}}\naddressType: IPv4\n\
             ports: [{{name: web, port: {}}}]\nendpoints:\n- addresses: [127.0.0.1]\n  conditions: {{ready: true}}\n",
            backend.addr().port()
        ));
    }
    out
}

/// An IngressRoute `name` routing `rule` to `service`, through the `tag`
/// Middleware.
fn ingress_route(name: &str, rule: &str, service: &str) -> String {
    format!(
        "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  entryPoints: [web]\n  routes:\n  - match: \"{rule}\"\n    kind: Rule\n\
         \x20   middlewares: [{{name: tag}}]\n    services: [{{name: {service}, port: web}}]\n"
    )
}

const MIDDLEWARE: &str = "apiVersion: traefik.io/v1alpha1\nkind: Middleware\n\
    metadata: {name: tag, namespace: default}\nspec:\n  headers:\n    customRequestHeaders: {X-Kube: crd}\n";

async fn proxy(name: &str, double: &KubeDouble) -> Proxy {
    let provider = format!(
        "  kubernetesCRD:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n",
        double.endpoint()
    );
    Proxy::start(name, "", &provider).await
}

/// The backend that answered `host`, once it answers 200.
async fn routed_to(p: &Proxy, host: &str) -> Reply {
    p.wait_status(host, "/", 200).await
}

fn double() -> KubeDouble {
    KubeDouble::start_with(
        free_port(),
        KubeOptions {
            token: Some(TOKEN.into()),
            ..KubeOptions::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_route_with_a_middleware_follows_live_changes() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&format!(
            "{MIDDLEWARE}---\n{}",
            ingress_route("app", "Host(`crd.test`)", "whoami-a")
        ))
        .expect("route");
    let p = proxy("kube-live", &double).await;

    // Routed, through the Middleware, named as Traefik names it.
    let reply = routed_to(&p, "crd.test").await;
    assert_eq!(reply.json()["name"], "a");
    assert_eq!(reply.seen_header("x-kube").as_deref(), Some("crd"));
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("default-app-") && n.ends_with("@kubernetescrd")),
        "{names:?}"
    );

    // The rule changed: the old host goes, the new one is routed.
    double
        .apply(&ingress_route("app", "Host(`moved.test`)", "whoami-b"))
        .expect("rule change");
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");
    p.wait_status("crd.test", "/", 404).await;

    // The only endpoint not ready: no server, so (as Traefik, without
    // allowEmptyServices) no router: 404. Ready again: routed again.
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", false)
        .expect("not ready");
    p.wait_status("moved.test", "/", 404).await;
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", true)
        .expect("ready");
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");

    // An IngressRoute naming a Service that does not exist: left out,
    // logged with its kind, namespace and name; the rest keeps serving.
    double
        .apply(&ingress_route("broken", "Host(`broken.test`)", "nope"))
        .expect("broken route");
    let sy = &p.sy;
    wait_until(
        "the broken route logged",
        Duration::from_secs(10),
        || async move {
            sy.log()
                .iter()
                .any(|l| {
                    l.contains("object left out")
                        && l.contains("kind=IngressRoute")
                        && l.contains("namespace=default")
                        && l.contains("name=broken")
                })
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        get(p.web, "broken.test", "/")
            .await
            .expect("request")
            .status
            .as_u16(),
        404
    );
    assert_eq!(routed_to(&p, "moved.test").await.json()["name"], "b");

    // Deleted: gone.
    double
        .delete("IngressRoute", "default", "app")
        .expect("delete");
    p.wait_status("moved.test", "/", 404).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_configuration_serves_while_the_api_server_is_away() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let mut double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&format!(
            "{MIDDLEWARE}---\n{}",
            ingress_route("app", "Host(`crd.test`)", "whoami-a")
        ))
        .expect("route");
    let p = proxy("kube-outage", &double).await;
    assert_eq!(routed_to(&p, "crd.test").await.json()["name"], "a");

    // The API server goes away: every watch and connection closed.
    double.stop();
    // Long enough for the reflectors to fail several times over.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..5 {
        let reply = get(p.web, "crd.test", "/").await.expect("request");
        assert_eq!(reply.status.as_u16(), 200, "still served: {}", reply.text());
        assert_eq!(reply.json()["name"], "a");
    }

    // Back (same objects and versions), then changed: followed again.
    double.restart();
    double
        .apply(&ingress_route("late", "Host(`late.test`)", "whoami-b"))
        .expect("new route");
    let reply = wait_until(
        "late.test routed after the restart",
        Duration::from_secs(40),
        || {
            let web = p.web;
            async move {
                get(web, "late.test", "/")
                    .await
                    .ok()
                    .filter(|r| r.status.as_u16() == 200)
            }
        },
    )
    .await;
    assert_eq!(reply.json()["name"], "b");
    assert_eq!(routed_to(&p, "crd.test").await.json()["name"], "a");
}
