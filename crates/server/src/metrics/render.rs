//! The Prometheus text exposition (format 0.0.4) of the registry, laid out
//! as Traefik's Go client writes it: families sorted by name, label names
//! sorted within a series, series sorted by their labels, numbers as Go's
//! shortest `%g`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use switchyard_proxy::metrics::{key_labels, Scope};

use super::{lock, process, Metrics};
use crate::Runtime;

/// The scrape's `Content-Type`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One family being written: its series as `(sorted labels, lines)`.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    series: Vec<(String, String)>,
}

impl Family {
    pub fn new(name: &'static str, help: &'static str, kind: Kind) -> Family {
        Family {
            name,
            help,
            kind,
            series: Vec::new(),
        }
    }

    /// Adds a counter or gauge series.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        let l = label_text(labels, None);
        let line = format!("{}{l} {}\n", self.name, go_float(value));
        self.series.push((l, line));
    }

    /// Adds a histogram series: per-bucket (not cumulative) counts whose
    /// last is `+Inf`, the bounds, and the sum.
    fn histogram(&mut self, labels: &[(&str, &str)], counts: &[u64], bounds: &[f64], sum: f64) {
        let mut lines = String::new();
        let mut total = 0u64;
        for (i, n) in counts.iter().enumerate() {
            total += n;
            let le = bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| go_float(*b));
            let l = label_text(labels, Some(&le));
            let _ = writeln!(lines, "{}_bucket{l} {total}", self.name);
        }
        let l = label_text(labels, None);
        let _ = writeln!(lines, "{}_sum{l} {}", self.name, go_float(sum));
        let _ = writeln!(lines, "{}_count{l} {total}", self.name);
        self.series.push((l, lines));
    }

    fn write(mut self, out: &mut String) {
        if self.series.is_empty() {
            return;
        }
        self.series.sort_by(|a, b| a.0.cmp(&b.0));
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.name());
        for (_, lines) in self.series {
            out.push_str(&lines);
        }
    }
}

