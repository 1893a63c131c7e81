//! Request metrics as Traefik's Prometheus families count them: per
//! entrypoint, router and service, by status code, method and protocol.
//!
//! A [`Scope`] holds the counters of one entrypoint, router or service. It
//! is handed out once per configuration build and kept in the built object
//! (the entrypoint's settings, the route, the load balancer), so that a
//! request costs a lock-free map read and a few atomic adds per scope: the
//! map from a label combination to its [`Cell`] is copied on write (a new
//! combination is rare) and read through an [`ArcSwap`].
//!
//! The entrypoint puts a [`Metered`] in the extensions of a request that is
//! counted (its router's `observability.metrics`, internal services only
//! with `addInternals`); the load balancer counts its service only for
//! such requests. Answers are counted when their body is dropped (sent or
//! abandoned), with the bytes it carried, as Traefik's capture counts what
//! was written. A counted request whose client goes away before its
//! answer (its handler is dropped) is counted as Traefik's proxy counts
//! it: status 499, with the 21 bytes of `Client Closed Request`.
//!
//! For `metrics.otlp`, each cell knows whether its attribute set has a
//! stream of its own: as the OpenTelemetry SDK, an instrument keeps at most
//! [`CARDINALITY_LIMIT`] attribute sets, the last being the overflow set
//! that takes every set first seen once the others are taken. The sets of
//! one kind of scope (entrypoints, routers, services) are counted in one
//! [`SetBudget`], when a cell is made (off the request path's common case:
//! a cell is made once per label combination). Prometheus has no limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{HeaderMap, HeaderName};
use http_body::{Frame, SizeHint};

use crate::body::BoxError;
use crate::context::TlsSession;
pub use crate::semconv::CARDINALITY_LIMIT;
use crate::{Body, Request, Response};

/// Method label values: Traefik keeps the standard methods and folds the
/// rest into `EXTENSION_METHOD` (`http::Method` is always valid UTF-8, so
/// Traefik's `NON_UTF8_HTTP_METHOD` never occurs).
pub const METHODS: [&str; 11] = [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PRI",
    "EXTENSION_METHOD",
];

/// Protocol label values, as Traefik tells them from the request headers.
pub const PROTOCOLS: [&str; 5] = ["http", "websocket", "sse", "grpc-web", "grpc"];

const GRPC_WEB: u8 = 3;
const GRPC: u8 = 4;

/// The labels a request has before its answer: method and protocol;
/// and whether it came over HTTP/3 (for the status of a client gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLabels {
    method: u8,
    protocol: u8,
    h3: bool,
}

/// Whether the comma-separated header `name` has an item equal (after
/// trimming and lower-casing) to `value`, as Traefik's `containsHeader`.
fn contains_item(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|item| item.trim().eq_ignore_ascii_case(value))
        })
}

impl RequestLabels {
    pub fn of<B>(req: &http::Request<B>) -> RequestLabels {
        let method = METHODS
            .iter()
            .position(|m| *m == req.method().as_str())
            .unwrap_or(METHODS.len() - 1) as u8;
        let h = req.headers();
        let content_type = h
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let protocol = if contains_item(h, http::header::CONNECTION, "upgrade")
            && contains_item(h, http::header::UPGRADE, "websocket")
        {
            1
        } else if contains_item(h, http::header::ACCEPT, "text/event-stream") {
            2
        } else if content_type.starts_with(b"application/grpc-web") {
            GRPC_WEB
        } else if content_type.starts_with(b"application/grpc") {
            GRPC
        } else {
            0
        };
        RequestLabels {
            method,
            protocol,
            h3: req.version() == http::Version::HTTP_3,
        }
    }

    fn is_grpc(self) -> bool {
        self.protocol == GRPC || self.protocol == GRPC_WEB
    }

    /// The key of the series with status `code`.
    fn key(self, code: u16) -> u32 {
        (u32::from(code) << 8) | (u32::from(self.method) << 4) | u32::from(self.protocol)
    }
}

