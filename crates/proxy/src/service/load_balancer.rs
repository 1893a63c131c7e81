//! The `loadBalancer` service: one of Traefik's strategies over servers
//! (see [`super::strategy`]), skipping those the active or passive health
//! check marked down, with an optional sticky cookie.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::health::{HealthCheck, HealthTask};
use super::reverse_proxy::{forward, BadServerUrl, Target};
use super::sticky::{CookieSpec, Sticky};
use super::strategy::{no_server, Kind, Picker};
use crate::upstream::Upstream;
use crate::{Handler, HandlerFuture, ProxyError, Request};

/// One configured server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub url: String,
    pub weight: u32,
    pub preserve_path: bool,
}

/// How the balancer chooses and forwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub strategy: Kind,
    pub sticky: Option<CookieSpec>,
    pub pass_host_header: bool,
    pub passive: Option<Passive>,
    /// The service's metrics (`metrics.prometheus.addServicesLabels`).
    pub metrics: Option<ServiceMetrics>,
}

/// A service's metrics scope; options compare equal whatever it is.
#[derive(Debug, Clone)]
pub struct ServiceMetrics(pub Arc<crate::metrics::Scope>);

impl PartialEq for ServiceMetrics {
    fn eq(&self, _: &ServiceMetrics) -> bool {
        true
    }
}

/// `passiveHealthCheck`: `max_failed` failures (a connection error or a 5xx
/// answer) within `window` take a server out; it comes back after `window`,
/// or, when the service also has an active check, when that check passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Passive {
    pub max_failed: usize,
    pub window: std::time::Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            strategy: Kind::Wrr,
            sticky: None,
            pass_host_header: true,
            passive: None,
            metrics: None,
        }
    }
}

/// A server and its health.
#[derive(Debug)]
pub struct Server {
    pub target: Target,
    /// The URL once more, and its `host:port`, shared with the access
    /// log's records.
    log_url: Arc<str>,
    log_addr: Arc<str>,
    pub up: AtomicBool,
    /// Recent failures, for the passive check.
    failures: Mutex<VecDeque<Instant>>,
    /// Whether the passive check has taken it out.
    benched: AtomicBool,
}

struct Inner {
    /// The qualified service name, for the access log.
    service: Arc<str>,
    servers: Vec<Arc<Server>>,
    picker: Picker,
    pass_host_header: bool,
    upstream: Arc<Upstream>,
    passive: Option<Passive>,
    active: bool,
    metrics: Option<ServiceMetrics>,
    _health: Option<HealthTask>,
}

/// A built load balancer; cheap to clone, shared by the routers that use it.
#[derive(Clone)]
pub struct LoadBalancer {
    inner: Arc<Inner>,
}

impl LoadBalancer {
    /// Builds the balancer and, when `health` is given, starts its checks
    /// (they stop when the last clone is dropped). `service` names it in logs.
    pub fn new(
        service: &str,
        specs: &[ServerSpec],
        options: Options,
        upstream: Arc<Upstream>,
        health: Option<HealthCheck>,
    ) -> Result<LoadBalancer, BadServerUrl> {
        let servers: Vec<Arc<Server>> = specs
            .iter()
            .map(|s| {
                Ok(Arc::new(Server {
                    target: Target::parse(&s.url, s.preserve_path)?,
                    log_url: Arc::from(s.url.as_str()),
                    log_addr: Arc::from(crate::accesslog::server_addr(&s.url)),
                    up: AtomicBool::new(true),
                    failures: Mutex::new(VecDeque::new()),
                    benched: AtomicBool::new(false),
                }))
            })
            .collect::<Result<_, BadServerUrl>>()?;
        let targets: Vec<(String, u32)> = specs.iter().map(|s| (s.url.clone(), s.weight)).collect();
        let names: Vec<String> = specs.iter().map(|s| s.url.clone()).collect();
        let sticky = options.sticky.map(|c| Sticky::new(c, &names));
        let picker = Picker::new(options.strategy, &targets, sticky);
        let active = health.is_some();
        let health = health.map(|h| h.spawn(service, &servers, upstream.clone()));
        Ok(LoadBalancer {
            inner: Arc::new(Inner {
                service: Arc::from(service),
                servers,
                picker,
                pass_host_header: options.pass_host_header,
                upstream,
                passive: options.passive,
                active,
                metrics: options.metrics,
                _health: health,
            }),
        })
    }

    /// Each server's URL and whether it is up, in configuration order.
    pub fn server_status(&self) -> Vec<(String, bool)> {
        self.inner
            .servers
            .iter()
            .map(|s| (s.target.url.clone(), s.up.load(Ordering::Relaxed)))
            .collect()
    }

