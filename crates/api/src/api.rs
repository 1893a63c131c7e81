//! `api@internal`: Traefik's REST API over the live runtime.
//!
//! | path                                   | answer                              |
//! |----------------------------------------|-------------------------------------|
//! | `/api/rawdata`                         | every element by kind               |
//! | `/api/overview`                        | counts, features, providers         |
//! | `/api/entrypoints[/{name}]`            | entrypoints' static configuration   |
//! | `/api/http/{routers,services,middlewares}[/{name}]` | elements, paginated    |
//! | `/api/version`                         | version and start date              |

use std::sync::Arc;

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::{json, Map, Value};
use switchyard_proxy::{body, BoxHandler, Handler, HandlerFuture, ProxyError, Request, Response};
use switchyard_server::runtime::{ElementInfo, Status};
use switchyard_server::{Runtime, Switcher};

/// The API's view of the process.
pub struct Api {
    switcher: Switcher,
    /// `[{name, address, ...}]` from the static configuration.
    entrypoints: Vec<Value>,
    providers: Vec<String>,
    version: String,
    start_date: String,
}

impl Api {
    /// The API as a handler for `api@internal`.
    pub fn handler(
        switcher: Switcher,
        entrypoints: Vec<Value>,
        providers: Vec<String>,
        version: &str,
        start_date: &str,
    ) -> BoxHandler {
        Arc::new(Api {
            switcher,
            entrypoints,
            providers,
            version: version.to_string(),
            start_date: start_date.to_string(),
        })
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(body::full(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn not_found(what: &str, name: &str) -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({ "message": format!("{what} not found: {name}") }),
    )
}

/// What an element looks like in the API: its configuration with status,
/// errors and links merged in.
fn element_json(e: &ElementInfo, links_key: &str, runtime: &Runtime) -> Value {
    let mut obj = match &e.config {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if !e.errors.is_empty() {
        obj.insert("error".into(), json!(e.errors));
    }
    obj.insert("status".into(), json!(e.status));
    if !e.links.is_empty() {
        obj.insert(links_key.into(), json!(e.links));
    }
    // Traefik builds a service only when a router uses it; an unused one
    // shows no server status.
    // Load balancers only: a router or a middleware may have a service's name.
    if let Some(b) = runtime
        .balancers
        .get(&e.name)
        .filter(|_| e.kind.as_deref() == Some("loadbalancer") && !e.links.is_empty())
    {
        let status: Map<String, Value> = b
            .server_status()
            .into_iter()
            .map(|(url, up)| (url, json!(if up { "UP" } else { "DOWN" })))
            .collect();
        obj.insert("serverStatus".into(), Value::Object(status));
    }
    obj.insert("name".into(), json!(e.name));
    obj.insert("provider".into(), json!(e.provider));
    if let Some(kind) = &e.kind {
        obj.insert("type".into(), json!(kind));
    }
    Value::Object(obj)
}

struct Query {
    search: Option<String>,
    status: Option<String>,
    service: Option<String>,
    middleware: Option<String>,
    page: usize,
    per_page: usize,
}

fn parse_query(q: Option<&str>) -> Query {
    let mut out = Query {
        search: None,
        status: None,
        service: None,
        middleware: None,
        page: 1,
        per_page: 100,
    };
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = v.replace('+', " ");
        match k {
            "search" => out.search = Some(v.to_lowercase()),
            "status" => out.status = Some(v),
            "serviceName" => out.service = Some(v),
            "middlewareName" => out.middleware = Some(v),
            "page" => out.page = v.parse().unwrap_or(1).max(1),
            "per_page" => out.per_page = v.parse().unwrap_or(100).max(1),
            _ => {}
        }
    }
    out
}

/// A page of `items` with Traefik's `X-Next-Page` header.
fn paginate(items: Vec<Value>, q: &Query) -> Response {
    let start = (q.page - 1).saturating_mul(q.per_page);
    if start > items.len() || (start == items.len() && start > 0) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({ "message": "invalid request: page out of range" }),
        );
    }
    let end = (start + q.per_page).min(items.len());
    let next = if end < items.len() { q.page + 1 } else { 1 };
    let mut r = json_response(StatusCode::OK, &Value::Array(items[start..end].to_vec()));
    r.headers_mut()
        .insert("x-next-page", HeaderValue::from(next));
    r
}

