//! The distributed rate limiter's Redis client, on the `redis` crate, shaped
//! like Traefik's (go-redis `UniversalClient`): one endpoint is one server,
//! several endpoints are a Redis Cluster; `tls` (CA, client certificate,
//! insecureSkipVerify), `username`/`password`, `db`, and the dial and read
//! timeouts of Traefik's `redis` section.
//!
//! One multiplexed connection carries every request (so `poolSize` is
//! accepted and has nothing to size); a connection that fails is dropped
//! and the next request dials again.

use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use tokio::sync::Mutex;

/// A RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Integer(i) => Some(i.to_string()),
            _ => None,
        }
    }
}

impl From<redis::Value> for Reply {
    fn from(value: redis::Value) -> Reply {
        use redis::Value;
        match value {
            Value::Nil => Reply::Bulk(None),
            Value::Int(i) => Reply::Integer(i),
            Value::BulkString(b) => Reply::Bulk(Some(b)),
            Value::SimpleString(s) => Reply::Status(s),
            Value::Okay => Reply::Status("OK".into()),
            Value::Array(items) | Value::Set(items) => {
                Reply::Array(Some(items.into_iter().map(Reply::from).collect()))
            }
            Value::ServerError(e) => match e.details() {
                Some(detail) => Reply::Error(format!("{} {detail}", e.code())),
                None => Reply::Error(e.code().to_string()),
            },
            Value::VerbatimString { text, .. } => Reply::Bulk(Some(text.into_bytes())),
            Value::Double(d) => Reply::Bulk(Some(d.to_string().into_bytes())),
            Value::Boolean(b) => Reply::Integer(i64::from(b)),
            other => Reply::Error(format!("unexpected RESP3 value {other:?}")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis settings: {0}")]
    Settings(String),
    #[error("connecting to {0}: {1}")]
    Connect(String, redis::RedisError),
    #[error("redis: {0}")]
    Command(#[from] redis::RedisError),
    #[error("reading {path}: {error}")]
    File { path: String, error: std::io::Error },
}

/// `tls` of the `redis` section: PEM file paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tls {
    pub ca: String,
    pub cert: String,
    pub key: String,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
    pub db: i64,
    /// Accepted for Traefik's sake: one multiplexed connection needs no pool.
    pub pool_size: usize,
    pub dial_timeout: Duration,
    /// None: no limit.
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    pub tls: Option<Tls>,
}

#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

pub struct Client {
    settings: Settings,
    conn: Mutex<Option<Conn>>,
}

/// `host:port` (`[v6]:port`), 6379 when no port is given.
fn host_port(endpoint: &str) -> Result<(String, u16), RedisError> {
    let bad = || RedisError::Settings(format!("endpoint {endpoint:?}: expected host:port"));
    let (host, port) = match endpoint.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
            (h, p.parse::<u16>().map_err(|_| bad())?)
        }
        _ => (endpoint, 6379),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

impl Client {
    pub fn new(settings: Settings) -> Client {
        Client {
            settings,
            conn: Mutex::new(None),
        }
    }

    /// The longest wait for an answer: the read timeout (a request is
    /// written and read within it), else the write timeout.
    fn response_timeout(&self) -> Option<Duration> {
        self.settings.read_timeout.or(self.settings.write_timeout)
    }

    fn certificates(&self) -> Result<Option<redis::TlsCertificates>, RedisError> {
        let Some(tls) = &self.settings.tls else {
            return Ok(None);
        };
        let read = |path: &str| {
            std::fs::read(path).map_err(|error| RedisError::File {
                path: path.to_string(),
                error,
            })
        };
        let root_cert = (!tls.ca.is_empty()).then(|| read(&tls.ca)).transpose()?;
        let client_tls = if tls.cert.is_empty() || tls.key.is_empty() {
            None
        } else {
            Some(redis::ClientTlsConfig {
                client_cert: read(&tls.cert)?,
                client_key: read(&tls.key)?,
            })
        };
        Ok(Some(redis::TlsCertificates {
            client_tls,
            root_cert,
        }))
    }

    fn addr(&self, endpoint: &str) -> Result<ConnectionAddr, RedisError> {
        let (host, port) = host_port(endpoint)?;
        Ok(match &self.settings.tls {
            Some(tls) => ConnectionAddr::TcpTls {
                host,
                port,
                insecure: tls.insecure_skip_verify,
                tls_params: None,
            },
            None => ConnectionAddr::Tcp(host, port),
        })
    }

    async fn connect(&self) -> Result<Conn, RedisError> {
        let s = &self.settings;
        let certificates = self.certificates()?;
        match s.endpoints.as_slice() {
            [] => Err(RedisError::Settings("no endpoints".into())),
            [endpoint] => {
                let mut redis_info = RedisConnectionInfo::default().set_db(s.db);
                if !s.username.is_empty() {
                    redis_info = redis_info.set_username(&s.username);
                }
                if !s.password.is_empty() {
                    redis_info = redis_info.set_password(&s.password);
                }
                let info = self
                    .addr(endpoint)?
                    .into_connection_info()?
                    .set_redis_settings(redis_info);
                let client = match certificates {
                    Some(c) => redis::Client::build_with_tls(info, c)?,
                    None => redis::Client::open(info)?,
                };
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(s.dial_timeout))
                    .set_response_timeout(self.response_timeout());
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|e| RedisError::Connect(endpoint.clone(), e))?;
                Ok(Conn::Single(conn))
            }
            several => {
                let nodes = several
                    .iter()
                    .map(|e| self.addr(e)?.into_connection_info().map_err(Into::into))
                    .collect::<Result<Vec<_>, RedisError>>()?;
                let mut builder = redis::cluster::ClusterClient::builder(nodes)
                    .connection_timeout(s.dial_timeout);
                if let Some(t) = self.response_timeout() {
                    builder = builder.response_timeout(t);
                }
                if !s.username.is_empty() {
                    builder = builder.username(s.username.clone());
                }
                if !s.password.is_empty() {
                    builder = builder.password(s.password.clone());
                }
                if let Some(tls) = &s.tls {
                    builder = builder.tls(if tls.insecure_skip_verify {
                        redis::TlsMode::Insecure
                    } else {
                        redis::TlsMode::Secure
                    });
                }
                if let Some(c) = certificates {
                    builder = builder.certs(c);
                }
                let conn = builder
                    .build()?
                    .get_async_connection()
                    .await
                    .map_err(|e| RedisError::Connect(several.join(","), e))?;
                Ok(Conn::Cluster(conn))
            }
        }
    }

    /// Sends one command. A connection that failed is dropped; the next
    /// command dials again.
    pub async fn command(&self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        let mut cmd = redis::Cmd::new();
        for a in args {
            cmd.arg(*a);
        }
        self.run(&cmd).await
    }

    async fn run(&self, cmd: &redis::Cmd) -> Result<Reply, RedisError> {
        // The lock is held to dial (once for every waiting request), not
        // while a command runs: the connection multiplexes them.
        let conn = {
            let mut guard = self.conn.lock().await;
            match guard.as_ref() {
                Some(c) => c.clone(),
                None => guard.insert(self.connect().await?).clone(),
            }
        };
        let result = match conn {
            Conn::Single(mut c) => c.req_packed_command(cmd).await,
            Conn::Cluster(mut c) => c.req_packed_command(cmd).await,
        };
        match result {
            Ok(value) => Ok(Reply::from(value)),
            // The server answered: the connection is fine.
            Err(e) if e.code().is_some() => Ok(Reply::Error(e.to_string())),
            Err(e) => {
                if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                    *self.conn.lock().await = None;
                }
                Err(e.into())
            }
        }
    }

