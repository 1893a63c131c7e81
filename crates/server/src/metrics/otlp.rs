//! `metrics.otlp`: the registry's counters pushed every `pushInterval` as
//! the OpenTelemetry instruments Traefik's meter defines: the same names
//! as the Prometheus families, counters as monotonic cumulative sums of
//! doubles (unit `1`), durations as cumulative explicit-bucket histograms
//! (unit `s`), gauges as gauges; attribute names as Prometheus's label
//! names. Nothing is counted twice: each push reads the atomics the
//! request path already updates. The duration histograms carry `min` and
//! `max`, as the SDK's explicit-bucket aggregation does.
//!
//! As the SDK, an instrument has at most
//! [`CARDINALITY_LIMIT`](switchyard_proxy::metrics::CARDINALITY_LIMIT)
//! attribute sets: the sets first seen after the others were taken add up
//! in one overflow point (`otel.metric.overflow=true`). Which sets those
//! are was decided when they were first counted
//! ([`switchyard_proxy::metrics::SetBudget`]). The gauges have the same
//! limit, counted afresh at each push as the SDK does for Traefik's
//! observable gauges, their overflow point holding the last value beyond it.
//!
//! Beside them go the semantic-convention histograms
//! `http.server.request.duration` and `http.client.request.duration`
//! ([`super::semconv`]), as Traefik's meter records them too.
//!
//! Only instruments with data are sent (an SDK exports no stream that was
//! never recorded). A failed push is logged once (then at debug level
//! until one succeeds) and not retried: the next push carries the
//! cumulative totals anyway. The last push happens at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prost::Message as _;
use switchyard_otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use switchyard_otlp::proto::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use switchyard_otlp::proto::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use switchyard_otlp::proto::resource::v1::Resource as ProtoResource;
use switchyard_otlp::{Signal, Transport};
use switchyard_proxy::metrics::{key_labels, Cell, Scope, CARDINALITY_LIMIT};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::render::{
    certificate_expiries, server_states, Helps, ENTRYPOINT_HELP, ROUTER_HELP, SERVICE_HELP,
};
use super::{lock, Metrics};
use crate::Runtime;

/// The instrumentation scope: Traefik's meter, so that dashboards built
/// on Traefik's telemetry keep working.
pub const SCOPE: &str = "github.com/traefik/traefik";

/// The push period the OpenTelemetry SDK uses when the configured one is
/// zero.
const SDK_DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The overflow set's attributes.
fn overflow_attributes() -> Vec<KeyValue> {
    vec![KeyValue {
        key: "otel.metric.overflow".to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(true)),
        }),
        ..Default::default()
    }]
}

/// Applies the SDK's limit to one gauge's points. Traefik's gauges are
/// observable gauges, whose last-value aggregation starts afresh at each
/// collection: the first `CARDINALITY_LIMIT - 1` sets observed keep their
/// point and every later one lands in the overflow set, which keeps the
/// last value observed (not a sum, as for the counters). Traefik observes
/// its sets in a Go map's order, so which ones overflow varies from push to
/// push there; here it is the order the points were added in.
fn limit_gauge(points: &mut Vec<NumberDataPoint>) {
    if points.len() < CARDINALITY_LIMIT {
        return;
    }
    let Some(mut last) = points.pop() else {
        return;
    };
    points.truncate(CARDINALITY_LIMIT - 1);
    last.attributes = overflow_attributes();
    points.push(last);
}

/// String attributes sorted by key, as the SDK's attribute sets are.
fn attributes(pairs: &[(&str, &str)]) -> Vec<KeyValue> {
    let mut sorted: Vec<&(&str, &str)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    sorted
        .into_iter()
        .map(|(k, v)| KeyValue {
            key: (*k).to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue((*v).to_string())),
            }),
            ..Default::default()
        })
        .collect()
}

enum Points {
    Sum(Vec<NumberDataPoint>),
    Gauge(Vec<NumberDataPoint>),
    Histogram(Vec<HistogramDataPoint>),
}

/// One instrument being collected.
struct Instrument {
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    points: Points,
}

