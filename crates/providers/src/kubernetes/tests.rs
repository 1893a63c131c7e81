//! The client against the testkit's API server double.

use std::sync::Arc;
use std::time::Duration;

use switchyard_testkit::{wait_until, KubeDouble, KubeOptions};

use super::*;

const MANIFEST: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apps, labels: {app: web}}
spec: {ports: [{port: 80}]}
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
"#;

fn client(double: &KubeDouble, token: &str) -> Arc<ApiClient> {
    let settings = ConnectionSettings {
        endpoint: double.endpoint(),
        token: token.to_string(),
        cert_auth_file_path: String::new(),
    };
    let connection =
        Connection::resolve_with(&settings, |_| None, std::path::Path::new("/nonexistent"))
            .expect("resolves");
    Arc::new(ApiClient::new(connection).expect("client"))
}

fn services(namespace: &str, labels: &str) -> Selection {
    Selection {
        resource: Resource::new("", "v1", "services"),
        namespace: namespace.to_string(),
        label_selector: labels.to_string(),
    }
}

fn names(store: &Store) -> Vec<String> {
    store
        .list()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or(""),
                o["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect()
}

async fn until_names(store: &Store, want: &[&str]) {
    wait_until(
        &format!("store holding {want:?}"),
        Duration::from_secs(10),
        || async { (names(store) == want).then_some(()) },
    )
    .await;
}

fn lists(double: &KubeDouble) -> usize {
    double
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/services?") && !r.contains("watch=true"))
        .count()
}

#[tokio::test]
async fn lists_then_follows_the_watch() {
    let double = KubeDouble::start();
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, ""), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    assert!(store.has_synced());
    let mut changes = store.subscribe();
    double
        .apply("{apiVersion: v1, kind: Service, metadata: {name: web, namespace: apps, labels: {app: web2}}, spec: {ports: [{port: 80}]}}")
        .expect("modify");
    double.delete("Service", "apps", "db").expect("delete");
    double.apply("{apiVersion: v1, kind: Service, metadata: {name: new, namespace: apps}, spec: {ports: [{port: 1}]}}").expect("add");
    until_names(&store, &["apps/new", "apps/web", "default/other"]).await;
    assert_eq!(
        store
            .get("apps", "web")
            .map(|w| w["metadata"]["labels"]["app"].clone()),
        Some(serde_json::json!("web2"))
    );
    assert!(changes.has_changed().unwrap_or(false), "readers are told");
    assert_eq!(lists(&double), 1, "one list, then only the watch");
    let watches: Vec<String> = double
        .requests()
        .into_iter()
        .filter(|r| r.contains("watch=true"))
        .collect();
    assert!(
        watches
            .iter()
            .all(|w| w.contains("allowWatchBookmarks=true") && w.contains("timeoutSeconds=")),
        "{watches:?}"
    );
    assert!(
        watches.iter().any(|w| w.contains("resourceVersion=")),
        "{watches:?}"
    );
    let _ = changes.borrow_and_update();
}

#[tokio::test]
async fn namespace_and_label_selection() {
    let double = KubeDouble::start();
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, ""), services("apps", "app!=db"));
    let store = reflector.store().clone();
    until_names(&store, &["apps/web"]).await;
    // Relabelled out of the selection: gone from the copy.
    double
        .apply("{apiVersion: v1, kind: Service, metadata: {name: web, namespace: apps, labels: {app: db}}, spec: {ports: [{port: 80}]}}")
        .expect("relabel");
    until_names(&store, &[]).await;
}

#[tokio::test]
async fn lists_again_after_410() {
    let double = KubeDouble::start();
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, ""), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    double
        .apply_expired(
            "{apiVersion: v1, kind: Service, metadata: {name: late}, spec: {ports: [{port: 1}]}}",
        )
        .expect("apply");
    until_names(
        &store,
        &["apps/db", "apps/web", "default/late", "default/other"],
    )
    .await;
    assert_eq!(lists(&double), 2, "listed again once");
}

