//! One kind's local copy, kept as client-go's reflector keeps it: list,
//! then watch from the list's version (bookmarks moving it on), watch
//! again from the last version when a watch ends, list again when the
//! server answers `410 Gone`, and back off (100 ms doubling to 30 s)
//! while it cannot be reached. No polling: between changes nothing is sent.
//! The copy lives through outages: what was last seen stays until a list
//! says otherwise.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use super::client::ApiClient;
use super::KubeError;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A watch asks the server to end it after 5 to 10 minutes, as client-go.
const WATCH_SECONDS: (u64, u64) = (300, 600);

/// A kind of object, and where it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `""` for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
}

impl Resource {
    pub fn new(group: &str, version: &str, plural: &str) -> Resource {
        Resource {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
        }
    }

    /// The collection's path, in `namespace` or (empty) in all of them.
    pub fn collection(&self, namespace: &str) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        if namespace.is_empty() {
            format!("{root}/{}", self.plural)
        } else {
            format!("{root}/namespaces/{namespace}/{}", self.plural)
        }
    }
}

/// `(namespace, name)`; the namespace is empty for cluster-wide kinds.
pub type ObjectKey = (String, String);

fn key_of(object: &Value) -> Option<ObjectKey> {
    let meta = object.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let namespace = meta
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    Some((namespace, name))
}

/// The local copy of one kind, shared with its readers.
pub struct Store {
    objects: RwLock<BTreeMap<ObjectKey, Arc<Value>>>,
    /// Moves on every change, and first when the first list is in.
    changes: watch::Sender<u64>,
    synced: std::sync::atomic::AtomicBool,
    /// The version the copy is at (from the list, events and bookmarks).
    version: RwLock<String>,
}