fn keep(e: &ElementInfo, v: &Value, q: &Query) -> bool {
    if let Some(s) = &q.search {
        if !e.name.to_lowercase().contains(s.as_str()) {
            return false;
        }
    }
    if let Some(st) = &q.status {
        if serde_json::to_value(e.status)
            .ok()
            .and_then(|x| x.as_str().map(String::from))
            .as_deref()
            != Some(st.as_str())
        {
            return false;
        }
    }
    if let Some(svc) = &q.service {
        if v.get("service").and_then(Value::as_str) != Some(svc.as_str()) {
            return false;
        }
    }
    if let Some(m) = &q.middleware {
        let has = v
            .get("middlewares")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(m.as_str())));
        if !has {
            return false;
        }
    }
    true
}

fn counts<'a>(items: impl Iterator<Item = &'a ElementInfo>) -> Value {
    let (mut total, mut warnings, mut errors) = (0, 0, 0);
    for e in items {
        total += 1;
        match e.status {
            Status::Warning => warnings += 1,
            Status::Disabled => errors += 1,
            Status::Enabled => {}
        }
    }
    json!({ "total": total, "warnings": warnings, "errors": errors })
}

impl Api {
    fn answer(&self, req: &Request) -> Response {
        if req.method() != Method::GET {
            return json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({ "message": "method not allowed" }),
            );
        }
        let runtime = self.switcher.load();
        let info = &runtime.info;
        let path = req.uri().path().trim_end_matches('/');
        let q = parse_query(req.uri().query());
        let kinds: [(
            &str,
            &std::collections::BTreeMap<String, ElementInfo>,
            &str,
            &str,
        ); 3] = [
            ("routers", &info.routers, "using", "router"),
            ("services", &info.services, "usedBy", "service"),
            ("middlewares", &info.middlewares, "usedBy", "middleware"),
        ];
        match path {
            "/api/version" => json_response(
                StatusCode::OK,
                &json!({ "Version": self.version, "Codename": "switchyard", "startDate": self.start_date }),
            ),
            "/api/overview" => {
                let empty = json!({ "total": 0, "warnings": 0, "errors": 0 });
                json_response(
                    StatusCode::OK,
                    &json!({
                        "http": {
                            "routers": counts(info.routers.values()),
                            "services": counts(info.services.values()),
                            "middlewares": counts(info.middlewares.values()),
                        },
                        "tcp": { "routers": empty, "services": empty, "middlewares": empty },
                        "udp": { "routers": empty, "services": empty },
                        "certificates": { "total": 0, "warnings": 0, "errors": 0 },
                        "features": { "tracing": "", "metrics": "", "accessLog": false },
                        "providers": self.providers,
                    }),
                )
            }
            "/api/rawdata" => {
                let mut out = Map::new();
                for (kind, map, links, _) in &kinds {
                    let m: Map<String, Value> = map
                        .iter()
                        .map(|(k, e)| (k.clone(), element_json(e, links, &runtime)))
                        .collect();
                    out.insert((*kind).to_string(), Value::Object(m));
                }
                json_response(StatusCode::OK, &Value::Object(out))
            }
            "/api/entrypoints" => paginate(self.entrypoints.clone(), &q),
            _ => {
                if let Some(name) = path.strip_prefix("/api/entrypoints/") {
                    return match self
                        .entrypoints
                        .iter()
                        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
                    {
                        Some(e) => json_response(StatusCode::OK, e),
                        None => not_found("entry point", name),
                    };
                }
                for (kind, map, links, singular) in &kinds {
                    let base = format!("/api/http/{kind}");
                    if path == base {
                        let items: Vec<Value> = map
                            .values()
                            .map(|e| (e, element_json(e, links, &runtime)))
                            .filter(|(e, v)| keep(e, v, &q))
                            .map(|(_, v)| v)
                            .collect();
                        return paginate(items, &q);
                    }
                    if let Some(name) = path.strip_prefix(&format!("{base}/")) {
                        let name = percent_decode(name);
                        return match map.get(&name) {
                            Some(e) => {
                                json_response(StatusCode::OK, &element_json(e, links, &runtime))
                            }
                            None => not_found(singular, &name),
                        };
                    }
                }
                json_response(
                    StatusCode::NOT_FOUND,
                    &json!({ "message": "404 page not found" }),
                )
            }
        }
    }
}

fn percent_decode(s: &str) -> String {
    switchyard_proxy::middlewares::path::percent_decode(s).into_owned()
}

impl Handler for Api {
    fn call(&self, req: Request) -> HandlerFuture {
        let resp = self.answer(&req);
        Box::pin(async move { Ok::<_, ProxyError>(resp) })
    }
}