/// `{a="1",b="2"}` with the names sorted (and `le` last), or nothing.
fn label_text(labels: &[(&str, &str)], le: Option<&str>) -> String {
    let mut sorted: Vec<&(&str, &str)> = labels.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    let pairs = sorted
        .iter()
        .map(|(k, v)| (*k, *v))
        .chain(le.map(|l| ("le", l)));
    for (i, (k, v)) in pairs.enumerate() {
        out.push(if i == 0 { '{' } else { ',' });
        let _ = write!(out, "{k}=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if !out.is_empty() {
        out.push('}');
    }
    out
}

/// A number as Go's `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest
/// digits that read back the same, in exponent form when the decimal
/// exponent is below -4 or at least 6.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// The request families of one kind of scope (`entrypoint`, `router`,
/// `service`), whose scopes carry the label values of `names`.
struct RequestFamilies {
    requests: Family,
    tls: Family,
    duration: Family,
    request_bytes: Family,
    response_bytes: Family,
}

fn add_scope(
    f: &mut RequestFamilies,
    names: &[&str],
    scope: &Scope,
    header_names: &[(String, Option<http::HeaderName>)],
) {
    let base: Vec<(&str, &str)> = names
        .iter()
        .zip(scope.labels().iter())
        .map(|(n, v)| (*n, &**v))
        .collect();
    let buckets = scope.buckets();
    for (key, cell) in scope.cells() {
        let (code, method, protocol) = key_labels(key);
        let code = code.to_string();
        let mut labels = base.clone();
        labels.extend([
            ("code", code.as_str()),
            ("method", method),
            ("protocol", protocol),
        ]);
        if header_names.is_empty() {
            f.requests
                .sample(&labels, cell.requests.load(Ordering::Relaxed) as f64);
        }
        f.request_bytes
            .sample(&labels, cell.request_bytes.load(Ordering::Relaxed) as f64);
        f.response_bytes
            .sample(&labels, cell.response_bytes.load(Ordering::Relaxed) as f64);
        let counts: Vec<u64> = cell
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let sum = cell.duration_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        f.duration
            .histogram(&labels, &counts, &buckets.seconds, sum);
    }
    for ((key, values), n) in scope.header_counts() {
        let (code, method, protocol) = key_labels(key);
        let code = code.to_string();
        let mut labels = base.clone();
        labels.extend([
            ("code", code.as_str()),
            ("method", method),
            ("protocol", protocol),
        ]);
        for ((name, _), v) in header_names.iter().zip(values.iter()) {
            labels.push((name.as_str(), v));
        }
        f.requests.sample(&labels, n as f64);
    }
    for ((version, cipher), n) in scope.tls_counts() {
        let mut labels = base.clone();
        labels.extend([("tls_version", version), ("tls_cipher", cipher)]);
        f.tls.sample(&labels, n as f64);
    }
}

impl Metrics {
    /// Every family as text; then the counters of routers and services
    /// removed since the previous scrape are dropped.
    pub fn render(&self, runtime: &Runtime) -> String {
        let mut families: Vec<Family> = Vec::new();
        let headers = &self.header_labels.0;

        let mut reloads = Family::new(
            "traefik_config_reloads_total",
            "Config reloads",
            Kind::Counter,
        );
        reloads.sample(&[], self.reloads.load(Ordering::Relaxed) as f64);
        families.push(reloads);
        let mut last = Family::new(
            "traefik_config_last_reload_success",
            "Last config reload success",
            Kind::Gauge,
        );
        last.sample(&[], self.last_reload.load(Ordering::Relaxed) as f64);
        families.push(last);

        let mut open = Family::new(
            "traefik_open_connections",
            "How many open connections exist, by entryPoint and protocol",
            Kind::Gauge,
        );
        let entrypoints: Vec<_> = lock(&self.entrypoints).clone();
        for ep in &entrypoints {
            open.sample(
                &[("entrypoint", &ep.name), ("protocol", "TCP")],
                ep.open.load(Ordering::Relaxed) as f64,
            );
        }
        families.push(open);
        families.push(self.certificates(runtime));

        let shown = self.prometheus.unwrap_or_default();
        if shown.entrypoints {
            let mut f = request_families("entrypoint", ENTRYPOINT_HELP);
            for ep in &entrypoints {
                if let Some(scope) = &ep.scope {
                    add_scope(&mut f, &["entrypoint"], scope, headers);
                }
            }
            families.extend(f.into_vec());
        }
        if shown.routers {
            let mut f = request_families("router", ROUTER_HELP);
            let scopes: Vec<Arc<Scope>> = lock(&self.routers).values().cloned().collect();
            for scope in &scopes {
                add_scope(&mut f, &["router", "service"], scope, headers);
            }
            families.extend(f.into_vec());
        }
        if shown.services {
            let mut f = request_families("service", SERVICE_HELP);
            let scopes: Vec<Arc<Scope>> = lock(&self.services).values().cloned().collect();
            let mut retries = Family::new(
                "traefik_service_retries_total",
                "How many request retries happened on a service.",
                Kind::Counter,
            );
            for scope in &scopes {
                add_scope(&mut f, &["service"], scope, headers);
                if scope.retried.load(Ordering::Relaxed) {
                    let name = scope.labels().first().map_or("", |s| &**s);
                    retries.sample(
                        &[("service", name)],
                        scope.retries.load(Ordering::Relaxed) as f64,
                    );
                }
            }
            families.extend(f.into_vec());
            families.push(retries);
            families.push(server_up(runtime));
        }
        families.extend(process::families());

        families.sort_by(|a, b| a.name.cmp(b.name));
        let mut out = String::new();
        for f in families {
            f.write(&mut out);
        }
        self.prune();
        out
    }

    /// `traefik_tls_certs_not_after`: each certificate of the store.
    fn certificates(&self, runtime: &Runtime) -> Family {
        let mut f = Family::new(
            "traefik_tls_certs_not_after",
            "Certificate expiration timestamp",
            Kind::Gauge,
        );
        for c in certificate_expiries(runtime) {
            f.sample(
                &[("cn", &c.cn), ("serial", &c.serial), ("sans", &c.sans)],
                c.not_after as f64,
            );
        }
        f
    }
}

/// One certificate of the store, as `traefik_tls_certs_not_after` labels it.
pub(super) struct CertificateExpiry {
    pub cn: String,
    pub serial: String,
    /// The DNS names, sorted, comma-separated.
    pub sans: String,
    /// Unix seconds.
    pub not_after: i64,
}

/// The certificates of the runtime's store.
pub(super) fn certificate_expiries(runtime: &Runtime) -> Vec<CertificateExpiry> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let mut out = Vec::new();
    {
        for ck in runtime.tls.store.certificates() {
            let Some(leaf) = ck.cert.first() else {
                continue;
            };
            let Ok((_, cert)) = X509Certificate::from_der(leaf.as_ref()) else {
                continue;
            };
            let cn = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or("")
                .to_string();
            let serial = cert.tbs_certificate.serial.to_string();
            let mut sans: Vec<String> = Vec::new();
            if let Ok(Some(san)) = cert.subject_alternative_name() {
                for name in &san.value.general_names {
                    if let GeneralName::DNSName(d) = name {
                        sans.push(d.to_string());
                    }
                }
            }
            sans.sort();
            let sans = sans.join(",");
            let not_after = cert.validity().not_after.timestamp();
            out.push(CertificateExpiry {
                cn,
                serial,
                sans,
                not_after,
            });
        }
    }
    out
}

/// `traefik_service_server_up`: the servers of load balancers with an
/// active health check.
fn server_up(runtime: &Runtime) -> Family {
    let mut f = Family::new(
        "traefik_service_server_up",
        "service server is up, described by gauge value of 0 or 1.",
        Kind::Gauge,
    );
    for (service, url, up) in server_states(runtime) {
        f.sample(
            &[("service", &service), ("url", &url)],
            if up { 1.0 } else { 0.0 },
        );
    }
    f
}

