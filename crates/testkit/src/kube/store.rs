//! The objects of the double and their history: one resource-version
//! counter for every kind (as etcd's revision), a bounded history of
//! events that watches resume from, and a broadcast of each new event.
//!
//! The server-side bookkeeping follows the API server: `uid`,
//! `creationTimestamp`, `generation` (moved by changes outside metadata and
//! status) and `resourceVersion` are the store's; an update that changes
//! nothing moves nothing and emits no event; a kind with a status
//! subresource keeps its status through writes of the object itself.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::resources::{by_kind, Resource, RESOURCES};
use super::selector::{FieldSelector, LabelSelector};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn name(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, at resource version `rv`.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub resource: usize,
    pub kind: EventType,
    /// The object before a modification.
    pub old: Option<Arc<Value>>,
    /// The object after the change (for a deletion: its last state, with
    /// the deletion's resource version).
    pub object: Arc<Value>,
}

/// Which objects a list or watch asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, object: &Value) -> bool {
        let ns_ok = self.namespace.as_deref().is_none_or(|ns| {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                == Some(ns)
        });
        ns_ok && self.labels.matches(object) && self.fields.matches(object)
    }
}

type Key = (usize, String, String);

/// The events a watch replays, and its subscription to the ones to come.
pub type Resume = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// The store; callers hold it behind one lock.
pub struct Store {
    rv: u64,
    uid: u64,
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Watches from a version below this one find their events gone.
    compacted: u64,
    events: broadcast::Sender<Arc<Event>>,
}

/// `2026-12-07T16:50:00Z` for now.
pub fn timestamp_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Days to civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn name_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

/// The object without what the store manages, to tell real changes apart.
fn content(object: &Value) -> Value {
    let mut c = object.clone();
    if let Some(meta) = c.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(k);
        }
    }
    c
}

