//! `providers.redis`: keys below `rootKey` read with `SCAN` + `MGET`,
//! changes pushed by keyspace notifications.
//!
//! As Traefik (kvtools/redis) does, each connection first sends
//! `CONFIG SET notify-keyspace-events KEA` (a server that refuses it, a
//! managed one, must have notifications on already), then subscribes to
//! `__keyspace@<db>__:<rootKey>/*`. A key with an empty value is skipped,
//! as in Traefik. One endpoint, or with `sentinel` the sentinels, which
//! name the master (the replica with `replicaStrategy`).
//!
//! Where Switchyard differs: the `CONFIG SET` is sent again on every
//! reconnection, so a Redis server restarted with notifications off still
//! pushes changes; Traefik sends it once at start.

use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo,
};
use switchyard_config::static_config::{KvTls, RedisProvider};

use super::{host_port, KvError, Store};

const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Traefik's read timeout for this client.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// Keys asked per `SCAN` step and per `MGET`.
const BATCH: usize = 500;
/// A bound on SCAN steps (a billion keys at [`BATCH`] a step).
const MAX_SCAN_STEPS: u64 = 2_000_000;

pub const NAME: &str = "redis";

/// A Redis store, connected or not.
pub struct Redis {
    settings: RedisProvider,
    root_key: String,
    conn: Option<MultiplexedConnection>,
    events: Option<PubSubStream>,
}

impl Redis {
    /// Checks the settings as Traefik does at start.
    pub fn new(settings: RedisProvider) -> Result<Redis, KvError> {
        if settings.endpoints.is_empty() {
            return Err(KvError::new("providers.redis.endpoints", "none given"));
        }
        match &settings.sentinel {
            Some(s) => {
                if s.master_name.is_empty() {
                    return Err(KvError::new(
                        "providers.redis.sentinel",
                        "masterName must be provided",
                    ));
                }
                let strategies = [s.latency_strategy, s.random_strategy, s.replica_strategy];
                if strategies.iter().filter(|on| **on).count() > 1 {
                    return Err(KvError::new(
                        "providers.redis.sentinel",
                        "latencyStrategy, randomStrategy and replicaStrategy are mutually exclusive",
                    ));
                }
            }
            None if settings.endpoints.len() > 1 => {
                return Err(KvError::new(
                    "providers.redis.endpoints",
                    "several endpoints need sentinel (Traefik reads one Redis server)",
                ));
            }
            None => {}
        }
        let root_key = settings.root_key.trim_start_matches('/').to_string();
        Ok(Redis {
            settings,
            root_key,
            conn: None,
            events: None,
        })
    }

    pub fn root_key(&self) -> &str {
        &self.root_key
    }

    fn redis_info(&self) -> RedisConnectionInfo {
        let s = &self.settings;
        let mut info = RedisConnectionInfo::default().set_db(s.db);
        if !s.username.is_empty() {
            info = info.set_username(&s.username);
        }
        if !s.password.is_empty() {
            info = info.set_password(&s.password);
        }
        info
    }

    /// The client of the server to read: the endpoint, or the master (or a
    /// replica) the sentinels name.
    async fn client(&self) -> Result<Client, KvError> {
        let s = &self.settings;
        let certificates = s.tls.as_ref().map(certificates).transpose()?;
        let addr = |endpoint: &str| -> Result<ConnectionAddr, KvError> {
            let (host, port) = host_port(endpoint, 6379)?;
            Ok(match &s.tls {
                Some(tls) => ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure: tls.insecure_skip_verify,
                    tls_params: None,
                },
                None => ConnectionAddr::Tcp(host, port),
            })
        };
        let Some(sentinel) = &s.sentinel else {
            let info = addr(&s.endpoints[0])?
                .into_connection_info()
                .map_err(|e| KvError::new("redis endpoint", e))?
                .set_redis_settings(self.redis_info());
            return match certificates {
                Some(c) => Client::build_with_tls(info, c),
                None => Client::open(info),
            }
            .map_err(|e| KvError::new("redis client", e));
        };
        let addrs = s
            .endpoints
            .iter()
            .map(|e| addr(e))
            .collect::<Result<Vec<_>, _>>()?;
        let server_type = if sentinel.replica_strategy {
            redis::sentinel::SentinelServerType::Replica
        } else {
            redis::sentinel::SentinelServerType::Master
        };
        let mut builder =
            redis::sentinel::SentinelClientBuilder::new(addrs, &sentinel.master_name, server_type)
                .map_err(|e| KvError::new("redis sentinel", e))?
                .set_client_to_redis_db(s.db);
        if !s.username.is_empty() {
            builder = builder.set_client_to_redis_username(&s.username);
        }
        if !s.password.is_empty() {
            builder = builder.set_client_to_redis_password(&s.password);
        }
        if !sentinel.username.is_empty() {
            builder = builder.set_client_to_sentinel_username(&sentinel.username);
        }
        if !sentinel.password.is_empty() {
            builder = builder.set_client_to_sentinel_password(&sentinel.password);
        }
        if let Some(tls) = &s.tls {
            let mode = if tls.insecure_skip_verify {
                redis::TlsMode::Insecure
            } else {
                redis::TlsMode::Secure
            };
            builder = builder
                .set_client_to_redis_tls_mode(mode)
                .set_client_to_sentinel_tls_mode(mode);
            if let Some(c) = certificates {
                builder = builder
                    .set_client_to_redis_certificates(c.clone())
                    .set_client_to_sentinel_certificates(c);
            }
        }
        let mut client = builder
            .build()
            .map_err(|e| KvError::new("redis sentinel", e))?;
        tokio::time::timeout(DIAL_TIMEOUT, client.async_get_client())
            .await
            .map_err(|_| KvError::new("asking the sentinels for the master", "timed out"))?
            .map_err(|e| KvError::new("asking the sentinels for the master", e))
    }

    fn conn(&mut self) -> Result<&mut MultiplexedConnection, KvError> {
        self.conn
            .as_mut()
            .ok_or_else(|| KvError::new("redis", "not connected"))
    }
}