/// `(service, server url, up)` of the load balancers with an active
/// health check.
pub(super) fn server_states(runtime: &Runtime) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for (name, lb) in &runtime.balancers {
        for (url, up) in lb.checked_status().unwrap_or_default() {
            out.push((name.clone(), url.to_string(), up));
        }
    }
    out
}

/// The help texts of one scope kind's families: requests, TLS requests,
/// duration, request bytes, response bytes.
pub(super) type Helps = [&'static str; 5];

pub(super) const ENTRYPOINT_HELP: Helps = [
    "How many HTTP requests processed on an entrypoint, partitioned by status code, protocol, and method.",
    "How many HTTP requests with TLS processed on an entrypoint, partitioned by TLS Version and TLS cipher Used.",
    "How long it took to process the request on an entrypoint, partitioned by status code, protocol, and method.",
    "The total size of requests in bytes handled by an entrypoint, partitioned by status code, protocol, and method.",
    "The total size of responses in bytes handled by an entrypoint, partitioned by status code, protocol, and method.",
];

pub(super) const ROUTER_HELP: Helps = [
    "How many HTTP requests are processed on a router, partitioned by service, status code, protocol, and method.",
    "How many HTTP requests with TLS are processed on a router, partitioned by service, TLS Version, and TLS cipher Used.",
    "How long it took to process the request on a router, partitioned by service, status code, protocol, and method.",
    "The total size of requests in bytes handled by a router, partitioned by service, status code, protocol, and method.",
    "The total size of responses in bytes handled by a router, partitioned by service, status code, protocol, and method.",
];

pub(super) const SERVICE_HELP: Helps = [
    "How many HTTP requests processed on a service, partitioned by status code, protocol, and method.",
    "How many HTTP requests with TLS processed on a service, partitioned by TLS version and TLS cipher.",
    "How long it took to process the request on a service, partitioned by status code, protocol, and method.",
    "The total size of requests in bytes received by a service, partitioned by status code, protocol, and method.",
    "The total size of responses in bytes returned by a service, partitioned by status code, protocol, and method.",
];

fn request_families(kind: &'static str, help: Helps) -> RequestFamilies {
    let name = |suffix: &str| -> &'static str {
        match (kind, suffix) {
            ("entrypoint", "r") => "traefik_entrypoint_requests_total",
            ("entrypoint", "t") => "traefik_entrypoint_requests_tls_total",
            ("entrypoint", "d") => "traefik_entrypoint_request_duration_seconds",
            ("entrypoint", "q") => "traefik_entrypoint_requests_bytes_total",
            ("entrypoint", _) => "traefik_entrypoint_responses_bytes_total",
            ("router", "r") => "traefik_router_requests_total",
            ("router", "t") => "traefik_router_requests_tls_total",
            ("router", "d") => "traefik_router_request_duration_seconds",
            ("router", "q") => "traefik_router_requests_bytes_total",
            ("router", _) => "traefik_router_responses_bytes_total",
            (_, "r") => "traefik_service_requests_total",
            (_, "t") => "traefik_service_requests_tls_total",
            (_, "d") => "traefik_service_request_duration_seconds",
            (_, "q") => "traefik_service_requests_bytes_total",
            _ => "traefik_service_responses_bytes_total",
        }
    };
    RequestFamilies {
        requests: Family::new(name("r"), help[0], Kind::Counter),
        tls: Family::new(name("t"), help[1], Kind::Counter),
        duration: Family::new(name("d"), help[2], Kind::Histogram),
        request_bytes: Family::new(name("q"), help[3], Kind::Counter),
        response_bytes: Family::new(name("s"), help[4], Kind::Counter),
    }
}

impl RequestFamilies {
    fn into_vec(self) -> [Family; 5] {
        [
            self.requests,
            self.tls,
            self.duration,
            self.request_bytes,
            self.response_bytes,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_float_table() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (5.0, "5"),
            (0.1, "0.1"),
            (1.2, "1.2"),
            (347.0, "347"),
            (20000.0, "20000"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (93024256.0, "9.3024256e+07"),
            (1796631096.0, "1.796631096e+09"),
            (0.00151446, "0.00151446"),
            (0.00001, "1e-05"),
            (18446744073709551615.0, "1.8446744073709552e+19"),
            (f64::INFINITY, "+Inf"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(*f), *want, "{f}");
        }
    }

    #[test]
    fn labels_sorted_and_escaped() {
        /// (labels, `le`, text)
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, &'a str);
        let cases: &[Case] = &[
            (&[], None, ""),
            (
                &[("service", "s@file"), ("code", "200")],
                None,
                "{code=\"200\",service=\"s@file\"}",
            ),
            (
                &[("a", "x\"y\\z\nw")],
                Some("0.1"),
                "{a=\"x\\\"y\\\\z\\nw\",le=\"0.1\"}",
            ),
        ];
        for (labels, le, want) in cases {
            assert_eq!(label_text(labels, *le), *want, "{labels:?}");
        }
    }
}