/// The labels a series key stands for: `(code, method, protocol)`.
pub fn key_labels(key: u32) -> (u32, &'static str, &'static str) {
    let method = METHODS
        .get(((key >> 4) & 0xf) as usize)
        .copied()
        .unwrap_or("EXTENSION_METHOD");
    let protocol = PROTOCOLS
        .get((key & 0xf) as usize)
        .copied()
        .unwrap_or("http");
    (key >> 8, method, protocol)
}

/// The request duration histograms' upper bounds.
#[derive(Debug)]
pub struct Buckets {
    /// As configured, in seconds, ascending.
    pub seconds: Box<[f64]>,
    /// The same in nanoseconds, for the request path.
    nanos: Box<[u64]>,
}

impl Buckets {
    /// Sorts and deduplicates `seconds`; non-finite and negative bounds are
    /// dropped (`+Inf` is always there).
    pub fn new(seconds: &[f64]) -> Buckets {
        let mut s: Vec<f64> = seconds
            .iter()
            .copied()
            .filter(|b| b.is_finite() && *b >= 0.0)
            .collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        let nanos = s.iter().map(|b| (b * 1e9) as u64).collect();
        Buckets {
            seconds: s.into(),
            nanos,
        }
    }

    /// The index of the bucket a duration of `nanos` falls in (the
    /// first whose bound is not below it; the last, `+Inf`, when none).
    pub fn index(&self, nanos: u64) -> usize {
        self.nanos
            .iter()
            .position(|b| nanos <= *b)
            .unwrap_or(self.nanos.len())
    }
}

/// The attribute sets the OTLP instruments of one kind of scope have
/// taken, shared by the scopes of that kind: the request instruments
/// (requests, duration, bytes: one set per cell), the TLS requests, the
/// retries. Never given back (the SDK keeps a cumulative set for good).
#[derive(Debug, Default)]
pub struct SetBudget {
    requests: AtomicUsize,
    tls: AtomicUsize,
    retries: AtomicUsize,
}

impl SetBudget {
    /// Takes one attribute set from `taken`: whether it gets a stream of
    /// its own (false: it goes to the overflow set, the limit's last).
    fn take(taken: &AtomicUsize) -> bool {
        taken
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n + 1 < CARDINALITY_LIMIT).then_some(n + 1)
            })
            .is_ok()
    }
}

/// The counters of one series key of a scope.
#[derive(Debug)]
pub struct Cell {
    pub requests: AtomicU64,
    pub request_bytes: AtomicU64,
    pub response_bytes: AtomicU64,
    /// The sum of durations, in nanoseconds.
    pub duration_nanos: AtomicU64,
    /// The shortest and longest duration, in nanoseconds (OTLP's
    /// histogram `min` and `max`; `u64::MAX` and 0 before the first).
    pub min_nanos: AtomicU64,
    pub max_nanos: AtomicU64,
    /// Observations per bucket (not cumulative; the last is `+Inf`).
    pub buckets: Box<[AtomicU64]>,
    /// Whether its attribute set has an OTLP stream of its own (else it
    /// is counted in the overflow set).
    pub own_set: bool,
}

impl Cell {
    fn new(buckets: usize, own_set: bool) -> Cell {
        Cell {
            requests: AtomicU64::new(0),
            request_bytes: AtomicU64::new(0),
            response_bytes: AtomicU64::new(0),
            duration_nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
            buckets: (0..=buckets).map(|_| AtomicU64::new(0)).collect(),
            own_set,
        }
    }
}

/// Requests over TLS with one version and cipher.
#[derive(Debug)]
struct TlsCell {
    count: AtomicU64,
    /// As [`Cell::own_set`].
    own_set: bool,
}

/// Header label values of one request (with `headerLabels`).
pub type HeaderValues = Arc<[Box<str>]>;

