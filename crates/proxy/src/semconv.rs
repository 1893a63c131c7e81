//! OpenTelemetry's semantic-convention HTTP histograms, recorded as
//! Traefik's OTLP meter records them beside its `traefik_*` instruments
//! (only with `metrics.otlp`):
//!
//! - `http.server.request.duration`: each request an entrypoint answers
//!   (a request no router takes included), from the start of its routing
//!   until its answer's body is done;
//! - `http.client.request.duration`: each call to a load balancer's
//!   server, from sending the request until the answer's head (or the
//!   error) comes back.
//!
//! Their attributes are Traefik's, values included where Traefik departs
//! from the conventions: the method as sent (no `_OTHER`), the protocol
//! name and version from Go's `Proto` (`http/2.0` and `HTTP/2.0` for
//! HTTP/2), `server.address` with its port, `server.port` 0 when the
//! server URL names a port, `error.type` for statuses from 400.
//!
//! Each histogram keeps a copy-on-write map from an attribute set to its
//! atomic [`Cell`]: a request costs a hash, a lock-free map read and a few
//! atomic adds, and allocates nothing unless its attribute set is new. The
//! hash is foldhash's, seeded at random once per process: attribute values
//! come from requests (method, host), and a client must not be able to aim
//! many of them at one map slot (HashDoS), but SipHash costs more than the
//! rest of the recording. As
//! the OpenTelemetry Go SDK, a histogram holds at most
//! [`CARDINALITY_LIMIT`] attribute sets, the last being the overflow set
//! (`otel.metric.overflow`) that takes every new one once the others are
//! taken.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::{HeaderValue, Method, Version};

use crate::metrics::Buckets;
use crate::Request;

/// The attribute sets a histogram keeps, its overflow set included (the
/// Go SDK's default cardinality limit).
pub const CARDINALITY_LIMIT: usize = 2000;

/// `network.protocol.name` and `network.protocol.version` of a request:
/// Go's `Proto` lower-cased, and Traefik's short form of it (which knows
/// `HTTP/2` but not Go's `HTTP/2.0`, so HTTP/2 keeps the long form).
pub fn protocol(version: Version) -> (&'static str, &'static str) {
    match version {
        Version::HTTP_09 => ("http/0.9", "HTTP/0.9"),
        Version::HTTP_10 => ("http/1.0", "1.0"),
        Version::HTTP_2 => ("http/2.0", "HTTP/2.0"),
        Version::HTTP_3 => ("http/3.0", "HTTP/3.0"),
        _ => ("http/1.1", "1.1"),
    }
}

/// One attribute set, borrowed from the request it describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes<'a> {
    /// `http.request.method`.
    pub method: &'a str,
    /// `http.response.status_code` (and `error.type` from it).
    pub status: u16,
    /// `network.protocol.name` and `network.protocol.version`.
    pub protocol: (&'static str, &'static str),
    /// `server.address`.
    pub address: &'a str,
    /// `server.port`: the client histogram's only.
    pub port: Option<u16>,
    /// `url.scheme`.
    pub scheme: &'a str,
}

/// Four writes to the hasher (a request hashes a set per histogram): the
/// numbers and the strings' lengths in one, then each string.
impl std::hash::Hash for Attributes<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let mut head = [0u8; 24];
        head[0..2].copy_from_slice(&self.status.to_le_bytes());
        let port = self.port.map_or(0u32, |p| u32::from(p) + 1);
        head[2..6].copy_from_slice(&port.to_le_bytes());
        head[6] = self.protocol.0.as_bytes().last().copied().unwrap_or(0);
        head[7] = self.protocol.1.len() as u8;
        head[8..12].copy_from_slice(&(self.method.len() as u32).to_le_bytes());
        head[12..20].copy_from_slice(&(self.address.len() as u64).to_le_bytes());
        head[20..24].copy_from_slice(&(self.scheme.len() as u32).to_le_bytes());
        h.write(&head);
        h.write(self.method.as_bytes());
        h.write(self.address.as_bytes());
        h.write(self.scheme.as_bytes());
    }
}

