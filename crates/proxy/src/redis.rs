//! A small Redis client for the distributed rate limiter: RESP2 over TCP,
//! a pool of connections, `AUTH`/`SELECT` on connect, and the dial, read
//! and write timeouts of Traefik's `redis` section. It speaks only the few
//! commands the limiter needs.

use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

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

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("connecting to {0}: timed out")]
    ConnectTimeout(String),
    #[error("redis i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("redis timed out")]
    Timeout,
    #[error("redis error: {0}")]
    Server(String),
    #[error("redis protocol: {0}")]
    Protocol(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub endpoints: Vec<String>,
    pub username: String,
    pub password: String,
    pub db: i64,
    pub pool_size: usize,
    pub dial_timeout: Duration,
    /// None: no limit.
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
}

struct Conn {
    stream: BufReader<TcpStream>,
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one RESP value.
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, RedisError> {
    let mut line = Vec::new();
    let mut depth_stack: Vec<(Vec<Reply>, usize)> = Vec::new();
    loop {
        line.clear();
        r.read_until(b'\n', &mut line).await?;
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(RedisError::Protocol("connection closed or bad line".into()));
        }
        let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let number = || {
            body.parse::<i64>()
                .map_err(|_| RedisError::Protocol(format!("bad number {body:?}")))
        };
        let mut value = match line[0] {
            b'+' => Reply::Status(body.clone()),
            b'-' => Reply::Error(body.clone()),
            b':' => Reply::Integer(number()?),
            b'$' => {
                let n = number()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let n = usize::try_from(n)
                        .map_err(|_| RedisError::Protocol("bulk length".into()))?;
                    let mut buf = vec![0; n + 2];
                    r.read_exact(&mut buf).await?;
                    buf.truncate(n);
                    Reply::Bulk(Some(buf))
                }
            }
            b'*' => {
                let n = number()?;
                if n < 0 {
                    Reply::Array(None)
                } else if n == 0 {
                    Reply::Array(Some(Vec::new()))
                } else {
                    let n = usize::try_from(n)
                        .map_err(|_| RedisError::Protocol("array length".into()))?;
                    depth_stack.push((Vec::with_capacity(n), n));
                    continue;
                }
            }
            other => {
                return Err(RedisError::Protocol(format!(
                    "unexpected type byte {:?}",
                    other as char
                )))
            }
        };
        // Fold completed values into their arrays.
        loop {
            let Some((items, want)) = depth_stack.last_mut() else {
                return Ok(value);
            };
            items.push(value);
            if items.len() < *want {
                break;
            }
            let (items, _) = depth_stack.pop().unwrap_or_default();
            value = Reply::Array(Some(items));
        }
    }
}

pub struct Client {
    settings: Settings,
    idle: Mutex<Vec<Conn>>,
}

impl Client {
    pub fn new(settings: Settings) -> Client {
        Client {
            settings,
            idle: Mutex::new(Vec::new()),
        }
    }

    async fn connect(&self) -> Result<Conn, RedisError> {
        let mut last = None;
        for endpoint in &self.settings.endpoints {
            match tokio::time::timeout(self.settings.dial_timeout, TcpStream::connect(endpoint))
                .await
            {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    let mut conn = Conn {
                        stream: BufReader::new(stream),
                    };
                    if !self.settings.password.is_empty() {
                        let reply = if self.settings.username.is_empty() {
                            self.exchange(&mut conn, &[b"AUTH", self.settings.password.as_bytes()])
                                .await?
                        } else {
                            self.exchange(
                                &mut conn,
                                &[
                                    b"AUTH",
                                    self.settings.username.as_bytes(),
                                    self.settings.password.as_bytes(),
                                ],
                            )
                            .await?
                        };
                        if let Reply::Error(e) = reply {
                            return Err(RedisError::Server(e));
                        }
                    }
                    if self.settings.db != 0 {
                        let db = self.settings.db.to_string();
                        if let Reply::Error(e) = self
                            .exchange(&mut conn, &[b"SELECT", db.as_bytes()])
                            .await?
                        {
                            return Err(RedisError::Server(e));
                        }
                    }
                    return Ok(conn);
                }
                Ok(Err(e)) => last = Some(RedisError::Connect(endpoint.clone(), e)),
                Err(_) => last = Some(RedisError::ConnectTimeout(endpoint.clone())),
            }
        }
        Err(last.unwrap_or_else(|| RedisError::Protocol("no endpoints".into())))
    }

    async fn exchange(&self, conn: &mut Conn, args: &[&[u8]]) -> Result<Reply, RedisError> {
        let request = encode(args);
        let write = conn.stream.get_mut().write_all(&request);
        match self.settings.write_timeout {
            Some(t) => tokio::time::timeout(t, write)
                .await
                .map_err(|_| RedisError::Timeout)??,
            None => write.await?,
        }
        let read = read_reply(&mut conn.stream);
        match self.settings.read_timeout {
            Some(t) => tokio::time::timeout(t, read)
                .await
                .map_err(|_| RedisError::Timeout)?,
            None => read.await,
        }
    }

    /// Sends one command on a pooled connection. A connection that failed
    /// is dropped, not returned to the pool.
    pub async fn command(&self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect().await?,
        };
        let reply = self.exchange(&mut conn, args).await?;
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.settings.pool_size.max(1) {
            idle.push(conn);
        }
        Ok(reply)
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
        let keys_count = keys.len().to_string();
        let mut cmd: Vec<&[u8]> = vec![b"EVALSHA", sha1.as_bytes(), keys_count.as_bytes()];
        cmd.extend(keys.iter().map(|k| k.as_bytes()));
        cmd.extend(args.iter().map(|a| a.as_bytes()));
        match self.command(&cmd).await? {
            Reply::Error(e) if e.starts_with("NOSCRIPT") => {
                cmd[0] = b"EVAL";
                cmd[1] = script.as_bytes();
                match self.command(&cmd).await? {
                    Reply::Error(e) => Err(RedisError::Server(e)),
                    r => Ok(r),
                }
            }
            Reply::Error(e) => Err(RedisError::Server(e)),
            r => Ok(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(input: &[u8]) -> Result<Reply, RedisError> {
        let mut r = BufReader::new(input);
        read_reply(&mut r).await
    }

    #[tokio::test]
    async fn reply_table() {
        let cases: Vec<(&[u8], Reply)> = vec![
            (b"+OK\r\n", Reply::Status("OK".into())),
            (b"-ERR nope\r\n", Reply::Error("ERR nope".into())),
            (b":42\r\n", Reply::Integer(42)),
            (b"$3\r\nabc\r\n", Reply::Bulk(Some(b"abc".to_vec()))),
            (b"$-1\r\n", Reply::Bulk(None)),
            (b"*0\r\n", Reply::Array(Some(vec![]))),
            (b"*-1\r\n", Reply::Array(None)),
            (
                b"*3\r\n$4\r\ntrue\r\n$1\r\n0\r\n*2\r\n:1\r\n+x\r\n",
                Reply::Array(Some(vec![
                    Reply::Bulk(Some(b"true".to_vec())),
                    Reply::Bulk(Some(b"0".to_vec())),
                    Reply::Array(Some(vec![Reply::Integer(1), Reply::Status("x".into())])),
                ])),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).await.unwrap(), want, "{input:?}");
        }
        for bad in [&b""[..], b"?x\r\n", b":x\r\n", b"$5\r\nab\r\n", b"+OK\n"] {
            assert!(parse(bad).await.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn encoding() {
        assert_eq!(
            encode(&[b"GET", b"key"]),
            b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n".to_vec()
        );
    }
}
