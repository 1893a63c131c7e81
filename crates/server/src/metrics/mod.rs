//! `metrics.prometheus`: Traefik's Prometheus families, served on
//! `/metrics` as the internal service `prometheus@internal`; and
//! `metrics.otlp` ([`otlp`]): the same counters pushed as Traefik's
//! OpenTelemetry instruments. Both read one registry: a request is counted
//! once, whichever backends are on.
//!
//! The counters live in [`switchyard_proxy::metrics::Scope`]s: one per
//! entrypoint (made at start-up), per router and service pair and per
//! load-balancer service (handed out by the builder and kept in what it
//! builds). This registry only keeps them to render them, and applies
//! Traefik's clean-up: the series of a router or service that a new
//! configuration removed are shown on the next scrape once more, then
//! dropped (unless the element came back meanwhile).
//!
//! Gauges that describe the running state are read at scrape time from the
//! live runtime: `service_server_up` from the load balancers' health, and
//! `tls_certs_not_after` from the certificate store. So they follow the
//! configuration at once (Traefik keeps a removed server's gauge until the
//! next scrape, and a removed certificate's for good).

pub mod otlp;
pub mod process;
pub mod render;
mod semconv;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use switchyard_config::dynamic::HttpConfiguration;
use switchyard_config::static_config::Metrics as Config;
use switchyard_proxy::accesslog::Counted;
use switchyard_proxy::metrics::{
    Buckets, HeaderLabels, Metered, Observation, RequestLabels, Scope, SetBudget,
};
use switchyard_proxy::semconv::{ClientMetrics, SemConv, ServerCall};
use switchyard_proxy::{Request, RequestContext};

/// Which request families a backend shows (its `addEntryPointsLabels`,
/// `addRoutersLabels`, `addServicesLabels`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Families {
    pub entrypoints: bool,
    pub routers: bool,
    pub services: bool,
}

/// The running registry.
pub struct Metrics {
    buckets: Arc<Buckets>,
    /// The OTLP attribute sets of the entrypoint, router and service
    /// instruments (each kind has its cardinality limit).
    budgets: [Arc<SetBudget>; 3],
    header_labels: HeaderLabels,
    /// What `metrics.prometheus` shows, when on.
    prometheus: Option<Families>,
    /// What `metrics.otlp` pushes, when on.
    otlp: Option<Families>,
    /// The semantic-convention histograms, recorded with `metrics.otlp`.
    semconv: Option<Arc<SemConv>>,
    /// When the registry was made: the start of the OTLP cumulative sums.
    started: SystemTime,
    /// Counted: the families of either backend.
    entrypoints_on: bool,
    routers_on: bool,
    services_on: bool,
    add_internals: bool,
    entrypoints: Mutex<Vec<Arc<EntryPointMetrics>>>,
    routers: Mutex<HashMap<(String, String), Arc<Scope>>>,
    services: Mutex<HashMap<String, Arc<Scope>>>,
    applied: Mutex<Applied>,
    reloads: AtomicU64,
    /// Unix seconds of the last configuration applied.
    last_reload: AtomicU64,
}

/// The routers and services of the configuration applied last, and those
/// removed since the last scrape.
#[derive(Default)]
struct Applied {
    routers: HashSet<String>,
    services: HashSet<String>,
    removed_routers: BTreeSet<String>,
    removed_services: BTreeSet<String>,
}

/// One entrypoint's metrics: its request counters (with
/// `addEntryPointsLabels`) and its open connections.
pub struct EntryPointMetrics {
    pub name: String,
    scope: Option<Arc<Scope>>,
    /// Whether services count (`addServicesLabels`): requests are marked
    /// for them.
    services_on: bool,
    open: AtomicI64,
    header_labels: HeaderLabels,
    semconv: Option<Arc<SemConv>>,
}

impl std::fmt::Debug for EntryPointMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntryPointMetrics")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What a route knows about its metrics.
#[derive(Debug, Clone, Default)]
pub struct RouteMetrics {
    /// Whether its requests are counted at all (its
    /// `observability.metrics`; internal services only with `addInternals`).
    pub metered: bool,
    /// Its router's counters (with `addRoutersLabels`).
    pub router: Option<Arc<Scope>>,
    /// Whether the semantic-convention histograms record its requests
    /// (with `metrics.otlp`, whatever families are on).
    pub semconv: bool,
}

impl RouteMetrics {
    /// A request no router takes: counted on the entrypoint (Traefik's
    /// default handler).
    pub fn unrouted() -> RouteMetrics {
        RouteMetrics {
            metered: true,
            router: None,
            semconv: true,
        }
    }
}

