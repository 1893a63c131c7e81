//! Writes: the status subresource, create / delete, auth, stop and restart.

use http::Method;
use serde_json::json;

use super::{addr, call, get, loaded, names, summary, Watch};
use crate::kube::{KubeDouble, KubeOptions};

#[tokio::test]
async fn status_subresource() {
    let double = loaded();
    let (_, ing) = get(
        &double,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing",
    )
    .await;
    let rv = ing["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    let (_, mut watch) = Watch::open(
        &double,
        &format!("/apis/networking.k8s.io/v1/ingresses?watch=true&resourceVersion={rv}"),
    )
    .await;
    // As client-go's UpdateStatus sends it: the whole object, status changed.
    let mut update = ing.clone();
    update["status"] = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}});
    update["spec"]["rules"] = json!([]);
    let json_type = [("content-type", "application/json")];
    let (status, updated) = call(
        &double,
        Method::PUT,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing/status",
        &json_type,
        &update.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        updated["status"]["loadBalancer"]["ingress"][0]["ip"],
        "10.0.0.1"
    );
    assert_eq!(
        updated["spec"]["rules"][0]["host"], "a.test",
        "a status write leaves the spec"
    );
    assert_eq!(
        updated["metadata"]["generation"], 1,
        "nor moves the generation"
    );
    assert_eq!(summary(&watch.next().await).0, "MODIFIED");
    // The same write again, with the now stale version: conflict.
    let (status, conflict) = call(
        &double,
        Method::PUT,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing/status",
        &json_type,
        &update.to_string(),
    )
    .await;
    assert_eq!(
        (status, conflict["reason"].as_str()),
        (409, Some("Conflict"))
    );
    let patches = [
        (
            "application/merge-patch+json",
            r#"{"status": {"loadBalancer": {"ingress": [{"hostname": "m.test"}]}}}"#,
            "hostname",
            "m.test",
        ),
        (
            "application/strategic-merge-patch+json",
            r#"{"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}]}}}"#,
            "ip",
            "10.0.0.2",
        ),
        (
            "application/json-patch+json",
            r#"[{"op": "replace", "path": "/status/loadBalancer/ingress/0/ip", "value": "10.0.0.3"}]"#,
            "ip",
            "10.0.0.3",
        ),
    ];
    for (content_type, patch, field, want) in patches {
        let (status, patched) = call(
            &double,
            Method::PATCH,
            "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing/status",
            &[("content-type", content_type)],
            patch,
        )
        .await;
        assert_eq!(status, 200, "{content_type}: {patched}");
        assert_eq!(
            patched["status"]["loadBalancer"]["ingress"][0][field], want,
            "{content_type}"
        );
        assert_eq!(summary(&watch.next().await).0, "MODIFIED", "{content_type}");
    }
    // A status sent through the object itself is ignored.
    let (_, mut current) = get(
        &double,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing",
    )
    .await;
    current["status"] = json!({});
    current["metadata"]["labels"] = json!({"x": "y"});
    let (status, put) = call(
        &double,
        Method::PUT,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing",
        &json_type,
        &current.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(
        put["status"]["loadBalancer"]["ingress"][0]["ip"],
        "10.0.0.3"
    );
    assert_eq!(put["metadata"]["labels"]["x"], "y");
    let (status, _) = call(
        &double,
        Method::PATCH,
        "/apis/networking.k8s.io/v1/namespaces/apps/ingresses/ing/status",
        &[("content-type", "text/plain")],
        "{}",
    )
    .await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn create_delete_and_auth() {
    let double = KubeDouble::start_with(
        crate::free_port(),
        KubeOptions {
            token: Some("s3cret".into()),
            ..KubeOptions::default()
        },
    );
    let (status, body) = get(&double, "/api/v1/services").await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("Unauthorized"))
    );
    let auth = ("authorization", "Bearer s3cret");
    let route = r#"{"apiVersion": "traefik.io/v1alpha1", "kind": "IngressRoute", "metadata": {"name": "r"}, "spec": {"routes": []}}"#;
    let (status, created) = call(
        &double,
        Method::POST,
        "/apis/traefik.io/v1alpha1/namespaces/team/ingressroutes",
        &[auth],
        route,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["metadata"]["namespace"], "team");
    let (status, again) = call(
        &double,
        Method::POST,
        "/apis/traefik.io/v1alpha1/namespaces/team/ingressroutes",
        &[auth],
        route,
    )
    .await;
    assert_eq!(
        (status, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let (status, _) = call(
        &double,
        Method::DELETE,
        "/apis/traefik.io/v1alpha1/namespaces/team/ingressroutes/r",
        &[auth],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &double,
        Method::GET,
        "/apis/traefik.io/v1alpha1/namespaces/team/ingressroutes/r",
        &[auth],
        "",
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &double,
        Method::GET,
        "/api/v1/services",
        &[auth, ("accept", "application/vnd.kubernetes.protobuf")],
        "",
    )
    .await;
    assert_eq!(status, 406, "a client asking for protobuf only is refused");
    let (status, _) = call(
        &double,
        Method::GET,
        "/api/v1/services",
        &[
            auth,
            (
                "accept",
                "application/vnd.kubernetes.protobuf,application/json",
            ),
        ],
        "",
    )
    .await;
    assert_eq!(status, 200);
    // The control path needs no token, and applies YAML.
    let (status, applied) = call(
        &double,
        Method::POST,
        "/_double/apply",
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {k: v}\n",
    )
    .await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(
        double
            .get("Secret", "default", "s")
            .map(|s| s["data"]["k"].clone()),
        Some(json!("dg=="))
    );
    let (status, _) = call(
        &double,
        Method::POST,
        "/_double/delete",
        &[],
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(double.get("Secret", "default", "s").is_none());
    assert!(double
        .requests()
        .iter()
        .any(|r| r.starts_with("POST /apis/traefik.io/v1alpha1/namespaces/team/ingressroutes")));
}

#[tokio::test]
async fn stopped_double_keeps_its_objects() {
    let mut double = loaded();
    let rv = double.resource_version();
    double.stop();
    assert!(
        tokio::net::TcpStream::connect(addr(&double)).await.is_err(),
        "nothing listens while stopped"
    );
    double.restart();
    let (_, list) = get(&double, "/api/v1/services").await;
    assert_eq!(list["metadata"]["resourceVersion"], rv.to_string());
    assert_eq!(names(&list).len(), 3);
}
