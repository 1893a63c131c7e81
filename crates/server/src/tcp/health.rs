//! Active health checks of a TCP load balancer's servers, as Traefik 3.7
//! runs them (`pkg/healthcheck/healthcheck_tcp.go`): every `interval`
//! (every `unhealthyInterval` while a server is down) a connection to the
//! server (to `port` when given; over TLS with the balancer's transport
//! for a server with `tls`, as Traefik dials it), `send` written and
//! `expect` read back within `timeout`; a server that fails is out of
//! rotation until a check succeeds again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::service::{ClientTls, Server};

/// A compiled `healthCheck` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpHealthCheck {
    pub port: Option<u16>,
    pub send: Vec<u8>,
    pub expect: Vec<u8>,
    pub interval: Duration,
    pub unhealthy_interval: Duration,
    pub timeout: Duration,
}

/// The running checks of one balancer; dropping it stops them.
#[derive(Debug, Default)]
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

impl TcpHealthCheck {
    /// Starts one checking task per server; `up[i]` is the status of
    /// `servers[i]`, `tls` the client of those with `tls`. None outside a
    /// Tokio runtime (a build in a unit test): the servers stay up.
    pub fn spawn(
        &self,
        service: &str,
        servers: &[Server],
        tls: Option<&ClientTls>,
        up: &Arc<[AtomicBool]>,
    ) -> Option<HealthTask> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let check = Arc::new(self.clone());
        let tasks = servers
            .iter()
            .enumerate()
            .map(|(i, server)| {
                let (check, up) = (check.clone(), up.clone());
                let address = server.address.clone();
                let tls = tls.filter(|_| server.tls).cloned();
                let service = service.to_string();
                handle.spawn(async move {
                    loop {
                        let was_up = up[i].load(Ordering::Relaxed);
                        let wait = if was_up {
                            check.interval
                        } else {
                            check.unhealthy_interval
                        };
                        tokio::time::sleep(wait).await;
                        let result = check.probe(&address, tls.as_ref()).await;
                        let now_up = result.is_ok();
                        if now_up != up[i].swap(now_up, Ordering::Relaxed) {
                            match result {
                                Ok(()) => tracing::info!(service = %service, server = %address, "health check succeeded, server back in rotation"),
                                Err(e) => tracing::warn!(service = %service, server = %address, error = %e, "Health check failed."),
                            }
                        }
                    }
                })
            })
            .collect();
        Some(HealthTask { tasks })
    }

    async fn probe(&self, address: &str, tls: Option<&ClientTls>) -> Result<(), String> {
        let target = match self.port {
            Some(port) => {
                let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
                format!("{host}:{port}")
            }
            None => address.to_string(),
        };
        let check = async {
            let conn = TcpStream::connect(&target)
                .await
                .map_err(|e| format!("connecting to {target}: {e}"))?;
            match tls {
                Some(tls) => {
                    let conn = tls
                        .connect(&target, conn)
                        .await
                        .map_err(|e| format!("connecting to {target}: {e}"))?;
                    self.exchange(conn, &target).await
                }
                None => self.exchange(conn, &target).await,
            }
        };
        tokio::time::timeout(self.timeout, check)
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?
    }

    /// `send` written, `expect` read back (in one read, as Traefik reads).
    async fn exchange<S>(&self, mut conn: S, target: &str) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if !self.send.is_empty() {
            conn.write_all(&self.send)
                .await
                .map_err(|e| format!("sending to {target}: {e}"))?;
            conn.flush()
                .await
                .map_err(|e| format!("sending to {target}: {e}"))?;
        }
        if !self.expect.is_empty() {
            let mut got = vec![0u8; self.expect.len()];
            let n = conn
                .read(&mut got)
                .await
                .map_err(|e| format!("reading from {target}: {e}"))?;
            if got[..n] != self.expect[..] {
                return Err("unexpected heath check response".to_string());
            }
        }
        Ok(())
    }
}