    /// Runs a Lua script by its SHA-1, loading it when the server does not
    /// know it yet.
    pub async fn eval_script(
        &self,
        script: &str,
        sha1: &str,
        keys: &[&str],
        args: &[String],
    ) -> Result<Reply, RedisError> {
        let build = |head: &str, body: &str| {
            let mut cmd = redis::cmd(head);
            cmd.arg(body).arg(keys.len()).arg(keys).arg(args);
            cmd
        };
        match self.run(&build("EVALSHA", sha1)).await? {
            Reply::Error(e) if e.starts_with("NOSCRIPT") => {
                match self.run(&build("EVAL", script)).await? {
                    Reply::Error(e) => Err(RedisError::Settings(e)),
                    r => Ok(r),
                }
            }
            Reply::Error(e) => Err(RedisError::Settings(e)),
            r => Ok(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_replies() {
        use redis::Value;
        let cases = vec![
            (Value::Okay, Reply::Status("OK".into())),
            (Value::Int(42), Reply::Integer(42)),
            (Value::Nil, Reply::Bulk(None)),
            (
                redis::parse_redis_value(b"-NOSCRIPT No matching script\r\n").unwrap(),
                Reply::Error("NOSCRIPT No matching script".into()),
            ),
            (
                Value::Array(vec![
                    Value::BulkString(b"true".to_vec()),
                    Value::BulkString(b"0".to_vec()),
                ]),
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"true".to_vec())),
                    Reply::Bulk(Some(b"0".to_vec())),
                ])),
            ),
        ];
        for (value, want) in cases {
            let what = format!("{value:?}");
            assert_eq!(Reply::from(value), want, "{what}");
        }
    }

    #[test]
    fn endpoints() {
        for (text, want) in [
            ("127.0.0.1:6380", Some(("127.0.0.1", 6380))),
            ("redis", Some(("redis", 6379))),
            ("[::1]:7000", Some(("::1", 7000))),
            ("host:port", None),
        ] {
            let got = host_port(text).ok();
            assert_eq!(got, want.map(|(h, p)| (h.to_string(), p)), "{text}");
        }
    }
}