/// The interval a push covers: cumulative since `start`, taken at `now`
/// (Unix nanoseconds).
#[derive(Clone, Copy)]
struct Times {
    start: u64,
    now: u64,
}

impl Instrument {
    fn counter(name: &'static str, description: &'static str) -> Instrument {
        Instrument {
            name,
            description,
            unit: "1",
            points: Points::Sum(Vec::new()),
        }
    }

    fn gauge(name: &'static str, description: &'static str, unit: &'static str) -> Instrument {
        Instrument {
            name,
            description,
            unit,
            points: Points::Gauge(Vec::new()),
        }
    }

    fn histogram(name: &'static str, description: &'static str) -> Instrument {
        Instrument {
            name,
            description,
            unit: "s",
            points: Points::Histogram(Vec::new()),
        }
    }

    /// A value of a counter or gauge.
    fn number(&mut self, t: Times, labels: &[(&str, &str)], value: f64) {
        self.number_with(t, attributes(labels), value);
    }

    /// A value of a counter or gauge with `attributes`.
    fn number_with(&mut self, t: Times, attributes: Vec<KeyValue>, value: f64) {
        let point = NumberDataPoint {
            attributes,
            start_time_unix_nano: t.start,
            time_unix_nano: t.now,
            value: Some(number_data_point::Value::AsDouble(value)),
            ..Default::default()
        };
        match &mut self.points {
            Points::Sum(p) | Points::Gauge(p) => p.push(point),
            Points::Histogram(_) => {}
        }
    }

    /// A histogram's observations with `attributes`.
    fn observations(
        &mut self,
        t: Times,
        attributes: Vec<KeyValue>,
        d: Distribution,
        bounds: &[f64],
    ) {
        if let Points::Histogram(p) = &mut self.points {
            let count = d.counts.iter().sum();
            // (A cell is counted right after it is made: a push between
            // the two sees it empty, without extremes.)
            let seen = count > 0;
            p.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: t.start,
                time_unix_nano: t.now,
                count,
                sum: Some(d.sum),
                bucket_counts: d.counts,
                explicit_bounds: bounds.to_vec(),
                min: seen.then_some(d.min),
                max: seen.then_some(d.max),
                ..Default::default()
            });
        }
    }

    /// The OTLP metric, or none without data.
    fn into_metric(self) -> Option<Metric> {
        let cumulative = AggregationTemporality::Cumulative as i32;
        let data = match self.points {
            Points::Sum(p) if !p.is_empty() => metric::Data::Sum(Sum {
                data_points: p,
                aggregation_temporality: cumulative,
                is_monotonic: true,
            }),
            Points::Gauge(mut p) if !p.is_empty() => {
                limit_gauge(&mut p);
                metric::Data::Gauge(Gauge { data_points: p })
            }
            Points::Histogram(p) if !p.is_empty() => metric::Data::Histogram(Histogram {
                data_points: p,
                aggregation_temporality: cumulative,
            }),
            _ => return None,
        };
        Some(Metric {
            name: self.name.to_string(),
            description: self.description.to_string(),
            unit: self.unit.to_string(),
            metadata: Vec::new(),
            data: Some(data),
        })
    }
}

