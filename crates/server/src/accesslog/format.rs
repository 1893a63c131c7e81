//! One request's line, as Traefik writes it: the fields by Traefik's names
//! (after the field and header modes), then either the JSON object
//! (logrus's: keys sorted, plus `level`, `msg` and `time`) or the common /
//! generic CLF line built from those same fields.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;
use switchyard_proxy::accesslog::Recorded;

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
    pub host: Option<String>,
    pub method: http::Method,
    /// Path and query as routed.
    pub path: String,
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
    pub cipher: Option<String>,
    pub client_subject: Option<String>,
}

/// Go's `net.SplitHostPort`, or the whole value and `-` when it fails.
fn split_host_port(value: &str) -> (String, String) {
    let parsed = if let Some(rest) = value.strip_prefix('[') {
        rest.split_once("]:").filter(|(h, _)| !h.contains(']'))
    } else {
        value.rsplit_once(':').filter(|(h, _)| !h.contains(':'))
    };
    match parsed {
        Some((h, p)) => (h.to_string(), p.to_string()),
        None => (value.to_string(), "-".to_string()),
    }
}

/// `Header-Name` as Go's `CanonicalMIMEHeaderKey` writes it.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
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

fn nanos(d: Duration) -> Value {
    Value::from(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The headers of `map` under `prefix`, as the header modes say.
fn headers(
    out: &mut BTreeMap<String, Value>,
    settings: &Settings,
    prefix: &str,
    map: &HeaderMap,
    empty_content_type: bool,
) {
    for name in map.keys() {
        let key = canonical(name.as_str());
        match settings.header_mode(name.as_str()) {
            HeaderMode::Drop => {}
            HeaderMode::Redact => {
                out.insert(format!("{prefix}{key}"), Value::from("REDACTED"));
            }
            HeaderMode::Keep => {
                let joined: Vec<&str> = map
                    .get_all(name)
                    .iter()
                    .map(|v| std::str::from_utf8(v.as_bytes()).unwrap_or(""))
                    .collect();
                out.insert(format!("{prefix}{key}"), Value::from(joined.join(",")));
            }
        }
    }
    // Traefik sets an empty Content-Type on answers without one (so that
    // Go does not sniff one), and it shows as "".
    if empty_content_type && !map.contains_key(http::header::CONTENT_TYPE) {
        match settings.header_mode("content-type") {
            HeaderMode::Drop => {}
            HeaderMode::Redact => {
                out.insert(format!("{prefix}Content-Type"), Value::from("REDACTED"));
            }
            HeaderMode::Keep => {
                out.insert(format!("{prefix}Content-Type"), Value::from(""));
            }
        }
    }
}

impl Record {
    /// The fields Traefik writes for this request, after the modes.
    pub fn fields(&self, settings: &Settings) -> BTreeMap<String, Value> {
        let mut core: Vec<(&'static str, Value)> = Vec::with_capacity(40);
        core.push(("StartUTC", Value::from(rfc3339(self.start, true))));
        core.push(("StartLocal", Value::from(rfc3339(self.start, true))));
        core.push(("Duration", nanos(self.duration)));
        let client = self.client_addr.to_string();
        let (client_host, client_port) = split_host_port(&client);
        core.push(("ClientAddr", Value::from(client)));
        core.push((
            "ClientHost",
            Value::from(self.forwarded_for.clone().unwrap_or(client_host)),
        ));
        core.push(("ClientPort", Value::from(client_port)));
        let user = self
            .recorded
            .client_username
            .clone()
            .unwrap_or_else(|| "-".to_string());
        core.push(("ClientUsername", Value::from(user)));
        if let Some(host) = self.host.as_deref().filter(|h| !h.is_empty()) {
            let (h, p) = split_host_port(host);
            core.push(("RequestAddr", Value::from(host)));
            core.push(("RequestHost", Value::from(h)));
            core.push(("RequestPort", Value::from(p)));
        }
        core.push(("RequestMethod", Value::from(self.method.as_str())));
        core.push(("RequestPath", Value::from(self.path.as_str())));
        core.push(("RequestProtocol", Value::from(protocol(self.version))));
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        core.push(("RequestScheme", Value::from(scheme)));
        if let Some(tls) = &self.tls {
            if let Some(v) = tls.version {
                core.push(("TLSVersion", Value::from(v)));
            }
            if let Some(c) = &tls.cipher {
                core.push(("TLSCipher", Value::from(c.as_str())));
            }
            if let Some(subject) = &tls.client_subject {
                core.push(("TLSClientSubject", Value::from(subject.as_str())));
            }
        }
        core.push(("RequestContentSize", Value::from(self.request_size)));
        core.push(("RequestCount", Value::from(self.request_count)));
        core.push(("entryPointName", Value::from(&*self.entrypoint)));
        if let Some(r) = &self.router {
            core.push(("RouterName", Value::from(&**r)));
        }
        if let Some(s) = &self.recorded.service {
            core.push(("ServiceName", Value::from(&*s.name)));
            core.push(("ServiceURL", Value::from(&*s.url)));
            core.push(("ServiceAddr", Value::from(&*s.addr)));
        }
        // Every logged request has origin fields: zero when no server
        // answered (Traefik's InitServiceFields). A request that reached a
        // server but got no answer from it (client gone, error) has the
        // status and size of what Traefik's proxy wrote in its place.
        let (origin_status, origin_size, origin_duration) = match &self.recorded.origin {
            Some(o) => (o.status, o.size, o.duration),
            None if self.recorded.service.is_some() => (self.status, self.size, self.duration),
            None => (0, 0, Duration::ZERO),
        };
        core.push(("OriginStatus", Value::from(origin_status)));
        core.push(("OriginContentSize", Value::from(origin_size)));
        core.push(("OriginDuration", nanos(origin_duration)));
        core.push((
            "Overhead",
            nanos(self.duration.saturating_sub(origin_duration)),
        ));
        core.push(("DownstreamStatus", Value::from(self.status)));
        core.push(("DownstreamContentSize", Value::from(self.size)));
        if self.size != origin_size && self.size != 0 {
            #[allow(clippy::cast_precision_loss)]
            let ratio = origin_size as f64 / self.size as f64;
            core.push(("GzipRatio", go_float(ratio)));
        }
        core.push(("RetryAttempts", Value::from(self.recorded.retry_attempts)));
        if let Some((trace, span)) = &self.recorded.trace {
            // Traefik's names, and OpenTelemetry's.
            core.push(("TraceId", Value::from(trace.as_str())));
            core.push(("SpanId", Value::from(span.as_str())));
            core.push(("trace_id", Value::from(trace.as_str())));
            core.push(("span_id", Value::from(span.as_str())));
        }

        let mut out = BTreeMap::new();
        for (k, v) in core {
            if settings.keeps_field(k) {
                out.insert(k.to_string(), v);
            }
        }
        let proxied = self.recorded.service.is_some();
        if let Some(h) = &self.request_headers {
            headers(&mut out, settings, "request_", h, false);
        }
        if proxied {
            let origin = self
                .recorded
                .origin
                .as_ref()
                .map(|o| o.headers.clone())
                .unwrap_or_default();
            headers(&mut out, settings, "origin_", &origin, true);
        }
        if let Some(h) = &self.downstream_headers {
            // Traefik's entrypoints give every answer an empty Content-Type
            // until a handler sets one (to keep Go from sniffing).
            headers(&mut out, settings, "downstream_", h, true);
        }
        out
    }

    /// The line, newline included; `now` is the `time` of a JSON line.
    pub fn line(&self, settings: &Settings, now: SystemTime) -> String {
        let fields = self.fields(settings);
        match settings.format {
            Format::Json => json_line(fields, now),
            Format::Common => clf_line(&fields, true),
            Format::GenericClf => clf_line(&fields, false),
        }
    }
}

/// A float as Go's JSON writes it: integral values without `.0`.
fn go_float(x: f64) -> Value {
    #[allow(clippy::cast_possible_truncation)]
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return Value::from(x as i64);
    }
    Value::from(x)
}

fn json_line(mut fields: BTreeMap<String, Value>, now: SystemTime) -> String {
    fields.insert("level".into(), Value::from("info"));
    fields.insert("msg".into(), Value::from(""));
    fields.insert("time".into(), Value::from(rfc3339(now, false)));
    let mut s = serde_json::to_string(&fields).unwrap_or_else(|_| "{}".into());
    s.push('\n');
    s
}

/// A field as the common line shows it: strings quoted or not, other
/// values as they are, `default` when absent or empty.
fn clf_value(fields: &BTreeMap<String, Value>, key: &str, default: &str, quoted: bool) -> String {
    match fields.get(key) {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::String(s)) if s.is_empty() => default.to_string(),
        Some(Value::String(s)) if quoted => format!("\"{}\"", s.replace('"', "\\\"")),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn clf_line(fields: &BTreeMap<String, Value>, traefik_extras: bool) -> String {
    let timestamp = fields
        .get("StartUTC")
        .or_else(|| fields.get("StartLocal"))
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .map_or_else(|| "-".to_string(), common_time);
    let v = |k: &str| clf_value(fields, k, "-", false);
    let q = |k: &str| clf_value(fields, k, "-", true);
    let qq = |k: &str| clf_value(fields, k, "\"-\"", true);
    let mut line = format!(
        "{} - {} [{}] \"{} {} {}\" {} {} {} {}",
        v("ClientHost"),
        v("ClientUsername"),
        timestamp,
        v("RequestMethod"),
        v("RequestPath"),
        v("RequestProtocol"),
        q("DownstreamStatus"),
        q("DownstreamContentSize"),
        qq("request_Referer"),
        qq("request_User-Agent"),
    );
    if traefik_extras {
        let millis = fields
            .get("Duration")
            .and_then(Value::as_u64)
            .map_or(0, |n| n / 1_000_000);
        let _ = write!(
            line,
            " {} {} {} {}ms",
            q("RequestCount"),
            qq("RouterName"),
            qq("ServiceURL"),
            millis
        );
    }
    line.push('\n');
    line
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
    let (secs, sub) = epoch(t);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    );
    if nanos && sub != 0 {
        let frac = format!("{sub:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
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
