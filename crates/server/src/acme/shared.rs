//! Certificates shared by replicas (Switchyard's extension,
//! `certificatesResolvers.<name>.acme.sharedStorage`): several instances
//! behind one address keep one ACME account and one set of certificates in
//! a Redis server, and one of them orders each domain set.
//!
//! Below `<rootKey>/acme/<resolver>` (the prefix, `P`):
//!
//! | key | type | what |
//! |---|---|---|
//! | `P/account` | string | the account, as `acme.json` spells it; the first instance to register writes it (`SET NX`), the others adopt it |
//! | `P/certificates` | hash | domain set (`a.test,b.test`) → certificate, as `acme.json` spells it |
//! | `P/lock/<set>` | string | who orders that set now (`SET NX PX`, ten minutes); released by its holder only |
//! | `P/challenges/http` | hash | HTTP-01 token → key authorization, while an order is validated |
//! | `P/challenges/alpn` | hash | domain → TLS-ALPN-01 key authorization, likewise |
//! | `P/changed` | channel | `certificates` or `challenges` after each write |
//!
//! The CA validates through whichever instance the address reaches, so
//! every instance answers every instance's pending challenges: a task per
//! resolver follows the channel, mirrors the challenges into the local
//! table the entrypoints answer from, and tells the resolver when the
//! certificates changed. On reconnection it catches up on both.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands;
use switchyard_config::static_config::RedisProvider;
use tokio::sync::mpsc;

use super::challenges::Challenges;
use super::storage::{AccountData, ResolverData, StoredCert};

/// How long a lock holds when its holder never releases it (it died).
const LOCK_TTL: Duration = Duration::from_secs(600);
/// How long an instance that wrote a challenge waits before the CA is told
/// to validate, so that the other instances have mirrored it.
pub(super) const PROPAGATION: Duration = Duration::from_millis(250);
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// One resolver's view of the shared store.
pub struct Shared {
    resolver: String,
    prefix: String,
    settings: RedisProvider,
    /// This instance's mark on the locks it takes.
    token: String,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// The challenge fields this instance wrote for the order under way.
    written: std::sync::Mutex<Vec<(&'static str, String)>>,
}

/// What changed in the store, for the resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Certificates,
}

/// The hash field of a domain set.
fn set_field(set: &[String]) -> String {
    set.join(",")
}

fn err(what: &str, e: impl std::fmt::Display) -> String {
    format!("shared ACME storage: {what}: {e}")
}

impl Shared {
    /// Checks the settings; connects on first use.
    pub fn new(resolver: &str, settings: &RedisProvider) -> Result<Shared, String> {
        if settings.endpoints.is_empty() {
            return Err(err("sharedStorage.redis.endpoints", "none given"));
        }
        let root = settings.root_key.trim_matches('/');
        let mut token = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut token)
            .map_err(|_| err("lock token", "no randomness"))?;
        Ok(Shared {
            resolver: resolver.to_string(),
            prefix: format!("{root}/acme/{resolver}"),
            settings: settings.clone(),
            token: token.iter().map(|b| format!("{b:02x}")).collect(),
            conn: tokio::sync::Mutex::new(None),
            written: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}/{rest}", self.prefix)
    }

    async fn client(&self) -> Result<redis::Client, String> {
        switchyard_providers::kv::redis::client_for(&self.settings)
            .await
            .map_err(|e| err("redis", e))
    }

