//! One request's line, as Traefik writes it: the fields by Traefik's names
//! (after the field and header modes), then either the JSON object
//! (logrus's: keys sorted, plus `level`, `msg` and `time`) or the common /
//! generic CLF line built from those same fields.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use switchyard_proxy::accesslog::{Recorded, ServiceFacts};

use super::settings::{Format, HeaderMode, Settings};

/// Everything known about one finished request.
#[derive(Debug)]
pub struct Record {
    pub start: SystemTime,
    pub duration: Duration,
    pub client_addr: SocketAddr,
    /// `X-Forwarded-For` as the request carried it after the entrypoint's
    /// forwarded-headers step (Traefik's `ClientHost` then).
    pub forwarded_for: Option<String>,
    /// The Host header (HTTP/2: the authority).
    pub host: Option<Box<str>>,
    pub method: http::Method,
    /// Path and query as routed.
    pub path: Box<str>,
    pub version: http::Version,
    pub tls: Option<TlsFacts>,
    pub request_size: u64,
    pub request_count: u64,
    pub entrypoint: Arc<str>,
    pub router: Option<Arc<str>>,
    pub recorded: Recorded,
    pub status: u16,
    pub size: u64,
    pub request_headers: Option<HeaderMap>,
    pub downstream_headers: Option<HeaderMap>,
}

/// The TLS connection's facts (each written when known).
#[derive(Debug, Clone, Default)]
pub struct TlsFacts {
    pub version: Option<&'static str>,
    pub cipher: Option<&'static str>,
    pub client_subject: Option<String>,
}

/// Go's `net.SplitHostPort`, or the whole value and `-` when it fails.
fn split_host_port(value: &str) -> (&str, &str) {
    let parsed = if let Some(rest) = value.strip_prefix('[') {
        rest.split_once("]:").filter(|(h, _)| !h.contains(']'))
    } else {
        value.rsplit_once(':').filter(|(h, _)| !h.contains(':'))
    };
    parsed.unwrap_or((value, "-"))
}

/// `Header-Name` as Go's `CanonicalMIMEHeaderKey` writes it, after `prefix`.
fn canonical(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

fn protocol(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn nanos(d: Duration) -> Val<'static> {
    Val::Int(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Int(u64),
    Float(f64),
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Val<'_> {
    fn from(s: String) -> Self {
        Val::Str(Cow::Owned(s))
    }
}

impl From<u64> for Val<'_> {
    fn from(n: u64) -> Self {
        Val::Int(n)
    }
}

/// One line's fields after the modes, sorted by name (byte order, as
/// logrus sorts them).
#[derive(Debug, Default)]
pub struct Fields<'a> {
    list: Vec<(Cow<'static, str>, Val<'a>)>,
}

impl<'a> Fields<'a> {
    /// The value of field `name`.
    pub fn get(&self, name: &str) -> Option<&Val<'a>> {
        self.list
            .iter()
            .find_map(|(k, v)| (k.as_ref() == name).then_some(v))
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Val<'a>)> {
        self.list.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Adds a field; names are unique (a header map's names are).
    fn insert(&mut self, name: String, value: Val<'a>) {
        self.list.push((Cow::Owned(name), value));
    }
}

/// The headers of `map` under `prefix`, as the header modes say.
fn headers<'a>(
    out: &mut Fields<'a>,
    settings: &Settings,
    prefix: &str,
    map: &'a HeaderMap,
    empty_content_type: bool,
) {
    for name in map.keys() {
        match settings.header_mode(name.as_str()) {
            HeaderMode::Drop => {}
            HeaderMode::Redact => {
                out.insert(canonical(prefix, name.as_str()), Val::from("REDACTED"));
            }
            HeaderMode::Keep => {
                let mut values = map
                    .get_all(name)
                    .iter()
                    .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or(""));
                let first = values.next().unwrap_or("");
                let value = match values.next() {
                    None => Val::from(first),
                    Some(second) => {
                        let mut joined = format!("{first},{second}");
                        for v in values {
                            joined.push(',');
                            joined.push_str(v);
                        }
                        Val::from(joined)
                    }
                };
                out.insert(canonical(prefix, name.as_str()), value);
            }
        }
    }
    // Traefik sets an empty Content-Type on answers without one (so that
    // Go does not sniff one), and it shows as "".
    if empty_content_type && !map.contains_key(http::header::CONTENT_TYPE) {
        match settings.header_mode("content-type") {
            HeaderMode::Drop => {}
            HeaderMode::Redact => {
                out.insert(canonical(prefix, "content-type"), Val::from("REDACTED"));
            }
            HeaderMode::Keep => {
                out.insert(canonical(prefix, "content-type"), Val::from(""));
            }
        }
    }
}

