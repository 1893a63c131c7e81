//! Watches: from a version, watch-list, bookmarks, timeouts, 410, selections.

use std::time::Duration;

use super::{get, loaded, summary, Watch, MANIFEST};
use crate::kube::{KubeDouble, KubeOptions};

#[tokio::test]
async fn watch_from_a_version_and_live() {
    let double = loaded();
    let (_, list) = get(&double, "/api/v1/namespaces/apps/services").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    // A change before the watch opens is replayed from the history.
    double
        .apply("{apiVersion: v1, kind: Service, metadata: {name: web, namespace: apps, labels: {app: web}}, spec: {ports: [{port: 80}]}}")
        .expect("update");
    let (status, mut watch) = Watch::open(
        &double,
        &format!("/api/v1/namespaces/apps/services?watch=1&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(status, 200);
    let modified = watch.next().await;
    assert_eq!(summary(&modified).0, "MODIFIED");
    assert_eq!(
        modified["object"]["metadata"]["generation"], 2,
        "a spec change moves the generation"
    );
    double.delete("Service", "apps", "db").expect("delete");
    double
        .apply(
            "{apiVersion: v1, kind: Service, metadata: {name: other2}, spec: {ports: [{port: 1}]}}",
        )
        .expect("another namespace");
    double.apply("{apiVersion: v1, kind: Service, metadata: {name: new, namespace: apps}, spec: {ports: [{port: 1}]}}").expect("add");
    let deleted = summary(&watch.next().await);
    let added = summary(&watch.next().await);
    assert_eq!((deleted.0.as_str(), deleted.1.as_str()), ("DELETED", "db"));
    assert_eq!(
        (added.0.as_str(), added.1.as_str()),
        ("ADDED", "new"),
        "the other namespace's object is not shown"
    );
    let (d, a): (u64, u64) = (deleted.2.parse().expect("rv"), added.2.parse().expect("rv"));
    assert!(
        d > rv.parse::<u64>().expect("rv") && a == d + 2,
        "one counter for all: {d} then {a}"
    );
    // Applying the same object again is no change and no event.
    let before = double.resource_version();
    double.apply("{apiVersion: v1, kind: Service, metadata: {name: new, namespace: apps}, spec: {ports: [{port: 1}]}}").expect("same");
    assert_eq!(double.resource_version(), before);
    assert!(watch
        .next_within(Duration::from_millis(300))
        .await
        .is_none());
}

#[tokio::test]
async fn watch_list_sends_initial_events_then_a_bookmark() {
    let double = loaded();
    let path = "/apis/discovery.k8s.io/v1/endpointslices?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&watch=true&timeoutSeconds=30";
    let (status, mut watch) = Watch::open(&double, path).await;
    assert_eq!(status, 200);
    assert_eq!(summary(&watch.next().await).0, "ADDED");
    let end = watch.next().await;
    assert_eq!(end["type"], "BOOKMARK");
    assert_eq!(
        end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(end["object"]["kind"], "EndpointSlice");
    assert_eq!(
        end["object"]["metadata"]["resourceVersion"],
        double.resource_version().to_string()
    );
    double
        .set_ready("apps", "web-1", "127.0.0.1", false)
        .expect("not ready");
    let changed = watch.next_change().await;
    assert_eq!(changed["type"], "MODIFIED");
    assert_eq!(
        changed["object"]["endpoints"][0]["conditions"]["ready"],
        false
    );
    // Without the bookmarks it requires, the API server refuses.
    let (status, _) = get(
        &double,
        "/api/v1/services?watch=true&sendInitialEvents=true",
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn bookmarks_and_timeout() {
    let double = KubeDouble::start_with(
        crate::free_port(),
        KubeOptions {
            bookmark_every: Duration::from_millis(50),
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    let rv = double.resource_version();
    let (_, mut watch) = Watch::open(&double, &format!("/api/v1/services?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=1")).await;
    let bookmark = watch.next().await;
    assert_eq!(bookmark["type"], "BOOKMARK");
    assert_eq!(
        bookmark["object"]["metadata"]["resourceVersion"],
        rv.to_string()
    );
    double
        .apply("{apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {a: b}}")
        .expect("other kind");
    // The next bookmark carries the version of the other kind's change.
    let later = watch.next().await;
    assert_eq!(later["type"], "BOOKMARK");
    assert_eq!(
        later["object"]["metadata"]["resourceVersion"],
        (rv + 1).to_string()
    );
    // timeoutSeconds=1 ends the stream.
    let started = tokio::time::Instant::now();
    while watch.next_within(Duration::from_secs(3)).await.is_some() {}
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the watch ended with its timeout"
    );
    // Without allowWatchBookmarks, none is sent.
    let (_, mut quiet) = Watch::open(
        &double,
        &format!("/api/v1/services?watch=true&resourceVersion={}", rv + 1),
    )
    .await;
    assert!(quiet
        .next_within(Duration::from_millis(300))
        .await
        .is_none());
}

#[tokio::test]
async fn compacted_history_is_gone() {
    let double = KubeDouble::start_with(
        crate::free_port(),
        KubeOptions {
            history: 3,
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    // Five objects (and a namespace) written; three events kept.
    let (_, mut watch) =
        Watch::open(&double, "/api/v1/services?watch=true&resourceVersion=2").await;
    let error = watch.next().await;
    assert_eq!(error["type"], "ERROR");
    assert_eq!(
        (
            error["object"]["code"].as_u64(),
            error["object"]["reason"].as_str()
        ),
        (Some(410), Some("Expired"))
    );
    assert!(
        watch.next_within(Duration::from_secs(2)).await.is_none(),
        "the stream ends after the error"
    );
    let rv = double.resource_version();
    let (_, mut recent) = Watch::open(
        &double,
        &format!("/api/v1/services?watch=true&resourceVersion={rv}"),
    )
    .await;
    double.compact();
    double.delete("Service", "apps", "web").expect("delete");
    assert_eq!(
        summary(&recent.next().await).0,
        "DELETED",
        "an open watch lives through a compaction"
    );
    let (_, mut old) = Watch::open(
        &double,
        &format!("/api/v1/services?watch=true&resourceVersion={}", rv - 1),
    )
    .await;
    assert_eq!(old.next().await["object"]["code"], 410);
    let (status, body) = get(
        &double,
        &format!(
            "/api/v1/services?resourceVersion={}&resourceVersionMatch=Exact",
            rv - 1
        ),
    )
    .await;
    assert_eq!((status, body["reason"].as_str()), (410, Some("Expired")));
}

#[tokio::test]
async fn selection_changes_show_as_added_and_deleted() {
    let double = loaded();
    let rv = double.resource_version();
    let (_, mut watch) = Watch::open(
        &double,
        &format!("/api/v1/services?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}"),
    )
    .await;
    let relabel = |app: &str| {
        format!("{{apiVersion: v1, kind: Service, metadata: {{name: db, namespace: apps, labels: {{app: {app}}}}}, spec: {{ports: [{{port: 5432}}]}}}}")
    };
    double.apply(&relabel("web")).expect("into the selection");
    double.apply(&relabel("db")).expect("out of it");
    let entered = summary(&watch.next().await);
    let left = summary(&watch.next().await);
    assert_eq!((entered.0.as_str(), entered.1.as_str()), ("ADDED", "db"));
    assert_eq!((left.0.as_str(), left.1.as_str()), ("DELETED", "db"));
    assert_eq!(
        left.2,
        double.resource_version().to_string(),
        "at the version of the change"
    );
}

#[tokio::test]
async fn closed_watches_end_and_resume() {
    let double = loaded();
    let rv = double.resource_version();
    let path = format!("/api/v1/services?watch=true&resourceVersion={rv}");
    let (_, mut watch) = Watch::open(&double, &path).await;
    double.close_watches();
    assert!(
        watch.next_within(Duration::from_secs(2)).await.is_none(),
        "the watch ended"
    );
    double.delete("Service", "apps", "db").expect("delete");
    // Watching again from the same version replays what was missed.
    let (_, mut again) = Watch::open(&double, &path).await;
    assert_eq!(summary(&again.next().await).0, "DELETED");
}

#[tokio::test]
async fn expired_apply_forces_a_relist() {
    let double = loaded();
    let rv = double.resource_version();
    let path = format!("/api/v1/services?watch=true&resourceVersion={rv}");
    let (_, mut watch) = Watch::open(&double, &path).await;
    double
        .apply_expired(
            "{apiVersion: v1, kind: Service, metadata: {name: late}, spec: {ports: [{port: 1}]}}",
        )
        .expect("apply");
    assert!(
        watch.next_within(Duration::from_secs(2)).await.is_none(),
        "the watch ended without the event"
    );
    let (_, mut again) = Watch::open(&double, &path).await;
    assert_eq!(again.next().await["object"]["code"], 410);
    let (_, list) = get(
        &double,
        "/api/v1/services?fieldSelector=metadata.name%3Dlate",
    )
    .await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
}