impl Store {
    fn new() -> Store {
        Store {
            objects: RwLock::new(BTreeMap::new()),
            changes: watch::channel(0).0,
            synced: std::sync::atomic::AtomicBool::new(false),
            version: RwLock::new(String::new()),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ObjectKey, Arc<Value>>> {
        self.objects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ObjectKey, Arc<Value>>> {
        self.objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    fn replace(&self, items: Vec<Value>) {
        let fresh: BTreeMap<ObjectKey, Arc<Value>> = items
            .into_iter()
            .filter_map(|o| Some((key_of(&o)?, Arc::new(o))))
            .collect();
        *self.write() = fresh;
        self.synced
            .store(true, std::sync::atomic::Ordering::Release);
        self.changed();
    }

    fn upsert(&self, object: Value) {
        if let Some(key) = key_of(&object) {
            self.write().insert(key, Arc::new(object));
            self.changed();
        }
    }

    fn remove(&self, object: &Value) {
        if let Some(key) = key_of(object) {
            if self.write().remove(&key).is_some() {
                self.changed();
            }
        }
    }

    /// Every object, in namespace and name order.
    pub fn list(&self) -> Vec<Arc<Value>> {
        self.read().values().cloned().collect()
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.read()
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    fn set_version(&self, rv: &str) {
        *self
            .version
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = rv.to_string();
    }

    /// The resource version the copy is at.
    pub fn resource_version(&self) -> String {
        self.version
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Counts the copy as listed though the list was refused for good
    /// (the kind is not served, or not allowed): its readers go on with
    /// what it holds (nothing, the first time) while it keeps trying.
    fn give_up_first_list(&self) {
        if !self.synced.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.changed();
        }
    }

    /// Whether a first list has been read (or refused for good).
    pub fn has_synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Told of every change (the counter's value means nothing).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// What one reflector follows.
#[derive(Debug, Clone)]
pub struct Selection {
    pub resource: Resource,
    /// Empty: all namespaces.
    pub namespace: String,
    pub label_selector: String,
}

/// Keeps a [`Store`] of one kind up to date until dropped.
pub struct Reflector {
    store: Arc<Store>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Reflector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Reflector {
    /// Starts following `selection` (on the current Tokio runtime).
    pub fn start(client: Arc<ApiClient>, selection: Selection) -> Reflector {
        let store = Arc::new(Store::new());
        let task = tokio::spawn(run(client, selection, store.clone()));
        Reflector { store, task }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// Why `collection` cannot be read, in words a cluster operator can act
/// on: a 404 means the kind is not served (a CRD not installed), a 403
/// names the RBAC rule missing, a 401 the token. Others as they are.
pub fn explain(selection: &Selection, verb: &str, error: &KubeError) -> String {
    let r = &selection.resource;
    let group = if r.group.is_empty() {
        "\"\" (core)".to_string()
    } else {
        r.group.clone()
    };
    match error {
        KubeError::Status { code: 404, .. } if r.group == "traefik.io" => format!(
            "{}.{} is not served by the API server: the Traefik CRDs are not installed; apply them: kubectl apply -f https://raw.githubusercontent.com/traefik/traefik/v3.7/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml",
            r.plural, r.group
        ),
        KubeError::Status { code: 404, .. } => format!(
            "{} ({}/{}) is not served by the API server (a Kubernetes older than this kind?)",
            r.plural, group, r.version
        ),
        KubeError::Status { code: 403, message, .. } => {
            let scope = if selection.namespace.is_empty() {
                "a ClusterRole bound with a ClusterRoleBinding".to_string()
            } else {
                format!("a Role in namespace {:?} (or a ClusterRole)", selection.namespace)
            };
            format!(
                "RBAC refused to {verb} {}: grant the verbs get, list and watch on resource {:?} of API group {group} to the service account, in {scope} (deploy/kubernetes/rbac.yaml has every rule needed); the API server said: {message}",
                r.plural, r.plural
            )
        }
        KubeError::Status { code: 401, .. } => format!(
            "the API server refused the token (401) to {verb} {}: check the service account token (or `token`)",
            r.plural
        ),
        other => other.to_string(),
    }
}

/// Whether a failure is this kind's alone and will not go away by itself
/// (a CRD not installed, an RBAC rule missing): the other kinds go on
/// without it. A refused token (401) is not: every kind fails with it, and
/// going on would replace the configuration with an empty one.
fn is_refusal(error: &KubeError) -> bool {
    matches!(
        error,
        KubeError::Status {
            code: 403 | 404,
            ..
        }
    )
}

/// A pseudo-random watch length in the range, so watches do not all end together.
fn watch_seconds() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    WATCH_SECONDS.0 + nanos % (WATCH_SECONDS.1 - WATCH_SECONDS.0)
}

/// What ended a watch.
enum Ended {
    /// Closed by the server: watch again from the last version.
    Closed,
    /// The version is too old: list again.
    Expired,
    Failed(KubeError),
}

async fn run(client: Arc<ApiClient>, selection: Selection, store: Arc<Store>) {
    let collection = selection.resource.collection(&selection.namespace);
    let params = [("labelSelector", selection.label_selector.as_str())];
    let mut backoff = FIRST_BACKOFF;
    let mut version: Option<String> = None;
    // The refusal last logged, so a kind refused for good is not logged
    // at every retry.
    let mut refused: Option<String> = None;
    loop {
        let rv = match &version {
            Some(rv) => rv.clone(),
            None => match client.list(&collection, &params).await {
                Ok(list) => {
                    if refused.take().is_some() {
                        tracing::info!(collection = %collection, "listed after being refused");
                    }
                    tracing::debug!(collection = %collection, objects = list.items.len(), resource_version = %list.resource_version, "listed");
                    store.replace(list.items);
                    store.set_version(&list.resource_version);
                    version = Some(list.resource_version.clone());
                    list.resource_version
                }
                Err(e) if is_refusal(&e) => {
                    // Said once per kind and kind of refusal, not every retry.
                    let said = explain(&selection, "list", &e);
                    if refused.as_deref() != Some(said.as_str()) {
                        tracing::error!(collection = %collection, retry_in = ?backoff, "cannot list: {said}; the other kinds go on without it");
                        refused = Some(said);
                    }
                    store.give_up_first_list();
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => {
                    let e = explain(&selection, "list", &e);
                    tracing::warn!(collection = %collection, error = %e, retry_in = ?backoff, "cannot list; keeping the last objects seen");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        let started = Instant::now();
        let ended = match client
            .watch(&collection, &params, &rv, watch_seconds())
            .await
        {
            Ok(mut stream) => {
                let mut ended = Ended::Closed;
                while let Some(event) = stream.next().await {
                    let event = match event {
                        Ok(e) => e,
                        Err(e) => {
                            ended = Ended::Failed(e);
                            break;
                        }
                    };
                    match event.kind.as_str() {
                        "ERROR" => {
                            let code = event.object["code"].as_u64().unwrap_or(0);
                            ended = if code == 410 {
                                Ended::Expired
                            } else {
                                Ended::Failed(KubeError::Status {
                                    code: u16::try_from(code).unwrap_or(0),
                                    reason: event.object["reason"]
                                        .as_str()
                                        .unwrap_or("")
                                        .to_string(),
                                    message: event.object["message"]
                                        .as_str()
                                        .unwrap_or("")
                                        .to_string(),
                                })
                            };
                            break;
                        }
                        kind => {
                            if let Some(rv) = event
                                .object
                                .pointer("/metadata/resourceVersion")
                                .and_then(Value::as_str)
                            {
                                version = Some(rv.to_string());
                                store.set_version(rv);
                            }
                            backoff = FIRST_BACKOFF;
                            match kind {
                                "ADDED" | "MODIFIED" => store.upsert(event.object),
                                "DELETED" => store.remove(&event.object),
                                _ => {}
                            }
                        }
                    }
                }
                ended
            }
            Err(KubeError::Status { code: 410, .. }) => Ended::Expired,
            Err(e) => Ended::Failed(e),
        };
        match ended {
            Ended::Expired => {
                tracing::debug!(collection = %collection, "resource version expired; listing again");
                version = None;
            }
            Ended::Closed if started.elapsed() > Duration::from_secs(1) => {}
            Ended::Closed => {
                // Closed at once: do not spin on a server that does so.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Ended::Failed(e) => {
                let e = explain(&selection, "watch", &e);
                tracing::warn!(collection = %collection, error = %e, retry_in = ?backoff, "watch failed; keeping the last objects seen");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: u16) -> KubeError {
        KubeError::Status {
            code,
            reason: String::new(),
            message: "said by the server".into(),
        }
    }

    #[test]
    fn refusals_are_explained() {
        let crd = Selection {
            resource: Resource::new("traefik.io", "v1alpha1", "middlewares"),
            namespace: String::new(),
            label_selector: String::new(),
        };
        let core_in_ns = Selection {
            resource: Resource::new("", "v1", "secrets"),
            namespace: "apps".into(),
            label_selector: String::new(),
        };
        // (selection, error, parts the explanation has)
        let cases: [(&Selection, KubeError, &[&str]); 5] = [
            (
                &crd,
                refused(404),
                &[
                    "middlewares.traefik.io",
                    "the Traefik CRDs are not installed",
                    "kubectl apply -f https://",
                ],
            ),
            (
                &crd,
                refused(403),
                &[
                    "RBAC refused to list middlewares",
                    "get, list and watch",
                    "API group traefik.io",
                    "ClusterRoleBinding",
                    "said by the server",
                ],
            ),
            (
                &core_in_ns,
                refused(403),
                &[
                    "resource \"secrets\"",
                    "(core)",
                    "Role in namespace \"apps\"",
                ],
            ),
            (&core_in_ns, refused(401), &["refused the token", "secrets"]),
            (
                &core_in_ns,
                KubeError::Connect("refused".into()),
                &["unreachable: refused"],
            ),
        ];
        for (selection, error, parts) in cases {
            let said = explain(selection, "list", &error);
            for part in parts {
                assert!(said.contains(part), "{part:?} not in {said:?}");
            }
            assert_eq!(
                is_refusal(&error),
                matches!(
                    error,
                    KubeError::Status {
                        code: 403 | 404,
                        ..
                    }
                ),
                "{said}"
            );
        }
    }
}
