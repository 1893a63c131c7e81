//! The `kubernetesGateway` provider of the real binary against the
//! testkit's Kubernetes API server double (no real API server can be
//! installed here): a Gateway whose listener is the `web` entry point's
//! port, an HTTPRoute with a header filter and weighted backends routed to
//! testkit backends through their Services' EndpointSlices, live changes
//! followed, and the statuses written back as Traefik writes them.

mod common;

use std::time::Duration;

use common::*;
use switchyard_testkit::{KubeDouble, KubeOptions};

const TOKEN: &str = "sy-kube-gateway-test";

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

/// Traefik's GatewayClass and a Gateway listening on `port` (the web
/// entry point's).
fn gateway(port: u16) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {{name: traefik}}\n\
         spec: {{controllerName: traefik.io/gateway-controller}}\n---\n\
         apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: default}}\n\
         spec:\n  gatewayClassName: traefik\n  listeners: [{{name: web, port: {port}, protocol: HTTP}}]\n"
    )
}

/// The HTTPRoute `site` for `host`: `/a` to whoami-a with a request header
/// set, everything else to whoami-a and whoami-b weighted 3:1.
fn route(host: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: site, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{host}]\n  rules:\n\
         \x20 - matches: [{{path: {{type: PathPrefix, value: /a}}}}]\n\
         \x20   filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier: {{set: [{{name: X-Gateway, value: set}}]}}\n\
         \x20   backendRefs: [{{name: whoami-a, port: 80}}]\n\
         \x20 - backendRefs:\n    - {{name: whoami-a, port: 80, weight: 3}}\n    - {{name: whoami-b, port: 80, weight: 1}}\n"
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

async fn proxy(name: &str, double: &KubeDouble) -> Proxy {
    let provider = format!(
        "  kubernetesGateway:\n    endpoint: \"{}\"\n    token: \"{TOKEN}\"\n    statusAddress:\n      ip: 192.0.2.7\n",
        double.endpoint()
    );
    Proxy::start(name, "", &provider).await
}

