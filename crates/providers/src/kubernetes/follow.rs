//! What the Kubernetes providers share once their reflectors run: the
//! connection from the static settings, one channel told of any copy's
//! change (changes made while a translation runs are taken together by the
//! next one), sending a configuration only when it differs from the last
//! one sent (then waiting `throttleDuration` when written, as Traefik), and
//! logging each object's problems once.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use switchyard_config::dynamic::Configuration;
use tokio::sync::mpsc;

use super::crd::ObjectError;
use super::{ApiClient, Connection, ConnectionSettings, Store};
use crate::{Message, Sender};

/// The connection settings of a provider: `token` is the token itself or,
/// as Traefik's `FileOrContent`, the path of a file holding it.
pub fn settings(endpoint: &str, token: &str, cert_auth_file_path: &str) -> ConnectionSettings {
    let token = match std::fs::read_to_string(token) {
        Ok(content) if !token.is_empty() => content.trim().to_string(),
        _ => token.to_string(),
    };
    ConnectionSettings {
        endpoint: endpoint.to_string(),
        token,
        cert_auth_file_path: cert_auth_file_path.to_string(),
    }
}

/// The API client of `settings`, or None (said in the log) when it cannot
/// be made.
pub fn client(settings: &ConnectionSettings, provider: &str) -> Option<Arc<ApiClient>> {
    let made = Connection::resolve(settings).and_then(ApiClient::new);
    match made {
        Ok(c) => {
            tracing::info!(provider, endpoint = %c.base(), "watching the Kubernetes API");
            Some(Arc::new(c))
        }
        Err(e) => {
            tracing::error!(provider, error = %e, "cannot start the provider");
            None
        }
    }
}

/// Told when any of the followed stores changed.
pub struct Changes {
    rx: mpsc::Receiver<()>,
    tx: mpsc::Sender<()>,
    _forwarders: tokio::task::JoinSet<()>,
}

impl Changes {
    pub fn follow<'a>(stores: impl IntoIterator<Item = &'a Arc<Store>>) -> Changes {
        let (tx, rx) = mpsc::channel::<()>(1);
        let mut forwarders = tokio::task::JoinSet::new();
        for store in stores {
            let mut changes = store.subscribe();
            let tx = tx.clone();
            forwarders.spawn(async move {
                while changes.changed().await.is_ok() {
                    // Full: a change is already waiting to be taken.
                    if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                        return;
                    }
                }
            });
        }
        // Copies listed before their forwarder subscribed moved no counter it saw.
        let _ = tx.try_send(());
        Changes {
            rx,
            tx,
            _forwarders: forwarders,
        }
    }

    /// Waits for the next change (false: nothing will change any more).
    pub async fn next(&mut self) -> bool {
        self.rx.recv().await.is_some()
    }

    /// Asks for another round, as if something changed.
    pub fn again(&self) {
        let _ = self.tx.try_send(());
    }
}

/// Sends a provider's configurations to the watcher.
pub struct Sending {
    provider: &'static str,
    throttle: Duration,
    last_sent: Option<Configuration>,
}

impl Sending {
    pub fn new(provider: &'static str, throttle: Duration) -> Sending {
        Sending {
            provider,
            throttle,
            last_sent: None,
        }
    }

    /// Sends `config` unless it is the last one sent; false when the
    /// watcher is gone.
    pub async fn send(&mut self, config: Configuration, tx: &Sender) -> bool {
        if self.last_sent.as_ref().is_some_and(|l| l.same(&config)) {
            tracing::debug!(
                provider = self.provider,
                "configuration unchanged; not sent"
            );
            return true;
        }
        let message = Message {
            provider: self.provider.to_string(),
            config: config.clone(),
        };
        if tx.send(message).await.is_err() {
            return false;
        }
        self.last_sent = Some(config);
        if !self.throttle.is_zero() {
            tokio::time::sleep(self.throttle).await;
        }
        true
    }
}

/// Logs the errors and warnings not logged the last time (the same broken
/// object is not reported on every change).
pub fn log_problems(
    provider: &str,
    errors: &[ObjectError],
    warnings: &[ObjectError],
    logged: &mut BTreeSet<String>,
) {
    let mut now = BTreeSet::new();
    for e in errors {
        let line = e.to_string();
        if !logged.contains(&line) {
            tracing::error!(provider, kind = %e.kind, namespace = %e.namespace,
                name = %e.name, error = %e.message, "object left out of the configuration");
        }
        now.insert(line);
    }
    for w in warnings {
        let line = format!("warning {w}");
        if !logged.contains(&line) {
            tracing::warn!(provider, kind = %w.kind, namespace = %w.namespace,
                name = %w.name, "{}", w.message);
        }
        now.insert(line);
    }
    *logged = now;
}
