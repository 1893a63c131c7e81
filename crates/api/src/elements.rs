//! Routers, services and middlewares as Traefik's API shows them: in
//! `/api/rawdata` the runtime element (configuration, `status`, `error`,
//! `using`/`usedBy`, a load balancer's `serverStatus`); in the lists and
//! single answers also `name`, `provider`, `type` and `priorityStr`.

use serde_json::{json, Map, Value};
use switchyard_server::runtime::{ElementInfo, Status};
use switchyard_server::Runtime;

use crate::query::{self, Criterion, Query, SortKey};

/// The three kinds of HTTP element the API lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Router,
    Service,
    Middleware,
}

impl Kind {
    /// The segment after `/api/http/`.
    pub fn from_segment(s: &str) -> Option<Kind> {
        match s {
            "routers" => Some(Kind::Router),
            "services" => Some(Kind::Service),
            "middlewares" => Some(Kind::Middleware),
            _ => None,
        }
    }

    /// The word the 404 message uses.
    pub fn singular(self) -> &'static str {
        match self {
            Kind::Router => "router",
            Kind::Service => "service",
            Kind::Middleware => "middleware",
        }
    }

    /// The key `/api/rawdata` files this kind under.
    pub fn raw_key(self) -> &'static str {
        match self {
            Kind::Router => "routers",
            Kind::Service => "services",
            Kind::Middleware => "middlewares",
        }
    }

    /// This kind's elements in the runtime, by name.
    pub fn elements(self, runtime: &Runtime) -> &switchyard_server::runtime::Elements {
        match self {
            Kind::Router => &runtime.info.routers,
            Kind::Service => &runtime.info.services,
            Kind::Middleware => &runtime.info.middlewares,
        }
    }

    /// The key under which an element names those that use it.
    fn links_key(self) -> &'static str {
        match self {
            Kind::Router => "using",
            Kind::Service | Kind::Middleware => "usedBy",
        }
    }
}

pub fn status_text(s: Status) -> &'static str {
    match s {
        Status::Enabled => "enabled",
        Status::Warning => "warning",
        Status::Disabled => "disabled",
    }
}

/// What follows the first `@` of a qualified name.
fn provider_of(name: &str) -> &str {
    name.split_once('@').map_or("", |(_, p)| p)
}

/// An element as `/api/rawdata` shows it.
pub fn raw(e: &ElementInfo, kind: Kind, runtime: &Runtime) -> Value {
    let mut obj = match e.config_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // The builder keeps the list's `priorityStr` and TLS options name with
    // the configuration; Traefik's raw data has the router as written (it
    // names the default options only once a list has been asked for).
    obj.remove("priorityStr");
    if let Some(tls) = obj.get_mut("tls").and_then(Value::as_object_mut) {
        if tls.get("options").and_then(Value::as_str) == Some("default") {
            tls.remove("options");
        }
    }
    if !e.errors.is_empty() {
        obj.insert("error".into(), json!(e.errors));
    }
    obj.insert("status".into(), json!(status_text(e.status)));
    if !e.links.is_empty() {
        obj.insert(kind.links_key().into(), json!(e.links));
    }
    if kind == Kind::Service {
        if let Some(status) = server_status(e, runtime) {
            obj.insert("serverStatus".into(), status);
        }
    }
    Value::Object(obj)
}

/// A load balancer's servers `UP` or `DOWN`. Traefik builds a service only
/// when a router uses it, so an unused one has no server status.
fn server_status(e: &ElementInfo, runtime: &Runtime) -> Option<Value> {
    if e.kind.as_deref() != Some("loadbalancer") || e.links.is_empty() {
        return None;
    }
    let balancer = runtime.balancers.get(&e.name)?;
    let status: Map<String, Value> = balancer
        .server_status()
        .into_iter()
        .map(|(url, up)| (url, json!(if up { "UP" } else { "DOWN" })))
        .collect();
    Some(Value::Object(status))
}

/// An element as the lists and `/api/http/{kind}/{name}` show it.
pub fn representation(e: &ElementInfo, kind: Kind, runtime: &Runtime) -> Value {
    let mut v = raw(e, kind, runtime);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("name".into(), json!(e.name));
        obj.insert("provider".into(), json!(provider_of(&e.name)));
        match kind {
            Kind::Router => {
                let priority = obj.get("priority").and_then(Value::as_i64).unwrap_or(0);
                obj.insert("priorityStr".into(), json!(priority.to_string()));
                // A TLS router without options gets the default ones.
                if let Some(tls) = obj.get_mut("tls").and_then(Value::as_object_mut) {
                    tls.entry("options").or_insert_with(|| json!("default"));
                }
            }
            Kind::Service | Kind::Middleware => {
                if let Some(t) = e.kind.as_deref().filter(|t| !t.is_empty()) {
                    obj.insert("type".into(), json!(t));
                }
            }
        }
    }
    v
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn count(v: &Value, key: &str) -> i64 {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(0, |a| i64::try_from(a.len()).unwrap_or(i64::MAX))
}

/// TCP routers, services and middlewares: the elements of `kind`.
pub fn tcp_elements(kind: Kind, runtime: &Runtime) -> &switchyard_server::runtime::Elements {
    match kind {
        Kind::Router => &runtime.info.tcp_routers,
        Kind::Service => &runtime.info.tcp_services,
        Kind::Middleware => &runtime.info.tcp_middlewares,
    }
}

