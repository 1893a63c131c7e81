//! `api@internal`: Traefik's REST API over the live runtime, under
//! `api.basePath` (`{base}` below is the base path without its final `/`).
//!
//! | path (GET only; another method is 405)              | answer                          |
//! |-----------------------------------------------------|---------------------------------|
//! | `{base}/api/rawdata`                                | every element by kind           |
//! | `{base}/api/overview`                               | counts, features, providers     |
//! | `{base}/api/entrypoints[/{name}]`                   | entrypoints' static settings    |
//! | `{base}/api/http/{routers,services,middlewares}[/{name}]` | elements, listed as asked |
//! | `{base}/api/tcp/{routers,services,middlewares}[/{name}]`  | TCP elements, as HTTP ones |
//! | `{base}/api/udp/{routers,services}[/{name}]`        | UDP elements (`udp.rs`)         |
//! | `{base}/api/version`                                | version and start date          |
//! | `{base}/api/certificates[/{id}]`                    | the default store's certificates |
//! | `{base}/api/explain?url=...`                        | how one request would be routed (Switchyard's own) |
//! | `api.basePath`, `{base}/dashboard/...`              | the dashboard, when it is on    |
//!
//! Anything else is Traefik's plain `404 page not found`.

use std::sync::Arc;
use std::time::SystemTime;

use http::{Method, StatusCode};
use serde_json::{Map, Value};
use switchyard_config::static_config::StaticConfiguration;
use switchyard_proxy::{BoxHandler, Handler, HandlerFuture, ProxyError, Request, Response};
use switchyard_server::Switcher;

use crate::dashboard::Dashboard;
use crate::elements::{self, Kind};
use crate::query::{self, Query};
use crate::{certificates, entrypoints, explain, overview, respond, version};

/// The API's view of the process: the live runtime, and what the static
/// configuration says, shaped once.
pub struct Api {
    switcher: Switcher,
    /// `api.basePath` as written (`/` by default).
    base_path: String,
    /// The page, when `api.dashboard` is on.
    dashboard: Option<Dashboard>,
    features: Value,
    providers: Vec<String>,
    version: Value,
}

/// Traefik refuses to start with a base path that is not an absolute URL
/// path made of these characters.
pub fn check_base_path(base: &str) -> Result<(), String> {
    let valid = base.starts_with('/')
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_.:~-".contains(c));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "api.basePath {base:?}: API basePath must be a valid absolute URL path"
        ))
    }
}

impl Api {
    /// The API as a handler for `api@internal`, for `config` (whose `api`
    /// section gives the base path and the dashboard), reporting `version`
    /// and the process start time `started`.
    pub fn handler(
        switcher: Switcher,
        config: &StaticConfiguration,
        version: &str,
        started: SystemTime,
    ) -> Result<BoxHandler, String> {
        let api = config.api.clone().unwrap_or_default();
        check_base_path(&api.base_path)?;
        Ok(Arc::new(Api {
            switcher,
            dashboard: api.dashboard.then(|| Dashboard::new(&api.base_path)),
            features: overview::features(config),
            providers: overview::providers(config.providers.as_ref()),
            version: version::version_json(version, started, config.api.as_ref()),
            base_path: api.base_path,
        }))
    }
}

/// The transports an element list belongs to.
#[derive(Debug, Clone, Copy)]
enum Scheme {
    Http(Kind),
    Tcp(Kind),
    Udp(Kind),
}

