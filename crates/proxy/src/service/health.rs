//! Active health checks of a load balancer's servers, as Traefik runs them:
//! a request to each server every `interval` (every `unhealthyInterval` while
//! it is down); a 2xx or 3xx answer (or exactly `status`, when set) within
//! `timeout` keeps or puts it in rotation.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Uri};

use super::load_balancer::Server;
use crate::upstream::Upstream;
use crate::{body, Request};

/// A compiled `healthCheck` section.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub scheme: Option<String>,
    pub path: String,
    pub method: Method,
    pub port: Option<u16>,
    pub hostname: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub status: Option<u16>,
    pub interval: Duration,
    pub unhealthy_interval: Duration,
    pub timeout: Duration,
    pub follow_redirects: bool,
}

/// The running checks; dropping it stops them.
pub struct HealthTask {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for HealthTask {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl HealthCheck {
    /// Starts one checking task per server.
    pub fn spawn(
        self,
        service: &str,
        servers: &[Arc<Server>],
        upstream: Arc<Upstream>,
    ) -> HealthTask {
        let check = Arc::new(self);
        let tasks = servers
            .iter()
            .map(|server| {
                let (check, server, upstream) = (check.clone(), server.clone(), upstream.clone());
                let service = service.to_string();
                tokio::spawn(async move {
                    loop {
                        let up = server.up.load(Ordering::Relaxed);
                        let wait = if up {
                            check.interval
                        } else {
                            check.unhealthy_interval
                        };
                        tokio::time::sleep(wait).await;
                        let result = check.probe(&server, &upstream).await;
                        let now_up = result.is_ok();
                        if now_up != server.up.swap(now_up, Ordering::Relaxed) {
                            match result {
                                Ok(()) => tracing::info!(
                                    service = %service, server = %server.target.url,
                                    "health check succeeded, server back in rotation"
                                ),
                                Err(reason) => tracing::warn!(
                                    service = %service, server = %server.target.url, %reason,
                                    "health check failed, server removed from rotation"
                                ),
                            }
                        }
                    }
                })
            })
            .collect();
        HealthTask { tasks }
    }

    fn url_for(&self, server: &Server) -> Result<Uri, String> {
        let authority = server.target.authority();
        let host = authority.host();
        let port = self.port.or(authority.port_u16());
        let scheme = self.scheme.as_deref().unwrap_or("http");
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let hostport = match port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        };
        let path = if self.path.starts_with('/') {
            self.path.clone()
        } else {
            format!("/{}", self.path)
        };
        format!("{scheme}://{hostport}{path}")
            .parse()
            .map_err(|e| format!("health check URL: {e}"))
    }

    async fn probe(&self, server: &Server, upstream: &Upstream) -> Result<(), String> {
        let mut url = self.url_for(server)?;
        for _ in 0..10 {
            let mut req = Request::new(body::empty());
            *req.method_mut() = self.method.clone();
            *req.uri_mut() = url.clone();
            let host = self
                .hostname
                .clone()
                .unwrap_or_else(|| url.authority().map(|a| a.to_string()).unwrap_or_default());
            if let Ok(h) = HeaderValue::from_str(&host) {
                req.headers_mut().insert(http::header::HOST, h);
            }
            for (k, v) in &self.headers {
                req.headers_mut().insert(k.clone(), v.clone());
            }
            let resp = tokio::time::timeout(
                self.timeout,
                upstream.send(req, &server.target.url, server.target.protocol()),
            )
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?
            .map_err(|e| e.to_string())?;
            let status = resp.status();
            if self.follow_redirects && status.is_redirection() {
                if let Some(next) = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                {
                    url = resolve(&url, next)?;
                    continue;
                }
            }
            let code = status.as_u16();
            return match self.status {
                Some(want) if want != code => {
                    Err(format!("received status {code}, expected {want}"))
                }
                None if !(200..400).contains(&code) => {
                    Err(format!("received error status code: {code}"))
                }
                _ => Ok(()),
            };
        }
        Err("too many redirects".into())
    }
}

fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    if location.contains("://") {
        return location
            .parse()
            .map_err(|e| format!("redirect location: {e}"));
    }
    let authority = base.authority().map(|a| a.as_str()).unwrap_or_default();
    let scheme = base.scheme_str().unwrap_or("http");
    format!("{scheme}://{authority}{location}")
        .parse()
        .map_err(|e| format!("redirect location: {e}"))
}
