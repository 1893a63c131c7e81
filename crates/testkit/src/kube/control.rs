//! `/_double/...`: how a test outside the process changes the cluster.
//!
//! - `POST /_double/apply` with a YAML manifest: creates or replaces each
//!   object; answers `[{kind, namespace, name, resourceVersion}]`.
//!   With `?expire=true`, every watch ends first and the history is
//!   forgotten after: clients must list again to see the change.
//! - `POST /_double/delete` with a YAML manifest: deletes each object named.
//! - `POST /_double/ready?namespace=&name=&address=&ready=true|false`:
//!   marks an endpoint of an EndpointSlice (un)ready.
//! - `POST /_double/compact`: forgets the event history (older watches get 410).
//! - `POST /_double/close-watches`: ends every open watch.
//! - `GET /_double/requests`: every request seen, as `METHOD path?query accept=... HTTP/x`.

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::error::ApiError;
use super::server::{error_response, json_response, Body, Shared};
use super::store::Store;
use super::yaml;

fn summary(object: &Value) -> Value {
    json!({
        "kind": object["kind"],
        "namespace": object.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null),
        "name": object["metadata"]["name"],
        "resourceVersion": object["metadata"]["resourceVersion"],
    })
}

/// Applies every object of `text`, stopping at the first refused.
pub fn apply(store: &mut Store, text: &str) -> Result<Vec<Value>, ApiError> {
    let objects = yaml::objects(text).map_err(ApiError::bad_request)?;
    objects
        .into_iter()
        .map(|o| store.apply(o).map(|s| summary(&s)))
        .collect()
}

/// Ends every watch, applies `text` and forgets the history, at once: as
/// after an API server restart that lost its watch cache, every client
/// resuming from the version it had gets `410` and must list again.
pub fn apply_expired(shared: &Shared, text: &str) -> Result<Vec<Value>, ApiError> {
    let mut store = shared.store();
    shared.close_watches.send_modify(|n| *n += 1);
    let applied = apply(&mut store, text);
    store.compact();
    applied
}

/// Deletes every object `text` names.
pub fn delete(store: &mut Store, text: &str) -> Result<Vec<Value>, ApiError> {
    let objects = yaml::objects(text).map_err(ApiError::bad_request)?;
    objects
        .iter()
        .map(|o| store.delete_object(o).map(|s| summary(&s)))
        .collect()
}

/// Sets `conditions.ready` (and `serving`) of the endpoint of EndpointSlice
/// `namespace/name` that has `address`.
pub fn set_ready(
    store: &mut Store,
    namespace: &str,
    name: &str,
    address: &str,
    ready: bool,
) -> Result<(), ApiError> {
    let index = super::resources::by_kind("discovery.k8s.io/v1", "EndpointSlice")
        .ok_or_else(ApiError::no_resource)?;
    let slice = store
        .get(index, namespace, name)
        .ok_or_else(|| ApiError::not_found("endpointslices", "discovery.k8s.io", name))?;
    let mut slice = (*slice).clone();
    let mut found = false;
    if let Some(endpoints) = slice.get_mut("endpoints").and_then(Value::as_array_mut) {
        for endpoint in endpoints {
            let has = endpoint["addresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(address)));
            if has {
                endpoint["conditions"]["ready"] = json!(ready);
                endpoint["conditions"]["serving"] = json!(ready);
                found = true;
            }
        }
    }
    if !found {
        return Err(ApiError::invalid(format!(
            "no endpoint with address {address} in {namespace}/{name}"
        )));
    }
    store.apply(slice).map(|_| ())
}

pub async fn handle(path: &str, req: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let method = req.method().clone();
    let query = super::server::query_map(req.uri().query());
    let body = match req.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(e) => return error_response(&ApiError::bad_request(format!("reading the body: {e}"))),
    };
    let result = match (method, path) {
        (Method::POST, "apply") if query.get("expire").is_some_and(|v| v == "true") => {
            apply_expired(shared, &body).map(Value::from)
        }
        (Method::POST, "apply") => apply(&mut shared.store(), &body).map(Value::from),
        (Method::POST, "delete") => delete(&mut shared.store(), &body).map(Value::from),
        (Method::POST, "compact") => {
            shared.store().compact();
            Ok(json!({}))
        }
        (Method::POST, "ready") => {
            let get = |k: &str| query.get(k).map_or("", String::as_str);
            set_ready(
                &mut shared.store(),
                get("namespace"),
                get("name"),
                get("address"),
                get("ready") != "false",
            )
            .map(|()| json!({}))
        }
        (Method::POST, "close-watches") => {
            shared.close_watches.send_modify(|n| *n += 1);
            Ok(json!({}))
        }
        (Method::GET, "requests") => {
            let log = shared
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Ok(json!(*log))
        }
        _ => Err(ApiError::no_resource()),
    };
    match result {
        Ok(v) => json_response(&v),
        Err(e) => error_response(&e),
    }
}