/// The counters of one entrypoint, router or service.
pub struct Scope {
    labels: Box<[Arc<str>]>,
    buckets: Arc<Buckets>,
    cells: ArcSwap<HashMap<u32, Arc<Cell>>>,
    tls: ArcSwap<HashMap<(&'static str, &'static str), Arc<TlsCell>>>,
    /// `requests_total` by key and header values, with `headerLabels`.
    headers: ArcSwap<HashMap<(u32, HeaderValues), Arc<AtomicU64>>>,
    /// Serialises the copies of the maps above when a series is new.
    grow: Mutex<()>,
    /// Attempts after the first, sent by the `retry` middleware.
    pub retries: AtomicU64,
    /// Whether a retry was ever counted (the series exists).
    pub retried: AtomicBool,
    /// Whether the retries' OTLP attribute set is the overflow set.
    pub retries_overflow: AtomicBool,
    /// The OTLP attribute sets of this kind of scope.
    budget: Arc<SetBudget>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

/// Adds `value` to the counter of `key` in the copy-on-write `map`.
fn bump<K, V>(
    map: &ArcSwap<HashMap<K, Arc<V>>>,
    grow: &Mutex<()>,
    key: &K,
    new: impl FnOnce() -> V,
) -> Arc<V>
where
    K: std::hash::Hash + Eq + Clone,
{
    if let Some(v) = map.load().get(key) {
        return v.clone();
    }
    let _g = grow.lock().unwrap_or_else(PoisonError::into_inner);
    let current = map.load_full();
    if let Some(v) = current.get(key) {
        return v.clone();
    }
    let mut next = HashMap::clone(&current);
    let v = Arc::new(new());
    next.insert(key.clone(), v.clone());
    map.store(Arc::new(next));
    v
}

impl Scope {
    /// A scope whose series carry the label values `labels` (an
    /// entrypoint's name; a router's and its service's; a service's),
    /// the only one of its kind.
    pub fn new(labels: &[&str], buckets: Arc<Buckets>) -> Scope {
        Scope::sharing(labels, buckets, Arc::default())
    }

    /// A scope whose OTLP attribute sets are counted in `budget`, with
    /// the other scopes of its kind.
    pub fn sharing(labels: &[&str], buckets: Arc<Buckets>, budget: Arc<SetBudget>) -> Scope {
        Scope {
            labels: labels.iter().map(|l| Arc::from(*l)).collect(),
            buckets,
            cells: Default::default(),
            tls: Default::default(),
            headers: Default::default(),
            grow: Mutex::new(()),
            retries: AtomicU64::new(0),
            retried: AtomicBool::new(false),
            retries_overflow: AtomicBool::new(false),
            budget,
        }
    }

    pub fn labels(&self) -> &[Arc<str>] {
        &self.labels
    }

