//! `circuitBreaker`: watches the answers of what it wraps and, when its
//! expression holds, stops sending requests there for `fallbackDuration`
//! (answering `responseCode` itself), then lets a growing share of requests
//! through for `recoveryDuration` before closing again.
//!
//! The metrics are Traefik's: answers over the last 10 seconds (total, 502
//! and 504 as network errors, counts per status) and latencies over the
//! last 60 seconds. The expression is checked at most once per
//! `checkPeriod`, after an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::predicate::{self, Call, Expr, Functions, Kind, Signature, Value};
use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

/// The functions a circuit-breaker expression can call.
pub const FUNCTIONS: &[Signature] = &[
    Signature {
        name: "NetworkErrorRatio",
        args: &[],
        returns: Kind::Number,
    },
    Signature {
        name: "LatencyAtQuantileMS",
        args: &[Kind::Number],
        returns: Kind::Number,
    },
    Signature {
        name: "ResponseCodeRatio",
        args: &[Kind::Number, Kind::Number, Kind::Number, Kind::Number],
        returns: Kind::Number,
    },
];

#[derive(Debug, Clone)]
pub struct Settings {
    pub expression: String,
    pub check_period: Duration,
    pub fallback_duration: Duration,
    pub recovery_duration: Duration,
    pub response_code: StatusCode,
}

const COUNTER_SECONDS: u64 = 10;
const LATENCY_BUCKETS: u64 = 6;
const LATENCY_BUCKET_SECONDS: u64 = 10;
/// Latency histogram resolution: 32 buckets per power of two (about 2%).
const STEPS_PER_DOUBLING: f64 = 32.0;
const HISTOGRAM_SIZE: usize = 1200;

#[derive(Debug, Default, Clone)]
struct Second {
    at: u64,
    total: u64,
    network_errors: u64,
    codes: HashMap<u16, u64>,
}

#[derive(Debug, Clone)]
struct LatencyBucket {
    at: u64,
    counts: Vec<u32>,
}

/// Rolling answer metrics.
#[derive(Debug)]
struct Metrics {
    epoch: Instant,
    seconds: Vec<Second>,
    latencies: Vec<LatencyBucket>,
}

fn histogram_index(micros: u64) -> usize {
    let v = micros.max(1) as f64;
    let i = (v.log2() * STEPS_PER_DOUBLING) as usize;
    i.min(HISTOGRAM_SIZE - 1)
}

fn histogram_value(index: usize) -> f64 {
    2f64.powf(index as f64 / STEPS_PER_DOUBLING)
}

impl Metrics {
    fn new() -> Metrics {
        Metrics {
            epoch: Instant::now(),
            seconds: vec![Second::default(); COUNTER_SECONDS as usize],
            latencies: (0..LATENCY_BUCKETS)
                .map(|_| LatencyBucket {
                    at: u64::MAX,
                    counts: vec![0; HISTOGRAM_SIZE],
                })
                .collect(),
        }
    }

    fn now_secs(&self) -> u64 {
        self.epoch.elapsed().as_secs() + 1
    }

    fn record(&mut self, status: u16, latency: Duration) {
        let now = self.now_secs();
        let slot = &mut self.seconds[(now % COUNTER_SECONDS) as usize];
        if slot.at != now {
            *slot = Second {
                at: now,
                ..Second::default()
            };
        }
        slot.total += 1;
        if status == 502 || status == 504 {
            slot.network_errors += 1;
        }
        *slot.codes.entry(status).or_default() += 1;
        let period = now / LATENCY_BUCKET_SECONDS;
        let bucket = &mut self.latencies[(period % LATENCY_BUCKETS) as usize];
        if bucket.at != period {
            bucket.at = period;
            bucket.counts.iter_mut().for_each(|c| *c = 0);
        }
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        bucket.counts[histogram_index(micros)] += 1;
    }

    fn live_seconds(&self) -> impl Iterator<Item = &Second> {
        let now = self.now_secs();
        self.seconds
            .iter()
            .filter(move |s| s.at + COUNTER_SECONDS > now && s.at <= now)
    }

    fn network_error_ratio(&self) -> f64 {
        let (total, errors) = self
            .live_seconds()
            .fold((0, 0), |(t, e), s| (t + s.total, e + s.network_errors));
        if total == 0 {
            0.0
        } else {
            errors as f64 / total as f64
        }
    }

