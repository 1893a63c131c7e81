//! How a balancer chooses among its targets (servers, or child services):
//! Traefik's four strategies and its sticky cookie, over target indices, so
//! that the `loadBalancer` service and the `weighted` and
//! `highestRandomWeight` services share one implementation.
//!
//! - `wrr`: weighted round robin (see [`super::wrr`]).
//! - `p2c`: power of two choices: two distinct random targets, the one with
//!   fewer requests in flight wins (weights are ignored, as in Traefik).
//! - `hrw`: rendezvous hashing of the client IP with each target's name, so
//!   a client keeps its target while the set of targets is unchanged.
//! - `leasttime`: the lowest mean time to first byte (last 100 answers)
//!   times one plus the requests in flight, divided by the weight; ties go
//!   round robin.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::header::{HeaderValue, SET_COOKIE};

use super::sticky::Sticky;
use super::wrr::Wrr;
use crate::body::Body;
use crate::context::RequestContext;
use crate::{HandlerFuture, ProxyError, Response};

/// The configured strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Wrr,
    P2c,
    Hrw,
    LeastTime,
}

impl Kind {
    /// Traefik's names; the empty string is `wrr`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "" | "wrr" => Some(Kind::Wrr),
            "p2c" => Some(Kind::P2c),
            "hrw" => Some(Kind::Hrw),
            "leasttime" => Some(Kind::LeastTime),
            _ => None,
        }
    }
}

const SAMPLES: usize = 100;

/// Time-to-first-byte samples of one target, in whole milliseconds as
/// Traefik keeps them.
#[derive(Debug)]
struct Samples {
    ring: [f64; SAMPLES],
    next: usize,
    count: usize,
    sum: f64,
}

impl Samples {
    fn new() -> Samples {
        Samples {
            ring: [0.0; SAMPLES],
            next: 0,
            count: 0,
            sum: 0.0,
        }
    }

    fn add(&mut self, ms: f64) {
        if self.count < SAMPLES {
            self.count += 1;
        } else {
            self.sum -= self.ring[self.next];
        }
        self.ring[self.next] = ms;
        self.sum += ms;
        self.next = (self.next + 1) % SAMPLES;
    }

    fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }
}

/// Per-target state.
#[derive(Debug)]
struct Slot {
    name: String,
    weight: u32,
    in_flight: AtomicU64,
    /// Only `leasttime` keeps samples (800 bytes a target).
    samples: Option<Box<Mutex<Samples>>>,
}

impl Slot {
    /// The mean time to first byte (0 with no samples).
    fn mean(&self) -> f64 {
        self.samples.as_ref().map_or(0.0, |s| lock(s).mean())
    }

    fn add_sample(&self, ms: f64) {
        if let Some(s) = &self.samples {
            lock(s).add(ms);
        }
    }
}

/// Earliest-deadline state for `leasttime`'s tie-breaking.
#[derive(Debug, Default)]
struct Deadlines {
    current: f64,
    of: Vec<f64>,
}

/// The choosing half of a balancer.
pub struct Picker {
    kind: Kind,
    slots: Arc<Vec<Slot>>,
    wrr: Mutex<Wrr>,
    /// `leasttime`'s tie-breaking deadlines (empty for the others).
    deadlines: Mutex<Deadlines>,
    /// Boxed: most balancers have none, and it is large.
    sticky: Option<Box<Sticky>>,
}

/// A choice: the target, and the cookie to send back, if any.
pub struct Pick {
    pub index: usize,
    pub set_cookie: Option<HeaderValue>,
}