impl Attributes<'_> {
    fn to_owned(self) -> OwnedAttributes {
        OwnedAttributes {
            method: self.method.into(),
            status: self.status,
            protocol: self.protocol,
            address: self.address.into(),
            port: self.port,
            scheme: self.scheme.into(),
        }
    }
}

/// The attribute set a series keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedAttributes {
    method: Box<str>,
    status: u16,
    protocol: (&'static str, &'static str),
    address: Box<str>,
    port: Option<u16>,
    scheme: Box<str>,
}

impl OwnedAttributes {
    pub fn get(&self) -> Attributes<'_> {
        Attributes {
            method: &self.method,
            status: self.status,
            protocol: self.protocol,
            address: &self.address,
            port: self.port,
            scheme: &self.scheme,
        }
    }
}

/// The observations of one attribute set.
#[derive(Debug)]
pub struct Cell {
    /// The sum of durations, in nanoseconds.
    sum_nanos: AtomicU64,
    min_nanos: AtomicU64,
    max_nanos: AtomicU64,
    /// Observations per bucket (not cumulative; the last is `+Inf`).
    buckets: Box<[AtomicU64]>,
}

/// A cell read at one moment, durations in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// Per bucket, not cumulative; the last is `+Inf`.
    pub buckets: Vec<u64>,
}

