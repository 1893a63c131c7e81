//! The `kubernetesIngress` provider of the real binary against the
//! testkit's Kubernetes API server double (no real API server can be
//! installed here): Ingresses of Traefik's IngressClass routed to testkit
//! backends through their Services' EndpointSlices, named as Traefik names
//! them, live changes followed (endpoint not ready, path changed, Ingress
//! deleted), and `ingressEndpoint` written back to each Ingress's status.

mod common;

use std::time::Duration;

use common::*;
use switchyard_testkit::{KubeDouble, KubeOptions};

const TOKEN: &str = "sy-kube-ingress-test";

/// Services `whoami-a` and `whoami-b`, each with one ready endpoint: the
/// backends' ports on 127.0.0.1; and Traefik's IngressClass.
fn services(a: &Backend, b: &Backend) -> String {
    let mut out = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: traefik}\n\
         spec: {controller: traefik.io/ingress-controller}\n",
    );
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

/// An Ingress `name` of class `class` sending `host` + `path` (Prefix) to
/// `service`, and `/exact-path-b` (Exact; the longer rule, so it comes
/// first) to `whoami-b`.
fn ingress(name: &str, class: &str, host: &str, path: &str, service: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: {name}, namespace: default}}\n\
         spec:\n  ingressClassName: {class}\n  rules:\n  - host: {host}\n    http:\n      paths:\n\
         \x20     - {{path: {path}, pathType: Prefix, backend: {{service: {{name: {service}, port: {{number: 80}}}}}}}}\n\
         \x20     - {{path: /exact-path-b, pathType: Exact, backend: {{service: {{name: whoami-b, port: {{name: web}}}}}}}}\n"
    )
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

async fn proxy(name: &str, double: &KubeDouble, extra: &str) -> Proxy {
    let provider = format!(
        "  kubernetesIngress:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n{extra}",
        double.endpoint()
    );
    Proxy::start(name, "", &provider).await
}