/// What a path asks for.
#[derive(Debug)]
enum Route<'a> {
    RawData,
    Overview,
    Explain,
    Version,
    EntryPoints,
    EntryPoint(&'a str),
    Certificates,
    Certificate(&'a str),
    List(Scheme),
    One(Scheme, &'a str),
    DashboardRedirect,
    DashboardFile(&'a str),
}

impl Api {
    /// The route `path` (still percent-encoded) names, as Traefik's router
    /// matches it: exact paths, `{name}` one non-empty segment.
    fn route<'a>(&self, path: &'a str) -> Option<Route<'a>> {
        let base = self.base_path.trim_end_matches('/');
        if self.dashboard.is_some() {
            if path == self.base_path {
                return Some(Route::DashboardRedirect);
            }
            let page = format!("{base}/dashboard/");
            if let Some(file) = path.strip_prefix(page.as_str()) {
                return Some(Route::DashboardFile(file));
            }
        }
        let rest = path.strip_prefix(base)?.strip_prefix("/api/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        let named = |s: &'a str| (!s.is_empty()).then_some(s);
        let route = match segments.as_slice() {
            ["rawdata"] => Route::RawData,
            ["overview"] => Route::Overview,
            ["explain"] => Route::Explain,
            ["version"] => Route::Version,
            ["entrypoints"] => Route::EntryPoints,
            ["entrypoints", name] => Route::EntryPoint(named(name)?),
            ["certificates"] => Route::Certificates,
            ["certificates", id] => Route::Certificate(named(id)?),
            [scheme, kind] => Route::List(scheme_of(scheme, kind)?),
            [scheme, kind, name] => Route::One(scheme_of(scheme, kind)?, named(name)?),
            _ => return None,
        };
        Some(route)
    }

    fn answer(&self, req: &Request) -> Response {
        let Some(route) = self.route(req.uri().path()) else {
            return respond::page_not_found();
        };
        if req.method() != Method::GET {
            return respond::method_not_allowed();
        }
        let q = Query::parse(req.uri().query());
        match route {
            Route::Version => version::response(&self.version),
            Route::Overview => {
                let runtime = self.switcher.load();
                respond::json_ok(&overview::overview(
                    &runtime,
                    &self.features,
                    &self.providers,
                ))
            }
            Route::RawData => self.raw_data(),
            Route::Explain => explain::response(&self.switcher.load(), &q),
            // From the runtime: entrypoints may change while running.
            Route::EntryPoints => {
                let runtime = self.switcher.load();
                let all: Vec<Value> = runtime
                    .info
                    .entrypoint_configs
                    .iter()
                    .map(|(name, ep)| entrypoints::entrypoint_json(name, ep))
                    .collect();
                page_of(&all, &q)
            }
            Route::EntryPoint(id) => with_name(id, "entryPointID", |name| {
                let runtime = self.switcher.load();
                match runtime.info.entrypoint_configs.get(name) {
                    Some(ep) => respond::json_ok(&entrypoints::entrypoint_json(name, ep)),
                    None => not_found("entry point", name),
                }
            }),
            Route::Certificates => {
                let runtime = self.switcher.load();
                page_of(&certificates::list(&runtime, &q, SystemTime::now()), &q)
            }
            Route::Certificate(id) => with_name(id, "certificateID", |id| {
                let runtime = self.switcher.load();
                match certificates::all(&runtime, SystemTime::now()).remove(id) {
                    Some(c) => respond::json_ok(&c.json),
                    None => not_found("certificate", id),
                }
            }),
            Route::List(Scheme::Http(kind)) => {
                let runtime = self.switcher.load();
                page_of(&elements::list(kind, &runtime, &q), &q)
            }
            Route::List(Scheme::Tcp(kind)) => {
                let runtime = self.switcher.load();
                page_of(&elements::tcp_list(kind, &runtime, &q), &q)
            }
            Route::One(Scheme::Tcp(kind), id) => with_name(id, id_param(kind), |name| {
                let runtime = self.switcher.load();
                match elements::tcp_elements(kind, &runtime).get(name) {
                    Some(e) => respond::json_ok(&elements::tcp_representation(e, kind, &runtime)),
                    None => not_found(kind.singular(), name),
                }
            }),
            Route::List(Scheme::Udp(kind)) => {
                let runtime = self.switcher.load();
                page_of(&crate::udp::list(kind, &runtime, &q), &q)
            }
            Route::One(Scheme::Udp(kind), id) => with_name(id, id_param(kind), |name| {
                let runtime = self.switcher.load();
                match crate::udp::elements(kind, &runtime).get(name) {
                    Some(e) => respond::json_ok(&crate::udp::representation(e, kind)),
                    None => not_found(kind.singular(), name),
                }
            }),
            Route::One(Scheme::Http(kind), id) => with_name(id, id_param(kind), |name| {
                let runtime = self.switcher.load();
                match kind.elements(&runtime).get(name) {
                    Some(e) => respond::json_ok(&elements::representation(e, kind, &runtime)),
                    None => not_found(kind.singular(), name),
                }
            }),
            Route::DashboardRedirect => Dashboard::redirect(
                &self.base_path,
                req.headers()
                    .get("x-forwarded-prefix")
                    .and_then(|v| v.to_str().ok()),
            ),
            Route::DashboardFile(file) => match &self.dashboard {
                Some(d) => d.file(file),
                None => respond::page_not_found(),
            },
        }
    }

    /// `/api/rawdata`: each kind that has elements, by name.
    fn raw_data(&self) -> Response {
        let runtime = self.switcher.load();
        let mut out = Map::new();
        for kind in [Kind::Router, Kind::Middleware, Kind::Service] {
            let all = kind.elements(&runtime);
            if all.is_empty() {
                continue;
            }
            let by_name: Map<String, Value> = all
                .iter()
                .map(|(name, e)| (name.clone(), elements::raw(e, kind, &runtime)))
                .collect();
            out.insert(kind.raw_key().into(), Value::Object(by_name));
        }
        for (kind, key) in [
            (Kind::Router, "tcpRouters"),
            (Kind::Middleware, "tcpMiddlewares"),
            (Kind::Service, "tcpServices"),
        ] {
            let all = elements::tcp_elements(kind, &runtime);
            if all.is_empty() {
                continue;
            }
            let by_name: Map<String, Value> = all
                .iter()
                .map(|(name, e)| (name.clone(), elements::tcp_raw(e, kind, &runtime)))
                .collect();
            out.insert(key.into(), Value::Object(by_name));
        }
        for (kind, key) in [(Kind::Router, "udpRouters"), (Kind::Service, "udpServices")] {
            let all = crate::udp::elements(kind, &runtime);
            if all.is_empty() {
                continue;
            }
            let by_name: Map<String, Value> = all
                .iter()
                .map(|(name, e)| {
                    let mut v = crate::udp::representation(e, kind);
                    if let Some(obj) = v.as_object_mut() {
                        for k in ["name", "provider", "type"] {
                            obj.remove(k);
                        }
                    }
                    (name.clone(), v)
                })
                .collect();
            out.insert(key.into(), Value::Object(by_name));
        }
        respond::json_ok(&Value::Object(out))
    }
}

/// The list segments under `/api/http`, `/api/tcp` and `/api/udp`.
fn scheme_of(scheme: &str, kind: &str) -> Option<Scheme> {
    let kind = Kind::from_segment(kind)?;
    match scheme {
        "http" => Some(Scheme::Http(kind)),
        "tcp" => Some(Scheme::Tcp(kind)),
        "udp" if kind != Kind::Middleware => Some(Scheme::Udp(kind)),
        _ => None,
    }
}

/// The name Traefik's error message gives the path's `{name}`.
fn id_param(kind: Kind) -> &'static str {
    match kind {
        Kind::Router => "routerID",
        Kind::Service => "serviceID",
        Kind::Middleware => "middlewareID",
    }
}

/// Answers with the decoded `{name}`, or 400 when it does not decode.
fn with_name(raw: &str, param: &str, answer: impl FnOnce(&str) -> Response) -> Response {
    match query::unescape(raw, false) {
        Ok(name) => answer(&name),
        Err(e) => respond::error(
            StatusCode::BAD_REQUEST,
            &format!("unable to decode {param} {raw:?}: {e}"),
        ),
    }
}

fn not_found(what: &str, name: &str) -> Response {
    respond::error(StatusCode::NOT_FOUND, &format!("{what} not found: {name}"))
}

/// One page of `items`, or 400 for a page that is not there.
fn page_of(items: &[Value], q: &Query) -> Response {
    match query::pagination(q, items.len()) {
        Ok(p) => respond::json_page(items.get(p.start..p.end).unwrap_or_default(), p.next),
        Err(message) => respond::error(StatusCode::BAD_REQUEST, &message),
    }
}

impl Handler for Api {
    fn call(&self, req: Request) -> HandlerFuture {
        let resp = self.answer(&req);
        Box::pin(async move { Ok::<_, ProxyError>(resp) })
    }
}