/// The PEM files of `tls`, read.
fn certificates(tls: &KvTls) -> Result<redis::TlsCertificates, KvError> {
    let read = |what: &str, path: &str| {
        std::fs::read(path)
            .map_err(|e| KvError::new(format!("providers.redis.tls.{what} {path:?}"), e))
    };
    let root_cert = (!tls.ca.is_empty())
        .then(|| read("ca", &tls.ca))
        .transpose()?;
    let client_tls = if tls.cert.is_empty() || tls.key.is_empty() {
        None
    } else {
        Some(redis::ClientTlsConfig {
            client_cert: read("cert", &tls.cert)?,
            client_key: read("key", &tls.key)?,
        })
    };
    Ok(redis::TlsCertificates {
        client_tls,
        root_cert,
    })
}

/// `text` with the glob characters of Redis patterns escaped.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store for Redis {
    async fn connect(&mut self) -> Result<(), KvError> {
        self.conn = None;
        self.events = None;
        let client = self.client().await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(DIAL_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| KvError::new("connecting to redis", e))?;
        let set: redis::RedisResult<()> = redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg("KEA")
            .query_async(&mut conn)
            .await;
        if let Err(e) = set {
            tracing::debug!(provider = NAME, error = %e, "CONFIG SET notify-keyspace-events refused; the server must have them on");
        }
        let mut pubsub = tokio::time::timeout(DIAL_TIMEOUT, client.get_async_pubsub())
            .await
            .map_err(|_| KvError::new("connecting to redis for notifications", "timed out"))?
            .map_err(|e| KvError::new("connecting to redis for notifications", e))?;
        let pattern = format!(
            "__keyspace@{}__:{}/*",
            self.settings.db,
            glob_escape(&self.root_key)
        );
        pubsub
            .psubscribe(&pattern)
            .await
            .map_err(|e| KvError::new(format!("PSUBSCRIBE {pattern}"), e))?;
        self.events = Some(pubsub.into_on_message());
        self.conn = Some(conn);
        Ok(())
    }

    async fn list(&mut self) -> Result<Vec<(String, String)>, KvError> {
        let pattern = format!("{}/*", glob_escape(&self.root_key));
        let conn = self.conn()?;
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        for step in 0.. {
            if step > MAX_SCAN_STEPS {
                return Err(KvError::new("SCAN", "the cursor never came back to 0"));
            }
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(BATCH)
                .query_async(conn)
                .await
                .map_err(|e| KvError::new("SCAN", e))?;
            keys.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        // SCAN may return a key twice.
        keys.sort();
        keys.dedup();
        let mut pairs = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(chunk)
                .query_async(conn)
                .await
                .map_err(|e| KvError::new("MGET", e))?;
            for (key, value) in chunk.iter().zip(values) {
                // Gone since SCAN, another type, or empty: skipped.
                match value {
                    Some(v) if !v.is_empty() => {
                        pairs.push((key.clone(), String::from_utf8_lossy(&v).into_owned()))
                    }
                    _ => {}
                }
            }
        }
        Ok(pairs)
    }

    async fn changed(&mut self) -> Result<(), KvError> {
        let events = self
            .events
            .as_mut()
            .ok_or_else(|| KvError::new("redis", "not subscribed"))?;
        if events.next().await.is_none() {
            return Err(KvError::new("redis notifications", "connection closed"));
        }
        // Notifications already here belong to the same burst.
        for _ in 0..10_000 {
            match futures_util::FutureExt::now_or_never(events.next()) {
                Some(Some(_)) => continue,
                Some(None) => return Err(KvError::new("redis notifications", "connection closed")),
                None => break,
            }
        }
        Ok(())
    }
}

/// A client of the server `settings` name (the endpoint, or the master the
/// sentinels name now), for the other users of Redis settings (the shared
/// ACME storage). Checks the settings as the provider does.
pub async fn client_for(settings: &RedisProvider) -> Result<Client, KvError> {
    Redis::new(settings.clone())?.client().await
}
