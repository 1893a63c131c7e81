//! `retry`: sends a request again, up to `attempts` times in all, when the
//! backend could not be reached (unless `disableRetryOnNetworkError`) or
//! answered a status in `status` (idempotent methods only, unless
//! `retryNonIdempotentMethod`). Waits grow exponentially from
//! `initialInterval`; `timeout` bounds the whole. A response that has
//! started is never retried. To send a body again it is kept in memory, up
//! to `maxRequestBodyBytes` (1 MiB when unset); a larger body, or one of
//! unknown length, is sent once.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::BodyExt;

use crate::{body, BoxHandler, Handler, HandlerFuture, ProxyError, Request};

#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// The middleware's qualified name (its `Retry` spans carry it).
    pub name: std::sync::Arc<str>,
    pub attempts: u32,
    pub initial_interval: Duration,
    pub timeout: Option<Duration>,
    /// Inclusive status ranges that call for another attempt.
    pub status: Vec<(u16, u16)>,
    pub disable_on_network_error: bool,
    pub retry_non_idempotent: bool,
    pub max_body_bytes: usize,
}

/// Parses Traefik's status list: `"500"`, `"500-599"`.
pub fn parse_status_ranges(list: &[String]) -> Result<Vec<(u16, u16)>, String> {
    list.iter()
        .map(|s| {
            let bad = || format!("invalid status range {s:?}");
            let (a, b) = s.split_once('-').unwrap_or((s.as_str(), s.as_str()));
            let (a, b): (u16, u16) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b || !(100..=599).contains(&a) || b > 599 {
                return Err(bad());
            }
            Ok((a, b))
        })
        .collect()
}

pub struct Retry {
    s: RetrySettings,
    next: BoxHandler,
}

impl Retry {
    pub fn new(s: RetrySettings, next: BoxHandler) -> Result<Retry, String> {
        if s.attempts == 0 {
            return Err("retry: attempts must be greater than 0".into());
        }
        Ok(Retry { s, next })
    }
}

fn idempotent(m: &Method) -> bool {
    m != Method::POST && m != Method::PATCH && m.as_str() != "LOCK"
}

fn network_error(e: &ProxyError) -> bool {
    matches!(e, ProxyError::Connect { .. } | ProxyError::Upstream { .. })
}

impl Handler for Retry {
    fn call(&self, req: Request) -> HandlerFuture {
        if self.s.attempts == 1 {
            return self.next.call(req);
        }
        let s = self.s.clone();
        let next = self.next.clone();
        Box::pin(async move {
            let statuses = if s.retry_non_idempotent || idempotent(req.method()) {
                s.status.clone()
            } else {
                Vec::new()
            };
            let (parts, body_in) = req.into_parts();
            // Keep the body to send it again, unless it is too large.
            let known_empty = http_body::Body::is_end_stream(&body_in);
            let (replay, mut first_body): (Option<Bytes>, Option<crate::Body>) = if known_empty {
                (Some(Bytes::new()), None)
            } else {
                let limit = s.max_body_bytes;
                let small = http_body::Body::size_hint(&body_in)
                    .upper()
                    .is_some_and(|n| n as usize <= limit);
                if small {
                    let bytes = body_in
                        .collect()
                        .await
                        .map_err(|e| ProxyError::BadRequest(e.to_string()))?
                        .to_bytes();
                    (Some(bytes), None)
                } else {
                    (None, Some(body_in))
                }
            };
            let started = Instant::now();
            let mut wait = s.initial_interval;
            let growth = 2f64.powf(1.0 / f64::from(s.attempts.saturating_sub(1).max(1)));
            let mut attempt = 1;
            loop {
                let body = match (&replay, first_body.take()) {
                    (Some(bytes), _) => body::full(bytes.clone()),
                    (None, Some(b)) => b,
                    (None, None) => body::empty(),
                };
                let mut req = crate::context::request_from_parts(&parts, body);
                let span = crate::trace::retry_span(&mut req, &s.name, attempt);
                if attempt > 1 {
                    req.extensions_mut().insert(crate::metrics::Retried);
                }
                let last = attempt >= s.attempts
                    || replay.is_none()
                    || s.timeout.is_some_and(|t| started.elapsed() + wait > t);
                let result = next.call(req).await;
                // The attempt's span ends with its answer's body.
                let result = match span {
                    Some(span) => span.end_with(result),
                    None => result,
                };
                if last {
                    return result;
                }
                let again = match &result {
                    Err(e) => !s.disable_on_network_error && network_error(e),
                    Ok(resp) => statuses
                        .iter()
                        .any(|(a, b)| (*a..=*b).contains(&resp.status().as_u16())),
                };
                if !again {
                    return result;
                }
                tracing::debug!(attempt, "retrying request");
                if let Some(facts) = parts
                    .extensions
                    .get::<std::sync::Arc<crate::accesslog::LogFacts>>()
                {
                    facts.update(|r| r.retry_attempts = r.retry_attempts.saturating_add(1));
                }
                if !wait.is_zero() {
                    // Traefik's exponential backoff: ±50% jitter, and a
                    // growth that reaches twice the initial interval at the
                    // last attempt.
                    tokio::time::sleep(wait.mul_f64(0.5 + fastrand::f64())).await;
                    wait = wait.mul_f64(growth);
                }
                attempt += 1;
            }
        })
    }
}

/// Translates a `retry` definition.
pub fn from_config(
    c: switchyard_config::middlewares::Retry,
    ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let settings = RetrySettings {
        name: ctx.name.into(),
        attempts: u32::try_from(c.attempts)
            .ok()
            .filter(|a| *a > 0)
            .ok_or("retry: attempts must be greater than 0")?,
        initial_interval: c.initial_interval.into(),
        timeout: (!c.timeout.is_zero()).then(|| c.timeout.into()),
        status: parse_status_ranges(&c.status).map_err(|e| format!("retry: {e}"))?,
        disable_on_network_error: c.disable_retry_on_network_error,
        retry_non_idempotent: c.retry_non_idempotent_method,
        // Negative: no limit.
        max_body_bytes: match c.max_request_body_bytes {
            Some(n) if n < 0 => usize::MAX,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
            None => 2 * 1024 * 1024,
        },
    };
    Ok(super::validated(move |next| {
        Retry::new(settings.clone(), next)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_status_ranges(&list(&["500-599", "404"])).unwrap(),
            vec![(500, 599), (404, 404)]
        );
        for bad in ["5xx", "600", "599-500", "-", "99"] {
            assert!(parse_status_ranges(&list(&[bad])).is_err(), "{bad}");
        }
    }
}
