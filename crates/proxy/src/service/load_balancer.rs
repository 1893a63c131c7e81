//! The `loadBalancer` service: weighted round robin over servers, skipping
//! those the active health check marked down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::health::{HealthCheck, HealthTask};
use super::reverse_proxy::{forward, BadServerUrl, Target};
use super::wrr::Wrr;
use crate::upstream::Upstream;
use crate::{Handler, HandlerFuture, ProxyError, Request};

/// One configured server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    pub url: String,
    pub weight: u32,
    pub preserve_path: bool,
}

/// A server and its health.
#[derive(Debug)]
pub struct Server {
    pub target: Target,
    pub up: AtomicBool,
}

struct Inner {
    servers: Vec<Arc<Server>>,
    wrr: Mutex<Wrr>,
    pass_host_header: bool,
    upstream: Arc<Upstream>,
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
        pass_host_header: bool,
        upstream: Arc<Upstream>,
        health: Option<HealthCheck>,
    ) -> Result<LoadBalancer, BadServerUrl> {
        let servers: Vec<Arc<Server>> = specs
            .iter()
            .map(|s| {
                Ok(Arc::new(Server {
                    target: Target::parse(&s.url, s.preserve_path)?,
                    up: AtomicBool::new(true),
                }))
            })
            .collect::<Result<_, BadServerUrl>>()?;
        let wrr = Wrr::new(specs.iter().map(|s| s.weight));
        let health = health.map(|h| h.spawn(service, &servers, upstream.clone()));
        Ok(LoadBalancer {
            inner: Arc::new(Inner {
                servers,
                wrr: Mutex::new(wrr),
                pass_host_header,
                upstream,
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

    /// Whether any server is up.
    pub fn is_up(&self) -> bool {
        self.inner
            .servers
            .iter()
            .any(|s| s.up.load(Ordering::Relaxed))
    }

    fn pick(&self) -> Option<Arc<Server>> {
        let servers = &self.inner.servers;
        let index = {
            let mut wrr = self
                .inner
                .wrr
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            wrr.next(|i| servers[i].up.load(Ordering::Relaxed))?
        };
        servers.get(index).cloned()
    }
}

impl Handler for LoadBalancer {
    fn call(&self, req: Request) -> HandlerFuture {
        let Some(server) = self.pick() else {
            return Box::pin(async { Err(ProxyError::NoAvailableServer) });
        };
        let upstream = self.inner.upstream.clone();
        let pass_host = self.inner.pass_host_header;
        Box::pin(async move { forward(upstream, &server.target, pass_host, req).await })
    }
}