/// A field's name, its JSON key after a comma (`,"Name":`), and that key
/// with the opening quote of a string value (`,"Name":"`).
type Key = (&'static str, &'static str, &'static str);

macro_rules! key {
    ($name:literal) => {
        (
            $name,
            concat!(",\"", $name, "\":"),
            concat!(",\"", $name, "\":\""),
        )
    };
}

/// The fields whose text repeats from line to line (the same `Arc` in
/// every request of a router, service or entrypoint): a sink may keep what
/// it made of the last few.
#[derive(Debug, Clone, Copy)]
enum Repeated {
    Router,
    ServiceAddr,
    ServiceName,
    ServiceUrl,
    EntryPoint,
}

/// Takes the fields [`Record::fixed_fields`] gives.
trait Sink<'a> {
    /// Field `key` has `value`; `plain`: text that needs no JSON escaping.
    fn field(&mut self, key: Key, value: Val<'a>, plain: bool);

    /// Field `key` has `value`, one of the [`Repeated`] texts.
    fn repeated(&mut self, key: Key, value: &'a Arc<str>, _: Repeated) {
        self.field(key, Val::from(&**value), false);
    }

    /// Field `key` is `part` of the request's `host` (not empty).
    fn host(&mut self, key: Key, host: &'a str, part: HostPart) {
        self.field(key, Val::from(part.of(host)), false);
    }

    /// `RouterName` and the service's fields (which follow it), all kept.
    fn route(&mut self, router: &'a Arc<str>, service: &'a ServiceFacts) {
        self.repeated(key!("RouterName"), router, Repeated::Router);
        self.repeated(key!("ServiceAddr"), &service.addr, Repeated::ServiceAddr);
        self.repeated(key!("ServiceName"), &service.name, Repeated::ServiceName);
        self.repeated(key!("ServiceURL"), &service.url, Repeated::ServiceUrl);
    }
}

/// The fields made of the request's host.
#[derive(Debug, Clone, Copy)]
enum HostPart {
    /// `RequestAddr`: all of it.
    Addr,
    /// `RequestHost`: the host of `host:port`.
    Host,
    /// `RequestPort`: its port, or `-`.
    Port,
}

impl HostPart {
    fn of(self, host: &str) -> &str {
        match self {
            HostPart::Addr => host,
            HostPart::Host => split_host_port(host).0,
            HostPart::Port => split_host_port(host).1,
        }
    }
}

impl<'a> Sink<'a> for Fields<'a> {
    fn field(&mut self, (name, _, _): Key, value: Val<'a>, _: bool) {
        self.list.push((Cow::Borrowed(name), value));
    }
}

static NO_HEADERS: std::sync::LazyLock<HeaderMap> = std::sync::LazyLock::new(HeaderMap::new);

impl Record {
    /// The fields Traefik writes for this request, after the modes, in
    /// logrus's order (byte order of the names).
    pub fn fields<'a>(&'a self, settings: &Settings, scratch: &'a mut Scratch) -> Fields<'a> {
        let mut out = Fields {
            list: Vec::with_capacity(40),
        };
        self.fixed_fields(settings, scratch, &mut out);
        let service = self.recorded.service.as_ref();
        let fields = out.list.len();
        if let Some(h) = &self.request_headers {
            headers(&mut out, settings, "request_", h, false);
        }
        if service.is_some() {
            let origin = self
                .recorded
                .origin
                .as_ref()
                .map_or(&*NO_HEADERS, |o| &o.headers);
            headers(&mut out, settings, "origin_", origin, true);
        }
        if let Some(h) = &self.downstream_headers {
            // Traefik's entrypoints give every answer an empty Content-Type
            // until a handler sets one (to keep Go from sniffing).
            headers(&mut out, settings, "downstream_", h, true);
        }
        if out.list.len() > fields {
            out.list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }
        out
    }

