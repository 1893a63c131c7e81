//! Active health checks of a TCP load balancer's servers, as Traefik 3.7
//! runs them (`pkg/healthcheck/healthcheck_tcp.go`): every `interval`
//! (every `unhealthyInterval` while a server is down) a connection to the
//! server (to `port` when given), `send` written and `expect` read back
//! within `timeout`; a server that fails is out of rotation until a check
//! succeeds again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    /// Starts one checking task per server address; `up[i]` is the status
    /// of `addresses[i]`. None outside a Tokio runtime (a build in a unit
    /// test): the servers stay up.
    pub fn spawn(
        &self,
        service: &str,
        addresses: &[String],
        up: &Arc<[AtomicBool]>,
    ) -> Option<HealthTask> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let check = Arc::new(self.clone());
        let tasks = addresses
            .iter()
            .enumerate()
            .map(|(i, address)| {
                let (check, up, address) = (check.clone(), up.clone(), address.clone());
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
                        let result = check.probe(&address).await;
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

    async fn probe(&self, address: &str) -> Result<(), String> {
        let target = match self.port {
            Some(port) => {
                let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
                format!("{host}:{port}")
            }
            None => address.to_string(),
        };
        let exchange = async {
            let mut conn = TcpStream::connect(&target)
                .await
                .map_err(|e| format!("connecting to {target}: {e}"))?;
            if !self.send.is_empty() {
                conn.write_all(&self.send)
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
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("timed out after {:?}", self.timeout))?
    }
}