impl Cell {
    fn new(bounds: usize) -> Cell {
        Cell {
            sum_nanos: AtomicU64::new(0),
            min_nanos: AtomicU64::new(u64::MAX),
            max_nanos: AtomicU64::new(0),
            buckets: (0..=bounds).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn observe(&self, nanos: u64, bucket: usize) {
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.min_nanos.fetch_min(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
        if let Some(b) = self.buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// None before the first observation.
    fn snapshot(&self) -> Option<Snapshot> {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count = buckets.iter().sum();
        if count == 0 {
            return None;
        }
        let seconds = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
        Some(Snapshot {
            count,
            sum: seconds(&self.sum_nanos),
            min: seconds(&self.min_nanos),
            max: seconds(&self.max_nanos),
            buckets,
        })
    }
}

struct Series {
    attributes: OwnedAttributes,
    cell: Cell,
}

/// Series by the hash of their attributes (colliding sets share a slot).
type SeriesMap = HashMap<u64, Box<[Arc<Series>]>, BuildHasherDefault<KeyIsHash>>;

/// The series map's hasher: its keys are already (seeded) hashes, taken as
/// they are instead of being hashed again.
#[derive(Default)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the keys are `u64`); any other input
        // still hashes, byte by byte.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A random number, different in each process: the standard library keys
/// each `RandomState` with randomness from the operating system.
fn random_u64() -> u64 {
    RandomState::new().hash_one(0x5eed_u64)
}

/// The seed the attribute hashers share, drawn once per process.
static SHARED_SEED: LazyLock<foldhash::SharedSeed> =
    LazyLock::new(|| foldhash::SharedSeed::from_u64(random_u64()));

/// A hasher for attribute sets: foldhash with the process's random seed and
/// a random seed of its own.
fn attribute_hasher() -> foldhash::fast::SeedableRandomState {
    let shared: &'static foldhash::SharedSeed = &SHARED_SEED;
    foldhash::fast::SeedableRandomState::with_seed(random_u64(), shared)
}

/// One duration histogram.
pub struct Histogram {
    buckets: Arc<Buckets>,
    hasher: foldhash::fast::SeedableRandomState,
    series: ArcSwap<SeriesMap>,
    /// How many series there are; held while the map is copied.
    grow: Mutex<usize>,
    overflow: Cell,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("bounds", &self.buckets.seconds)
            .finish_non_exhaustive()
    }
}

impl Histogram {
    pub fn new(buckets: Arc<Buckets>) -> Histogram {
        let n = buckets.seconds.len();
        Histogram {
            buckets,
            hasher: attribute_hasher(),
            series: Default::default(),
            grow: Mutex::new(0),
            overflow: Cell::new(n),
        }
    }

    /// The bounds, in seconds.
    pub fn bounds(&self) -> &[f64] {
        &self.buckets.seconds
    }

    /// Records one duration with `attributes`.
    pub fn record(&self, attributes: Attributes<'_>, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        let bucket = self.buckets.index(nanos);
        let hash = self.hasher.hash_one(attributes);
        let found = self
            .series
            .load()
            .get(&hash)
            .and_then(|slot| slot.iter().find(|s| s.attributes.get() == attributes))
            .cloned();
        match found.or_else(|| self.add(hash, attributes)) {
            Some(series) => series.cell.observe(nanos, bucket),
            None => self.overflow.observe(nanos, bucket),
        }
    }

    /// The series of a new attribute set, or none when the histogram is
    /// full (its observations go to the overflow set).
    fn add(&self, hash: u64, attributes: Attributes<'_>) -> Option<Arc<Series>> {
        let mut len = self.grow.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.series.load_full();
        let slot: &[Arc<Series>] = current.get(&hash).map_or(&[], |s| s);
        if let Some(s) = slot.iter().find(|s| s.attributes.get() == attributes) {
            return Some(s.clone());
        }
        if *len + 1 >= CARDINALITY_LIMIT {
            return None;
        }
        let series = Arc::new(Series {
            attributes: attributes.to_owned(),
            cell: Cell::new(self.buckets.seconds.len()),
        });
        let grown: Box<[Arc<Series>]> = slot.iter().cloned().chain([series.clone()]).collect();
        let mut next = SeriesMap::clone(&current);
        next.insert(hash, grown);
        self.series.store(Arc::new(next));
        *len += 1;
        Some(series)
    }

    /// Every attribute set with observations and its counts; `None` for
    /// the overflow set.
    pub fn snapshot(&self) -> Vec<(Option<OwnedAttributes>, Snapshot)> {
        let map = self.series.load();
        let mut out: Vec<(Option<OwnedAttributes>, Snapshot)> = map
            .values()
            .flat_map(|slot| slot.iter())
            .filter_map(|s| Some((Some(s.attributes.clone()), s.cell.snapshot()?)))
            .collect();
        if let Some(overflow) = self.overflow.snapshot() {
            out.push((None, overflow));
        }
        out
    }
}

/// Both histograms, made once when `metrics.otlp` is on.
#[derive(Debug)]
pub struct SemConv {
    pub server: Histogram,
    pub client: Histogram,
}

impl SemConv {
    /// Histograms with the bounds `seconds` (OTLP's `explicitBoundaries`).
    pub fn new(seconds: &[f64]) -> SemConv {
        let buckets = Arc::new(Buckets::new(seconds));
        SemConv {
            server: Histogram::new(buckets.clone()),
            client: Histogram::new(buckets),
        }
    }
}

/// Bytes as text: UTF-8 as it is, anything else with replacement
/// characters (allocating only then).
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// The host a request was sent to, as Go's `Request.Host` has it: the
/// authority of the request target (HTTP/2's `:authority`, an absolute
/// URI's), else the Host header. Kept as the request carries it (a
/// reference count, no copy).
#[derive(Debug, Clone)]
enum Host {
    Authority(http::uri::Authority),
    Header(HeaderValue),
    Absent,
}

impl Host {
    fn of<B>(req: &http::Request<B>) -> Host {
        if let Some(a) = req.uri().authority() {
            return Host::Authority(a.clone());
        }
        match req.headers().get(http::header::HOST) {
            Some(h) => Host::Header(h.clone()),
            None => Host::Absent,
        }
    }

    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Host::Authority(a) => a.as_str().into(),
            Host::Header(h) => text(h.as_bytes()),
            Host::Absent => "".into(),
        }
    }
}

/// `url.scheme`: the request's `X-Forwarded-Proto`, as Traefik reads it.
fn forwarded_proto<B>(req: &http::Request<B>) -> Option<HeaderValue> {
    req.headers().get("x-forwarded-proto").cloned()
}

/// An entrypoint's request being timed for the server histogram; dropped
/// unrecorded (the client went away before the answer), it records
/// Traefik's 499.
#[derive(Debug)]
pub struct ServerCall {
    semconv: Arc<SemConv>,
    method: Method,
    version: Version,
    host: Host,
    scheme: Option<HeaderValue>,
    started: Instant,
    done: bool,
}

impl ServerCall {
    /// Notes what the attributes of `req` need (after its forwarded
    /// headers are set).
    pub fn begin<B>(semconv: &Arc<SemConv>, req: &http::Request<B>) -> ServerCall {
        ServerCall {
            semconv: semconv.clone(),
            method: req.method().clone(),
            version: req.version(),
            host: Host::of(req),
            scheme: forwarded_proto(req),
            started: Instant::now(),
            done: false,
        }
    }