    /// Counts one answer.
    pub fn observe(
        &self,
        labels: RequestLabels,
        code: u16,
        duration: Duration,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        let key = labels.key(code);
        let cells = self.cells.load();
        let cell;
        let c = match cells.get(&key) {
            Some(c) => c,
            None => {
                let n = self.buckets.nanos.len();
                cell = bump(&self.cells, &self.grow, &key, || {
                    Cell::new(n, SetBudget::take(&self.budget.requests))
                });
                &cell
            }
        };
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.request_bytes.fetch_add(request_bytes, Ordering::Relaxed);
        c.response_bytes
            .fetch_add(response_bytes, Ordering::Relaxed);
        c.duration_nanos.fetch_add(nanos, Ordering::Relaxed);
        // A read first: the extremes seldom move, and a read is cheaper
        // than a read-modify-write.
        if nanos < c.min_nanos.load(Ordering::Relaxed) {
            c.min_nanos.fetch_min(nanos, Ordering::Relaxed);
        }
        if nanos > c.max_nanos.load(Ordering::Relaxed) {
            c.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
        let bucket = self.buckets.index(nanos);
        if let Some(b) = c.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one request with header label values.
    fn observe_headers(&self, labels: RequestLabels, code: u16, values: &HeaderValues) {
        let key = (labels.key(code), values.clone());
        bump(&self.headers, &self.grow, &key, || AtomicU64::new(0)).fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one request over TLS.
    pub fn observe_tls(&self, session: TlsSession) {
        let key = (session.version, session.cipher);
        if let Some(c) = self.tls.load().get(&key) {
            c.count.fetch_add(1, Ordering::Relaxed);
            return;
        }
        bump(&self.tls, &self.grow, &key, || TlsCell {
            count: AtomicU64::new(0),
            own_set: SetBudget::take(&self.budget.tls),
        })
        .count
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a retry (an attempt after the first).
    pub fn retry(&self) {
        if !self.retried.load(Ordering::Relaxed) && !self.retried.swap(true, Ordering::Relaxed) {
            let own = SetBudget::take(&self.budget.retries);
            self.retries_overflow.store(!own, Ordering::Relaxed);
        }
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// Every series key and its counters.
    pub fn cells(&self) -> Vec<(u32, Arc<Cell>)> {
        self.cells
            .load()
            .iter()
            .map(|(k, c)| (*k, c.clone()))
            .collect()
    }

    /// Requests over TLS by `(version, cipher)`.
    pub fn tls_counts(&self) -> Vec<((&'static str, &'static str), u64)> {
        self.tls
            .load()
            .iter()
            .map(|(k, c)| (*k, c.count.load(Ordering::Relaxed)))
            .collect()
    }

    /// As [`Scope::tls_counts`], each with whether its OTLP attribute set
    /// is its own (else it is counted in the overflow set).
    pub fn tls_sets(&self) -> Vec<((&'static str, &'static str), u64, bool)> {
        self.tls
            .load()
            .iter()
            .map(|(k, c)| (*k, c.count.load(Ordering::Relaxed), c.own_set))
            .collect()
    }

    /// Requests by key and header label values (with `headerLabels`).
    pub fn header_counts(&self) -> Vec<((u32, HeaderValues), u64)> {
        self.headers
            .load()
            .iter()
            .map(|(k, c)| (k.clone(), c.load(Ordering::Relaxed)))
            .collect()
    }

    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }
}

/// `headerLabels`: label names and the request headers they read (none
/// for a header name no request can carry: its label is always empty).
#[derive(Debug, Clone, Default)]
pub struct HeaderLabels(pub Arc<[(String, Option<HeaderName>)]>);

impl HeaderLabels {
    /// The values `headers` gives the labels (empty when absent), or none
    /// without `headerLabels`.
    pub fn values(&self, headers: &HeaderMap) -> Option<HeaderValues> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            self.0
                .iter()
                .map(|(_, h)| {
                    let v = h
                        .as_ref()
                        .and_then(|h| headers.get(h))
                        .map(|v| v.as_bytes())
                        .unwrap_or_default();
                    Box::from(String::from_utf8_lossy(v).as_ref())
                })
                .collect(),
        )
    }
}

/// What the entrypoint puts in a counted request's extensions.
#[derive(Debug, Clone)]
pub struct Metered {
    pub labels: RequestLabels,
    pub tls: Option<TlsSession>,
    /// Request body bytes read so far (none for a request without a body).
    pub request_bytes: Option<Arc<AtomicU64>>,
    /// The header label names, when configured.
    pub header_labels: HeaderLabels,
}

/// Marks an attempt the `retry` middleware sends after the first.
#[derive(Debug, Clone, Copy)]
pub struct Retried;

/// One request's answer, to be counted on up to two scopes (an entrypoint
/// and its router) when its body is dropped.
pub struct Observation {
    pub scopes: [Option<Arc<Scope>>; 2],
    pub labels: RequestLabels,
    pub started: Instant,
    /// Request body bytes read so far (none for a request without a body).
    pub request_bytes: Option<Arc<AtomicU64>>,
    pub header_values: Option<HeaderValues>,
    /// The entrypoint's request, for `http.server.request.duration`.
    pub server: Option<crate::semconv::ServerCall>,
}

/// Traefik's status for a request whose client went away before the
/// answer, and the body its proxy writes (and counts) then.
const CLIENT_CLOSED: (u16, &str) = (499, "Client Closed Request");
/// The same over HTTP/3, as Traefik 3.7 answers it: quic-go cancels the
/// request with the connection's error, which Traefik's proxy reads as a
/// network error (502), not as a cancellation.
const CLIENT_CLOSED_H3: (u16, &str) = (502, "Bad Gateway");

impl Observation {
    /// Counts the answer, once: `code` (gRPC's own for gRPC) on the
    /// scopes, the HTTP `status` on the server histogram.
    fn record(&mut self, code: u16, status: u16, response_bytes: u64) {
        let duration = self.started.elapsed();
        if let Some(mut server) = self.server.take() {
            server.record(status, duration);
        }
        let request_bytes = self
            .request_bytes
            .as_ref()
            .map_or(0, |b| b.load(Ordering::Relaxed));
        for scope in std::mem::take(&mut self.scopes).iter().flatten() {
            scope.observe(self.labels, code, duration, request_bytes, response_bytes);
            if let Some(values) = &self.header_values {
                scope.observe_headers(self.labels, code, values);
            }
        }
    }

    /// Counts `code` and `response_bytes` now (an answer without a body
    /// to wait for).
    pub fn record_now(mut self, code: u16, response_bytes: u64) {
        self.record(code, code, response_bytes);
    }

    /// Wraps `resp`'s body so that the answer is counted when it is
    /// dropped, with the bytes it carried (and for gRPC, the status its
    /// trailers give).
    pub fn finish(self, resp: Response) -> Response {
        let grpc = self.labels.is_grpc();
        let status = resp.status().as_u16();
        let code = if grpc {
            grpc_code(resp.headers()).unwrap_or(GRPC_UNKNOWN)
        } else {
            status
        };
        resp.map(|inner| {
            http_body_util::BodyExt::boxed(MeteredBody {
                inner,
                bytes: 0,
                code,
                status,
                grpc,
                observation: Some(self),
            })
        })
    }
}

impl Drop for Observation {
    /// Dropped before its answer was counted: the client went away and
    /// its request's handling was dropped. Traefik's proxy answers such a
    /// request 499 (its handler runs on), and its metrics count that.
    fn drop(&mut self) {
        if self.scopes.iter().any(Option::is_some) || self.server.is_some() {
            let (status, text) = if self.labels.h3 {
                CLIENT_CLOSED_H3
            } else {
                CLIENT_CLOSED
            };
            // gRPC's code comes from an answer's header: none, `Unknown`.
            let code = if self.labels.is_grpc() {
                GRPC_UNKNOWN
            } else {
                status
            };
            self.record(code, status, text.len() as u64);
        }
    }
}

/// gRPC's `Unknown`, Traefik's code when an answer gives none.
const GRPC_UNKNOWN: u16 = 2;

fn grpc_code(headers: &HeaderMap) -> Option<u16> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse().unwrap_or(GRPC_UNKNOWN))
}

/// A body that counts its bytes and counts the answer when dropped.
struct MeteredBody {
    inner: Body,
    bytes: u64,
    code: u16,
    /// The HTTP status (`code` is gRPC's for gRPC).
    status: u16,
    grpc: bool,
    observation: Option<Observation>,
}

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.bytes += data.len() as u64;
            } else if let Some(code) = frame
                .trailers_ref()
                .filter(|_| self.grpc)
                .and_then(grpc_code)
            {
                self.code = code;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        if let Some(mut o) = self.observation.take() {
            o.record(self.code, self.status, self.bytes);
        }
    }
}