    /// Calls `sink` with each field that is not a header's, after the field
    /// modes, in byte order of the names, and whether the value is text
    /// Switchyard wrote itself (digits, addresses, times: nothing a JSON
    /// string must escape).
    fn fixed_fields<'a>(
        &'a self,
        settings: &Settings,
        scratch: &'a mut Scratch,
        sink: &mut impl Sink<'a>,
    ) {
        // Where the host ends in `ip:port`, when written here.
        let mut host_end = None;
        match self.client_addr {
            SocketAddr::V4(a) => {
                // The address of the line before is often this one's.
                if scratch.client_v4 != Some(*a.ip()) {
                    scratch.client.clear();
                    for (i, octet) in a.ip().octets().into_iter().enumerate() {
                        if i > 0 {
                            scratch.client.push('.');
                        }
                        push_u64(&mut scratch.client, u64::from(octet));
                    }
                    scratch.client_v4 = Some(*a.ip());
                    scratch.client_v4_len = scratch.client.len();
                }
                scratch.client.truncate(scratch.client_v4_len);
                host_end = Some(scratch.client.len());
                scratch.client.push(':');
                push_u64(&mut scratch.client, u64::from(a.port()));
            }
            SocketAddr::V6(a) => {
                scratch.client_v4 = None;
                scratch.client.clear();
                let _ = write!(scratch.client, "{a}");
            }
        }
        scratch.start.clear();
        scratch.clock.push(&mut scratch.start, self.start, true);
        let scratch: &'a Scratch = scratch;
        let client = scratch.client.as_str();
        let (client_host, client_port) = match host_end {
            Some(end) => (
                client.get(..end).unwrap_or_default(),
                client.get(end + 1..).unwrap_or_default(),
            ),
            None => split_host_port(client),
        };
        // Every logged request has origin fields: zero when no server
        // answered (Traefik's InitServiceFields). A request that reached a
        // server but got no answer from it (client gone, error) has the
        // status and size of what Traefik's proxy wrote in its place.
        let (origin_status, origin_size, origin_duration) = match &self.recorded.origin {
            Some(o) => (o.status, o.size, o.duration),
            None if self.recorded.service.is_some() => (self.status, self.size, self.duration),
            None => (0, 0, Duration::ZERO),
        };
        let host = self.host.as_deref().filter(|h| !h.is_empty());
        let service = self.recorded.service.as_ref();
        let tls = self.tls.as_ref();

        // The names below are in byte order: the line needs no sorting
        // unless header fields join them.
        let keep_all = settings.keeps_all_fields();
        // Expanded in place: a call per field costs more than the field.
        macro_rules! put {
            (key!($name:literal), $value:expr, $plain:expr $(,)?) => {
                if keep_all || settings.keeps_field($name) {
                    sink.field(key!($name), $value, $plain);
                }
            };
        }
        macro_rules! put_host {
            (key!($name:literal), $part:expr) => {
                if let Some(host) = host {
                    if keep_all || settings.keeps_field($name) {
                        sink.host(key!($name), host, $part);
                    }
                }
            };
        }
        macro_rules! put_repeated {
            (key!($name:literal), $value:expr, $which:expr $(,)?) => {
                if keep_all || settings.keeps_field($name) {
                    sink.repeated(key!($name), $value, $which);
                }
            };
        }
        put!(key!("ClientAddr"), Val::from(scratch.client.as_str()), true);
        put!(
            key!("ClientHost"),
            Val::from(self.forwarded_for.as_deref().unwrap_or(client_host)),
            self.forwarded_for.is_none(),
        );
        put!(key!("ClientPort"), Val::from(client_port), true);
        let user = self.recorded.client_username.as_deref();
        put!(
            key!("ClientUsername"),
            Val::from(user.unwrap_or("-")),
            user.is_none(),
        );
        put!(key!("DownstreamContentSize"), Val::from(self.size), false);
        put!(
            key!("DownstreamStatus"),
            Val::from(u64::from(self.status)),
            false
        );
        put!(key!("Duration"), nanos(self.duration), false);
        if self.size != origin_size && self.size != 0 {
            #[allow(clippy::cast_precision_loss)]
            let ratio = origin_size as f64 / self.size as f64;
            put!(key!("GzipRatio"), Val::Float(ratio), false);
        }
        put!(key!("OriginContentSize"), Val::from(origin_size), false);
        put!(key!("OriginDuration"), nanos(origin_duration), false);
        put!(
            key!("OriginStatus"),
            Val::from(u64::from(origin_status)),
            false
        );
        put!(
            key!("Overhead"),
            nanos(self.duration.saturating_sub(origin_duration)),
            false,
        );
        put_host!(key!("RequestAddr"), HostPart::Addr);
        put!(
            key!("RequestContentSize"),
            Val::from(self.request_size),
            false
        );
        put!(key!("RequestCount"), Val::from(self.request_count), false);
        put_host!(key!("RequestHost"), HostPart::Host);
        let method = self.method.as_str();
        // The usual methods (capitals only) need no escaping.
        let method_plain = method.bytes().all(|b| b.is_ascii_uppercase());
        put!(key!("RequestMethod"), Val::from(method), method_plain);
        put!(key!("RequestPath"), Val::from(&*self.path), false);
        put_host!(key!("RequestPort"), HostPart::Port);
        put!(
            key!("RequestProtocol"),
            Val::from(protocol(self.version)),
            true
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        put!(key!("RequestScheme"), Val::from(scheme), true);
        put!(
            key!("RetryAttempts"),
            Val::from(u64::from(self.recorded.retry_attempts)),
            false,
        );
        match (&self.router, service) {
            // Side by side in the line and the same for every request of
            // a route: given at once.
            (Some(r), Some(s)) if keep_all => sink.route(r, s),
            _ => {
                if let Some(r) = &self.router {
                    put_repeated!(key!("RouterName"), r, Repeated::Router);
                }
                if let Some(s) = service {
                    put_repeated!(key!("ServiceAddr"), &s.addr, Repeated::ServiceAddr);
                    put_repeated!(key!("ServiceName"), &s.name, Repeated::ServiceName);
                    put_repeated!(key!("ServiceURL"), &s.url, Repeated::ServiceUrl);
                }
            }
        }
        let trace = self.recorded.trace.as_ref();
        if let Some((_, span)) = trace {
            put!(key!("SpanId"), Val::from(span.as_str()), true);
        }
        put!(key!("StartLocal"), Val::from(scratch.start.as_str()), true);
        put!(key!("StartUTC"), Val::from(scratch.start.as_str()), true);
        if let Some(tls) = tls {
            if let Some(c) = &tls.cipher {
                put!(key!("TLSCipher"), Val::from(*c), true);
            }
            if let Some(subject) = &tls.client_subject {
                put!(key!("TLSClientSubject"), Val::from(subject.as_str()), false);
            }
            if let Some(v) = tls.version {
                put!(key!("TLSVersion"), Val::from(v), true);
            }
        }
        if let Some((trace, _)) = trace {
            // Traefik's name; the OpenTelemetry ones come after.
            put!(key!("TraceId"), Val::from(trace.as_str()), true);
        }
        put_repeated!(
            key!("entryPointName"),
            &self.entrypoint,
            Repeated::EntryPoint
        );
        if let Some((trace, span)) = trace {
            put!(key!("span_id"), Val::from(span.as_str()), true);
            put!(key!("trace_id"), Val::from(trace.as_str()), true);
        }
    }

    /// The line, newline included.
    pub fn line(&self, settings: &Settings, now: SystemTime) -> String {
        let mut out = String::new();
        LineWriter::default().write(self, settings, now, &mut out);
        out
    }
}