    /// Records the answer's `status`, `duration` after the request came.
    pub fn record(&mut self, status: u16, duration: Duration) {
        self.done = true;
        self.observe(status, duration);
    }

    fn observe(&self, status: u16, duration: Duration) {
        let host = self.host.text();
        let scheme = self.scheme.as_ref().map(|s| text(s.as_bytes()));
        self.semconv.server.record(
            Attributes {
                method: self.method.as_str(),
                status,
                protocol: protocol(self.version),
                address: &host,
                port: None,
                scheme: scheme.as_deref().unwrap_or(""),
            },
            duration,
        );
    }
}

impl Drop for ServerCall {
    fn drop(&mut self) {
        if !self.done {
            self.observe(CLIENT_CLOSED, self.started.elapsed());
        }
    }
}

/// In the extensions of a request whose calls to servers the client
/// histogram records (its router's metrics are on).
#[derive(Debug, Clone)]
pub struct ClientMetrics(pub Arc<SemConv>);

/// One call to a server being timed; dropped unfinished (the client went
/// away meanwhile), it records Traefik's 499.
#[derive(Debug)]
pub struct ClientCall {
    semconv: Arc<SemConv>,
    method: Method,
    scheme: Option<HeaderValue>,
    started: Instant,
    /// `server.address` (shared with the target, not copied) and
    /// `server.port`.
    server: (http::uri::Authority, u16),
    done: bool,
}

/// Traefik's status for a request whose client went away.
const CLIENT_CLOSED: u16 = 499;

impl ClientCall {
    /// Starts timing `req` as it goes to the server `authority`; `port`
    /// is Traefik's `server.port` for it (see [`server_port`]). None when
    /// the request is not recorded.
    pub fn start(req: &Request, authority: &http::uri::Authority, port: u16) -> Option<ClientCall> {
        let ClientMetrics(semconv) = req.extensions().get::<ClientMetrics>()?;
        Some(ClientCall {
            semconv: semconv.clone(),
            method: req.method().clone(),
            scheme: forwarded_proto(req),
            started: Instant::now(),
            server: (authority.clone(), port),
            done: false,
        })
    }

    fn record(&self, status: u16) {
        let scheme = self.scheme.as_ref().map(|s| text(s.as_bytes()));
        self.semconv.client.record(
            Attributes {
                method: self.method.as_str(),
                status,
                // Traefik's proxy always sends HTTP/1.1 (the request's
                // `Proto`, whatever the transport then speaks).
                protocol: ("http/1.1", "1.1"),
                address: self.server.0.as_str(),
                port: Some(self.server.1),
                scheme: scheme.as_deref().unwrap_or(""),
            },
            self.started.elapsed(),
        );
    }

    /// Records the answer's status, or the status of the error.
    pub fn finish<T>(mut self, result: &Result<http::Response<T>, crate::ProxyError>) {
        self.done = true;
        let status = match result {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => e.status().as_u16(),
        };
        self.record(status);
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        if !self.done {
            self.record(CLIENT_CLOSED);
        }
    }
}

/// Traefik's `server.port` for a server URL: 80 or 443 when it names no
/// port (0 for `h2c`), and 0 when it does (Traefik's recorder loses the
/// port it parsed).
pub fn server_port(explicit_port: bool, https: bool, h2c: bool) -> u16 {
    match (explicit_port, h2c, https) {
        (true, _, _) | (false, true, _) => 0,
        (false, false, true) => 443,
        (false, false, false) => 80,
    }
}

#[cfg(test)]
mod tests;
