//! `rateLimit` (in memory): a token bucket per source, `average` requests
//! per `period` with room for `burst`, as Traefik's limiter works. A request
//! that would have to wait up to half a token's interval (at most 500 ms
//! when the rate is below one per second) is delayed to smooth the flow; one
//! that would wait longer gets 429 with `Retry-After` and `X-Retry-In`.
//! Buckets belong to the middleware's definition and live on across
//! reloads that leave it unchanged.
//!
//! With `redis`, the buckets live in Redis (hashes `rate:<middleware>:<source>`
//! with Traefik's `last`/`tokens` fields, so Switchyard and Traefik
//! instances can share them), updated atomically by a Lua script. When
//! Redis cannot be reached the limiter does not take the site down: with
//! `failOpen` (the default) each instance limits on its own, in memory,
//! until Redis answers again; with `failOpen: false` requests get Traefik's
//! 500. After a failure Redis is left alone for a second, so an outage
//! does not add a timeout to every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode};

use super::in_flight_req::Source;
use crate::{body, BoxHandler, Handler, HandlerFuture, ProxyError, Request, Response};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of one definition.
#[derive(Debug)]
pub struct Buckets {
    /// Tokens per second; infinite means no limit.
    rate: f64,
    burst: f64,
    max_delay: Duration,
    /// How long an idle bucket is kept.
    ttl: Duration,
    map: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// `average` per `period` (zero period: one second), `burst` at least 1.
    pub fn new(average: i64, period: Duration, burst: i64) -> Result<Buckets, String> {
        if average < 0 {
            return Err("rateLimit: average must not be negative".into());
        }
        let period = if period.is_zero() {
            Duration::from_secs(1)
        } else {
            period
        };
        let rate = if average == 0 {
            f64::INFINITY
        } else {
            average as f64 / period.as_secs_f64()
        };
        let max_delay = if rate.is_infinite() {
            Duration::ZERO
        } else if rate < 1.0 {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(1) / (2 * rate as u32).max(1)
        };
        let ttl_secs = if rate >= 1.0 {
            2.0
        } else {
            1.0 + (1.0 / rate).floor()
        };
        Ok(Buckets {
            rate,
            burst: burst.max(1) as f64,
            max_delay,
            ttl: Duration::from_secs_f64(ttl_secs),
            map: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a token for `source`: `Ok(delay)` to serve after `delay`,
    /// `Err(wait)` when the wait would exceed the allowed delay.
    pub fn take(&self, source: &str, now: Instant) -> Result<Duration, Duration> {
        if self.rate.is_infinite() {
            return Ok(Duration::ZERO);
        }
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            let ttl = self.ttl;
            map.retain(|_, b| now.saturating_duration_since(b.last) < ttl);
        }
        let bucket = map.entry(source.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        let tokens = (bucket.tokens + elapsed * self.rate).min(self.burst) - 1.0;
        let wait = if tokens < 0.0 {
            Duration::from_secs_f64(-tokens / self.rate)
        } else {
            Duration::ZERO
        };
        if wait > self.max_delay {
            // Not taken: the bucket only advances in time.
            bucket.tokens = tokens + 1.0;
            bucket.last = now;
            return Err(wait);
        }
        bucket.tokens = tokens;
        bucket.last = now;
        Ok(wait)
    }
}

/// The token bucket, in Lua: keys[1] is the bucket; args are the rate in
/// tokens per microsecond, the burst, the key's lifetime in seconds, the
/// time in microseconds and the longest acceptable wait in microseconds.
/// Answers the wait in microseconds; a token is only taken when the wait is
/// acceptable.
const BUCKET_SCRIPT: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local max_wait = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'last', 'tokens')
local last = tonumber(state[1]) or now
local tokens = tonumber(state[2]) or burst
if now < last then last = now end
tokens = math.min(tokens + (now - last) * rate, burst) - 1
local wait = 0
if tokens < 0 then
  wait = -tokens / rate
  if wait > max_wait then tokens = math.min(tokens + 1, burst) end
end
redis.call('HSET', KEYS[1], 'last', now, 'tokens', tokens)
redis.call('EXPIRE', KEYS[1], ttl)
return {'true', tostring(wait), tostring(tokens)}
"#;

/// Buckets kept in Redis.
pub struct RedisBuckets {
    client: crate::redis::Client,
    /// Prefix of every key: `rate:<middleware>:`.
    prefix: String,
    script_sha: String,
    /// Used while Redis is unreachable, when failing open.
    local: Arc<Buckets>,
    fail_open: bool,
    /// Redis is not tried again before this instant after a failure.
    resting_until: Mutex<Option<Instant>>,
}

/// What a limiter decided for one request.
enum Decision {
    Go(Duration),
    Refuse(Duration),
    Failed,
}

impl RedisBuckets {
    pub fn new(
        middleware: &str,
        settings: crate::redis::Settings,
        local: Arc<Buckets>,
        fail_open: bool,
    ) -> RedisBuckets {
        use sha1::Digest;
        let sha = crate::certs::hex(&sha1::Sha1::digest(BUCKET_SCRIPT.as_bytes()));
        RedisBuckets {
            client: crate::redis::Client::new(settings),
            prefix: format!("rate:{middleware}:"),
            script_sha: sha,
            local,
            fail_open,
            resting_until: Mutex::new(None),
        }
    }

    fn fallback(&self, source: &str) -> Decision {
        if !self.fail_open {
            return Decision::Failed;
        }
        match self.local.take(source, Instant::now()) {
            Ok(d) => Decision::Go(d),
            Err(d) => Decision::Refuse(d),
        }
    }

    async fn take(&self, source: &str) -> Decision {
        let b = &self.local;
        if b.rate.is_infinite() {
            return Decision::Go(Duration::ZERO);
        }
        {
            let resting = self.resting_until.lock().unwrap_or_else(|p| p.into_inner());
            if resting.is_some_and(|until| Instant::now() < until) {
                return self.fallback(source);
            }
        }
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0);
        let args = [
            format!("{}", b.rate / 1_000_000.0),
            format!("{}", b.burst),
            format!("{}", b.ttl.as_secs().max(1)),
            now_us.to_string(),
            b.max_delay.as_micros().to_string(),
        ];
        let key = format!("{}{source}", self.prefix);
        let reply = self
            .client
            .eval_script(BUCKET_SCRIPT, &self.script_sha, &[&key], &args)
            .await;
        let wait_us = match &reply {
            Ok(crate::redis::Reply::Array(Some(items))) => items
                .get(1)
                .and_then(|v| v.text())
                .and_then(|t| t.parse::<f64>().ok()),
            _ => None,
        };
        let Some(wait_us) = wait_us.filter(|w| w.is_finite() && *w >= 0.0) else {
            match reply {
                Err(e) => tracing::warn!(error = %e, "rateLimit: Redis unreachable"),
                Ok(r) => tracing::warn!(reply = ?r, "rateLimit: unexpected Redis answer"),
            }
            *self.resting_until.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Instant::now() + Duration::from_secs(1));
            return self.fallback(source);
        };
        let wait = Duration::from_secs_f64(wait_us / 1_000_000.0);
        if wait > b.max_delay {
            Decision::Refuse(wait)
        } else {
            Decision::Go(wait)
        }
    }
}