/// The instruments of one kind of scope: requests, TLS requests,
/// duration, request bytes, response bytes.
fn request_instruments(names: [&'static str; 5], help: Helps) -> [Instrument; 5] {
    [
        Instrument::counter(names[0], help[0]),
        Instrument::counter(names[1], help[1]),
        Instrument::histogram(names[2], help[2]),
        Instrument::counter(names[3], help[3]),
        Instrument::counter(names[4], help[4]),
    ]
}

const ENTRYPOINT_NAMES: [&str; 5] = [
    "traefik_entrypoint_requests_total",
    "traefik_entrypoint_requests_tls_total",
    "traefik_entrypoint_request_duration_seconds",
    "traefik_entrypoint_requests_bytes_total",
    "traefik_entrypoint_responses_bytes_total",
];

const ROUTER_NAMES: [&str; 5] = [
    "traefik_router_requests_total",
    "traefik_router_requests_tls_total",
    "traefik_router_request_duration_seconds",
    "traefik_router_requests_bytes_total",
    "traefik_router_responses_bytes_total",
];

const SERVICE_NAMES: [&str; 5] = [
    "traefik_service_requests_total",
    "traefik_service_requests_tls_total",
    "traefik_service_request_duration_seconds",
    "traefik_service_requests_bytes_total",
    "traefik_service_responses_bytes_total",
];

/// A duration histogram's data: per-bucket (not cumulative) counts, the
/// last for `+Inf`; sum, min and max in seconds.
struct Distribution {
    counts: Vec<u64>,
    sum: f64,
    min: f64,
    max: f64,
}

impl Distribution {
    fn of(cell: &Cell) -> Distribution {
        let seconds = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
        Distribution {
            counts: cell
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
            sum: seconds(&cell.duration_nanos),
            min: seconds(&cell.min_nanos),
            max: seconds(&cell.max_nanos),
        }
    }

    /// Adds `other` (with as many buckets) in.
    fn merge(&mut self, other: Distribution) {
        let empty = self.counts.iter().all(|c| *c == 0);
        for (c, o) in self.counts.iter_mut().zip(&other.counts) {
            *c += o;
        }
        self.sum += other.sum;
        if other.counts.iter().any(|c| *c > 0) {
            self.min = if empty {
                other.min
            } else {
                self.min.min(other.min)
            };
            self.max = if empty {
                other.max
            } else {
                self.max.max(other.max)
            };
        }
    }
}

/// What the attribute sets beyond the cardinality limit add up to, in
/// the instruments of one kind of scope.
#[derive(Default)]
struct Overflow {
    /// Requests, request bytes, response bytes, durations (none while no
    /// set overflowed).
    requests: Option<([f64; 3], Distribution)>,
    tls: Option<f64>,
    retries: Option<f64>,
}

/// Adds one scope's series, labelled `names` (its label values are the
/// scope's own), the sets beyond the limit to `overflow`.
fn add_scope(
    f: &mut [Instrument; 5],
    t: Times,
    names: &[&str],
    scope: &Scope,
    overflow: &mut Overflow,
) {
    let base: Vec<(&str, &str)> = names
        .iter()
        .zip(scope.labels().iter())
        .map(|(n, v)| (*n, &**v))
        .collect();
    let bounds = &scope.buckets().seconds;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    for (key, cell) in scope.cells() {
        let counters = [
            load(&cell.requests),
            load(&cell.request_bytes),
            load(&cell.response_bytes),
        ];
        let distribution = Distribution::of(&cell);
        if !cell.own_set {
            match &mut overflow.requests {
                Some((sums, d)) => {
                    for (s, c) in sums.iter_mut().zip(counters) {
                        *s += c;
                    }
                    d.merge(distribution);
                }
                None => overflow.requests = Some((counters, distribution)),
            }
            continue;
        }
        let (code, method, protocol) = key_labels(key);
        let code = code.to_string();
        let mut labels = base.clone();
        labels.extend([
            ("code", code.as_str()),
            ("method", method),
            ("protocol", protocol),
        ]);
        f[0].number(t, &labels, counters[0]);
        f[2].observations(t, attributes(&labels), distribution, bounds);
        f[3].number(t, &labels, counters[1]);
        f[4].number(t, &labels, counters[2]);
    }
    for ((version, cipher), n, own_set) in scope.tls_sets() {
        if !own_set {
            *overflow.tls.get_or_insert(0.0) += n as f64;
            continue;
        }
        let mut labels = base.clone();
        labels.extend([("tls_version", version), ("tls_cipher", cipher)]);
        f[1].number(t, &labels, n as f64);
    }
}

/// Adds the overflow points of one kind of scope's instruments.
fn add_overflow(f: &mut [Instrument; 5], t: Times, overflow: Overflow, bounds: &[f64]) {
    if let Some((sums, d)) = overflow.requests {
        f[0].number_with(t, overflow_attributes(), sums[0]);
        f[2].observations(t, overflow_attributes(), d, bounds);
        f[3].number_with(t, overflow_attributes(), sums[1]);
        f[4].number_with(t, overflow_attributes(), sums[2]);
    }
    if let Some(n) = overflow.tls {
        f[1].number_with(t, overflow_attributes(), n);
    }
}

impl Metrics {
    /// The instruments `metrics.otlp` shows, read now.
    pub fn otlp_metrics(&self, runtime: &Runtime) -> Vec<Metric> {
        let t = Times {
            start: unix_nanos(self.started),
            now: unix_nanos(SystemTime::now()),
        };
        let shown = self.otlp.unwrap_or_default();
        let mut all: Vec<Instrument> = Vec::new();

        let mut reloads = Instrument::counter("traefik_config_reloads_total", "Config reloads");
        reloads.number(t, &[], self.reloads.load(Ordering::Relaxed) as f64);
        all.push(reloads);
        // Unix seconds, though Traefik names the unit `ms`.
        let mut last = Instrument::gauge(
            "traefik_config_last_reload_success",
            "Last config reload success",
            "ms",
        );
        last.number(t, &[], self.last_reload.load(Ordering::Relaxed) as f64);
        all.push(last);
        let mut open = Instrument::gauge(
            "traefik_open_connections",
            "How many open connections exist, by entryPoint and protocol",
            "1",
        );
        let entrypoints: Vec<_> = lock(&self.entrypoints).clone();
        for ep in &entrypoints {
            open.number(
                t,
                &[("entrypoint", &ep.name), ("protocol", "TCP")],
                ep.open.load(Ordering::Relaxed) as f64,
            );
        }
        all.push(open);
        let mut certs = Instrument::gauge(
            "traefik_tls_certs_not_after",
            "Certificate expiration timestamp",
            "s",
        );
        for c in certificate_expiries(runtime) {
            certs.number(
                t,
                &[("cn", &c.cn), ("serial", &c.serial), ("sans", &c.sans)],
                c.not_after as f64,
            );
        }
        all.push(certs);

        if shown.entrypoints {
            let mut f = request_instruments(ENTRYPOINT_NAMES, ENTRYPOINT_HELP);
            let mut overflow = Overflow::default();
            for ep in &entrypoints {
                if let Some(scope) = &ep.scope {
                    add_scope(&mut f, t, &["entrypoint"], scope, &mut overflow);
                }
            }
            add_overflow(&mut f, t, overflow, &self.buckets.seconds);
            all.extend(f);
        }
        if shown.routers {
            let mut f = request_instruments(ROUTER_NAMES, ROUTER_HELP);
            let scopes: Vec<Arc<Scope>> = lock(&self.routers).values().cloned().collect();
            let mut overflow = Overflow::default();
            for scope in &scopes {
                add_scope(&mut f, t, &["router", "service"], scope, &mut overflow);
            }
            add_overflow(&mut f, t, overflow, &self.buckets.seconds);
            all.extend(f);
        }
        if shown.services {
            let mut f = request_instruments(SERVICE_NAMES, SERVICE_HELP);
            let mut retries = Instrument::counter(
                "traefik_service_retries_total",
                "How many request retries happened on a service.",
            );
            let scopes: Vec<Arc<Scope>> = lock(&self.services).values().cloned().collect();
            let mut overflow = Overflow::default();
            for scope in &scopes {
                add_scope(&mut f, t, &["service"], scope, &mut overflow);
                if scope.retried.load(Ordering::Relaxed) {
                    let n = scope.retries.load(Ordering::Relaxed) as f64;
                    if scope.retries_overflow.load(Ordering::Relaxed) {
                        *overflow.retries.get_or_insert(0.0) += n;
                        continue;
                    }
                    let name = scope.labels().first().map_or("", |s| &**s);
                    retries.number(t, &[("service", name)], n);
                }
            }
            if let Some(n) = overflow.retries.take() {
                retries.number_with(t, overflow_attributes(), n);
            }
            add_overflow(&mut f, t, overflow, &self.buckets.seconds);
            all.extend(f);
            all.push(retries);
            let mut up = Instrument::gauge(
                "traefik_service_server_up",
                "service server is up, described by gauge value of 0 or 1.",
                "1",
            );
            for (service, url, is_up) in server_states(runtime) {
                up.number(
                    t,
                    &[("service", &service), ("url", &url)],
                    if is_up { 1.0 } else { 0.0 },
                );
            }
            all.push(up);
        }
        let mut out: Vec<Metric> = all
            .into_iter()
            .filter_map(Instrument::into_metric)
            .collect();
        if let Some(semconv) = &self.semconv {
            out.extend(super::semconv::metrics(semconv, t.start, t.now));
        }
        out
    }

    /// One export request: `resource`'s instruments under Traefik's scope.
    pub fn otlp_request(
        &self,
        runtime: &Runtime,
        resource: &ProtoResource,
        version: &str,
    ) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_string(),
                        version: version.to_string(),
                        ..Default::default()
                    }),
                    metrics: self.otlp_metrics(runtime),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }
}

