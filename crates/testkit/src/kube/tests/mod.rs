//! The double against the API server's contract, over HTTP: discovery and
//! lists here, watches in `watch.rs`, writes in `writes.rs`.

mod watch;
mod writes;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::KubeDouble;

pub(super) const MANIFEST: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps, labels: {app: web, tier: front}}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: apps, labels: {app: db}}
spec: {ports: [{port: 5432}]}
---
apiVersion: v1
kind: Service
metadata: {name: other, labels: {app: web}}
spec: {ports: [{port: 81}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: apps, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints:
- addresses: [127.0.0.1]
  conditions: {ready: true}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ing, namespace: apps}
spec:
  rules:
  - host: a.test
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
"#;

pub(super) fn addr(double: &KubeDouble) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], double.port))
}

pub(super) async fn call(
    double: &KubeDouble,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let reply = crate::request(
        addr(double),
        method,
        "kube",
        path,
        headers,
        Bytes::from(body.to_string()),
    )
    .await
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    let value = serde_json::from_slice(&reply.body).unwrap_or_else(|_| json!(reply.text()));
    (reply.status.as_u16(), value)
}

pub(super) async fn get(double: &KubeDouble, path: &str) -> (u16, Value) {
    call(double, Method::GET, path, &[], "").await
}

pub(super) fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let ns = i["metadata"]["namespace"].as_str().unwrap_or("");
                    format!("{ns}/{}", i["metadata"]["name"].as_str().unwrap_or(""))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An open watch, read line by line.
pub(super) struct Watch {
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
}

impl Watch {
    pub(super) async fn open(double: &KubeDouble, path: &str) -> (u16, Watch) {
        let stream = tokio::net::TcpStream::connect(addr(double))
            .await
            .expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let req = http::Request::get(path)
            .header("host", "kube")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let response = sender.send_request(req).await.expect("watch response");
        let status = response.status().as_u16();
        (
            status,
            Watch {
                body: response.into_body(),
                buffer: Vec::new(),
            },
        )
    }

    /// The next event, or None when the stream ended or `wait` passed.
    pub(super) async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("event is JSON"));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??;
            if let Ok(data) = frame.expect("frame").into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }

    pub(super) async fn next(&mut self) -> Value {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }

    /// The next event that is not a bookmark.
    pub(super) async fn next_change(&mut self) -> Value {
        for _ in 0..100 {
            let event = self.next().await;
            if event["type"] != "BOOKMARK" {
                return event;
            }
        }
        panic!("only bookmarks");
    }
}