    /// Answers with a status in [a_from, a_to) over those in [b_from, b_to).
    fn response_code_ratio(&self, a_from: f64, a_to: f64, b_from: f64, b_to: f64) -> f64 {
        let (mut a, mut b) = (0u64, 0u64);
        for s in self.live_seconds() {
            for (code, n) in &s.codes {
                let c = f64::from(*code);
                if c >= a_from && c < a_to {
                    a += n;
                }
                if c >= b_from && c < b_to {
                    b += n;
                }
            }
        }
        if b == 0 {
            0.0
        } else {
            a as f64 / b as f64
        }
    }

    /// The latency at `quantile` (0-100) over the last minute, in whole ms.
    fn latency_at_quantile_ms(&self, quantile: f64) -> f64 {
        let period = self.now_secs() / LATENCY_BUCKET_SECONDS;
        let mut merged = vec![0u64; HISTOGRAM_SIZE];
        for b in &self.latencies {
            if b.at != u64::MAX && b.at + LATENCY_BUCKETS > period {
                for (m, c) in merged.iter_mut().zip(&b.counts) {
                    *m += u64::from(*c);
                }
            }
        }
        let total: u64 = merged.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let wanted = ((quantile.clamp(0.0, 100.0) / 100.0) * total as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in merged.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return (histogram_value(i) / 1000.0).floor();
            }
        }
        0.0
    }
}