/// Where a rate limit keeps its buckets.
#[derive(Clone)]
pub enum Limiter {
    Memory(Arc<Buckets>),
    Redis(Arc<RedisBuckets>),
}

pub struct RateLimit {
    limiter: Limiter,
    source: Source,
    next: BoxHandler,
}

impl RateLimit {
    pub fn new(limiter: Limiter, source: Source, next: BoxHandler) -> RateLimit {
        RateLimit {
            limiter,
            source,
            next,
        }
    }
}

fn too_many(wait: Duration) -> Response {
    let mut resp = Response::new(body::full("Too Many Requests"));
    *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let secs = wait.as_secs_f64().ceil() as u64;
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(secs));
    if let Ok(v) = HeaderValue::from_str(&switchyard_duration(wait)) {
        resp.headers_mut().insert("x-retry-in", v);
    }
    resp
}

/// Go's duration text for a wait (`1.5s`, `250ms`).
fn switchyard_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 1000.0 {
        format!("{}s", trim(d.as_secs_f64()))
    } else {
        format!("{}ms", trim(ms))
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl Handler for RateLimit {
    fn call(&self, req: Request) -> HandlerFuture {
        let Some(source) = self.source.key(&req) else {
            return Box::pin(async {
                Err(ProxyError::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "could not extract source of request\n".into(),
                })
            });
        };
        let buckets = match &self.limiter {
            Limiter::Memory(b) => b,
            Limiter::Redis(redis) => {
                let redis = redis.clone();
                let next = self.next.clone();
                return Box::pin(async move {
                    match redis.take(&source).await {
                        Decision::Refuse(wait) => Ok(too_many(wait)),
                        Decision::Failed => Err(ProxyError::Status {
                            status: StatusCode::INTERNAL_SERVER_ERROR,
                            message: "Could not insert/update bucket\n".into(),
                        }),
                        Decision::Go(delay) => {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            next.call(req).await
                        }
                    }
                });
            }
        };
        match buckets.take(&source, Instant::now()) {
            Err(wait) => {
                let resp = too_many(wait);
                Box::pin(async move { Ok(resp) })
            }
            Ok(delay) if delay.is_zero() => self.next.call(req),
            Ok(delay) => {
                let next = self.next.clone();
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    next.call(req).await
                })
            }
        }
    }
}