/// Writes lines, keeping what one line can lend the next: the buffers the
/// fields borrow from, the `time` text of the current batch, and the JSON
/// text of the [`Repeated`] fields.
#[derive(Debug, Default)]
pub struct LineWriter {
    scratch: Scratch,
    /// The `time` of JSON lines.
    clock: Clock,
    /// The `now` that `time` and `tail` were written for.
    time_at: Option<SystemTime>,
    time: String,
    /// The end of a JSON line whose last field comes before logrus's keys:
    /// `,"level":"info","msg":"","time":"…"}` and the newline.
    tail: String,
    segments: Segments,
}

impl LineWriter {
    /// Appends `record`'s line, newline included, to `out`; `now` is the
    /// `time` of a JSON line.
    pub fn write(
        &mut self,
        record: &Record,
        settings: &Settings,
        now: SystemTime,
        out: &mut String,
    ) {
        if settings.format == Format::Json {
            // A batch of lines shares one `now`.
            if self.time_at != Some(now) {
                self.time.clear();
                self.clock.push(&mut self.time, now, false);
                self.tail.clear();
                self.tail
                    .push_str(",\"level\":\"info\",\"msg\":\"\",\"time\":\"");
                self.tail.push_str(&self.time);
                self.tail.push_str("\"}\n");
                self.time_at = Some(now);
            }
            if !settings.any_header() {
                // No header field can join the fixed ones: written as
                // they come, already in order.
                let sink = JsonSink {
                    out,
                    time: &self.time,
                    segments: &mut self.segments,
                    line_host: None,
                    next_extra: 0,
                    first: true,
                };
                json_direct(record, settings, &mut self.scratch, sink, &self.tail);
                return;
            }
        }
        let fields = record.fields(settings, &mut self.scratch);
        match settings.format {
            Format::Json => json_line(&fields, &self.time, out),
            Format::Common => clf_line(&fields, true, out),
            Format::GenericClf => clf_line(&fields, false, out),
        }
    }
}

/// Buffers the fields borrow from.
#[derive(Debug, Default)]
pub struct Scratch {
    client: String,
    /// The IPv4 address `client` starts with, and its length there.
    client_v4: Option<std::net::Ipv4Addr>,
    client_v4_len: usize,
    start: String,
    clock: Clock,
}

/// What JSON lines keep of their [`Repeated`] fields: per field, the last
/// few values (found again by their `Arc`, which is kept so that its
/// address cannot be reused) with their `,"Key":"value"` text.
#[derive(Debug, Default)]
struct Segments {
    kept: [Vec<(Arc<str>, String)>; 5],
    /// Per field, the entry a new value replaces once all are taken.
    next: [usize; 5],
    /// The host fields of the last few hosts (by their text): its bytes
    /// and the `,"Key":"value"` of each [`HostPart`].
    hosts: Vec<(Box<str>, [String; 3])>,
    next_host: usize,
    /// The route fields ([`Sink::route`]) of the last few routes, by the
    /// `Arc`s of the router and of the service's address, name and URL.
    routes: Vec<([Arc<str>; 4], String)>,
    next_route: usize,
}