impl Functions for Metrics {
    fn call(&self, call: &Call) -> Value {
        let num = |i: usize| match call.args.get(i) {
            Some(Value::Number(n)) => *n,
            _ => 0.0,
        };
        Value::Number(match call.name {
            "NetworkErrorRatio" => self.network_error_ratio(),
            "LatencyAtQuantileMS" => self.latency_at_quantile_ms(num(0)),
            "ResponseCodeRatio" => self.response_code_ratio(num(0), num(1), num(2), num(3)),
            _ => 0.0,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Closed: requests go through.
    Standby,
    /// Open: requests get the fallback answer.
    Tripped,
    /// Half-open: a growing share of requests goes through.
    Recovering,
}

#[derive(Debug)]
struct Inner {
    state: State,
    until: Instant,
    next_check: Instant,
    recovery_started: Instant,
    allowed: u64,
    denied: u64,
    metrics: Metrics,
}

/// The breaker's state, shared by every chain that uses the middleware and
/// kept across reloads that do not change it.
#[derive(Debug)]
pub struct Breaker {
    settings: Settings,
    expr: Expr,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub fn new(settings: Settings) -> Result<Breaker, String> {
        let expr = predicate::parse(&settings.expression, FUNCTIONS)
            .map_err(|e| format!("circuitBreaker.expression {:?}: {e}", settings.expression))?;
        let now = Instant::now();
        Ok(Breaker {
            settings,
            expr,
            inner: Mutex::new(Inner {
                state: State::Standby,
                until: now,
                next_check: now,
                recovery_started: now,
                allowed: 0,
                denied: 0,
                metrics: Metrics::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn state(&self) -> State {
        self.lock().state
    }

    /// Whether this request must get the fallback answer.
    fn blocks(&self) -> bool {
        let mut s = self.lock();
        let now = Instant::now();
        match s.state {
            State::Standby => false,
            State::Tripped if now < s.until => true,
            State::Tripped | State::Recovering => {
                if s.state == State::Tripped {
                    tracing::info!("circuit breaker recovering");
                    s.state = State::Recovering;
                    s.until = now + self.settings.recovery_duration;
                    s.recovery_started = now;
                    s.allowed = 0;
                    s.denied = 0;
                }
                if now > s.until {
                    tracing::info!("circuit breaker closed");
                    s.state = State::Standby;
                    return false;
                }
                // Let through a share growing from 0 to one half.
                let duration = self.settings.recovery_duration.as_secs_f64().max(1e-9);
                let target = 0.5 * now.duration_since(s.recovery_started).as_secs_f64() / duration;
                let ratio = (s.allowed + 1) as f64 / (s.allowed + 1 + s.denied) as f64;
                if ratio < target {
                    s.allowed += 1;
                    false
                } else {
                    s.denied += 1;
                    true
                }
            }
        }
    }

    fn record(&self, status: u16, latency: Duration) {
        let mut s = self.lock();
        s.metrics.record(status, latency);
        let now = Instant::now();
        if now < s.next_check {
            return;
        }
        s.next_check = now + self.settings.check_period;
        if s.state == State::Tripped {
            return;
        }
        if self.expr.eval(&s.metrics) {
            tracing::warn!(expression = %self.settings.expression, "circuit breaker tripped");
            s.state = State::Tripped;
            s.until = now + self.settings.fallback_duration;
            s.metrics = Metrics::new();
        }
    }

    fn fallback(&self) -> Response {
        let code = self.settings.response_code;
        let mut resp = Response::new(body::full(code.canonical_reason().unwrap_or("")));
        *resp.status_mut() = code;
        resp
    }
}

pub struct CircuitBreaker {
    breaker: Arc<Breaker>,
    next: BoxHandler,
}

impl CircuitBreaker {
    pub fn new(breaker: Arc<Breaker>, next: BoxHandler) -> CircuitBreaker {
        CircuitBreaker { breaker, next }
    }
}

impl Handler for CircuitBreaker {
    fn call(&self, req: Request) -> HandlerFuture {
        if self.breaker.blocks() {
            let resp = self.breaker.fallback();
            return Box::pin(async move { Ok(resp) });
        }
        let breaker = self.breaker.clone();
        let call = self.next.call(req);
        Box::pin(async move {
            let started = Instant::now();
            let result = call.await;
            let status = match &result {
                Ok(resp) => resp.status().as_u16(),
                Err(e) => e.status().as_u16(),
            };
            breaker.record(status, started.elapsed());
            result
        })
    }
}

/// Translates a `circuitBreaker` definition. Every router using it shares
/// one breaker.
pub fn from_config(
    c: switchyard_config::middlewares::CircuitBreaker,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let response_code = u16::try_from(c.response_code)
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .ok_or_else(|| {
            format!(
                "circuitBreaker.responseCode {} is not a status",
                c.response_code
            )
        })?;
    let breaker = Arc::new(Breaker::new(Settings {
        expression: c.expression,
        check_period: c.check_period.into(),
        fallback_duration: c.fallback_duration.into(),
        recovery_duration: c.recovery_duration.into(),
        response_code,
    })?);
    Ok(Arc::new(move |next| {
        Arc::new(CircuitBreaker::new(breaker.clone(), next)) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(expression: &str) -> Settings {
        Settings {
            expression: expression.into(),
            check_period: Duration::ZERO,
            fallback_duration: Duration::from_millis(50),
            recovery_duration: Duration::from_millis(50),
            response_code: StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    #[test]
    fn metrics_functions() {
        let mut m = Metrics::new();
        for (status, ms) in [(200, 10), (200, 20), (502, 30), (504, 40), (500, 1000)] {
            m.record(status, Duration::from_millis(ms));
        }
        assert_eq!(m.network_error_ratio(), 0.4);
        assert_eq!(m.response_code_ratio(500.0, 600.0, 0.0, 600.0), 0.6);
        assert_eq!(m.response_code_ratio(200.0, 300.0, 500.0, 501.0), 2.0);
        assert_eq!(m.response_code_ratio(200.0, 300.0, 300.0, 400.0), 0.0);
        // Within the histogram's 2% resolution.
        let median = m.latency_at_quantile_ms(50.0);
        assert!((29.0..=30.0).contains(&median), "{median}");
        let top = m.latency_at_quantile_ms(100.0);
        assert!((980.0..=1000.0).contains(&top), "{top}");
        assert_eq!(Metrics::new().latency_at_quantile_ms(50.0), 0.0);
    }

    #[test]
    fn trips_recovers_and_closes() {
        let b = Breaker::new(settings("NetworkErrorRatio() > 0.5")).unwrap();
        b.record(200, Duration::from_millis(1));
        assert_eq!(b.state(), State::Standby);
        b.record(502, Duration::from_millis(1));
        b.record(502, Duration::from_millis(1));
        assert_eq!(b.state(), State::Tripped);
        assert!(b.blocks());
        std::thread::sleep(Duration::from_millis(60));
        // Recovering: a share of requests passes, growing with time.
        let passed = (0..20).filter(|_| !b.blocks()).count();
        assert_eq!(b.state(), State::Recovering);
        assert!(passed < 20, "all passed while recovering");
        std::thread::sleep(Duration::from_millis(60));
        assert!(!b.blocks());
        assert_eq!(b.state(), State::Standby);
    }

    #[test]
    fn bad_expressions_are_configuration_errors() {
        for bad in [
            "",
            "NetworkErrorRatio()",
            "NetworkErrorRatio(1) > 0.5",
            "LatencyAtQuantileMS() > 10",
            "ResponseCodeRatio(500, 600) > 0.5",
            "IsNetworkError() > 1",
        ] {
            assert!(Breaker::new(settings(bad)).is_err(), "{bad:?}");
        }
        assert!(Breaker::new(settings(
            "LatencyAtQuantileMS(50.0) > 100 || ResponseCodeRatio(500, 600, 0, 600) > 0.25"
        ))
        .is_ok());
    }
}