/// What the push task needs.
pub struct PushSettings {
    pub transport: Transport,
    pub resource: ProtoResource,
    /// `pushInterval` (zero: the SDK's default, 60s).
    pub interval: Duration,
    /// The scope's version.
    pub version: String,
}

/// The running push task; [`Pusher::shutdown`] pushes once more.
pub struct Pusher {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

struct PushState {
    metrics: Arc<Metrics>,
    switcher: crate::Switcher,
    settings: PushSettings,
    /// Whether the last push failed (its failure was logged).
    failing: bool,
}

impl PushState {
    async fn push(&mut self) {
        let request = self.metrics.otlp_request(
            &self.switcher.load(),
            &self.settings.resource,
            &self.settings.version,
        );
        if !self.metrics.prometheus_on() {
            // Without scrapes, pushes retire removed routers' and services'
            // counters (after the push that still shows them).
            self.metrics.prune();
        }
        match self
            .settings
            .transport
            .export(Signal::Metrics, request.encode_to_vec())
            .await
        {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    tracing::info!("OTLP metric export works again");
                }
            }
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(error = %e, "OTLP metric export failed; retrying every push interval (further failures are logged at debug level until an export succeeds)");
            }
            Err(e) => tracing::debug!(error = %e, "OTLP metric export failed"),
        }
    }
}