/// Values kept per [`Repeated`] field (a line's router, service and
/// entrypoint; several routers' lines interleave).
const SEGMENTS_PER_FIELD: usize = 8;

impl Segments {
    /// `,"Key":"value"` for `value` of field `which`, whose key with its
    /// opening quote is `key_quoted`.
    fn get(&mut self, which: Repeated, key_quoted: &str, value: &Arc<str>) -> &str {
        let i = which as usize;
        let kept = &mut self.kept[i];
        if let Some(at) = kept.iter().position(|(v, _)| Arc::ptr_eq(v, value)) {
            return &kept[at].1;
        }
        let mut text = String::with_capacity(key_quoted.len() + value.len() + 1);
        text.push_str(key_quoted);
        write_json_body(&mut text, value);
        text.push('"');
        let entry = (value.clone(), text);
        let at = if kept.len() < SEGMENTS_PER_FIELD {
            kept.push(entry);
            kept.len() - 1
        } else {
            let at = self.next[i];
            kept[at] = entry;
            self.next[i] = (at + 1) % SEGMENTS_PER_FIELD;
            at
        };
        &kept[at].1
    }

    /// The route fields' text: `,"RouterName":"…","ServiceAddr":"…",…`.
    fn route(&mut self, router: &Arc<str>, service: &ServiceFacts) -> &str {
        let values = [router, &service.addr, &service.name, &service.url];
        let found = self
            .routes
            .iter()
            .position(|(kept, _)| kept.iter().zip(values).all(|(k, v)| Arc::ptr_eq(k, v)));
        let at = match found {
            Some(at) => at,
            None => {
                let keys = [
                    key!("RouterName").2,
                    key!("ServiceAddr").2,
                    key!("ServiceName").2,
                    key!("ServiceURL").2,
                ];
                let mut text = String::new();
                for (key_quoted, value) in keys.into_iter().zip(values) {
                    text.push_str(key_quoted);
                    write_json_body(&mut text, value);
                    text.push('"');
                }
                let entry = (values.map(Arc::clone), text);
                if self.routes.len() < SEGMENTS_PER_FIELD {
                    self.routes.push(entry);
                    self.routes.len() - 1
                } else {
                    let at = self.next_route;
                    self.routes[at] = entry;
                    self.next_route = (at + 1) % SEGMENTS_PER_FIELD;
                    at
                }
            }
        };
        &self.routes[at].1
    }

    /// `,"Key":"value"` for `part` of `host`; `line_host`: where this
    /// line's host is kept, once one of its parts found it.
    fn host(
        &mut self,
        host: &str,
        part: HostPart,
        key_quoted: &str,
        line_host: &mut Option<usize>,
    ) -> &str {
        let found = match *line_host {
            Some(at) => Some(at),
            None => self.hosts.iter().position(|(h, _)| **h == *host),
        };
        let at = match found {
            Some(at) => at,
            None => {
                let entry = (Box::from(host), Default::default());
                if self.hosts.len() < SEGMENTS_PER_FIELD {
                    self.hosts.push(entry);
                    self.hosts.len() - 1
                } else {
                    let at = self.next_host;
                    self.hosts[at] = entry;
                    self.next_host = (at + 1) % SEGMENTS_PER_FIELD;
                    at
                }
            }
        };
        *line_host = Some(at);
        let text = &mut self.hosts[at].1[part as usize];
        if text.is_empty() {
            text.push_str(key_quoted);
            write_json_body(text, part.of(host));
            text.push('"');
        }
        text
    }
}

/// Writes RFC 3339 times, keeping the date and time of the last second
/// written (most lines fall in the second of the previous one).
#[derive(Debug, Default)]
struct Clock {
    second: Option<i64>,
    /// `2026-12-07T05:52:32` of `second`.
    text: String,
}

impl Clock {
    /// Appends [`rfc3339`]'s text of `t`.
    fn push(&mut self, out: &mut String, t: SystemTime, nanos: bool) {
        let (secs, sub) = epoch(t);
        if self.second != Some(secs) {
            self.text.clear();
            push_date_time(&mut self.text, secs);
            self.second = Some(secs);
        }
        out.push_str(&self.text);
        push_fraction(out, if nanos { sub } else { 0 });
    }
}

/// A float as Go's JSON writes it: integral values without `.0`, others
/// in their shortest form.
fn write_float(out: &mut String, x: f64) {
    if !x.is_finite() {
        out.push('0');
    } else if x.fract() == 0.0 && x.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        let n = x as i64;
        let _ = write!(out, "{n}");
    } else {
        let _ = write!(out, "{x}");
    }
}

/// What a byte becomes in a JSON string as Go's encoder writes it: 0 for
/// itself, else the letter of its short escape, `u` for `\u00XX`, and
/// 0xE2 (which may start U+2028 or U+2029) checked further.
const JSON_ESCAPES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'<' as usize] = b'u';
    t[b'>' as usize] = b'u';
    t[b'&' as usize] = b'u';
    t[0xe2] = 0xe2;
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Eight copies of byte `b`.
const fn splat(b: u8) -> u64 {
    u64::from_ne_bytes([b; 8])
}