    /// With an active health check, each server's URL as configured and
    /// whether it is up (Traefik's `service_server_up` gauge).
    pub fn checked_status(&self) -> Option<Vec<(Arc<str>, bool)>> {
        self.inner.active.then(|| {
            self.inner
                .servers
                .iter()
                .map(|s| (s.log_url.clone(), s.up.load(Ordering::Relaxed)))
                .collect()
        })
    }

    /// Whether any server is up.
    pub fn is_up(&self) -> bool {
        self.inner
            .servers
            .iter()
            .any(|s| s.up.load(Ordering::Relaxed))
    }
}

/// Counts one answer of `server` for the passive check, taking the server
/// out when it has failed too often within the window.
fn record(server: &Arc<Server>, passive: &Passive, active: bool, failed: bool) {
    let mut failures = server.failures.lock().unwrap_or_else(|p| p.into_inner());
    if !failed {
        failures.clear();
        return;
    }
    let now = Instant::now();
    failures.push_back(now);
    while failures
        .front()
        .is_some_and(|t| now.duration_since(*t) > passive.window)
    {
        failures.pop_front();
    }
    if failures.len() < passive.max_failed || server.benched.swap(true, Ordering::AcqRel) {
        return;
    }
    failures.clear();
    drop(failures);
    tracing::warn!(server = %server.target.url, "passive health check: server taken out");
    server.up.store(false, Ordering::Release);
    let server = server.clone();
    let window = passive.window;
    tokio::spawn(async move {
        if !active {
            tokio::time::sleep(window).await;
            server.up.store(true, Ordering::Release);
            tracing::info!(server = %server.target.url, "passive health check: server back");
        }
        server.benched.store(false, Ordering::Release);
    });
}

/// [`forward`], and for a logged request the origin's answer recorded,
/// for a counted one the service's metrics.
async fn forward_noted(
    upstream: Arc<Upstream>,
    server: &Server,
    pass_host: bool,
    req: Request,
    (facts, meter): (
        Option<Arc<crate::accesslog::LogFacts>>,
        Option<crate::metrics::ServiceObservation>,
    ),
) -> Result<crate::Response, ProxyError> {
    let result = forward_logged(upstream, server, pass_host, req, facts).await;
    match meter {
        Some(m) => m.settle(result),
        None => result,
    }
}

async fn forward_logged(
    upstream: Arc<Upstream>,
    server: &Server,
    pass_host: bool,
    req: Request,
    facts: Option<Arc<crate::accesslog::LogFacts>>,
) -> Result<crate::Response, ProxyError> {
    let Some(facts) = facts else {
        return forward(upstream, &server.target, pass_host, req).await;
    };
    let sent = Instant::now();
    let resp = forward(upstream, &server.target, pass_host, req).await?;
    Ok(crate::accesslog::note_origin(facts, resp, sent))
}

impl Handler for LoadBalancer {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let inner = &self.inner;
        let servers = &inner.servers;
        let Some(pick) = inner
            .picker
            .pick(&req, |i| servers[i].up.load(Ordering::Relaxed))
        else {
            return no_server();
        };
        let Some(server) = servers.get(pick.index).cloned() else {
            return no_server();
        };
        let upstream = inner.upstream.clone();
        let pass_host = inner.pass_host_header;
        let facts = crate::accesslog::LogFacts::of(&req);
        if let Some(f) = &facts {
            f.note_service(&inner.service, &server.log_url, &server.log_addr);
        }
        let span = crate::trace::service_span(&mut req, &inner.service);
        let meter = inner
            .metrics
            .as_ref()
            .and_then(|m| crate::metrics::ServiceObservation::begin(&m.0, &req));
        let facts = (facts, meter);
        let Some(passive) = inner.passive.clone() else {
            let call = Box::pin(async move {
                let result = forward_noted(upstream, &server, pass_host, req, facts).await;
                match span {
                    Some(span) => span.end_with(result),
                    None => result,
                }
            });
            return inner.picker.serve(pick, call);
        };
        let active = inner.active;
        let call = Box::pin(async move {
            let result = forward_noted(upstream, &server, pass_host, req, facts).await;
            let result = match span {
                Some(span) => span.end_with(result),
                None => result,
            };
            let failed = match &result {
                Ok(resp) => resp.status().is_server_error(),
                Err(e) => matches!(
                    e,
                    ProxyError::Connect { .. }
                        | ProxyError::Upstream { .. }
                        | ProxyError::UpstreamTimeout { .. }
                ),
            };
            record(&server, &passive, active, failed);
            result
        });
        inner.picker.serve(pick, call)
    }
}
