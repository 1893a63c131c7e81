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
    /// `mode: grpc`: the gRPC Health Checking Protocol v1 instead of HTTP.
    pub grpc: bool,
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
        if self.grpc {
            return self.probe_grpc(server, upstream).await;
        }
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

impl HealthCheck {
    /// `grpc.health.v1.Health/Check` with an empty request (the server's
    /// overall health); SERVING keeps the server up. Plain `http`/`h2c`
    /// schemes use HTTP/2 with prior knowledge, `https` HTTP/2 over TLS.
    async fn probe_grpc(&self, server: &Server, upstream: &Upstream) -> Result<(), String> {
        let authority = server.target.authority();
        let port = self.port.or(authority.port_u16());
        let host = authority.host();
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        let tls = self.scheme.as_deref() == Some("https");
        let hostport = port.map_or(host.clone(), |p| format!("{host}:{p}"));
        let url: Uri = format!(
            "{}://{hostport}/grpc.health.v1.Health/Check",
            if tls { "https" } else { "http" }
        )
        .parse()
        .map_err(|e| format!("gRPC health check URL: {e}"))?;
        let mut req = Request::new(body::full(&b"\x00\x00\x00\x00\x00"[..]));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = url;
        let h = req.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert(http::header::TE, HeaderValue::from_static("trailers"));
        let protocol = if tls {
            crate::upstream::Protocol::Auto
        } else {
            crate::upstream::Protocol::H2c
        };
        let exchange = async {
            let resp = upstream
                .send(req, &server.target.url, protocol)
                .await
                .map_err(|e| format!("gRPC health check failed: {e}"))?;
            use http_body_util::BodyExt;
            let headers = resp.headers().clone();
            let collected = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("gRPC health check failed: {e}"))?;
            let trailers = collected.trailers().cloned().unwrap_or_default();
            Ok::<_, String>((headers, trailers, collected.to_bytes()))
        };
        let (headers, trailers, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("gRPC health check timeout after {:?}", self.timeout))??;
        let grpc_status = trailers
            .get("grpc-status")
            .or_else(|| headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0");
        match grpc_status {
            "0" => {}
            "12" => return Err("gRPC server does not implement the health protocol".into()),
            other => return Err(format!("gRPC health check failed: grpc-status {other}")),
        }
        match grpc_health_status(&bytes) {
            Some(1) => Ok(()),
            Some(s) => Err(format!("received gRPC status code: {s}")),
            None => Err("gRPC health check: unreadable answer".into()),
        }
    }
}

/// The `status` field of a framed `HealthCheckResponse` (1 is SERVING).
pub fn grpc_health_status(frame: &[u8]) -> Option<u64> {
    if frame.len() < 5 || frame[0] != 0 {
        return None;
    }
    let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
    let msg = frame.get(5..5 + len)?;
    let mut i = 0;
    let mut status = 0;
    while i < msg.len() {
        let key = read_varint(msg, &mut i)?;
        match (key >> 3, key & 7) {
            (1, 0) => status = read_varint(msg, &mut i)?,
            (_, 0) => {
                read_varint(msg, &mut i)?;
            }
            (_, 2) => {
                let n = usize::try_from(read_varint(msg, &mut i)?).ok()?;
                i = i.checked_add(n)?;
            }
            (_, 1) => i += 8,
            (_, 5) => i += 4,
            _ => return None,
        }
    }
    (i == msg.len()).then_some(status)
}

fn read_varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
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

#[cfg(test)]
mod grpc_tests {
    use super::grpc_health_status;

    #[test]
    fn health_responses() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"\x00\x00\x00\x00\x02\x08\x01", Some(1)),
            (b"\x00\x00\x00\x00\x02\x08\x02", Some(2)),
            // Empty message: status UNKNOWN (0).
            (b"\x00\x00\x00\x00\x00", Some(0)),
            // An unknown length-delimited field is skipped.
            (b"\x00\x00\x00\x00\x05\x12\x01x\x08\x01", Some(1)),
            (b"\x01\x00\x00\x00\x02\x08\x01", None),
            (b"\x00\x00\x00\x00\x03\x08\x01", None),
            (b"\x00\x00", None),
        ];
        for (frame, want) in cases {
            assert_eq!(grpc_health_status(frame), *want, "{frame:?}");
        }
    }
}