impl Pusher {
    /// Starts pushing `metrics` every interval. Must run on the runtime.
    pub fn start(
        metrics: Arc<Metrics>,
        switcher: crate::Switcher,
        settings: PushSettings,
    ) -> Pusher {
        let period = if settings.interval.is_zero() {
            SDK_DEFAULT_INTERVAL
        } else {
            settings.interval
        };
        let (stop, mut stopped) = oneshot::channel();
        let mut state = PushState {
            metrics,
            switcher,
            settings,
            failing: false,
        };
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => state.push().await,
                    _ = &mut stopped => {
                        state.push().await;
                        return;
                    }
                }
            }
        });
        Pusher { stop, task }
    }

    /// Pushes the final totals, waiting at most `timeout`.
    pub async fn shutdown(self, timeout: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(timeout, self.task).await.is_err() {
            tracing::warn!("OTLP metric export: the last push did not finish in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_config::static_config::{Metrics as Config, MetricsOtlp, Prometheus};
    use switchyard_proxy::metrics::RequestLabels;

    fn registry(config: &Config) -> Arc<Metrics> {
        Metrics::new(config)
            .expect("valid config")
            .expect("metrics on")
    }

    fn get(request: &[Metric], name: &str) -> Option<Metric> {
        request.iter().find(|m| m.name == name).cloned()
    }

    fn labels(points: &[KeyValue]) -> Vec<(String, String)> {
        points
            .iter()
            .map(|kv| {
                let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(any_value::Value::StringValue(s)) => s.clone(),
                    other => format!("{other:?}"),
                };
                (kv.key.clone(), v)
            })
            .collect()
    }

    #[test]
    fn registry_is_on_with_either_backend() {
        let cases = [
            ("neither", Config::default(), None),
            (
                "otlp only",
                Config {
                    otlp: Some(MetricsOtlp::default()),
                    ..Config::default()
                },
                Some(false),
            ),
            (
                "prometheus only",
                Config {
                    prometheus: Some(Prometheus::default()),
                    ..Config::default()
                },
                Some(true),
            ),
        ];
        for (what, config, prometheus) in cases {
            let got = Metrics::new(&config).expect(what);
            assert_eq!(got.map(|m| m.prometheus_on()), prometheus, "{what}");
        }
    }

    #[test]
    fn instruments_follow_traefik() {
        let config = Config {
            otlp: Some(MetricsOtlp {
                add_routers_labels: true,
                explicit_boundaries: vec![0.5, 1.0],
                ..MetricsOtlp::default()
            }),
            ..Config::default()
        };
        let m = registry(&config);
        let ep = m.entrypoint("web");
        let router = m.router_scope("r@file", "s@file").expect("routers on");
        let service = m.service_scope("s@file").expect("services on");
        let req = http::Request::get("/").body(()).expect("request");
        let l = RequestLabels::of(&req);
        for scope in [
            ep.scope.as_ref().expect("entrypoints on"),
            &router,
            &service,
        ] {
            scope.observe(l, 200, Duration::from_millis(700), 3, 5);
            scope.observe(l, 200, Duration::from_millis(100), 0, 5);
        }
        service.retry();
        let got = m.otlp_metrics(&Runtime::default());

        let sum = |name: &str| match get(&got, name).and_then(|m| m.data) {
            Some(metric::Data::Sum(s)) => s,
            other => panic!("{name}: not a sum: {other:?}"),
        };
        let requests = sum("traefik_entrypoint_requests_total");
        assert!(requests.is_monotonic);
        assert_eq!(
            requests.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let point = &requests.data_points[0];
        assert_eq!(point.value, Some(number_data_point::Value::AsDouble(2.0)));
        assert_eq!(
            labels(&point.attributes),
            [
                ("code", "200"),
                ("entrypoint", "web"),
                ("method", "GET"),
                ("protocol", "http")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(
            point.start_time_unix_nano > 0 && point.start_time_unix_nano <= point.time_unix_nano
        );
        let router_point = &sum("traefik_router_requests_total").data_points[0];
        let keys: Vec<String> = labels(&router_point.attributes)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["code", "method", "protocol", "router", "service"]);
        assert_eq!(
            sum("traefik_service_responses_bytes_total").data_points[0].value,
            Some(number_data_point::Value::AsDouble(10.0))
        );
        assert_eq!(
            sum("traefik_service_retries_total").data_points[0].value,
            Some(number_data_point::Value::AsDouble(1.0))
        );

        let duration = get(&got, "traefik_service_request_duration_seconds").expect("histogram");
        assert_eq!(duration.unit, "s");
        let Some(metric::Data::Histogram(h)) = duration.data else {
            panic!("not a histogram");
        };
        let p = &h.data_points[0];
        assert_eq!(p.explicit_bounds, [0.5, 1.0]);
        assert_eq!(p.bucket_counts, [1, 1, 0], "per bucket, +Inf last");
        assert_eq!(p.count, 2);
        assert!((p.sum.unwrap_or_default() - 0.8).abs() < 1e-9);
        assert!((p.min.unwrap_or_default() - 0.1).abs() < 1e-9, "{p:?}");
        assert!((p.max.unwrap_or_default() - 0.7).abs() < 1e-9, "{p:?}");

        let open = get(&got, "traefik_open_connections").expect("gauge");
        assert!(matches!(open.data, Some(metric::Data::Gauge(_))));
        assert_eq!(
            get(&got, "traefik_config_reloads_total").map(|m| m.unit),
            Some("1".into())
        );
        for absent in [
            "traefik_entrypoint_requests_tls_total",
            "traefik_tls_certs_not_after",
            "traefik_service_server_up",
        ] {
            assert!(get(&got, absent).is_none(), "{absent}: no data, not sent");
        }
    }

    #[test]
    fn each_backend_shows_its_own_families() {
        let config = Config {
            prometheus: Some(Prometheus {
                add_routers_labels: true,
                ..Prometheus::default()
            }),
            otlp: Some(MetricsOtlp {
                add_entry_points_labels: false,
                ..MetricsOtlp::default()
            }),
            ..Config::default()
        };
        let m = registry(&config);
        let ep = m.entrypoint("web");
        let router = m
            .router_scope("r@file", "s@file")
            .expect("counted for prometheus");
        let req = http::Request::get("/").body(()).expect("request");
        let l = RequestLabels::of(&req);
        ep.scope
            .as_ref()
            .expect("counted for prometheus")
            .observe(l, 200, Duration::ZERO, 0, 0);
        router.observe(l, 200, Duration::ZERO, 0, 0);
        let got = m.otlp_metrics(&Runtime::default());
        assert!(get(&got, "traefik_entrypoint_requests_total").is_none());
        assert!(get(&got, "traefik_router_requests_total").is_none());
        let text = m.render(&Runtime::default());
        assert!(text.contains("traefik_entrypoint_requests_total{"));
        assert!(text.contains("traefik_router_requests_total{"));
    }

    #[test]
    fn sets_beyond_the_cardinality_limit_share_the_overflow_point() {
        let config = Config {
            prometheus: Some(Prometheus::default()),
            otlp: Some(MetricsOtlp {
                ..MetricsOtlp::default()
            }),
            ..Config::default()
        };
        let m = registry(&config);
        let ep = m.entrypoint("web");
        let other = m.entrypoint("other");
        let scope = ep.scope.as_ref().expect("entrypoints on");
        let req = http::Request::get("/").body(()).expect("request");
        let l = RequestLabels::of(&req);
        // 2,100 sets (a status code each) on one entrypoint, then one on
        // another: 1,999 keep their own point, the rest overflow.
        let extra = 101;
        let sets = (CARDINALITY_LIMIT - 1 + extra) as u16;
        for i in 0..sets {
            let ms = if i < 1999 { 10 } else { 100 + u64::from(i) };
            scope.observe(l, 1000 + i, Duration::from_millis(ms), 1, 2);
        }
        let late = other.scope.as_ref().expect("entrypoints on");
        late.observe(l, 200, Duration::from_millis(5), 0, 0);
        late.observe_tls(switchyard_proxy::context::TlsSession {
            version: "1.3",
            cipher: "TLS_AES_128_GCM_SHA256",
        });
        let got = m.otlp_metrics(&Runtime::default());
        let overflowed = |a: &[KeyValue]| {
            a.len() == 1
                && a[0].key == "otel.metric.overflow"
                && a[0].value.as_ref().and_then(|v| v.value.as_ref())
                    == Some(&any_value::Value::BoolValue(true))
        };
        for (name, want) in [
            ("traefik_entrypoint_requests_total", extra as f64 + 1.0),
            ("traefik_entrypoint_requests_bytes_total", extra as f64),
            (
                "traefik_entrypoint_responses_bytes_total",
                2.0 * extra as f64,
            ),
        ] {
            let Some(metric::Data::Sum(sum)) = get(&got, name).and_then(|m| m.data) else {
                panic!("{name}: not a sum");
            };
            assert_eq!(sum.data_points.len(), CARDINALITY_LIMIT, "{name}");
            let over: Vec<_> = sum
                .data_points
                .iter()
                .filter(|p| overflowed(&p.attributes))
                .collect();
            assert_eq!(over.len(), 1, "{name}");
            assert_eq!(
                over[0].value,
                Some(number_data_point::Value::AsDouble(want)),
                "{name}"
            );
        }
        let Some(metric::Data::Histogram(h)) =
            get(&got, "traefik_entrypoint_request_duration_seconds").and_then(|m| m.data)
        else {
            panic!("not a histogram");
        };
        assert_eq!(h.data_points.len(), CARDINALITY_LIMIT);
        let p = h
            .data_points
            .iter()
            .find(|p| overflowed(&p.attributes))
            .expect("an overflow point");
        assert_eq!(p.count, extra as u64 + 1);
        // (Prometheus's default buckets: 0.1, 0.3, 1.2, 5.)
        assert_eq!(
            p.bucket_counts,
            [1, 0, 0, extra as u64, 0],
            "the late 5ms and the rest"
        );
        assert_eq!(p.min, Some(0.005));
        assert_eq!(p.max, Some(2.199));
        // The TLS instrument has a limit of its own: its first set is its own.
        let Some(metric::Data::Sum(tls)) =
            get(&got, "traefik_entrypoint_requests_tls_total").and_then(|m| m.data)
        else {
            panic!("not a sum");
        };
        assert_eq!(tls.data_points.len(), 1);
        assert!(!overflowed(&tls.data_points[0].attributes));
        // Prometheus has no limit.
        let text = m.render(&Runtime::default());
        let series = text
            .lines()
            .filter(|l| l.starts_with("traefik_entrypoint_requests_total{"))
            .count();
        assert_eq!(series, usize::from(sets) + 1);
    }

    fn is_overflow(a: &[KeyValue]) -> bool {
        a.len() == 1
            && a[0].key == "otel.metric.overflow"
            && a[0].value.as_ref().and_then(|v| v.value.as_ref())
                == Some(&any_value::Value::BoolValue(true))
    }

    #[test]
    fn gauges_keep_the_sdk_limit_with_the_last_value_overflowing() {
        // (points observed, own points kept, overflow value)
        let cases: [(usize, usize, Option<f64>); 4] = [
            (1, 1, None),
            (CARDINALITY_LIMIT - 1, CARDINALITY_LIMIT - 1, None),
            (
                CARDINALITY_LIMIT,
                CARDINALITY_LIMIT - 1,
                Some(CARDINALITY_LIMIT as f64 - 1.0),
            ),
            (
                CARDINALITY_LIMIT + 100,
                CARDINALITY_LIMIT - 1,
                Some(CARDINALITY_LIMIT as f64 + 99.0),
            ),
        ];
        let t = Times { start: 1, now: 2 };
        for (observed, own, overflow) in cases {
            let mut g = Instrument::gauge("g", "a gauge", "1");
            for i in 0..observed {
                let name = format!("ep{i}");
                g.number(t, &[("entrypoint", &name)], i as f64);
            }
            let Some(metric::Data::Gauge(got)) = g.into_metric().and_then(|m| m.data) else {
                panic!("{observed}: not a gauge");
            };
            let (over, kept): (Vec<_>, Vec<_>) = got
                .data_points
                .iter()
                .partition(|p| is_overflow(&p.attributes));
            assert_eq!(kept.len(), own, "{observed}: own points");
            // The first sets are the ones kept, with their own values.
            for (i, p) in kept.iter().enumerate() {
                assert_eq!(
                    p.value,
                    Some(number_data_point::Value::AsDouble(i as f64)),
                    "{observed}: point {i}"
                );
            }
            let over: Vec<_> = over.iter().map(|p| p.value).collect();
            assert_eq!(
                over,
                overflow
                    .map(number_data_point::Value::AsDouble)
                    .map(Some)
                    .into_iter()
                    .collect::<Vec<_>>(),
                "{observed}: overflow point"
            );
        }
    }

    #[test]
    fn open_connections_gauge_is_limited() {
        let config = Config {
            otlp: Some(MetricsOtlp::default()),
            ..Config::default()
        };
        let m = registry(&config);
        let eps: Vec<_> = (0..CARDINALITY_LIMIT + 5)
            .map(|i| m.entrypoint(&format!("ep{i}")))
            .collect();
        assert_eq!(eps.len(), CARDINALITY_LIMIT + 5);
        let got = m.otlp_metrics(&Runtime::default());
        let Some(metric::Data::Gauge(open)) =
            get(&got, "traefik_open_connections").and_then(|m| m.data)
        else {
            panic!("not a gauge");
        };
        assert_eq!(open.data_points.len(), CARDINALITY_LIMIT);
        let over = open
            .data_points
            .iter()
            .filter(|p| is_overflow(&p.attributes))
            .count();
        assert_eq!(over, 1);
    }
}