pub(super) fn summary(event: &Value) -> (String, String, String) {
    (
        event["type"].as_str().unwrap_or("").to_string(),
        event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        event["object"]["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

pub(super) fn loaded() -> KubeDouble {
    let double = KubeDouble::start();
    double.apply(MANIFEST).expect("manifest applies");
    double
}

#[tokio::test]
async fn discovery() {
    let double = KubeDouble::start();
    let (status, api) = get(&double, "/api").await;
    assert_eq!((status, api["versions"].clone()), (200, json!(["v1"])));
    let (_, groups) = get(&double, "/apis").await;
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    for want in [
        "discovery.k8s.io",
        "gateway.networking.k8s.io",
        "networking.k8s.io",
        "traefik.io",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let gateway = groups["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == "gateway.networking.k8s.io"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(gateway["preferredVersion"]["version"], "v1");
    let (_, traefik) = get(&double, "/apis/traefik.io/v1alpha1").await;
    let kinds: Vec<&str> = traefik["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    let (_, core) = get(&double, "/api/v1").await;
    let services = core["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "services/status"))
        .cloned();
    assert!(services.is_some(), "services/status served");
    let (status, version) = get(&double, "/version").await;
    assert_eq!((status, version["major"].as_str()), (200, Some("1")));
    for path in [
        "/apis/nope.io/v1",
        "/apis/traefik.io/v1alpha1/frobs",
        "/api/v1/namespaces/x/ingressclasses",
        "/api/v1/namespaces/a/services/b/scale",
    ] {
        let (status, body) = get(&double, path).await;
        assert_eq!(
            (status, body["kind"].as_str(), body["reason"].as_str()),
            (404, Some("Status"), Some("NotFound")),
            "{path}"
        );
    }
}

#[tokio::test]
async fn lists_by_namespace_and_selectors() {
    let double = loaded();
    let cases = [
        (
            "all namespaces",
            "/api/v1/services",
            vec!["apps/db", "apps/web", "default/other"],
        ),
        (
            "one namespace",
            "/api/v1/namespaces/apps/services",
            vec!["apps/db", "apps/web"],
        ),
        (
            "label equals",
            "/api/v1/services?labelSelector=app%3Dweb",
            vec!["apps/web", "default/other"],
        ),
        (
            "label set",
            "/api/v1/services?labelSelector=app+in+(db,x)",
            vec!["apps/db"],
        ),
        (
            "label exists",
            "/api/v1/services?labelSelector=tier",
            vec!["apps/web"],
        ),
        (
            "label not exists",
            "/api/v1/services?labelSelector=!tier",
            vec!["apps/db", "default/other"],
        ),
        (
            "label notin",
            "/api/v1/services?labelSelector=app%20notin%20(web)",
            vec!["apps/db"],
        ),
        (
            "field name",
            "/api/v1/services?fieldSelector=metadata.name%3Dweb",
            vec!["apps/web"],
        ),
        (
            "field namespace",
            "/api/v1/services?fieldSelector=metadata.namespace!%3Dapps",
            vec!["default/other"],
        ),
        (
            "other kind",
            "/apis/networking.k8s.io/v1/ingresses",
            vec!["apps/ing"],
        ),
        ("empty", "/apis/traefik.io/v1alpha1/ingressroutes", vec![]),
    ];
    for (what, path, want) in cases {
        let (status, list) = get(&double, path).await;
        assert_eq!(status, 200, "{what}: {list}");
        assert_eq!(names(&list), want, "{what}");
    }
    let (_, list) = get(&double, "/api/v1/services").await;
    assert_eq!(list["kind"], "ServiceList");
    assert_eq!(
        list["metadata"]["resourceVersion"],
        double.resource_version().to_string()
    );
    let web = &list["items"][1];
    assert_eq!(
        web["spec"]["ports"][0]["targetPort"], 80,
        "defaulted like the API server"
    );
    assert_eq!(web["spec"]["type"], "ClusterIP");
    assert!(web["metadata"]["uid"]
        .as_str()
        .is_some_and(|u| !u.is_empty()));
    let (status, bad) = get(&double, "/api/v1/services?fieldSelector=spec.type%3Dx").await;
    assert_eq!((status, bad["reason"].as_str()), (400, Some("BadRequest")));
    let (status, missing) = get(&double, "/api/v1/namespaces/apps/services/nope").await;
    assert_eq!(
        (status, missing["message"].as_str()),
        (404, Some("services \"nope\" not found"))
    );
    let (status, ns) = get(&double, "/api/v1/namespaces/apps").await;
    assert_eq!(
        (
            status,
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"].as_str()
        ),
        (200, Some("apps"))
    );
}

#[tokio::test]
async fn paged_lists() {
    let double = loaded();
    double
        .apply("{apiVersion: v1, kind: Service, metadata: {name: x, namespace: zz}, spec: {ports: [{port: 1}]}}")
        .expect("fourth");
    let mut seen = Vec::new();
    let mut remaining = Vec::new();
    let mut path = "/api/v1/services?limit=3".to_string();
    for _ in 0..5 {
        let (status, page) = get(&double, &path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        remaining.push(page["metadata"]["remainingItemCount"].as_u64());
        match page["metadata"]["continue"].as_str() {
            Some(token) => path = format!("/api/v1/services?limit=3&continue={token}"),
            None => break,
        }
    }
    assert_eq!(seen, ["apps/db", "apps/web", "default/other", "zz/x"]);
    assert_eq!(remaining, [Some(1), None]);
    // resourceVersion=0 is served from the cache: one page, whatever the limit.
    let (_, all) = get(&double, "/api/v1/services?limit=1&resourceVersion=0").await;
    assert_eq!(names(&all).len(), 4);
    let (_, first) = get(&double, "/api/v1/services?limit=1").await;
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("token")
        .to_string();
    double
        .apply_expired("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}")
        .expect("expire");
    let (status, gone) = get(
        &double,
        &format!("/api/v1/services?limit=1&continue={token}"),
    )
    .await;
    assert_eq!((status, gone["reason"].as_str()), (410, Some("Expired")));
}
