//! What the builder produces: per entrypoint a router table whose entries
//! hold each router's compiled chain, plus what the API shows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use switchyard_config::dynamic::{Router, Service};
use switchyard_proxy::service::LoadBalancer;
use switchyard_proxy::BoxHandler;
use switchyard_rules::RouterTable;

use crate::StaticView;

/// A matched router: its name (for logs) and its chain.
#[derive(Clone)]
pub struct Route {
    pub router: Arc<str>,
    pub handler: BoxHandler,
    /// The router's `observability.accessLogs` (default true).
    pub access_logs: bool,
    /// Whether its service is an internal one (`…@internal`).
    pub internal: bool,
    /// The router's `observability.tracing` and `traceVerbosity`.
    pub tracing: switchyard_proxy::trace::Verbosity,
    /// Its counters, when metrics are on.
    pub metrics: crate::metrics::RouteMetrics,
}

/// A compiled configuration. Immutable once published.
#[derive(Default)]
pub struct Runtime {
    /// Router tables by entrypoint name, for plain connections (shared
    /// with the builder, which patches a copy when a few routers change).
    pub entrypoints: HashMap<String, Arc<RouterTable<Route>>>,
    /// Router tables by entrypoint name, for TLS connections.
    pub tls_entrypoints: HashMap<String, Arc<RouterTable<Route>>>,
    /// Certificates and TLS configurations for new handshakes.
    pub tls: std::sync::Arc<crate::tls::TlsRuntime>,
    /// TCP router tables by entrypoint name (only entrypoints with TCP
    /// routers have one): a connection loads them once, when accepted.
    pub tcp: HashMap<String, Arc<crate::tcp::TcpEntry>>,
    /// TCP services by name, for their servers' status.
    pub tcp_services: HashMap<String, Arc<crate::tcp::service::TcpService>>,
    /// Built load balancers by qualified service name, for live server status.
    pub balancers: HashMap<String, LoadBalancer>,
    /// The state of every element, as the API shows it.
    pub info: Arc<RuntimeInfo>,
    /// What the UDP entrypoints serve.
    pub udp: Arc<crate::udp::UdpRuntime>,
}

/// An element's status, as Traefik names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Enabled,
    Warning,
    Disabled,
}

/// An element's configuration as the API shows it (a JSON object, Traefik's
/// field names). Routers and services keep no copy of it: it is written
/// when the API asks, from the configuration's own shared element (with
/// thousands of routers, the API's copies would weigh megabytes); other
/// elements keep it as compact JSON text, parsed when the API asks.
#[derive(Clone, Default)]
pub struct ApiConfig(Repr);

#[derive(Clone, Default)]
enum Repr {
    #[default]
    Empty,
    Text(Box<str>),
    /// A router: `attached` when it was attached to an entrypoint (its
    /// computed priority is then shown).
    Router {
        router: Arc<Router>,
        view: Arc<StaticView>,
        attached: bool,
    },
    Service(Arc<Service>),
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Empty => f.write_str("ApiConfig(empty)"),
            Repr::Text(t) => write!(f, "ApiConfig({t})"),
            Repr::Router { router, .. } => write!(f, "ApiConfig(router {:?})", router.rule),
            Repr::Service(_) => f.write_str("ApiConfig(service)"),
        }
    }
}

impl ApiConfig {
    pub fn new(value: &serde_json::Value) -> ApiConfig {
        ApiConfig(Repr::Text(value.to_string().into_boxed_str()))
    }

    /// Router `router`'s view, written when asked (see
    /// [`crate::builder::router_api_view`]).
    pub fn router(router: Arc<Router>, view: Arc<StaticView>, attached: bool) -> ApiConfig {
        ApiConfig(Repr::Router {
            router,
            view,
            attached,
        })
    }

    /// Service `service`'s view, written when asked.
    pub fn service(service: Arc<Service>) -> ApiConfig {
        ApiConfig(Repr::Service(service))
    }

    /// The configuration of the element `name` as a JSON value.
    pub fn value(&self, name: &str) -> serde_json::Value {
        match &self.0 {
            Repr::Empty => serde_json::Value::Null,
            // The text was written by `serde_json` from a value: it parses.
            Repr::Text(t) => serde_json::from_str(t).unwrap_or(serde_json::Value::Null),
            Repr::Router {
                router,
                view,
                attached,
            } => crate::builder::router_api_view(name, router, *attached, view),
            Repr::Service(service) => crate::builder::service_api_view(name, service),
        }
    }
}

/// One router, service or middleware as the API shows it: its configuration
/// (JSON, Traefik's field names) and what the builder found.
#[derive(Debug, Clone)]
pub struct ElementInfo {
    pub name: String,
    /// The configuration as written.
    pub config: ApiConfig,
    pub status: Status,
    pub errors: Vec<String>,
    /// Entrypoints (routers) or routers (services, middlewares).
    pub links: Vec<String>,
    /// The element's type (`loadbalancer`, `stripprefix`, ...) where it has one.
    pub kind: Option<String>,
}

impl ElementInfo {
    pub fn new(name: &str, config: &serde_json::Value) -> ElementInfo {
        ElementInfo {
            name: name.to_string(),
            config: ApiConfig::new(config),
            status: Status::Enabled,
            errors: Vec::new(),
            links: Vec::new(),
            kind: None,
        }
    }

    /// Its configuration as the API shows it.
    pub fn config_value(&self) -> serde_json::Value {
        self.config.value(&self.name)
    }

    /// Its configuration as the API shows it, as compact JSON text.
    pub fn config_text(&self) -> String {
        self.config_value().to_string()
    }

    /// The provider part of its name (after the last `@`).
    pub fn provider(&self) -> &str {
        self.name.rsplit_once('@').map_or("", |(_, p)| p)
    }

    /// Records an error that takes the element out.
    pub fn fail(&mut self, error: impl Into<String>) {
        self.status = Status::Disabled;
        self.errors.push(error.into());
    }

    /// Records an error that leaves the element serving.
    pub fn warn(&mut self, error: impl Into<String>) {
        if self.status == Status::Enabled {
            self.status = Status::Warning;
        }
        self.errors.push(error.into());
    }
}

/// `map` with its nodes full: a map filled in key order keeps its nodes
/// half empty, and with thousands of elements that is megabytes; rebuilt
/// from its sorted entries it packs them.
pub fn packed<V>(map: BTreeMap<String, V>) -> BTreeMap<String, V> {
    map.into_iter().collect()
}

/// Elements by qualified name, each shared: the next build takes over
/// those that did not change without copying them.
pub type Elements = BTreeMap<String, Arc<ElementInfo>>;

/// Everything the API reports about the running configuration.
#[derive(Debug, Default, Clone)]
pub struct RuntimeInfo {
    pub routers: Elements,
    pub services: Elements,
    pub middlewares: Elements,
    /// Entrypoint name → address, as configured.
    pub entrypoints: BTreeMap<String, serde_json::Value>,
    /// The merged dynamic configuration, for `/api/rawdata`.
    pub generation: u64,
    /// Certificates and TLS options that could not be used.
    pub tls_errors: Vec<String>,
    pub tcp_routers: Elements,
    pub tcp_services: Elements,
    pub tcp_middlewares: Elements,
    /// Every entrypoint's static configuration when this runtime was built
    /// (entrypoints may change while running).
    pub entrypoint_configs: Arc<BTreeMap<String, switchyard_config::static_config::EntryPoint>>,
}