/// Whether any byte of `w` is zero (the classic word-at-a-time test).
const fn any_zero_byte(w: u64) -> bool {
    w.wrapping_sub(splat(0x01)) & !w & splat(0x80) != 0
}

/// Whether a byte of `w` may need [`JSON_ESCAPES`]: a control byte, one of
/// `"` `\` `<` `>` `&`, or any non-ASCII byte (then the bytes are looked
/// up one by one). False positives are fine, false negatives are not.
const fn word_may_escape(w: u64) -> bool {
    let non_ascii = w & splat(0x80) != 0;
    // A byte below 0x20 borrows when 0x20 is subtracted from it.
    let control = w.wrapping_sub(splat(0x20)) & !w & splat(0x80) != 0;
    non_ascii
        || control
        || any_zero_byte(w ^ splat(b'"'))
        || any_zero_byte(w ^ splat(b'\\'))
        || any_zero_byte(w ^ splat(b'<'))
        || any_zero_byte(w ^ splat(b'>'))
        || any_zero_byte(w ^ splat(b'&'))
}

/// The index of the first byte of `s` that [`JSON_ESCAPES`] marks: eight
/// bytes at a time past the ones that need nothing (most text).
fn first_to_escape(s: &[u8]) -> Option<usize> {
    let mut start = 0;
    let mut words = s.chunks_exact(8);
    for chunk in words.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_may_escape(u64::from_ne_bytes(word)) {
            break;
        }
        start += 8;
    }
    s.get(start..)?
        .iter()
        .position(|&b| JSON_ESCAPES[usize::from(b)] != 0)
        .map(|i| start + i)
}

/// `s` as a JSON string the way Go's encoder writes it: HTML characters
/// and the line/paragraph separators escaped too.
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    write_json_body(out, s);
    out.push('"');
}

/// [`write_json_str`] without the quotes.
fn write_json_body(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = first_to_escape(rest.as_bytes()) {
        let bytes = rest.as_bytes();
        let b = bytes[i];
        let escape = JSON_ESCAPES[usize::from(b)];
        // `i` is at an ASCII byte or at 0xE2, a lead byte: a boundary.
        out.push_str(rest.get(..i).unwrap_or_default());
        let width = if escape == 0xe2 {
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9; any other
            // character starting with E2 (three bytes) stays as it is.
            let seq = bytes.get(i..i + 3).unwrap_or_default();
            match seq {
                [_, 0x80, 0xa8] => out.push_str("\\u2028"),
                [_, 0x80, 0xa9] => out.push_str("\\u2029"),
                _ => out.push_str(rest.get(i..i + 3).unwrap_or_default()),
            }
            3
        } else {
            match escape {
                b'u' => {
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 0xf)]));
                }
                letter => {
                    out.push('\\');
                    out.push(char::from(letter));
                }
            }
            1
        };
        rest = rest.get(i + width..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// `n` in decimal.
fn push_u64(out: &mut String, n: u64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `n` in decimal with at least `width` digits (zeros in front).
fn push_padded(out: &mut String, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut at = digits.len();
    let mut n = n;
    while n > 0 || digits.len() - at < width {
        at -= 1;
        #[allow(clippy::cast_possible_truncation)]
        let d = (n % 10) as u8;
        digits[at] = b'0' + d;
        n /= 10;
        if at == 0 {
            break;
        }
    }
    let text = digits.get(at..).unwrap_or_default();
    out.push_str(std::str::from_utf8(text).unwrap_or_default());
}

fn write_json_val(out: &mut String, v: &Val<'_>) {
    match v {
        Val::Str(s) => write_json_str(out, s),
        Val::Int(n) => push_u64(out, *n),
        Val::Float(x) => write_float(out, *x),
    }
}

/// The JSON object, keys sorted as logrus writes them, with its `level`,
/// `msg` and `time`.
fn json_line(fields: &Fields<'_>, time: &str, out: &mut String) {
    let extra = [
        ("level", Val::from("info")),
        ("msg", Val::from("")),
        ("time", Val::from(time)),
    ];
    // Merge the (sorted) fields with the (sorted) extras; no field has
    // their names (the header fields have prefixes).
    let mut extras = extra.iter().peekable();
    let mut first = true;
    // Names of fixed fields (borrowed) need no escaping; header names may.
    let mut put = |out: &mut String, k: &Cow<'_, str>, v: &Val<'_>| {
        out.push(if first { '{' } else { ',' });
        first = false;
        match k {
            Cow::Borrowed(k) => {
                out.push('"');
                out.push_str(k);
                out.push('"');
            }
            Cow::Owned(k) => write_json_str(out, k),
        }
        out.push(':');
        write_json_val(out, v);
    };
    for (k, v) in &fields.list {
        while let Some((ek, ev)) = extras.peek() {
            if *ek <= k.as_ref() {
                put(out, &Cow::Borrowed(ek), ev);
                extras.next();
            } else {
                break;
            }
        }
        put(out, k, v);
    }
    for (ek, ev) in extras {
        put(out, &Cow::Borrowed(ek), ev);
    }
    out.push_str("}\n");
}

/// logrus's own keys, in byte order, where [`json_direct`] merges them.
const JSON_EXTRAS: [&str; 3] = ["level", "msg", "time"];

/// [`json_line`] for a record without header fields: each field is written
/// as [`Record::fixed_fields`] gives it, with logrus's keys merged in.
/// `tail`: logrus's keys and the end of the line, written at once when no
/// field came after the first of them (most lines).
fn json_direct(
    record: &Record,
    settings: &Settings,
    scratch: &mut Scratch,
    mut sink: JsonSink<'_>,
    tail: &str,
) {
    sink.out.reserve(1024);
    record.fixed_fields(settings, scratch, &mut sink);
    if sink.next_extra == 0 && !sink.first {
        sink.out.push_str(tail);
        return;
    }
    while sink.next_extra < JSON_EXTRAS.len() {
        sink.extra();
    }
    sink.out.push_str("}\n");
}

/// Writes a JSON line's fields as they come.
struct JsonSink<'o> {
    out: &'o mut String,
    time: &'o str,
    segments: &'o mut Segments,
    /// Where [`Segments::host`] keeps this line's host.
    line_host: Option<usize>,
    /// The next of [`JSON_EXTRAS`] to write.
    next_extra: usize,
    first: bool,
}

impl JsonSink<'_> {
    /// Writes logrus's keys that come before field `name`.
    #[inline(always)]
    fn before(&mut self, name: &str) {
        // logrus's keys are lower-case: they come after every capitalised
        // name.
        if name.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
            while JSON_EXTRAS.get(self.next_extra).is_some_and(|e| *e <= name) {
                self.extra();
            }
        }
    }

    /// Writes `text`, which starts with the comma before a field; the
    /// line's first field opens the object instead.
    #[inline(always)]
    fn after_comma(&mut self, text: &str) {
        push_after_comma(self.out, &mut self.first, text);
    }

    fn extra(&mut self) {
        let out = &mut *self.out;
        out.push_str(if self.first { "{" } else { "," });
        self.first = false;
        match self.next_extra {
            0 => out.push_str("\"level\":\"info\""),
            1 => out.push_str("\"msg\":\"\""),
            _ => {
                out.push_str("\"time\":\"");
                out.push_str(self.time);
                out.push('"');
            }
        }
        self.next_extra += 1;
    }
}