impl Picker {
    /// `targets` are (name, weight) in configuration order; names are what
    /// `hrw` hashes and what the sticky cookie points at.
    pub fn new(kind: Kind, targets: &[(String, u32)], sticky: Option<Sticky>) -> Picker {
        let slots: Vec<Slot> = targets
            .iter()
            .map(|(name, weight)| Slot {
                name: name.clone(),
                weight: *weight,
                in_flight: AtomicU64::new(0),
                samples: (kind == Kind::LeastTime).then(|| Box::new(Mutex::new(Samples::new()))),
            })
            .collect();
        let mut deadlines = Deadlines::default();
        let timed = if kind == Kind::LeastTime {
            slots.as_slice()
        } else {
            &[]
        };
        for slot in timed {
            let d = if slot.weight == 0 {
                f64::INFINITY
            } else {
                deadlines.current + 1.0 / f64::from(slot.weight)
            };
            if d.is_finite() {
                deadlines.current = d;
            }
            deadlines.of.push(d);
        }
        Picker {
            kind,
            wrr: Mutex::new(Wrr::new(targets.iter().map(|t| t.1))),
            slots: Arc::new(slots),
            deadlines: Mutex::new(deadlines),
            sticky: sticky.map(Box::new),
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Chooses a target for `req` among those `available` says can serve.
    pub fn pick<B>(
        &self,
        req: &http::Request<B>,
        available: impl Fn(usize) -> bool,
    ) -> Option<Pick> {
        if let Some(sticky) = &self.sticky {
            if let Some((index, rewrite)) = sticky.lookup(req) {
                if available(index) && self.slots[index].weight > 0 {
                    let set_cookie = rewrite.then(|| sticky.set_cookie(index)).flatten();
                    return Some(Pick { index, set_cookie });
                }
            }
        }
        let usable = |i: usize| self.slots[i].weight > 0 && available(i);
        let index = match self.kind {
            Kind::Wrr => lock(&self.wrr).next(usable)?,
            Kind::P2c => self.p2c(usable)?,
            Kind::Hrw => self.hrw(req, usable)?,
            Kind::LeastTime => self.least_time(usable)?,
        };
        let set_cookie = self.sticky.as_ref().and_then(|s| s.set_cookie(index));
        Some(Pick { index, set_cookie })
    }

    fn p2c(&self, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let healthy: Vec<usize> = (0..self.slots.len()).filter(|i| usable(*i)).collect();
        match healthy.len() {
            0 => None,
            1 => Some(healthy[0]),
            n => {
                let a = fastrand::usize(..n);
                let mut b = fastrand::usize(..n);
                if a == b {
                    b = (b + 1) % n;
                }
                let (a, b) = (healthy[a], healthy[b]);
                let load = |i: usize| self.slots[i].in_flight.load(Ordering::Relaxed);
                Some(if load(b) < load(a) { b } else { a })
            }
        }
    }

    fn hrw<B>(&self, req: &http::Request<B>, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let ip = RequestContext::of(req).client_addr.ip().to_string();
        let mut best: Option<(usize, f64)> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            if !usable(i) {
                continue;
            }
            let score = hrw_score(&ip, &slot.name, slot.weight);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    fn least_time(&self, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let healthy: Vec<usize> = (0..self.slots.len()).filter(|i| usable(*i)).collect();
        if healthy.len() <= 1 {
            return healthy.first().copied();
        }
        let mut best = f64::MAX;
        let mut candidates = Vec::new();
        for &i in &healthy {
            let slot = &self.slots[i];
            let mean = slot.mean();
            let in_flight = slot.in_flight.load(Ordering::Relaxed) as f64;
            let score = mean * (1.0 + in_flight) / f64::from(slot.weight);
            if score < best {
                best = score;
                candidates.clear();
                candidates.push(i);
            } else if score == best {
                candidates.push(i);
            }
        }
        if candidates.len() == 1 {
            return Some(candidates[0]);
        }
        let mut d = lock(&self.deadlines);
        let mut chosen = candidates[0];
        let mut min = f64::MAX;
        for &i in &candidates {
            if d.of[i] < min {
                min = d.of[i];
                chosen = i;
            }
        }
        let next = min + 1.0 / f64::from(self.slots[chosen].weight);
        d.of[chosen] = next;
        if next > d.current {
            d.current = next;
        }
        Some(chosen)
    }

    /// Runs `call` for target `pick`, counting it in flight until its
    /// response body ends, timing its first byte for `leasttime`, and adding
    /// the sticky cookie to the response.
    pub fn serve(&self, pick: Pick, call: HandlerFuture) -> HandlerFuture {
        let track = matches!(self.kind, Kind::P2c | Kind::LeastTime);
        if !track && pick.set_cookie.is_none() {
            return call;
        }
        let slots = self.slots.clone();
        let timed = self.kind == Kind::LeastTime;
        Box::pin(async move {
            let guard = track.then(|| InFlight::enter(slots.clone(), pick.index));
            let started = Instant::now();
            let result = call.await;
            if timed {
                let ms = started.elapsed().as_millis() as f64;
                if let Some(slot) = slots.get(pick.index) {
                    slot.add_sample(ms);
                }
            }
            let mut response = result?;
            if let Some(cookie) = pick.set_cookie {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            Ok(match guard {
                Some(guard) => hold_until_end(response, guard),
                None => response,
            })
        })
    }

    /// Whether `index` is a target that can ever be picked.
    pub fn has_weight(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|s| s.weight > 0)
    }
}

/// Traefik's rendezvous score: FNV-1a of client and name mapped into (0, 1),
/// then `1 / -ln(score)` times the weight.
fn hrw_score(client: &str, name: &str, weight: u32) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in client.bytes().chain(name.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let score = h as f64 / 18_446_744_073_709_551_616.0;
    (1.0 / -score.ln()) * f64::from(weight)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One request in flight to a target; leaves when dropped.
struct InFlight {
    slots: Arc<Vec<Slot>>,
    index: usize,
}

impl InFlight {
    fn enter(slots: Arc<Vec<Slot>>, index: usize) -> InFlight {
        if let Some(s) = slots.get(index) {
            s.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        InFlight { slots, index }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(s) = self.slots.get(self.index) {
            s.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The response with `guard` kept alive until its body is done.
fn hold_until_end(response: Response, guard: InFlight) -> Response {
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    let body: Body = Holding {
        inner: body,
        _guard: guard,
    }
    .boxed();
    Response::from_parts(parts, body)
}

pin_project_lite::pin_project! {
    struct Holding {
        #[pin]
        inner: Body,
        _guard: InFlight,
    }
}

impl http_body::Body for Holding {
    type Data = bytes::Bytes;
    type Error = crate::body::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The error a balancer with nothing to pick answers with.
pub fn no_server() -> HandlerFuture {
    Box::pin(async { Err(ProxyError::NoAvailableServer) })
}

/// A placeholder request for unit tests and probes.
#[cfg(test)]
fn request_from(ip: [u8; 4]) -> crate::Request {
    let mut req = crate::Request::new(crate::body::empty());
    req.extensions_mut().insert(RequestContext {
        client_addr: std::net::SocketAddr::from((ip, 40000)),
        local_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 80)),
        entrypoint: Arc::from("web"),
        tls: false,
        peer_certificates: None,
        tls_session: None,
    });
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(weights: &[u32]) -> Vec<(String, u32)> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("http://10.0.0.{i}"), *w))
            .collect()
    }

    #[test]
    fn strategy_names() {
        for (name, want) in [
            ("wrr", Some(Kind::Wrr)),
            ("", Some(Kind::Wrr)),
            ("P2C", Some(Kind::P2c)),
            ("hrw", Some(Kind::Hrw)),
            ("leasttime", Some(Kind::LeastTime)),
            ("LeastTime", Some(Kind::LeastTime)),
            ("random", None),
        ] {
            assert_eq!(Kind::parse(name), want, "{name}");
        }
    }

    #[test]
    fn hrw_keeps_a_client_on_one_target_and_spreads_clients() {
        let picker = Picker::new(Kind::Hrw, &targets(&[1, 1, 1]), None);
        let mut seen = [0usize; 3];
        for client in 0..60u8 {
            let req = request_from([10, 1, 0, client]);
            let first = picker.pick(&req, |_| true).unwrap().index;
            for _ in 0..5 {
                assert_eq!(picker.pick(&req, |_| true).unwrap().index, first);
            }
            seen[first] += 1;
            // Without its target, the client moves, and only then.
            let other = picker.pick(&req, |i| i != first).unwrap().index;
            assert_ne!(other, first);
        }
        assert!(seen.iter().all(|n| *n > 5), "spread: {seen:?}");
    }

    #[test]
    fn hrw_score_scales_with_weight() {
        // The exact order against Traefik's is checked by the differential
        // suite (tests/diff/cases/balancers.yml).
        let s = hrw_score("127.0.0.1", "http://a", 1);
        assert!(s > 0.0 && s.is_finite());
        assert_eq!(hrw_score("127.0.0.1", "http://a", 2), 2.0 * s);
    }

    #[test]
    fn p2c_prefers_the_less_loaded_of_two() {
        let picker = Picker::new(Kind::P2c, &targets(&[1, 1]), None);
        picker.slots[0].in_flight.store(3, Ordering::Relaxed);
        let req = request_from([127, 0, 0, 1]);
        for _ in 0..20 {
            assert_eq!(picker.pick(&req, |_| true).unwrap().index, 1);
        }
        assert_eq!(picker.pick(&req, |i| i == 0).unwrap().index, 0);
        assert!(picker.pick(&req, |_| false).is_none());
    }

    #[test]
    fn least_time_prefers_the_fastest_and_round_robins_ties() {
        let picker = Picker::new(Kind::LeastTime, &targets(&[1, 1, 1]), None);
        let req = request_from([127, 0, 0, 1]);
        // No samples: all tie at 0, and the ties go round robin (in
        // Traefik's deadline order, which starts 0, 0, 1, 0, 1, 2).
        let picks: Vec<usize> = (0..6)
            .map(|_| picker.pick(&req, |_| true).unwrap().index)
            .collect();
        assert_eq!(picks, [0, 0, 1, 0, 1, 2]);
        let mut counts = [0; 3];
        for _ in 0..30 {
            counts[picker.pick(&req, |_| true).unwrap().index] += 1;
        }
        assert_eq!(counts, [10, 10, 10]);
        picker.slots[0].add_sample(50.0);
        picker.slots[1].add_sample(5.0);
        picker.slots[2].add_sample(20.0);
        assert_eq!(picker.pick(&req, |_| true).unwrap().index, 1);
        // Load on the fastest makes it dearer: 5 * (1 + 4) > 20.
        picker.slots[1].in_flight.store(4, Ordering::Relaxed);
        assert_eq!(picker.pick(&req, |_| true).unwrap().index, 2);
    }

    #[test]
    fn samples_keep_the_last_hundred() {
        let mut s = Samples::new();
        for _ in 0..100 {
            s.add(10.0);
        }
        assert_eq!(s.mean(), 10.0);
        for _ in 0..100 {
            s.add(20.0);
        }
        assert_eq!(s.mean(), 20.0);
    }

    #[test]
    fn sticky_cookie_wins_while_its_target_is_up() {
        use super::super::sticky::{cookie_value, CookieSpec, SameSite};
        let t = targets(&[1, 1]);
        let names: Vec<String> = t.iter().map(|t| t.0.clone()).collect();
        let spec = CookieSpec {
            name: "s".into(),
            secure: false,
            http_only: true,
            same_site: SameSite::Unset,
            max_age: 0,
            expires: None,
            path: "/".into(),
            domain: String::new(),
        };
        let picker = Picker::new(Kind::Wrr, &t, Some(Sticky::new(spec, &names)));
        let mut req = request_from([127, 0, 0, 1]);
        let first = picker.pick(&req, |_| true).unwrap();
        let cookie = first.set_cookie.unwrap();
        assert_eq!(
            cookie.to_str().unwrap(),
            format!("s={}; Path=/; HttpOnly", cookie_value(&names[first.index]))
        );
        req.headers_mut().insert(
            http::header::COOKIE,
            HeaderValue::from_str(&format!("s={}", cookie_value(&names[1]))).unwrap(),
        );
        for _ in 0..4 {
            let p = picker.pick(&req, |_| true).unwrap();
            assert_eq!(p.index, 1);
            assert!(p.set_cookie.is_none(), "a current cookie is not rewritten");
        }
        // Its target down: another is chosen and the cookie replaced.
        let p = picker.pick(&req, |i| i != 1).unwrap();
        assert_eq!(p.index, 0);
        assert!(p.set_cookie.is_some());
    }
}
