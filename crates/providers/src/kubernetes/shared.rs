//! What the Kubernetes providers share around their translation: the
//! connection settings as Traefik reads them, the API client, one
//! coalescing channel of every local copy's changes, and the logging of a
//! translation's errors once each.
//!
//! Written for the `kubernetesIngress` provider; `crd_provider.rs` has the
//! same pieces of its own, to move onto these.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::crd::ObjectError;
use super::{ApiClient, Connection, ConnectionSettings, Store};

/// The connection settings: `token` is the token itself or, as Traefik's
/// `FileOrContent`, the path of a file holding it.
pub fn connection_settings(
    endpoint: &str,
    token: &str,
    cert_auth_file_path: &str,
) -> ConnectionSettings {
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

/// The API client of `settings`, or `None` (logged) when they cannot work.
pub fn connect(settings: &ConnectionSettings, provider: &str) -> Option<Arc<ApiClient>> {
    match Connection::resolve(settings).and_then(ApiClient::new) {
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

/// One channel told of every change of any of `stores`, holding at most
/// one pending change: changes made while the receiver works are taken
/// together by its next receive. A first change is pending already (copies
/// listed before their forwarder subscribed moved no counter it saw). The
/// forwarders end with the returned set.
pub fn coalesced_changes<'a>(
    stores: impl Iterator<Item = &'a Arc<Store>>,
) -> (mpsc::Receiver<()>, tokio::task::JoinSet<()>) {
    let (changed_tx, changed_rx) = mpsc::channel::<()>(1);
    let mut forwarders = tokio::task::JoinSet::new();
    for store in stores {
        let mut changes = store.subscribe();
        let changed_tx = changed_tx.clone();
        forwarders.spawn(async move {
            while changes.changed().await.is_ok() {
                // Full: a change is already waiting to be taken.
                if let Err(mpsc::error::TrySendError::Closed(())) = changed_tx.try_send(()) {
                    return;
                }
            }
        });
    }
    let _ = changed_tx.try_send(());
    (changed_rx, forwarders)
}

/// Logs the errors not logged the last time (the same broken object is
/// not reported on every change); `logged` keeps this time's.
pub fn log_new_errors(provider: &str, errors: &[ObjectError], logged: &mut BTreeSet<String>) {
    let mut now = BTreeSet::new();
    for e in errors {
        let line = e.to_string();
        if !logged.contains(&line) {
            tracing::error!(provider, kind = %e.kind, namespace = %e.namespace,
                name = %e.name, error = %e.message, "left out of the configuration");
        }
        now.insert(line);
    }
    *logged = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_inline_or_from_a_file() {
        let path = std::env::temp_dir().join(format!("sy-kube-token-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").expect("write");
        let cases = [
            (String::new(), ""),
            ("inline-token".to_string(), "inline-token"),
            (path.display().to_string(), "from-file"),
        ];
        for (token, want) in cases {
            let s = connection_settings("http://127.0.0.1:1", &token, "/ca.pem");
            assert_eq!(s.token, want, "{token}");
            assert_eq!(s.endpoint, "http://127.0.0.1:1");
            assert_eq!(s.cert_auth_file_path, "/ca.pem");
        }
        std::fs::remove_file(&path).ok();
    }
}