/// Counts one open connection until dropped.
pub struct OpenConnection(Arc<EntryPointMetrics>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EntryPointMetrics {
    /// Counts a connection as open until the guard is dropped.
    pub fn connection(self: &Arc<Self>) -> OpenConnection {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    /// Starts counting `req` as routed by `route`: its TLS use at once, its
    /// answer when the [`Observation`] finishes. Marks the request for the
    /// service's counters and counts its body's bytes; marks it for the
    /// client histogram. None when the route is neither metered nor
    /// recorded by the semantic-convention histograms.
    pub fn begin(&self, req: &mut Request, route: &RouteMetrics) -> Option<Observation> {
        let semconv = self.semconv.as_ref().filter(|_| route.semconv);
        let server = semconv.map(|s| {
            req.extensions_mut().insert(ClientMetrics(s.clone()));
            ServerCall::begin(s, req)
        });
        let labels = RequestLabels::of(req);
        if !route.metered {
            return server.map(|server| Observation {
                scopes: [None, None],
                labels,
                started: Instant::now(),
                request_bytes: None,
                header_values: None,
                server: Some(server),
            });
        }
        let tls = req
            .extensions()
            .get::<RequestContext>()
            .and_then(|c| c.tls_session);
        let scopes = [self.scope.clone(), route.router.clone()];
        if let Some(session) = tls {
            for s in scopes.iter().flatten() {
                s.observe_tls(session);
            }
        }
        // A request without a body (most) costs no counter.
        let request_bytes = (!http_body::Body::is_end_stream(req.body())).then(|| {
            let bytes = Arc::new(AtomicU64::new(0));
            let body = std::mem::replace(req.body_mut(), switchyard_proxy::body::empty());
            *req.body_mut() = Counted::new(body, Some(bytes.clone()), None).boxed();
            bytes
        });
        let header_values = self.header_labels.values(req.headers());
        if self.services_on {
            req.extensions_mut().insert(Metered {
                labels,
                tls,
                request_bytes: request_bytes.clone(),
                header_labels: self.header_labels.clone(),
            });
        }
        Some(Observation {
            scopes,
            labels,
            started: Instant::now(),
            request_bytes,
            header_values,
            server,
        })
    }
}

impl Metrics {
    /// The registry `metrics` describes, or none without `prometheus` or
    /// `otlp`. An invalid `headerLabels` label name is an error (Traefik
    /// then runs without its Prometheus metrics, and says so).
    ///
    /// The duration histograms have one set of bounds: Prometheus's
    /// `buckets` when it is on, else OTLP's `explicitBoundaries`.
    pub fn new(config: &Config) -> Result<Option<Arc<Metrics>>, String> {
        let prometheus = config.prometheus.as_ref().map(|p| Families {
            entrypoints: p.add_entry_points_labels,
            routers: p.add_routers_labels,
            services: p.add_services_labels,
        });
        let otlp = config.otlp.as_ref().map(|o| Families {
            entrypoints: o.add_entry_points_labels,
            routers: o.add_routers_labels,
            services: o.add_services_labels,
        });
        let bounds = match (&config.prometheus, &config.otlp) {
            (Some(p), _) => &p.buckets,
            (None, Some(o)) => &o.explicit_boundaries,
            (None, None) => return Ok(None),
        };
        let empty = BTreeMap::new();
        let header_map = config
            .prometheus
            .as_ref()
            .map_or(&empty, |p| &p.header_labels);
        let mut header_labels = Vec::new();
        for (label, header) in header_map {
            let valid_label = label
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if !valid_label || label.is_empty() || label.starts_with("__") {
                return Err(format!(
                    "metrics.prometheus.headerLabels: {label:?} is not a valid label name"
                ));
            }
            let name = http::HeaderName::from_bytes(header.as_bytes()).ok();
            header_labels.push((label.clone(), name));
        }
        let either = |f: fn(&Families) -> bool| {
            prometheus.as_ref().is_some_and(f) || otlp.as_ref().is_some_and(f)
        };
        Ok(Some(Arc::new(Metrics {
            buckets: Arc::new(Buckets::new(bounds)),
            budgets: Default::default(),
            header_labels: HeaderLabels(header_labels.into()),
            prometheus,
            otlp,
            semconv: config
                .otlp
                .as_ref()
                .map(|o| Arc::new(SemConv::new(&o.explicit_boundaries))),
            started: SystemTime::now(),
            entrypoints_on: either(|f| f.entrypoints),
            routers_on: either(|f| f.routers),
            services_on: either(|f| f.services),
            add_internals: config.add_internals,
            entrypoints: Mutex::default(),
            routers: Mutex::default(),
            services: Mutex::default(),
            applied: Mutex::default(),
            reloads: AtomicU64::new(0),
            last_reload: AtomicU64::new(0),
        })))
    }

    /// A new scope of the kind `kind` (entrypoint, router, service).
    fn scope(&self, kind: usize, labels: &[&str]) -> Scope {
        let budget = self.budgets[kind].clone();
        Scope::sharing(labels, self.buckets.clone(), budget)
    }

    /// Whether `metrics.prometheus` is on (`prometheus@internal` exists).
    pub fn prometheus_on(&self) -> bool {
        self.prometheus.is_some()
    }

    /// The metrics of the entrypoint `name` (made once, at start-up).
    pub fn entrypoint(&self, name: &str) -> Arc<EntryPointMetrics> {
        let ep = Arc::new(EntryPointMetrics {
            name: name.to_string(),
            scope: self
                .entrypoints_on
                .then(|| Arc::new(self.scope(0, &[name]))),
            open: AtomicI64::new(0),
            services_on: self.services_on,
            header_labels: if self.any_requests() {
                self.header_labels.clone()
            } else {
                HeaderLabels::default()
            },
            semconv: self.semconv.clone(),
        });
        lock(&self.entrypoints).push(ep.clone());
        ep
    }

    /// Whether any request family is on (else nothing is metered, as in
    /// Traefik).
    fn any_requests(&self) -> bool {
        self.entrypoints_on || self.routers_on || self.services_on
    }

    /// Whether requests through a router to an internal service (or not)
    /// whose `observability.metrics` is `switch` are counted.
    pub fn meters(&self, internal: bool, switch: bool) -> bool {
        self.any_requests() && switch && (!internal || self.add_internals)
    }

    /// Whether the semantic-convention histograms record requests through
    /// such a router: with `metrics.otlp` on, even without any request
    /// family (as Traefik's).
    pub fn records_semconv(&self, internal: bool, switch: bool) -> bool {
        self.semconv.is_some() && switch && (!internal || self.add_internals)
    }

    /// The counters of `router` sending to `service` (with
    /// `addRoutersLabels`).
    pub fn router_scope(&self, router: &str, service: &str) -> Option<Arc<Scope>> {
        if !self.routers_on {
            return None;
        }
        let key = (router.to_string(), service.to_string());
        Some(
            lock(&self.routers)
                .entry(key)
                .or_insert_with(|| Arc::new(self.scope(1, &[router, service])))
                .clone(),
        )
    }

    /// The counters of the load-balancer service `name` (with
    /// `addServicesLabels`).
    pub fn service_scope(&self, name: &str) -> Option<Arc<Scope>> {
        if !self.services_on {
            return None;
        }
        Some(
            lock(&self.services)
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(self.scope(2, &[name])))
                .clone(),
        )
    }

    /// Notes a configuration applied: a reload counted, and the routers and
    /// services it no longer has marked for removal after the next scrape.
    pub fn applied(&self, http: &HttpConfiguration) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_reload.store(now, Ordering::Relaxed);
        let routers: HashSet<String> = http.routers.keys().cloned().collect();
        let services: HashSet<String> = http.services.keys().cloned().collect();
        let mut a = lock(&self.applied);
        let gone_routers: Vec<String> = a.routers.difference(&routers).cloned().collect();
        let gone_services: Vec<String> = a.services.difference(&services).cloned().collect();
        a.removed_routers.extend(gone_routers);
        a.removed_services.extend(gone_services);
        a.routers = routers;
        a.services = services;
    }

    /// After a scrape: drops the counters of the routers and services
    /// removed since the previous one and still absent.
    fn prune(&self) {
        let mut a = lock(&self.applied);
        let routers: Vec<String> = std::mem::take(&mut a.removed_routers)
            .into_iter()
            .filter(|r| !a.routers.contains(r))
            .collect();
        let services: Vec<String> = std::mem::take(&mut a.removed_services)
            .into_iter()
            .filter(|s| !a.services.contains(s))
            .collect();
        drop(a);
        if routers.is_empty() && services.is_empty() {
            return;
        }
        // Traefik deletes every series with a removed name in its
        // `router` or `service` label: a removed service takes the router
        // series that name it too.
        lock(&self.routers).retain(|(r, s), _| !routers.contains(r) && !services.contains(s));
        lock(&self.services).retain(|s, _| !services.contains(s));
    }
}

/// The entrypoint's side of a request, when metrics are on: see
/// [`EntryPointMetrics::begin`].
pub fn begin(
    ep: Option<&EntryPointMetrics>,
    req: &mut Request,
    route: &RouteMetrics,
) -> Option<Observation> {
    ep?.begin(req, route)
}

/// Counts `resp` when its body is done, for a request [`begin`] counts.
pub fn finish(
    observed: Option<Observation>,
    resp: switchyard_proxy::Response,
) -> switchyard_proxy::Response {
    match observed {
        Some(o) => o.finish(resp),
        None => resp,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `prometheus@internal`: the text exposition of every family.
pub fn handler(metrics: Arc<Metrics>, switcher: crate::Switcher) -> switchyard_proxy::BoxHandler {
    use switchyard_proxy::{HandlerFuture, Response};
    Arc::new(switchyard_proxy::handler::FnHandler(
        move |_req: Request| -> HandlerFuture {
            let text = metrics.render(&switcher.load());
            let mut resp = Response::new(switchyard_proxy::body::full(text));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(render::CONTENT_TYPE),
            );
            Box::pin(async move { Ok(resp) })
        },
    ))
}