/// A load balancer's side of a counted request: its service's scope.
pub struct ServiceObservation(Observation);

impl ServiceObservation {
    /// Starts counting `req` on `scope`, when the entrypoint counts it
    /// (and counts a retry when it is one).
    pub fn begin(scope: &Arc<Scope>, req: &Request) -> Option<ServiceObservation> {
        let metered = req.extensions().get::<Metered>()?;
        if req.extensions().get::<Retried>().is_some() {
            scope.retry();
        }
        if let Some(tls) = metered.tls {
            scope.observe_tls(tls);
        }
        Some(ServiceObservation(Observation {
            scopes: [Some(scope.clone()), None],
            labels: metered.labels,
            started: Instant::now(),
            request_bytes: metered.request_bytes.clone(),
            header_values: metered.header_labels.values(req.headers()),
            server: None,
        }))
    }

    /// Counts the outcome: an answer when its body is dropped, an error
    /// at once with its status and the size of the answer it makes (as
    /// Traefik's proxy writes its error page inside the service).
    pub fn settle(
        self,
        result: Result<Response, crate::ProxyError>,
    ) -> Result<Response, crate::ProxyError> {
        match result {
            Ok(resp) => Ok(self.0.finish(resp)),
            Err(e) => {
                self.0
                    .record_now(e.status().as_u16(), e.body_text().len() as u64);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests;
