//! The KV store providers (`providers.redis`, `providers.etcd`): one
//! shared loop and one small backend per store.
//!
//! The loop, as in Traefik's `pkg/provider/kv`: connect and start watching
//! every key below `rootKey`, read them all, decode them
//! ([`switchyard_config::kv::decode_kv`]) and send the configuration; then
//! read and send again on each change the store pushes. The watch starts
//! before the first read, so nothing written in between is missed.
//!
//! When the store cannot be reached (at start or later) the provider sends
//! nothing, so the last configuration it sent keeps serving; it logs that
//! once (not once per retry), retries with capped exponential backoff, and
//! says so when the store answers again.
//!
//! # Where Switchyard differs
//!
//! - A key that does not decode (an unknown field, a bad value) is an error
//!   on its element (`http/routers/<name>`, `tls/options/<name>`, ...),
//!   which is left out; the rest of the store's configuration still goes
//!   out. Traefik refuses the whole set and keeps its previous one.

pub mod redis;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use switchyard_config::dynamic::Configuration;
use switchyard_config::kv::decode_kv;

use crate::{Message, Sender};

/// An error talking to a store, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {detail}")]
pub struct KvError {
    pub context: String,
    pub detail: String,
}

impl KvError {
    pub fn new(context: impl Into<String>, detail: impl std::fmt::Display) -> KvError {
        KvError {
            context: context.into(),
            detail: detail.to_string(),
        }
    }
}

/// One KV store, as the shared loop drives it.
pub trait Store: Send + 'static {
    /// Connects and starts watching the keys below the root key. Called
    /// again after any error, to reconnect.
    fn connect(&mut self) -> impl Future<Output = Result<(), KvError>> + Send;
    /// Every `(key, value)` below the root key.
    fn list(&mut self) -> impl Future<Output = Result<Vec<(String, String)>, KvError>> + Send;
    /// Returns when something below the root key changed (a burst of
    /// changes already received counts as one); an error when the
    /// connection or the watch is lost.
    fn changed(&mut self) -> impl Future<Output = Result<(), KvError>> + Send;
}

/// Capped exponential backoff between reconnections.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        wait
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Runs a KV provider named `provider` until `tx` closes.
pub async fn run<S: Store>(provider: &'static str, mut store: S, root_key: String, tx: Sender) {
    let mut state = State {
        provider,
        root_key,
        last_sent: None,
        down: false,
        backoff: Backoff::new(),
    };
    loop {
        let Err(e) = state.session(&mut store, &tx).await else {
            return;
        };
        if tx.is_closed() {
            return;
        }
        if state.down {
            tracing::debug!(provider, error = %e, "KV store still unreachable");
        } else {
            state.down = true;
            tracing::error!(provider, error = %e, "KV store unreachable: keeping the last configuration and reconnecting");
        }
        tokio::time::sleep(state.backoff.next()).await;
    }
}

struct State {
    provider: &'static str,
    root_key: String,
    last_sent: Option<Configuration>,
    /// The store's loss has been logged.
    down: bool,
    backoff: Backoff,
}

impl State {
    /// One connection: Ok only when `tx` closed.
    async fn session<S: Store>(&mut self, store: &mut S, tx: &Sender) -> Result<(), KvError> {
        store.connect().await?;
        let mut first = true;
        loop {
            let pairs = store.list().await?;
            if std::mem::take(&mut first) {
                // Read through the new connection: the store is back.
                self.backoff.reset();
                if std::mem::take(&mut self.down) {
                    tracing::info!(provider = self.provider, "KV store reachable again");
                }
            }
            let config = decode(self.provider, &pairs, &self.root_key);
            if self.last_sent.as_ref() != Some(&config) {
                tracing::info!(
                    provider = self.provider,
                    keys = pairs.len(),
                    "configuration change detected"
                );
                self.last_sent = Some(config.clone());
                let message = Message {
                    provider: self.provider.to_string(),
                    config,
                };
                if tx.send(message).await.is_err() {
                    return Ok(());
                }
            }
            tokio::select! {
                changed = store.changed() => changed?,
                () = tx.closed() => return Ok(()),
            }
        }
    }
}

/// The element a key configures: `http/routers/<name>`, `tls/options/<name>`,
/// `tls/certificates/<n>` (its first three segments below the root).
fn element_of<'a>(key: &'a str, root_key: &str) -> Vec<&'a str> {
    let rest = key.strip_prefix(root_key).unwrap_or(key);
    rest.split('/').filter(|s| !s.is_empty()).take(3).collect()
}

/// Decodes the pairs; when some key does not decode, decodes element by
/// element and leaves out (with an error) the elements that fail.
pub fn decode(provider: &str, pairs: &[(String, String)], root_key: &str) -> Configuration {
    let whole = match decode_kv(pairs.iter().map(as_str), root_key) {
        Ok(whole) => whole,
        Err(_) => {
            let mut elements: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
            for pair in pairs {
                let element = element_of(&pair.0, root_key).join("/").to_ascii_lowercase();
                elements.entry(element).or_default().push(pair);
            }
            let mut good = Vec::new();
            for (element, group) in elements {
                match decode_kv(group.iter().map(|p| as_str(p)), root_key) {
                    Ok(_) => good.extend(group),
                    Err(e) => {
                        tracing::error!(provider, element = %element, error = %e, "invalid KV configuration: this element is left out")
                    }
                }
            }
            match decode_kv(good.into_iter().map(as_str), root_key) {
                Ok(rest) => rest,
                Err(e) => {
                    tracing::error!(provider, error = %e, "invalid KV configuration");
                    Default::default()
                }
            }
        }
    };
    if !whole.ignored.is_empty() {
        tracing::warn!(provider, keys = ?whole.ignored, "KV keys Traefik does not read are ignored");
    }
    whole.configuration
}

fn as_str(pair: &(String, String)) -> (&str, &str) {
    (pair.0.as_str(), pair.1.as_str())
}

/// Splits `host:port` (`[v6]:port`); `default_port` when none is given.
pub fn host_port(endpoint: &str, default_port: u16) -> Result<(String, u16), KvError> {
    let bad = || KvError::new(format!("endpoint {endpoint:?}"), "expected host:port");
    let endpoint = endpoint.trim();
    let (host, port) = match endpoint.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (endpoint, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests;