/// A TCP element as `/api/rawdata` shows it (`tcpRouters`, ...): as an
/// HTTP one, with a used load balancer's servers `UP` or `DOWN`.
pub fn tcp_raw(e: &ElementInfo, kind: Kind, runtime: &Runtime) -> Value {
    let mut obj = match e.config_value() {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if !e.errors.is_empty() {
        obj.insert("error".into(), json!(e.errors));
    }
    obj.insert("status".into(), json!(status_text(e.status)));
    if !e.links.is_empty() {
        obj.insert(kind.links_key().into(), json!(e.links));
    }
    if kind == Kind::Service && e.kind.as_deref() == Some("loadbalancer") && !e.links.is_empty() {
        if let Some(status) = runtime
            .tcp_services
            .get(&e.name)
            .and_then(|s| s.server_status())
        {
            let servers: Map<String, Value> = status
                .into_iter()
                .map(|(address, up)| (address, json!(if up { "UP" } else { "DOWN" })))
                .collect();
            obj.insert("serverStatus".into(), Value::Object(servers));
        }
    }
    Value::Object(obj)
}

/// A TCP element as the lists and `/api/tcp/{kind}/{name}` show it.
pub fn tcp_representation(e: &ElementInfo, kind: Kind, runtime: &Runtime) -> Value {
    let mut v = tcp_raw(e, kind, runtime);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("name".into(), json!(e.name));
        obj.insert("provider".into(), json!(provider_of(&e.name)));
        match kind {
            Kind::Router => {
                let priority = obj.get("priority").and_then(Value::as_i64).unwrap_or(0);
                obj.insert("priorityStr".into(), json!(priority.to_string()));
            }
            Kind::Service | Kind::Middleware => {
                if let Some(t) = e.kind.as_deref().filter(|t| !t.is_empty()) {
                    obj.insert("type".into(), json!(t));
                }
            }
        }
    }
    v
}

/// The TCP elements of `kind` a list request asks for, filtered and
/// ordered as the HTTP ones.
pub fn tcp_list(kind: Kind, runtime: &Runtime, q: &Query) -> Vec<Value> {
    let criterion = Criterion::from_query(q);
    let mut items: Vec<Value> = tcp_elements(kind, runtime)
        .values()
        .map(|e| tcp_representation(e, kind, runtime))
        .filter(|v| {
            criterion
                .as_ref()
                .is_none_or(|c| keep(kind, text(v, "name"), v, c))
        })
        .collect();
    let key = sort_key(kind, q.get("sortBy"));
    query::sort(
        &mut items,
        q.get("direction"),
        |v| text(v, "name"),
        key.as_ref().map(|f| f as &dyn Fn(&Value) -> SortKey),
    );
    items
}

/// Whether a listed element passes the request's criterion.
fn keep(kind: Kind, name: &str, v: &Value, c: &Criterion) -> bool {
    let status = text(v, "status");
    match kind {
        Kind::Router => {
            let middlewares: Vec<&str> = v
                .get("middlewares")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            c.with_status(status)
                && c.search_in(&[text(v, "rule"), name])
                && c.filter_service(text(v, "service"))
                && c.filter_middleware(&middlewares)
        }
        Kind::Service | Kind::Middleware => c.with_status(status) && c.search_in(&[name]),
    }
}

/// What `sortBy` orders `kind` by; `None` (and unknown fields) is by name.
fn sort_key(kind: Kind, field: &str) -> Option<fn(&Value) -> SortKey> {
    let key: fn(&Value) -> SortKey = match (kind, field) {
        (_, "provider") => |v| SortKey::Text(text(v, "provider").into()),
        (_, "status") => |v| SortKey::Text(text(v, "status").into()),
        (Kind::Router, "rule") => |v| SortKey::Text(text(v, "rule").into()),
        (Kind::Router, "service") => |v| SortKey::Text(text(v, "service").into()),
        (Kind::Router, "priority") => {
            |v| SortKey::Int(v.get("priority").and_then(Value::as_i64).unwrap_or(0))
        }
        (Kind::Router, "entryPoints") => |v| SortKey::Int(count(v, "entryPoints")),
        (Kind::Service | Kind::Middleware, "type") => |v| SortKey::Text(text(v, "type").into()),
        (Kind::Service, "servers") => {
            |v| SortKey::Int(v.get("loadBalancer").map_or(0, |lb| count(lb, "servers")))
        }
        _ => return None,
    };
    Some(key)
}

/// The elements of `kind` a list request asks for, filtered and ordered
/// (not yet paginated).
pub fn list(kind: Kind, runtime: &Runtime, q: &Query) -> Vec<Value> {
    let criterion = Criterion::from_query(q);
    let mut items: Vec<Value> = kind
        .elements(runtime)
        .values()
        .map(|e| representation(e, kind, runtime))
        .filter(|v| {
            criterion
                .as_ref()
                .is_none_or(|c| keep(kind, text(v, "name"), v, c))
        })
        .collect();
    let key = sort_key(kind, q.get("sortBy"));
    query::sort(
        &mut items,
        q.get("direction"),
        |v| text(v, "name"),
        key.as_ref().map(|f| f as &dyn Fn(&Value) -> SortKey),
    );
    items
}
