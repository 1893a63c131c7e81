use std::time::Duration;

use serde_json::json;
use switchyard_config::dynamic::Configuration;
use switchyard_config::static_config::{GatewayStatusAddress, GatewayStatusService};
use tokio::sync::mpsc;

use super::*;
use crate::Message;

#[test]
fn rfc3339_of_known_times() {
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_796_672_733, "2026-12-07T19:45:33Z"),
        (4_102_444_799, "2099-12-31T23:59:59Z"),
    ];
    for (secs, want) in cases {
        assert_eq!(rfc3339(Duration::from_secs(secs)), want, "{secs}");
    }
}

#[test]
fn stamping_keeps_the_time_of_unchanged_conditions() {
    let old = json!({"conditions": [
        {"type": "Accepted", "status": "True", "lastTransitionTime": "then"},
        {"type": "Programmed", "status": "False", "lastTransitionTime": "then"}
    ], "listeners": [
        {"name": "b", "conditions": [{"type": "Accepted", "status": "True", "lastTransitionTime": "b-then"}]}
    ]});
    let mut new = json!({"conditions": [
        {"type": "Programmed", "status": "True"},
        {"type": "Accepted", "status": "True"}
    ], "listeners": [
        {"name": "a", "conditions": [{"type": "Accepted", "status": "True"}]},
        {"name": "b", "conditions": [{"type": "Accepted", "status": "True"}]}
    ]});
    stamp(&mut new, &old, "now");
    assert_eq!(
        new["conditions"][0]["lastTransitionTime"], "now",
        "status changed"
    );
    assert_eq!(
        new["conditions"][1]["lastTransitionTime"], "then",
        "unchanged"
    );
    assert_eq!(
        new["listeners"][0]["conditions"][0]["lastTransitionTime"], "now",
        "new listener"
    );
    assert_eq!(
        new["listeners"][1]["conditions"][0]["lastTransitionTime"], "b-then",
        "same listener by name"
    );
    assert_eq!(
        untimed(&new),
        json!({"conditions": [
            {"type": "Programmed", "status": "True"},
            {"type": "Accepted", "status": "True"}
        ], "listeners": [
            {"name": "a", "conditions": [{"type": "Accepted", "status": "True"}]},
            {"name": "b", "conditions": [{"type": "Accepted", "status": "True"}]}
        ]})
    );
}

#[test]
fn options_follow_the_settings() {
    let mut web = EntryPoint {
        address: ":8000".into(),
        ..EntryPoint::default()
    };
    let plain = web.clone();
    web.http.tls = Some(Default::default());
    let config = KubernetesGatewayProvider {
        experimental_channel: true,
        native_lb_by_default: true,
        cross_provider_namespaces: vec!["a".into()],
        status_address: Some(GatewayStatusAddress {
            service: GatewayStatusService {
                name: "edge".into(),
                namespace: "infra".into(),
            },
            ..GatewayStatusAddress::default()
        }),
        ..KubernetesGatewayProvider::default()
    };
    let eps = [("websecure".to_string(), web), ("web".to_string(), plain)];
    let got = options(&config, &eps, Some(vec![]));
    assert!(got.experimental_channel && got.native_lb_by_default);
    assert_eq!(got.cross_provider_namespaces, Some(vec!["a".to_string()]));
    assert_eq!(got.crd_namespaces, Some(vec![]));
    assert_eq!(
        got.status_address,
        StatusAddress::Service {
            namespace: "infra".into(),
            name: "edge".into()
        }
    );
    assert_eq!(
        got.entry_points
            .iter()
            .map(|e| (e.name.as_str(), e.http_tls))
            .collect::<Vec<_>>(),
        [("websecure", true), ("web", false)]
    );
    let ip = KubernetesGatewayProvider {
        status_address: Some(GatewayStatusAddress {
            ip: "10.0.0.1".into(),
            hostname: "lb.test".into(),
            ..GatewayStatusAddress::default()
        }),
        ..KubernetesGatewayProvider::default()
    };
    assert_eq!(
        options(&ip, &[], None).status_address,
        StatusAddress::Ip("10.0.0.1".into())
    );
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: traefik
  listeners: [{name: web, port: 8000, protocol: HTTP}]
"#;

fn route(host: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: app, namespace: default}}\n\
         spec:\n  parentRefs: [{{name: gw}}]\n  hostnames: [{host}]\n  rules:\n  - backendRefs: [{{name: web, port: 80}}]\n"
    )
}

fn rules(config: &Configuration) -> Vec<String> {
    config
        .http
        .as_ref()
        .map(|h| h.routers.values().map(|r| r.rule.clone()).collect())
        .unwrap_or_default()
}

async fn next(rx: &mut mpsc::Receiver<Message>, within: Duration) -> Option<Message> {
    tokio::time::timeout(within, rx.recv()).await.ok().flatten()
}

fn puts(double: &switchyard_testkit::KubeDouble) -> usize {
    double
        .requests()
        .iter()
        .filter(|r| r.starts_with("PUT "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_changes_and_writes_statuses_once() {
    let double = switchyard_testkit::KubeDouble::start();
    double.apply(OBJECTS).expect("objects");
    double.apply(&route("one.test")).expect("route");
    let config = KubernetesGatewayProvider {
        endpoint: double.endpoint(),
        status_address: Some(GatewayStatusAddress {
            ip: "192.0.2.1".into(),
            ..GatewayStatusAddress::default()
        }),
        ..KubernetesGatewayProvider::default()
    };
    let web = EntryPoint {
        address: "127.0.0.1:8000".into(),
        ..EntryPoint::default()
    };
    let opts = options(&config, &[("web".to_string(), web)], None);
    let (tx, mut rx) = mpsc::channel(16);
    tokio::spawn(run(config, opts, tx));
    let first = next(&mut rx, Duration::from_secs(10)).await.expect("first");
    assert_eq!(first.provider, "kubernetesgateway");
    assert_eq!(
        rules(&first.config),
        ["Host(\"one.test\") && PathPrefix(\"/\")"]
    );

    // The statuses land, with times, through the status subresource.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let gw = double.get("Gateway", "default", "gw").expect("gateway");
        let route = double.get("HTTPRoute", "default", "app").expect("route");
        let class = double.get("GatewayClass", "", "traefik").expect("class");
        let written = gw["status"]["addresses"]
            == json!([{"type": "IPAddress", "value": "192.0.2.1"}])
            && gw["status"]["listeners"][0]["attachedRoutes"] == 1
            && route["status"]["parents"][0]["conditions"][0]["reason"] == "Accepted"
            && class["status"]["conditions"][0]["type"] == "Accepted";
        if written {
            assert!(gw["status"]["conditions"][0]["lastTransitionTime"].is_string());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "statuses not written: {gw}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(double.requests().iter().any(|r| r.starts_with(
        "PUT /apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw/status"
    )));

    // The statuses' own watch events change nothing: no more writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let settled = puts(&double);
    double
        .apply("apiVersion: v1\nkind: Secret\nmetadata: {name: unrelated, namespace: default}\ndata: {}\n")
        .expect("secret");
    assert!(
        next(&mut rx, Duration::from_millis(500)).await.is_none(),
        "nothing to send"
    );
    assert_eq!(puts(&double), settled, "nothing to write");

    // The route changes: sent.
    double.apply(&route("two.test")).expect("changed");
    let changed = next(&mut rx, Duration::from_secs(10))
        .await
        .expect("changed");
    assert_eq!(
        rules(&changed.config),
        ["Host(\"two.test\") && PathPrefix(\"/\")"]
    );
}