#[tokio::test]
async fn keeps_its_copy_and_reconnects() {
    let mut double = KubeDouble::start_with(
        switchyard_testkit::free_port(),
        KubeOptions {
            token: Some("s3cret".to_string()),
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, "s3cret"), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    double.stop();
    double
        .delete("Service", "apps", "db")
        .expect("delete while down");
    // A while unreachable: the copy stays.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(names(&store).len(), 3);
    double.restart();
    until_names(&store, &["apps/web", "default/other"]).await;
}

#[tokio::test]
async fn refused_token_keeps_it_unsynced() {
    let double = KubeDouble::start_with(
        switchyard_testkit::free_port(),
        KubeOptions {
            token: Some("s3cret".to_string()),
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    let c = client(&double, "wrong");
    let refused = c.list("/api/v1/services", &[]).await.err();
    assert!(
        matches!(refused, Some(KubeError::Status { code: 401, .. })),
        "{refused:?}"
    );
    let reflector = Reflector::start(c, services("", ""));
    wait_until(
        "lists again after backing off",
        Duration::from_secs(5),
        || async { (lists(&double) >= 3).then_some(()) },
    )
    .await;
    assert!(!reflector.store().has_synced());
}

#[tokio::test]
async fn bookmarks_move_the_version_on() {
    let double = KubeDouble::start_with(
        switchyard_testkit::free_port(),
        KubeOptions {
            bookmark_every: Duration::from_millis(50),
            history: 2,
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, ""), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    // Many changes to another kind push the services' last event out of
    // the history; bookmarks keep the reflector's version recent, so
    // resuming after the watch closes needs no new list.
    for i in 0..5 {
        double
            .apply(&format!(
                "{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}}}, data: {{a: b}}}}"
            ))
            .expect("configmap");
    }
    let rv = double.resource_version();
    wait_until(
        "a bookmark at the latest version",
        Duration::from_secs(5),
        || async { (store.resource_version() == rv.to_string()).then_some(()) },
    )
    .await;
    double.close_watches();
    wait_until(
        "a watch from the bookmark's version",
        Duration::from_secs(5),
        || async {
            double
                .requests()
                .iter()
                .any(|r| r.contains(&format!("resourceVersion={rv}")) && r.contains("watch=true"))
                .then_some(())
        },
    )
    .await;
    assert_eq!(lists(&double), 1, "no list needed");
}

#[tokio::test]
async fn over_tls_with_the_ca_file() {
    let double = KubeDouble::start_with(
        switchyard_testkit::free_port(),
        KubeOptions {
            tls: true,
            ..KubeOptions::default()
        },
    );
    double.apply(MANIFEST).expect("manifest");
    let connect = |ca: String| {
        let settings = ConnectionSettings {
            endpoint: double.endpoint(),
            token: String::new(),
            cert_auth_file_path: ca,
        };
        let connection =
            Connection::resolve_with(&settings, |_| None, std::path::Path::new("/nonexistent"))
                .expect("resolves");
        Arc::new(ApiClient::new(connection).expect("client"))
    };
    // Without the CA the certificate is not trusted.
    let untrusted = connect(String::new()).list("/api/v1/services", &[]).await;
    assert!(
        matches!(untrusted, Err(KubeError::Connect(_))),
        "{untrusted:?}"
    );
    let ca = switchyard_testkit::tls::ca_path().display().to_string();
    let reflector = Reflector::start(connect(ca), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    double.delete("Service", "apps", "db").expect("delete");
    until_names(&store, &["apps/web", "default/other"]).await;
}

#[tokio::test]
async fn lists_every_page() {
    let double = KubeDouble::start();
    let mut manifest = String::new();
    for i in 0..1200 {
        manifest.push_str(&format!(
            "---\n{{apiVersion: v1, kind: Service, metadata: {{name: s{i:04}, namespace: many}}, spec: {{ports: [{{port: 80}}]}}}}\n"
        ));
    }
    double.apply(&manifest).expect("manifest");
    let list = client(&double, "")
        .list("/api/v1/namespaces/many/services", &[])
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1200);
    assert_eq!(list.items[1199]["metadata"]["name"], "s1199");
    let pages = double
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/namespaces/many/services?limit=500"))
        .count();
    assert_eq!(pages, 3, "500 + 500 + 200");
}

/// Every change in the API server reaches the local copy, each one seen
/// in turn (none lost, none taken for another). How fast is the bench's
/// business (bench/README.md), not a test's: timings on this shared
/// machine would make it flaky.
#[tokio::test]
async fn every_change_reaches_the_copy() {
    let double = KubeDouble::start();
    double.apply(MANIFEST).expect("manifest");
    let reflector = Reflector::start(client(&double, ""), services("", ""));
    let store = reflector.store().clone();
    until_names(&store, &["apps/db", "apps/web", "default/other"]).await;
    let mut took = Vec::new();
    for i in 0..20 {
        let start = std::time::Instant::now();
        double
            .apply(&format!("{{apiVersion: v1, kind: Service, metadata: {{name: web, namespace: apps, labels: {{round: r{i}}}}}, spec: {{ports: [{{port: 80}}]}}}}"))
            .expect("change");
        let want = format!("r{i}");
        let mut changes = store.subscribe();
        while store
            .get("apps", "web")
            .map(|w| w["metadata"]["labels"]["round"].clone())
            != Some(serde_json::json!(want))
        {
            tokio::time::timeout(Duration::from_secs(10), changes.changed())
                .await
                .unwrap_or_else(|_| panic!("change r{i} never reached the copy"))
                .expect("store alive");
        }
        took.push(start.elapsed());
    }
    took.sort();
    eprintln!(
        "change to local copy: median {:?}, max {:?}",
        took[10], took[19]
    );
    // The other objects were not disturbed by the changes to one.
    assert!(store.get("apps", "db").is_some() && store.get("default", "other").is_some());
}