impl<'a> Sink<'a> for JsonSink<'_> {
    #[inline(always)]
    fn field(&mut self, (name, json_key, key_quoted): Key, value: Val<'a>, plain: bool) {
        self.before(name);
        match value {
            Val::Str(text) => {
                self.after_comma(key_quoted);
                if plain {
                    self.out.push_str(&text);
                } else {
                    write_json_body(self.out, &text);
                }
                self.out.push('"');
            }
            Val::Int(n) => {
                self.after_comma(json_key);
                push_u64(self.out, n);
            }
            Val::Float(x) => {
                self.after_comma(json_key);
                write_float(self.out, x);
            }
        }
    }

    #[inline(always)]
    fn repeated(&mut self, (name, _, key_quoted): Key, value: &'a Arc<str>, which: Repeated) {
        self.before(name);
        let text = self.segments.get(which, key_quoted, value);
        push_after_comma(self.out, &mut self.first, text);
    }

    #[inline(always)]
    fn route(&mut self, router: &'a Arc<str>, service: &'a ServiceFacts) {
        // Capitalised names: no logrus key comes before them.
        let text = self.segments.route(router, service);
        push_after_comma(self.out, &mut self.first, text);
    }

    #[inline(always)]
    fn host(&mut self, (_, _, key_quoted): Key, host: &'a str, part: HostPart) {
        // Capitalised names: no logrus key comes before them.
        let text = self
            .segments
            .host(host, part, key_quoted, &mut self.line_host);
        push_after_comma(self.out, &mut self.first, text);
    }
}

/// Writes `text`, which starts with the comma before a field, to `out`;
/// the line's first field (`first`) opens the object instead. Apart from
/// the writer so that `text` may borrow the writer's kept segments.
#[inline(always)]
fn push_after_comma(out: &mut String, first: &mut bool, text: &str) {
    if *first {
        out.push('{');
        out.push_str(text.get(1..).unwrap_or_default());
        *first = false;
    } else {
        out.push_str(text);
    }
}