/// Translates a `rateLimit` definition: in-memory buckets, or buckets kept
/// in Redis (with the in-memory ones behind them) when `redis` is set.
pub fn from_config(
    c: switchyard_config::middlewares::RateLimit,
    ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let buckets = Arc::new(Buckets::new(c.average, c.period.into(), c.burst)?);
    let limiter = match &c.redis {
        None => Limiter::Memory(buckets),
        Some(r) => {
            let timeout = |d: Option<switchyard_config::Duration>| {
                d.map(Duration::from).filter(|d| !d.is_zero())
            };
            let settings = crate::redis::Settings {
                endpoints: r.endpoints.clone(),
                username: r.username.clone(),
                password: r.password.clone(),
                db: r.db,
                pool_size: usize::try_from(r.pool_size)
                    .ok()
                    .filter(|n| *n > 0)
                    .unwrap_or(10),
                dial_timeout: timeout(r.dial_timeout).unwrap_or(Duration::from_secs(5)),
                read_timeout: timeout(r.read_timeout),
                write_timeout: timeout(r.write_timeout),
                tls: r.tls.as_ref().map(|t| crate::redis::Tls {
                    ca: t.ca.clone(),
                    cert: t.cert.clone(),
                    key: t.key.clone(),
                    insecure_skip_verify: t.insecure_skip_verify,
                }),
            };
            if settings.endpoints.is_empty() {
                return Err("rateLimit.redis.endpoints is empty".into());
            }
            Limiter::Redis(Arc::new(RedisBuckets::new(
                ctx.name,
                settings,
                buckets,
                r.fail_open.unwrap_or(true),
            )))
        }
    };
    let source = super::in_flight_req::source_from_config(c.source_criterion.as_ref())?;
    Ok(Arc::new(move |next| {
        Arc::new(RateLimit::new(limiter.clone(), source.clone(), next)) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases
    fn bucket_table() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // (average, period, burst, offsets in ms, expected: Ok(delay ms) or Err)
        let cases: &[(&str, i64, u64, i64, &[u64], &[Option<u64>])] = &[
            (
                "no limit",
                0,
                1,
                1,
                &[0, 0, 0, 0],
                &[Some(0), Some(0), Some(0), Some(0)],
            ),
            (
                "burst then refused",
                1,
                1000,
                2,
                &[0, 0, 0],
                &[Some(0), Some(0), None],
            ),
            (
                "refills with time",
                1,
                1000,
                1,
                &[0, 1000],
                &[Some(0), Some(0)],
            ),
            (
                "a wait under half a token's interval is smoothed",
                10,
                1000,
                1,
                &[0, 60],
                &[Some(0), Some(40)],
            ),
            (
                "a longer wait is refused, and costs nothing",
                100,
                1000,
                1,
                &[0, 0, 8],
                &[Some(0), None, Some(2)],
            ),
            (
                "one per minute",
                1,
                60_000,
                1,
                &[0, 500, 60_000],
                &[Some(0), None, Some(0)],
            ),
        ];
        for (what, average, period, burst, offsets, want) in cases {
            let b = Buckets::new(*average, ms(*period), *burst).unwrap();
            for (i, (off, w)) in offsets.iter().zip(want.iter()).enumerate() {
                let got = b
                    .take("k", t0 + ms(*off))
                    .ok()
                    .map(|d| d.as_millis() as u64);
                assert_eq!(got, *w, "{what}: request {i}");
            }
        }
        let b = Buckets::new(1, ms(1000), 1).unwrap();
        assert!(b.take("a", t0).is_ok());
        assert!(b.take("b", t0).is_ok(), "sources have their own buckets");
        assert!(Buckets::new(-1, ms(1000), 1).is_err());
    }

    #[test]
    fn retry_headers() {
        let r = too_many(Duration::from_millis(1500));
        assert_eq!(r.headers()["retry-after"], "2");
        assert_eq!(r.headers()["x-retry-in"], "1.5s");
        let r = too_many(Duration::from_millis(250));
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(r.headers()["x-retry-in"], "250ms");
    }
}