/// Which backends answered `n` requests, counted.
async fn spread(p: &Proxy, host: &str, n: usize) -> (usize, usize) {
    let (mut a, mut b) = (0, 0);
    for _ in 0..n {
        let reply = get(p.web, host, "/").await.expect("request");
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text());
        match reply.json()["name"].as_str() {
            Some("a") => a += 1,
            Some("b") => b += 1,
            other => panic!("answered by {other:?}"),
        }
    }
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_route_is_routed_follows_changes_and_gets_its_status() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    let p = proxy("kube-gateway", &double).await;
    double.apply(&gateway(p.web.port())).expect("gateway");
    double.apply(&route("gw.test")).expect("route");

    // Routed, the filter applied, named as Traefik names it.
    let reply = p.wait_status("gw.test", "/a/x", 200).await;
    assert_eq!(reply.json()["name"], "a");
    assert_eq!(reply.seen_header("x-gateway").as_deref(), Some("set"));
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .map(|l| l.iter().filter_map(|r| r["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        names.iter().any(
            |n| n.starts_with("httproute-default-site-gw-default-gw-ep-web-0-")
                && n.ends_with("@kubernetesgateway")
        ),
        "{names:?}"
    );
    // Weighted 3:1.
    assert_eq!(spread(&p, "gw.test", 8).await, (6, 2));

    // The statuses written back: the Gateway accepted with the address,
    // its listener with the route attached, the route accepted.
    let status = wait_until("statuses written", Duration::from_secs(10), || {
        let gw = double.get("Gateway", "default", "gw");
        let route = double.get("HTTPRoute", "default", "site");
        async move {
            let (gw, route) = (gw?, route?);
            let accepted = gw["status"]["conditions"][0]["status"] == "True"
                && gw["status"]["listeners"][0]["attachedRoutes"] == 1
                && route["status"]["parents"][0]["conditions"][0]["reason"] == "Accepted";
            accepted.then_some(gw["status"].clone())
        }
    })
    .await;
    assert_eq!(status["addresses"][0]["value"], "192.0.2.7");
    assert_eq!(status["conditions"][1]["type"], "Programmed");
    let class = double.get("GatewayClass", "", "traefik").expect("class");
    assert_eq!(class["status"]["conditions"][0]["reason"], "Handled");

    // The only endpoint of whoami-b not ready: its service has no server;
    // whoami-a's keeps answering.
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", false)
        .expect("not ready");
    let mut gone = false;
    for _ in 0..100 {
        let reply = get(p.web, "gw.test", "/a").await.expect("request");
        assert_eq!(reply.status.as_u16(), 200);
        if get(p.web, "gw.test", "/")
            .await
            .expect("request")
            .status
            .as_u16()
            != 200
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the not-ready endpoint was left out");
    double
        .set_ready("default", "whoami-b-1", "127.0.0.1", true)
        .expect("ready");
    p.wait_status("gw.test", "/", 200).await;

    // The route changed: the old host goes, the new one is routed.
    double.apply(&route("gw2.test")).expect("changed");
    assert_eq!(
        p.wait_status("gw2.test", "/a", 200).await.json()["name"],
        "a"
    );
    p.wait_status("gw.test", "/a", 404).await;

    // Deleted: gone.
    double
        .delete("HTTPRoute", "default", "site")
        .expect("delete");
    p.wait_status("gw2.test", "/a", 404).await;
}

/// An HTTPRoute with what Traefik cannot load: an unsupported filter, a
/// missing Service, a backendRef without a port; a backend weighted
/// beside a missing one; Traefik's own filter middlewares (redirects for
/// every method with their status, a header `add` that appends).
fn filters_route(host: &str) -> String {
    let rule = |path: &str, rest: &str| {
        format!("  - matches: [{{path: {{type: PathPrefix, value: {path}}}}}]\n{rest}")
    };
    [
        format!(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: filters, namespace: default}}\n\
             spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{host}]\n  rules:\n"
        ),
        rule("/mirror", "    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: whoami-b, port: 80}}}]\n    backendRefs: [{name: whoami-a, port: 80}]\n"),
        rule("/missing", "    backendRefs: [{name: nothing-here, port: 80}]\n"),
        rule("/noport", "    backendRefs: [{name: whoami-a}]\n"),
        rule("/half", "    backendRefs: [{name: whoami-a, port: 80}, {name: nothing-here, port: 80}]\n"),
        rule("/moved", "    filters: [{type: RequestRedirect, requestRedirect: {scheme: https, hostname: new.test, statusCode: 308}}]\n"),
        rule("/add", "    filters:\n    - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: X-Multi, value: added}]}}\n    - {type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-Backend, value: added}]}}\n    backendRefs: [{name: whoami-a, port: 80}]\n"),
    ]
    .concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_traefik_cannot_load_answers_500_and_its_filters_act_as_traefiks() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let double = double();
    double.apply(&services(&a, &b)).expect("services");
    let p = proxy("kube-gateway-filters", &double).await;
    double.apply(&gateway(p.web.port())).expect("gateway");
    double.apply(&filters_route("f.test")).expect("route");

    let reply = p.wait_status("f.test", "/add", 200).await;
    // Unloadable filters and backends: 500 with no body, as Traefik.
    for path in ["/mirror", "/missing", "/noport"] {
        let reply = get(p.web, "f.test", path).await.expect("request");
        assert_eq!(reply.status.as_u16(), 500, "{path}");
        assert!(reply.body.is_empty(), "{path}: {:?}", reply.body);
    }
    // A missing backend keeps its share.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let reply = get(p.web, "f.test", "/half").await.expect("request");
        statuses.push(reply.status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 500, 500]);

    // `add` appends: the backend sees the client's value and the added one;
    // the answer has the backend's X-Backend and the added one.
    let sent = request(
        p.web,
        http::Method::GET,
        "f.test",
        "/add",
        &[("X-Multi", "sent")],
        Default::default(),
    )
    .await
    .expect("request");
    let seen: Vec<String> = sent.json()["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h[0] == "x-multi")
        .filter_map(|h| h[1].as_str().map(str::to_string))
        .collect();
    assert_eq!(seen, ["sent", "added"]);
    let answered: Vec<&str> = reply
        .headers
        .get_all("x-backend")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(answered, ["a", "added"]);

    // A redirect keeps its status (308) for a POST too.
    let moved = request(
        p.web,
        http::Method::POST,
        "f.test",
        "/moved/x?q=1",
        &[],
        Default::default(),
    )
    .await
    .expect("request");
    assert_eq!(moved.status.as_u16(), 308);
    assert_eq!(
        moved.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("https://new.test/moved/x?q=1")
    );
    assert_eq!(moved.text(), "Permanent Redirect");

    // The route's status says which reference could not be resolved.
    wait_until("ResolvedRefs written", Duration::from_secs(10), || {
        let route = double.get("HTTPRoute", "default", "filters");
        async move {
            let c = route?["status"]["parents"][0]["conditions"][1].clone();
            (c["status"] == "False" && c["reason"] == "BackendNotFound").then_some(())
        }
    })
    .await;
}
