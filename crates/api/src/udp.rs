//! `/api/udp/{routers,services}[/{name}]`: UDP routers and services as
//! Traefik's API shows them (`pkg/api/handler_udp.go`): the configuration,
//! `error`, `status`, `using` (routers) or `usedBy` (services), `name`,
//! `provider`, and a service's `type`; lists filtered by `status`,
//! `search` and (routers) `serviceName`, ordered by name unless `sortBy`
//! names `provider` or `status`.

use serde_json::{json, Map, Value};
use switchyard_server::runtime::{ElementInfo, Elements};
use switchyard_server::Runtime;

use crate::elements::{status_text, Kind};
use crate::query::{self, Criterion, Query, SortKey};

/// The UDP elements of `kind` (routers or services).
pub fn elements(kind: Kind, runtime: &Runtime) -> &Elements {
    match kind {
        Kind::Router => &runtime.udp.routers,
        Kind::Service | Kind::Middleware => &runtime.udp.services,
    }
}

/// One element as the list and the single answer show it.
pub fn representation(e: &ElementInfo, kind: Kind) -> Value {
    let mut obj = match e.config_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if !e.errors.is_empty() {
        obj.insert("error".into(), json!(e.errors));
    }
    obj.insert("status".into(), json!(status_text(e.status)));
    if !e.links.is_empty() {
        let key = if kind == Kind::Router {
            "using"
        } else {
            "usedBy"
        };
        obj.insert(key.into(), json!(e.links));
    }
    obj.insert("name".into(), json!(e.name));
    obj.insert("provider".into(), json!(e.provider()));
    if kind != Kind::Router {
        if let Some(t) = e.kind.as_deref().filter(|t| !t.is_empty()) {
            obj.insert("type".into(), json!(t));
        }
    }
    Value::Object(obj)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The elements of `kind` a list request asks for, filtered and ordered.
pub fn list(kind: Kind, runtime: &Runtime, q: &Query) -> Vec<Value> {
    let criterion = Criterion::from_query(q);
    let mut items: Vec<Value> = elements(kind, runtime)
        .values()
        .map(|e| representation(e, kind))
        .filter(|v| {
            criterion.as_ref().is_none_or(|c| {
                c.with_status(text(v, "status"))
                    && c.search_in(&[text(v, "name")])
                    && (kind != Kind::Router || c.filter_service(text(v, "service")))
            })
        })
        .collect();
    let key: Option<fn(&Value) -> SortKey> = match q.get("sortBy") {
        "provider" => Some(|v| SortKey::Text(text(v, "provider").into())),
        "status" => Some(|v| SortKey::Text(text(v, "status").into())),
        _ => None,
    };
    query::sort(
        &mut items,
        q.get("direction"),
        |v| text(v, "name"),
        key.as_ref().map(|f| f as &dyn Fn(&Value) -> SortKey),
    );
    items
}
