//! A stand-in for the Kubernetes API server (none can be installed here),
//! faithful enough for Traefik's client-go informers and for Switchyard's
//! providers: discovery, list and watch with resource versions, bookmarks,
//! `sendInitialEvents`, label and field selectors, `410 Gone` once the
//! history is compacted, create / update / patch / delete, the status
//! subresource, and `Status` objects shaped like the real ones.
//!
//! Objects come from YAML manifests and change through [`KubeDouble`]'s
//! methods (or `/_double/...`, see [`control`]); every change moves one
//! global resource version and emits a watch event. It serves plain HTTP
//! on 127.0.0.1 (client-go takes an `http://` endpoint), or HTTPS with the
//! fixture certificate, and, when given a token, answers `401` to requests without `Authorization: Bearer <token>`.
//!
//! Deliberate simplifications: no admission or validation beyond names and
//! kinds; namespaces are created on first use (and deleting one leaves its
//! objects); lists always show the
//! current state (pages after the first too: no snapshot per version); strategic merge patches merge like JSON
//! merge patches (lists replaced whole).

pub mod control;
mod defaults;
mod error;
mod page;
mod patch;
mod proto;
mod resources;
mod selector;
mod server;
mod store;
#[cfg(test)]
mod tests;
mod watch;
mod yaml;

pub use error::ApiError;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use server::Shared;
use store::Store;

/// How a double is started.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    /// With a token, requests must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Events kept for watches to resume from (older ones get `410`).
    pub history: usize,
    /// How often a watch that allows bookmarks gets one (the API server
    /// sends one about every minute; tests want them sooner).
    pub bookmark_every: Duration,
    /// Serve HTTPS (HTTP/2 or HTTP/1.1 by ALPN, as the API server) with the
    /// fixture certificate, which the fixture CA (`tls::ca_path()`) signed
    /// for 127.0.0.1.
    pub tls: bool,
}

impl Default for KubeOptions {
    fn default() -> KubeOptions {
        KubeOptions {
            token: None,
            history: 1000,
            bookmark_every: Duration::from_secs(1),
            tls: false,
        }
    }
}

/// The double, serving on 127.0.0.1 from a thread of its own. Stopped and
/// started again, it keeps its objects and versions.
pub struct KubeDouble {
    pub port: u16,
    tls: bool,
    shared: Arc<Shared>,
    running: Option<(oneshot::Sender<()>, std::thread::JoinHandle<()>)>,
}

impl KubeDouble {
    /// Starts one on a free port with default options.
    pub fn start() -> KubeDouble {
        KubeDouble::start_with(crate::free_port(), KubeOptions::default())
    }

    /// Starts one on `port`.
    pub fn start_with(port: u16, options: KubeOptions) -> KubeDouble {
        let mut double = KubeDouble {
            port,
            tls: options.tls,
            shared: Arc::new(Shared {
                store: Mutex::new(Store::new(options.history)),
                token: Mutex::new(options.token),
                refused: Mutex::new(std::collections::HashMap::new()),
                bookmark_every: options.bookmark_every.max(Duration::from_millis(10)),
                requests: Mutex::new(Vec::new()),
                close_watches: tokio::sync::watch::channel(0).0,
                log: std::env::var_os("KUBE_DOUBLE_LOG").is_some(),
            }),
            running: None,
        };
        double.restart();
        double
    }

    /// Serves again (after [`KubeDouble::stop`]) with the same objects.
    pub fn restart(&mut self) {
        self.stop();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let shared = self.shared.clone();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let tls = self.tls.then(|| {
            crate::tls::acceptor_with(&crate::tls::TlsOptions {
                alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
                ..crate::tls::TlsOptions::default()
            })
        });
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                let _ = ready_tx.send(false);
                return;
            };
            runtime.block_on(async move {
                // The port may still be held a moment after a stop.
                let mut listener = None;
                for _ in 0..100 {
                    if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
                        listener = Some(l);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let Some(listener) = listener else {
                    let _ = ready_tx.send(false);
                    return;
                };
                let (_keep, never) = oneshot::channel::<()>();
                crate::serve::spawn_http(listener, tls, never, move |req| {
                    server::handle(req, shared.clone())
                });
                let _ = ready_tx.send(true);
                let _ = stop_rx.await;
            });
            // Dropping the runtime closes every connection and watch.
        });
        let ready = ready_rx.recv_timeout(Duration::from_secs(10));
        assert!(
            matches!(ready, Ok(true)),
            "kube double could not listen on {addr}"
        );
        self.running = Some((stop_tx, thread));
    }

    /// Stops serving now: the listener, every connection and watch closed.
    pub fn stop(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), the `endpoint` a
    /// provider is given.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Creates or replaces every object of a (multi-document) manifest;
    /// each change is a watch event.
    pub fn apply(&self, manifest: &str) -> Result<(), ApiError> {
        control::apply(&mut self.shared.store(), manifest).map(|_| ())
    }

    /// Applies a manifest as the API server's history is lost: every
    /// watch ends, and resuming from an earlier version gets `410 Gone`.
    pub fn apply_expired(&self, manifest: &str) -> Result<(), ApiError> {
        control::apply_expired(&self.shared, manifest).map(|_| ())
    }

    /// Deletes the object of `kind` (e.g. `Service`, `IngressRoute`).
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<(), ApiError> {
        let index = resources::RESOURCES
            .iter()
            .position(|r| r.kind == kind)
            .ok_or_else(ApiError::no_resource)?;
        let ns = if resources::RESOURCES[index].namespaced {
            namespace
        } else {
            ""
        };
        self.shared.store().delete(index, ns, name).map(|_| ())
    }

    /// Marks the endpoint with `address` of EndpointSlice `namespace/name`
    /// ready or not.
    pub fn set_ready(
        &self,
        namespace: &str,
        name: &str,
        address: &str,
        ready: bool,
    ) -> Result<(), ApiError> {
        control::set_ready(&mut self.shared.store(), namespace, name, address, ready)
    }

    /// The stored object of `kind`, as the API serves it.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let index = resources::RESOURCES.iter().position(|r| r.kind == kind)?;
        let ns = if resources::RESOURCES[index].namespaced {
            namespace
        } else {
            ""
        };
        self.shared
            .store()
            .get(index, ns, name)
            .map(|o| (*o).clone())
    }

    /// The latest resource version.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().rv()
    }

    /// Forgets the event history: watches from any earlier version get `410`.
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// Ends every open watch now, as an API server restart or a load
    /// balancer in between does; clients watch again from their version.
    pub fn close_watches(&self) {
        self.shared.close_watches.send_modify(|n| *n += 1);
    }

    /// Requires `token` from now on (None: no token), as a rotated service
    /// account token is; open watches go on.
    pub fn set_token(&self, token: Option<&str>) {
        *self
            .shared
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = token.map(str::to_string);
    }

    /// Answers every request for the collection `plural` (`middlewares`,
    /// `ingressroutes` ...) with `code`: 404 as a cluster where the CRD is
    /// not installed, 403 as RBAC refusing the verb. None serves it again.
    /// Open watches go on.
    pub fn refuse(&self, plural: &str, code: Option<u16>) {
        let mut refused = self
            .shared
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match code {
            Some(code) => refused.insert(plural.to_string(), code),
            None => refused.remove(plural),
        };
    }

    /// Every request seen so far, as `METHOD path?query accept=... HTTP/x`.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        self.stop();
    }
}
