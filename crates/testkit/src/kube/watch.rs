//! `?watch=true`: one JSON event per line over a chunked response, as the
//! API server's watch cache streams them. A watch starts from the
//! `resourceVersion` asked (its later events replayed from the history;
//! `ERROR` with a `410 Expired` status when the history no longer reaches
//! back), from the current state (`resourceVersion` absent or `0`: an
//! `ADDED` per object first), or with `sendInitialEvents=true` (the
//! current state, then a `BOOKMARK` annotated
//! `k8s.io/initial-events-end`). Objects entering or leaving the selection
//! show as `ADDED` / `DELETED`. With `allowWatchBookmarks`, a `BOOKMARK`
//! carrying the latest version goes out every bookmark interval. The
//! stream ends after `timeoutSeconds`, when the client goes, or when the
//! watcher falls too far behind (the client then resumes, as from a
//! closed watch).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::error::ApiError;
use super::resources::RESOURCES;
use super::store::{Event, EventType, Filter, Store};

/// What a watch request asked for.
pub struct WatchRequest {
    pub resource: usize,
    pub version: String,
    pub filter: Filter,
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    pub bookmark_every: Duration,
}

/// How a watch starts: lines to send first, then the live events after
/// `rv`, or an error event and the end.
pub enum Start {
    Stream {
        first: Vec<Bytes>,
        rv: u64,
        events: broadcast::Receiver<Arc<Event>>,
    },
    Gone(Bytes),
}

/// The object as served at `version` (only `apiVersion` differs).
pub fn at_version(object: &Value, resource: usize, version: &str) -> Value {
    let mut copy = object.clone();
    let r = &RESOURCES[resource];
    if r.versions[0] != version {
        copy["apiVersion"] = json!(r.api_version(version));
    }
    copy
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    text.push(b'\n');
    Bytes::from(text)
}

fn bookmark(req: &WatchRequest, rv: u64, initial_end: bool) -> Bytes {
    let r = &RESOURCES[req.resource];
    let mut metadata = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": r.kind, "apiVersion": r.api_version(&req.version), "metadata": metadata}),
    )
}

/// The line a watcher sees for `event`, if any.
fn convert(req: &WatchRequest, event: &Event) -> Option<Bytes> {
    if event.resource != req.resource {
        return None;
    }
    let now = req.filter.matches(&event.object);
    let (kind, object) = match event.kind {
        EventType::Added if now => ("ADDED", event.object.as_ref().clone()),
        EventType::Deleted if now => ("DELETED", event.object.as_ref().clone()),
        EventType::Modified => {
            let before = event.old.as_deref().is_some_and(|o| req.filter.matches(o));
            match (before, now) {
                (true, true) => ("MODIFIED", event.object.as_ref().clone()),
                (false, true) => ("ADDED", event.object.as_ref().clone()),
                (true, false) => {
                    // Left the selection: its previous state, at this version.
                    let mut old = event.old.as_deref().cloned().unwrap_or_default();
                    old["metadata"]["resourceVersion"] = json!(event.rv.to_string());
                    ("DELETED", old)
                }
                (false, false) => return None,
            }
        }
        _ => return None,
    };
    Some(line(kind, &at_version(&object, req.resource, &req.version)))
}

/// Decides, under the store's lock, how the watch begins.
pub fn start(store: &Store, req: &WatchRequest) -> Result<Start, ApiError> {
    let from_now = matches!(req.resource_version.as_deref(), None | Some("" | "0"));
    if req.send_initial_events || from_now {
        let (rv, items) = store.list(req.resource, &req.filter);
        let mut first: Vec<Bytes> = items
            .iter()
            .map(|o| line("ADDED", &at_version(o, req.resource, &req.version)))
            .collect();
        if req.send_initial_events {
            first.push(bookmark(req, rv, true));
        }
        return Ok(Start::Stream {
            first,
            rv,
            events: store.subscribe(),
        });
    }
    let asked = req.resource_version.as_deref().unwrap_or("0");
    let rv: u64 = asked.parse().map_err(|_| {
        ApiError::invalid(format!(
            "resourceVersion: Invalid value: {asked:?}: must be an integer"
        ))
    })?;
    match store.watch_from(req.resource, rv) {
        Ok((past, events)) => {
            let first = past.iter().filter_map(|e| convert(req, e)).collect();
            let rv = past.last().map_or(rv, |e| e.rv).max(rv);
            Ok(Start::Stream { first, rv, events })
        }
        Err(gone) => Ok(Start::Gone(line("ERROR", &gone.status()))),
    }
}

/// Streams the watch into `tx` until it ends.
pub async fn run(
    req: WatchRequest,
    start: Start,
    tx: mpsc::Sender<Bytes>,
    mut closed: tokio::sync::watch::Receiver<u64>,
) {
    let (first, mut rv, mut events) = match start {
        Start::Gone(error) => {
            let _ = tx.send(error).await;
            return;
        }
        Start::Stream { first, rv, events } => (first, rv, events),
    };
    for l in first {
        if tx.send(l).await.is_err() {
            return;
        }
    }
    let deadline = tokio::time::Instant::now() + req.timeout;
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + req.bookmark_every,
        req.bookmark_every,
    );
    // After a stall, one bookmark, not a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let out = tokio::select! {
            // A close goes before any event sent after it.
            biased;
            _ = closed.changed() => return,
            _ = tokio::time::sleep_until(deadline) => return,
            _ = tx.closed() => return,
            _ = ticks.tick(), if req.bookmarks => bookmark(&req, rv, false),
            received = events.recv() => match received {
                Ok(event) if event.rv > rv => {
                    rv = event.rv;
                    match convert(&req, &event) {
                        Some(l) => l,
                        None => continue,
                    }
                }
                Ok(_) => continue,
                // Too far behind, or the store is gone: the client resumes.
                Err(_) => return,
            },
        };
        if tx.send(out).await.is_err() {
            return;
        }
    }
}