    /// A connection, made when there is none (or the last one failed).
    async fn conn(&self) -> Result<MultiplexedConnection, String> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(DIAL_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let c = self
            .client()
            .await?
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| err("connecting to redis", e))?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `f` on a connection; a failed command drops the connection so
    /// that the next one reconnects.
    async fn with<T, F, Fut>(&self, what: &str, f: F) -> Result<T, String>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let c = self.conn().await?;
        match f(c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    *self.conn.lock().await = None;
                }
                Err(err(what, e))
            }
        }
    }

    /// The account and certificates the store holds.
    pub async fn load(&self) -> Result<ResolverData, String> {
        let (account_key, certs_key) = (self.key("account"), self.key("certificates"));
        let (account, certs): (Option<String>, HashMap<String, String>) = self
            .with("reading the account and certificates", |mut c| async move {
                redis::pipe()
                    .get(&account_key)
                    .hgetall(&certs_key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let account = match account {
            Some(text) => Some(
                serde_json::from_str::<AccountData>(&text)
                    .map_err(|e| err(&self.key("account"), e))?,
            ),
            None => None,
        };
        let mut certificates = Vec::new();
        let mut fields: Vec<_> = certs.into_iter().collect();
        fields.sort();
        for (field, text) in fields {
            match serde_json::from_str::<StoredCert>(&text) {
                Ok(c) => certificates.push(c),
                Err(e) => {
                    tracing::error!(resolver = %self.resolver, set = %field, "{}", err("unreadable certificate", e))
                }
            }
        }
        Ok(ResolverData {
            account,
            certificates: Some(certificates),
        })
    }

    /// Stores `account` unless one is stored already; returns the one the
    /// store holds afterwards.
    pub async fn store_account(&self, account: &AccountData) -> Result<AccountData, String> {
        let text = serde_json::to_string(account).map_err(|e| err("account", e))?;
        let key = self.key("account");
        let stored: Option<String> = self
            .with("storing the account", |mut c| async move {
                let _: Option<String> = redis::cmd("SET")
                    .arg(&key)
                    .arg(&text)
                    .arg("NX")
                    .query_async(&mut c)
                    .await?;
                c.get(&key).await
            })
            .await?;
        match stored {
            Some(t) => serde_json::from_str(&t).map_err(|e| err("stored account", e)),
            None => Ok(account.clone()),
        }
    }

    /// Stores `cert` for its domain set and tells the other instances.
    pub async fn store_certificate(&self, set: &[String], cert: &StoredCert) -> Result<(), String> {
        let text = serde_json::to_string(cert).map_err(|e| err("certificate", e))?;
        let (key, channel, field) = (
            self.key("certificates"),
            self.key("changed"),
            set_field(set),
        );
        self.with("storing the certificate", |mut c| async move {
            redis::pipe()
                .hset(&key, &field, &text)
                .ignore()
                .publish(&channel, "certificates")
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    /// Takes the lock on ordering `set`; false when another instance holds
    /// it.
    pub async fn lock(&self, set: &[String]) -> Result<bool, String> {
        let key = self.key(&format!("lock/{}", set_field(set)));
        let token = self.token.clone();
        let ttl = LOCK_TTL.as_millis() as u64;
        let taken: Option<String> = self
            .with("taking the order lock", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(taken.is_some())
    }

    /// Releases the lock on `set` when this instance still holds it.
    pub async fn unlock(&self, set: &[String]) {
        let key = self.key(&format!("lock/{}", set_field(set)));
        let token = self.token.clone();
        // Deleted only while it still holds this instance's token.
        const RELEASE: &str =
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
        let released = self
            .with("releasing the order lock", |mut c| async move {
                redis::cmd("EVAL")
                    .arg(RELEASE)
                    .arg(1)
                    .arg(&key)
                    .arg(&token)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = released {
            tracing::warn!(resolver = %self.resolver, "{e} (it expires by itself)");
        }
    }

    /// Publishes a pending challenge answer (`http`: token → key
    /// authorization; `alpn`: domain → key authorization) to the other
    /// instances.
    pub async fn add_challenge(
        &self,
        kind: &'static str,
        name: &str,
        key_auth: &str,
    ) -> Result<(), String> {
        let (key, channel) = (self.key(&format!("challenges/{kind}")), self.key("changed"));
        let (field, value) = (name.to_string(), key_auth.to_string());
        self.with("sharing the challenge", |mut c| async move {
            redis::pipe()
                .hset(&key, &field, &value)
                .ignore()
                .publish(&channel, "challenges")
                .ignore()
                .query_async::<()>(&mut c)
                .await
        })
        .await?;
        self.written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((kind, name.to_string()));
        Ok(())
    }

    /// Withdraws the challenges this instance published.
    pub async fn clear_challenges(&self) {
        let written = std::mem::take(&mut *self.written.lock().unwrap_or_else(|p| p.into_inner()));
        if written.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (kind, name) in &written {
            pipe.hdel(self.key(&format!("challenges/{kind}")), name)
                .ignore();
        }
        pipe.publish(self.key("changed"), "challenges").ignore();
        if let Err(e) = self
            .with("withdrawing challenges", |mut c| async move {
                pipe.query_async::<()>(&mut c).await
            })
            .await
        {
            tracing::warn!(resolver = %self.resolver, "{e}");
        }
    }

    /// The pending challenges of every instance: HTTP-01 and TLS-ALPN-01.
    async fn challenges(
        &self,
    ) -> Result<(HashMap<String, String>, HashMap<String, String>), String> {
        let (http, alpn) = (self.key("challenges/http"), self.key("challenges/alpn"));
        self.with("reading the challenges", |mut c| async move {
            redis::pipe()
                .hgetall(&http)
                .hgetall(&alpn)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Follows the store: mirrors every instance's pending challenges into
    /// `table` and sends [`Change::Certificates`] when the certificates
    /// changed (and after each reconnection). Runs until the resolver
    /// drops the receiver.
    pub fn watch(self: &Arc<Self>, table: Challenges) -> mpsc::Receiver<Change> {
        let (tx, rx) = mpsc::channel(8);
        let me = self.clone();
        tokio::spawn(async move { me.follow(table, tx).await });
        rx
    }

    async fn follow(&self, table: Challenges, tx: mpsc::Sender<Change>) {
        let channel = self.key("changed");
        let mut mirrored = Mirrored::default();
        let mut backoff = Duration::from_millis(500);
        let mut down = false;
        loop {
            let subscribed = async {
                let mut pubsub =
                    tokio::time::timeout(DIAL_TIMEOUT, self.client().await?.get_async_pubsub())
                        .await
                        .map_err(|_| err("subscribing", "timed out"))?
                        .map_err(|e| err("subscribing", e))?;
                pubsub
                    .subscribe(&channel)
                    .await
                    .map_err(|e| err("subscribing", e))?;
                Ok::<_, String>(pubsub.into_on_message())
            }
            .await;
            let mut messages = match subscribed {
                Ok(m) => m,
                Err(e) => {
                    if !down {
                        tracing::error!(resolver = %self.resolver, "{e}; retrying with backoff, certificates already obtained keep serving");
                        down = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    if tx.is_closed() {
                        return;
                    }
                    continue;
                }
            };
            if down {
                tracing::info!(resolver = %self.resolver, "shared ACME storage reachable again");
                down = false;
            }
            backoff = Duration::from_millis(500);
            // Catch up on what changed while not subscribed.
            self.mirror(&table, &mut mirrored).await;
            if tx.send(Change::Certificates).await.is_err() {
                return;
            }
            while let Some(msg) = messages.next().await {
                match msg.get_payload_bytes() {
                    b"challenges" => self.mirror(&table, &mut mirrored).await,
                    _ => {
                        if tx.send(Change::Certificates).await.is_err() {
                            return;
                        }
                    }
                }
            }
            // The subscription ended: the server went away.
            *self.conn.lock().await = None;
        }
    }

    /// Makes `table` answer exactly the challenges the store holds (besides
    /// this instance's own, which its orders publish and withdraw).
    async fn mirror(&self, table: &Challenges, mirrored: &mut Mirrored) {
        let (http, alpn) = match self.challenges().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(resolver = %self.resolver, "{e}");
                return;
            }
        };
        table.mirror(&http, &alpn, &mut mirrored.http, &mut mirrored.alpn);
    }
}

/// The challenge answers a [`Shared`] put into the local table.
#[derive(Default)]
struct Mirrored {
    http: HashSet<String>,
    alpn: HashSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_live_below_the_root_key_and_the_resolver() {
        let settings = RedisProvider {
            root_key: "/fleet/".into(),
            ..RedisProvider::default()
        };
        let s = Shared::new("le", &settings).unwrap();
        assert_eq!(s.key("account"), "fleet/acme/le/account");
        assert_eq!(
            s.key(&format!(
                "lock/{}",
                set_field(&["a.test".into(), "b.test".into()])
            )),
            "fleet/acme/le/lock/a.test,b.test"
        );
        let other = Shared::new("le", &settings).unwrap();
        assert_ne!(s.token, other.token, "each instance marks its locks apart");
        let none = RedisProvider {
            endpoints: Vec::new(),
            ..RedisProvider::default()
        };
        let refused = Shared::new("le", &none).err().unwrap();
        assert!(refused.contains("endpoints"), "{refused}");
    }
}