/// A field as the common line shows it: strings quoted or not, other
/// values as they are, `default` when absent or empty.
fn clf_value(out: &mut String, fields: &Fields<'_>, key: &str, default: &str, quoted: bool) {
    match fields.get(key) {
        None => out.push_str(default),
        Some(Val::Str(s)) if s.is_empty() => out.push_str(default),
        Some(Val::Str(s)) if quoted => {
            out.push('"');
            out.push_str(&s.replace('"', "\\\""));
            out.push('"');
        }
        Some(Val::Str(s)) => out.push_str(s),
        Some(Val::Int(n)) => push_u64(out, *n),
        Some(Val::Float(x)) => write_float(out, *x),
    }
}

fn clf_line(fields: &Fields<'_>, traefik_extras: bool, out: &mut String) {
    let timestamp = fields
        .get("StartUTC")
        .or_else(|| fields.get("StartLocal"))
        .and_then(|v| match v {
            Val::Str(s) => parse_rfc3339(s),
            _ => None,
        })
        .map_or_else(|| "-".to_string(), common_time);
    let v = |out: &mut String, k: &str| clf_value(out, fields, k, "-", false);
    let q = |out: &mut String, k: &str| clf_value(out, fields, k, "-", true);
    let qq = |out: &mut String, k: &str| clf_value(out, fields, k, "\"-\"", true);
    v(out, "ClientHost");
    out.push_str(" - ");
    v(out, "ClientUsername");
    out.push_str(" [");
    out.push_str(&timestamp);
    out.push_str("] \"");
    v(out, "RequestMethod");
    out.push(' ');
    v(out, "RequestPath");
    out.push(' ');
    v(out, "RequestProtocol");
    out.push_str("\" ");
    q(out, "DownstreamStatus");
    out.push(' ');
    q(out, "DownstreamContentSize");
    out.push(' ');
    qq(out, "request_Referer");
    out.push(' ');
    qq(out, "request_User-Agent");
    if traefik_extras {
        let millis = match fields.get("Duration") {
            Some(Val::Int(n)) => n / 1_000_000,
            _ => 0,
        };
        out.push(' ');
        q(out, "RequestCount");
        out.push(' ');
        qq(out, "RouterName");
        out.push(' ');
        qq(out, "ServiceURL");
        let _ = write!(out, " {millis}ms");
    }
    out.push('\n');
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Seconds and nanoseconds since the epoch.
fn epoch(t: SystemTime) -> (i64, u32) {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos()),
        Err(_) => (0, 0),
    }
}

/// `2026-12-07T05:52:32.95154842Z` (Go's RFC3339Nano: trailing zeros of
/// the fraction cut) or, without `nanos`, `2026-12-07T05:52:32Z`. Times are
/// UTC: Switchyard writes local times in UTC (see the README).
pub fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let mut out = String::with_capacity(32);
    push_rfc3339(&mut out, t, nanos);
    out
}

/// Appends [`rfc3339`]'s text.
fn push_rfc3339(out: &mut String, t: SystemTime, nanos: bool) {
    let (secs, sub) = epoch(t);
    push_date_time(out, secs);
    push_fraction(out, if nanos { sub } else { 0 });
}

/// `2026-12-07T05:52:32` of `secs` since the epoch.
fn push_date_time(out: &mut String, secs: i64) {
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400).unsigned_abs();
    push_padded(out, y.unsigned_abs(), 4);
    out.push('-');
    push_padded(out, u64::from(mo), 2);
    out.push('-');
    push_padded(out, u64::from(d), 2);
    out.push('T');
    push_padded(out, s / 3600, 2);
    out.push(':');
    push_padded(out, s % 3600 / 60, 2);
    out.push(':');
    push_padded(out, s % 60, 2);
}

/// `.95154842Z` (the fraction of a second without its trailing zeros) or
/// `Z` for a whole second.
fn push_fraction(out: &mut String, sub: u32) {
    if sub != 0 {
        // A 1 in front keeps the zeros a fraction starts with: nine
        // digits after it (`sub` is below a second).
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(u64::from(sub) + 1_000_000_000);
        // Not all zeros: `sub` is not.
        let end = digits.bytes().rposition(|b| b != b'0').map_or(1, |i| i + 1);
        out.push('.');
        out.push_str(digits.get(1..end).unwrap_or_default());
    }
    out.push('Z');
}

/// Reads back what [`rfc3339`] wrote (UTC only).
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, se) = (t.next()??, t.next()??, t.next()??);
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").get(..9)?.parse().ok()?
    };
    // Days from civil (the inverse of `civil`).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `07/Dec/2026:05:52:47 +0000`, the common line's time.
fn common_time(t: SystemTime) -> String {
    let (secs, _) = epoch(t);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let month = MONTHS
        .get(usize::try_from(mo).unwrap_or(1).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{d:02}/{month}/{y:04}:{:02}:{:02}:{:02} +0000",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests;