/// Whether anything outside metadata and status differs (moves `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.remove("metadata");
        m.remove("status");
        m
    };
    strip(old) != strip(new)
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        let (events, _) = broadcast::channel(4096);
        let mut store = Store {
            rv: 1,
            uid: 0,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            events,
        };
        for ns in ["default", "kube-system"] {
            let _ = store
                .apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        store
    }

    /// The latest resource version.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest version a watch may resume from.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    fn emit(
        &mut self,
        resource: usize,
        kind: EventType,
        old: Option<Arc<Value>>,
        object: Arc<Value>,
    ) {
        let event = Arc::new(Event {
            rv: self.rv,
            resource,
            kind,
            old,
            object,
        });
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(gone) = self.history.pop_front() {
                self.compacted = gone.rv;
            }
        }
        let _ = self.events.send(event);
    }

    /// Forgets every past event, as an etcd compaction does: watches from
    /// any version before now get `410 Gone`.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// Where `object` (with `apiVersion` and `kind`) is stored.
    fn key_of(&self, object: &Value) -> Result<(Key, &'static Resource), ApiError> {
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
        let index = by_kind(api_version, kind).ok_or_else(|| {
            ApiError::bad_request(format!(
                "no kind {kind:?} is registered for version {api_version:?}"
            ))
        })?;
        let resource = &RESOURCES[index];
        let name = name_of(object)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid(format!("{kind}: metadata.name: Required value")))?;
        let namespace = if resource.namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .unwrap_or("default")
        } else {
            ""
        };
        Ok(((index, namespace.to_string(), name.to_string()), resource))
    }

    /// The stored object.
    pub fn get(&self, resource: usize, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(&(resource, namespace.to_string(), name.to_string()))
            .cloned()
    }

    /// The objects of one kind that `filter` selects, in key order, and
    /// the version of that list.
    pub fn list(&self, resource: usize, filter: &Filter) -> (u64, Vec<Arc<Value>>) {
        let items = self
            .objects
            .range(
                (resource, String::new(), String::new())
                    ..(resource + 1, String::new(), String::new()),
            )
            .map(|(_, v)| v)
            .filter(|o| filter.matches(o))
            .cloned()
            .collect();
        (self.rv, items)
    }

    /// Creates or replaces an object (`kubectl apply` without the
    /// three-way merge): the server's metadata is kept, and the status too
    /// when the kind has a status subresource and the object brings none.
    pub fn apply(&mut self, object: Value) -> Result<Arc<Value>, ApiError> {
        let (key, _) = self.key_of(&object)?;
        if self.objects.contains_key(&key) {
            self.write(object, false, false)
        } else {
            self.write(object, true, false)
        }
    }

    /// `POST`: creates, or `409` if the name is taken.
    pub fn create(&mut self, object: Value) -> Result<Arc<Value>, ApiError> {
        self.write(object, true, true)
    }

    /// `PUT` on the object: replaces it (`409` on a stale `resourceVersion`).
    pub fn update(&mut self, object: Value) -> Result<Arc<Value>, ApiError> {
        self.write(object, false, true)
    }

    fn write(
        &mut self,
        mut object: Value,
        create: bool,
        strict: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let ((index, namespace, name), resource) = self.key_of(&object)?;
        let key = (index, namespace.clone(), name.clone());
        let old = self.objects.get(&key).cloned();
        match (&old, create) {
            (Some(_), true) => {
                return Err(ApiError::already_exists(
                    resource.plural,
                    resource.group,
                    &name,
                ))
            }
            (None, false) => {
                return Err(ApiError::not_found(resource.plural, resource.group, &name))
            }
            _ => {}
        }
        if let Some(old) = &old {
            let given = object
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            let stored = old
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            if strict && given.is_some_and(|g| !g.is_empty() && Some(g) != stored) {
                return Err(ApiError::conflict(resource.plural, resource.group, &name));
            }
        }
        if !object.get("metadata").is_some_and(Value::is_object) {
            object["metadata"] = json!({});
        }
        object["apiVersion"] = json!(resource.storage_api_version());
        if resource.namespaced {
            object["metadata"]["namespace"] = json!(namespace);
            self.ensure_namespace(&namespace);
        } else if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("namespace");
        }
        super::defaults::apply(resource.kind, &mut object);
        if let Some(old) = &old {
            if resource.status && (strict || object.get("status").is_none()) {
                match old.get("status") {
                    Some(status) => object["status"] = status.clone(),
                    None => {
                        if let Some(o) = object.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            for k in ["uid", "creationTimestamp"] {
                object["metadata"][k] = old["metadata"][k].clone();
            }
            let generation = old["metadata"]["generation"].as_u64().unwrap_or(1);
            object["metadata"]["generation"] = json!(if spec_changed(old, &object) {
                generation + 1
            } else {
                generation
            });
            object["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
            if content(old) == content(&object) {
                return Ok(old.clone());
            }
        } else {
            self.uid += 1;
            object["metadata"]["uid"] =
                json!(format!("{:08x}-d0b1-4e00-8000-{:012x}", index, self.uid));
            object["metadata"]["creationTimestamp"] = json!(timestamp_now());
            object["metadata"]["generation"] = json!(1);
        }
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let object = Arc::new(object);
        self.objects.insert(key, object.clone());
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(index, kind, old, object.clone());
        Ok(object)
    }

    /// A namespaced object's namespace is created with it (the real API
    /// server refuses objects in a missing namespace; tests need not care).
    fn ensure_namespace(&mut self, namespace: &str) {
        if self.get(0, "", namespace).is_none() {
            let _ = self.write(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                true,
                false,
            );
        }
    }

    /// `PUT .../status`: replaces the status only.
    pub fn update_status(
        &mut self,
        resource: usize,
        namespace: &str,
        name: &str,
        object: &Value,
    ) -> Result<Arc<Value>, ApiError> {
        let r = &RESOURCES[resource];
        let old = self
            .get(resource, namespace, name)
            .ok_or_else(|| ApiError::not_found(r.plural, r.group, name))?;
        let given = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if given.is_some_and(|g| {
            !g.is_empty()
                && Some(g)
                    != old
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str)
        }) {
            return Err(ApiError::conflict(r.plural, r.group, name));
        }
        let mut new = (*old).clone();
        match object.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        if new == *old {
            return Ok(old);
        }
        self.rv += 1;
        new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let new = Arc::new(new);
        self.objects.insert(
            (resource, namespace.to_string(), name.to_string()),
            new.clone(),
        );
        self.emit(resource, EventType::Modified, Some(old), new.clone());
        Ok(new)
    }

    /// Deletes an object; its last state (at the deletion's version) is returned.
    pub fn delete(
        &mut self,
        resource: usize,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let r = &RESOURCES[resource];
        let old = self
            .objects
            .remove(&(resource, namespace.to_string(), name.to_string()))
            .ok_or_else(|| ApiError::not_found(r.plural, r.group, name))?;
        self.rv += 1;
        let mut last = (*old).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        self.emit(resource, EventType::Deleted, None, last.clone());
        Ok(last)
    }

    /// Deletes the object a manifest describes (by kind, namespace and name).
    pub fn delete_object(&mut self, object: &Value) -> Result<Arc<Value>, ApiError> {
        let ((index, namespace, name), _) = self.key_of(object)?;
        self.delete(index, &namespace, &name)
    }

    /// The events after `rv` of kind `resource`, and a subscription to
    /// the ones to come (taken under the same lock: no event falls between),
    /// or `410` when the history no longer reaches back to `rv`.
    pub fn watch_from(&self, resource: usize, rv: u64) -> Result<Resume, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::expired(rv, self.compacted));
        }
        let past = self
            .history
            .iter()
            .filter(|e| e.rv > rv && e.resource == resource)
            .cloned()
            .collect();
        Ok((past, self.events.subscribe()))
    }

    /// A subscription to every event to come.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }
}