async fn status(p: &Proxy, host: &str, path: &str) -> u16 {
    get(p.web, host, path)
        .await
        .map(|r| r.status.as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_is_routed_and_follows_live_changes() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(&ingress("site", "traefik", "ing.test", "/", "whoami-a"))
        .expect("ingress");
    double
        .apply(&ingress(
            "elsewhere",
            "nginx",
            "other.test",
            "/",
            "whoami-a",
        ))
        .expect("other class");
    let p = proxy(
        "kube-ingress-live",
        &double,
        "    ingressEndpoint:\n      ip: 10.9.8.7\n",
    )
    .await;

    // Prefix and Exact paths, each to its service; another class's
    // Ingress is not served.
    assert_eq!(
        p.wait_status("ing.test", "/x", 200).await.json()["name"],
        "a"
    );
    assert_eq!(
        p.wait_status("ing.test", "/exact-path-b", 200).await.json()["name"],
        "b"
    );
    assert_eq!(
        p.wait_status("ing.test", "/exact-path-b/more", 200)
            .await
            .json()["name"],
        "a"
    );
    assert_eq!(status(&p, "other.test", "/").await, 404);
    let routers = p.api("/api/http/routers").await;
    let mut names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    names.retain(|n| !n.ends_with("@internal"));
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "default-site-ing-test-exact-path-b@kubernetes",
            "default-site-ing-test@kubernetes"
        ]
    );

    // The status written back, on the served Ingress only.
    let lb = |name: &'static str| {
        let double = &double;
        move || async move {
            double
                .get("Ingress", "default", name)
                .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
        }
    };
    let written = wait_until("the status written", Duration::from_secs(10), lb("site")).await;
    assert_eq!(written, serde_json::json!([{"ip": "10.9.8.7"}]));
    assert!(double.requests().iter().any(|r| r
        .starts_with("PUT /apis/networking.k8s.io/v1/namespaces/default/ingresses/site/status")));
    assert_eq!(lb("elsewhere")().await, None);

    // The path changed: the old one goes, the new one is routed.
    double
        .apply(&ingress(
            "site", "traefik", "ing.test", "/moved", "whoami-a",
        ))
        .expect("path change");
    p.wait_status("ing.test", "/x", 404).await;
    assert_eq!(
        p.wait_status("ing.test", "/moved/x", 200).await.json()["name"],
        "a"
    );

    // The only endpoint of whoami-b not ready: its router goes (404), the
    // rest serves; ready again: routed again.
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", false)
        .expect("not ready");
    p.wait_status("ing.test", "/exact-path-b", 404).await;
    assert_eq!(status(&p, "ing.test", "/moved").await, 200);
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", true)
        .expect("ready");
    assert_eq!(
        p.wait_status("ing.test", "/exact-path-b", 200).await.json()["name"],
        "b"
    );

    // The other Ingress moves to Traefik's class: served, and its status
    // written too.
    double
        .apply(&ingress(
            "elsewhere",
            "traefik",
            "other.test",
            "/",
            "whoami-b",
        ))
        .expect("class change");
    assert_eq!(
        p.wait_status("other.test", "/", 200).await.json()["name"],
        "b"
    );
    let written = wait_until(
        "the moved Ingress's status",
        Duration::from_secs(10),
        lb("elsewhere"),
    )
    .await;
    assert_eq!(written, serde_json::json!([{"ip": "10.9.8.7"}]));

    // Deleted: gone; the other keeps serving.
    double.delete("Ingress", "default", "site").expect("delete");
    p.wait_status("ing.test", "/moved", 404).await;
    assert_eq!(status(&p, "other.test", "/").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_annotation_default_backend_and_published_service() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    double
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: default}\n\
             spec: {type: LoadBalancer, ports: [{name: web, port: 80}]}\n\
             status: {loadBalancer: {ingress: [{hostname: lb.example}]}}\n\
             ---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n\
             metadata: {name: fallback, namespace: default, annotations: {kubernetes.io/ingress.class: edge}}\n\
             spec: {defaultBackend: {service: {name: whoami-b, port: {number: 80}}}}\n\
             ---\napiVersion: networking.k8s.io/v1\nkind: Ingress\n\
             metadata: {name: plain, namespace: default, annotations: {kubernetes.io/ingress.class: traefik}}\n\
             spec:\n  rules:\n  - host: plain.test\n    http:\n      paths:\n\
             \x20     - {path: /, pathType: Prefix, backend: {service: {name: whoami-a, port: {number: 80}}}}\n",
        )
        .expect("objects");
    let p = proxy(
        "kube-ingress-class",
        &double,
        "    ingressClass: edge\n    ingressEndpoint:\n      publishedService: default/edge\n",
    )
    .await;

    // The default backend of the `edge` Ingress answers every host; the
    // `traefik`-annotated one is not the provider's class.
    assert_eq!(
        p.wait_status("any.test", "/x", 200).await.json()["name"],
        "b"
    );
    assert_eq!(
        p.wait_status("plain.test", "/", 200).await.json()["name"],
        "b"
    );
    let routers = p.api("/api/http/routers").await;
    assert!(
        routers
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r["name"] == "default-router@kubernetes")),
        "{routers}"
    );

    // The published Service's load-balancer status copied, and followed.
    let lb = || {
        let double = &double;
        async move {
            double
                .get("Ingress", "default", "fallback")
                .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
        }
    };
    let first = wait_until("published status", Duration::from_secs(10), lb).await;
    assert_eq!(first, serde_json::json!([{"hostname": "lb.example"}]));
    double
        .apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: edge, namespace: default}\n\
             spec: {type: LoadBalancer, ports: [{name: web, port: 80}]}\n\
             status: {loadBalancer: {ingress: [{ip: 192.0.2.11}]}}\n",
        )
        .expect("service status");
    let followed = wait_until(
        "published status followed",
        Duration::from_secs(10),
        || async {
            double
                .get("Ingress", "default", "fallback")
                .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
                .filter(|v| v == &serde_json::json!([{"ip": "192.0.2.11"}]))
        },
    )
    .await;
    assert_eq!(followed, serde_json::json!([{"ip": "192.0.2.11"}]));
    assert_eq!(
        double
            .get("Ingress", "default", "plain")
            .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned()),
        None
    );
}
