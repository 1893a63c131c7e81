//! Start-up of the OpenTelemetry exports: `tracing` (the tracer every
//! entrypoint shares), `log.otlp` (a log layer) and `metrics.otlp` (a
//! push task reading the metrics registry), each with its OTLP
//! transport (gRPC when `otlp.grpc` is given, else HTTP), resource and
//! queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use switchyard_config::static_config::{
    ClientTls, LogOtlp, MetricsOtlp, OtlpGrpc, OtlpHttp, Tracing,
};
use switchyard_otlp::{
    Attribute, BatchSettings, Endpoint, LogExporter, LogRecord, Resource, Severity, SpanExporter,
    Transport, TransportConfig, Value,
};
use switchyard_proxy::trace::{Tracer, TracerSettings};
use switchyard_server::metrics::otlp::{PushSettings, Pusher};

/// The instrumentation scope of the spans and records: Traefik's, so that
/// queries written for Traefik's telemetry keep working.
const SCOPE: &str = "github.com/traefik/traefik";

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// The transport of an `otlp` section (`key` names it in errors).
fn transport(
    key: &str,
    http: Option<OtlpHttp>,
    grpc: Option<OtlpGrpc>,
) -> anyhow::Result<Transport> {
    let (key, endpoint, headers, tls) = match (grpc, http) {
        (Some(g), _) => (
            format!("{key}.grpc"),
            Endpoint::Grpc {
                address: g.endpoint,
                insecure: g.insecure,
            },
            g.headers,
            g.tls,
        ),
        (None, h) => {
            let h = h.unwrap_or_default();
            (
                format!("{key}.http"),
                Endpoint::Http { url: h.endpoint },
                h.headers,
                h.tls,
            )
        }
    };
    let tls =
        switchyard_providers::docker::tls::client_config(&tls.unwrap_or_else(ClientTls::default))
            .with_context(|| format!("{key}.tls"))?;
    Transport::new(TransportConfig {
        endpoint,
        headers: headers.into_iter().collect(),
        tls,
        timeout: EXPORT_TIMEOUT,
    })
    .with_context(|| key.clone())
}

fn resource(service_name: &str, host: &str, attributes: &BTreeMap<String, String>) -> Resource {
    Resource::new(
        service_name,
        env!("CARGO_PKG_VERSION"),
        host,
        attributes,
        env,
    )
}

/// The tracer `tracing` asks for; `None` without `tracing`. Must run on
/// the runtime (it starts the sending task).
pub fn start_tracing(config: Option<&Tracing>, host: &str) -> anyhow::Result<Option<Arc<Tracer>>> {
    let Some(c) = config else {
        return Ok(None);
    };
    let otlp = c.otlp.clone().unwrap_or_default();
    let transport = transport("tracing.otlp", otlp.http, otlp.grpc)?;
    let attributes = if c.resource_attributes.is_empty() {
        &c.global_attributes
    } else {
        &c.resource_attributes
    };
    let exporter = SpanExporter::start(
        transport,
        resource(&c.service_name, host, attributes),
        SCOPE,
        BatchSettings::from_env(env),
    );
    let settings = TracerSettings {
        sample_rate: c.sample_rate,
        captured_request_headers: c.captured_request_headers.clone(),
        captured_response_headers: c.captured_response_headers.clone(),
        safe_query_params: c.safe_query_params.clone(),
        add_internals: c.add_internals,
    };
    Ok(Some(Arc::new(Tracer::new(exporter, &settings))))
}

/// The push task `metrics.otlp` asks for, reading `metrics`. Must run on
/// the runtime.
pub fn start_metrics_export(
    config: &MetricsOtlp,
    host: &str,
    metrics: Arc<switchyard_server::metrics::Metrics>,
    switcher: switchyard_server::Switcher,
) -> anyhow::Result<Pusher> {
    let transport = transport("metrics.otlp", config.http.clone(), config.grpc.clone())?;
    let settings = PushSettings {
        transport,
        resource: resource(&config.service_name, host, &config.resource_attributes).to_proto(),
        interval: config.push_interval.into(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok(Pusher::start(metrics, switcher, settings))
}

/// The queue `log.otlp` asks for. Must run on the runtime.
pub fn start_log_export(config: &LogOtlp, host: &str) -> anyhow::Result<LogExporter> {
    let transport = transport("log.otlp", config.http.clone(), config.grpc.clone())?;
    Ok(LogExporter::start(
        transport,
        resource(&config.service_name, host, &config.resource_attributes),
        SCOPE,
        BatchSettings::from_env(env),
    ))
}

/// The queue `accessLog.otlp` asks for (the records of Traefik's access
/// log come from its logger named `traefik`). Must run on the runtime.
pub fn start_access_log_export(config: &LogOtlp, host: &str) -> anyhow::Result<LogExporter> {
    let transport = transport("accessLog.otlp", config.http.clone(), config.grpc.clone())?;
    Ok(LogExporter::start(
        transport,
        resource(&config.service_name, host, &config.resource_attributes),
        "traefik",
        BatchSettings::from_env(env),
    ))
}

/// A log layer sending each event (after the level filter) as an OTLP log
/// record: its message as the body, its fields as attributes.
pub struct OtlpLogLayer {
    exporter: LogExporter,
}

impl OtlpLogLayer {
    pub fn new(exporter: LogExporter) -> OtlpLogLayer {
        OtlpLogLayer { exporter }
    }
}

/// An event's message and fields.
#[derive(Default)]
struct Fields {
    message: String,
    attributes: Vec<Attribute>,
}

impl Fields {
    fn put(&mut self, field: &tracing::field::Field, value: Value) {
        if field.name() == "message" {
            if let Value::Str(s) = value {
                self.message = s;
            }
            return;
        }
        self.attributes.push((field.name().into(), value));
    }
}

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.put(field, Value::Str(value.to_string()));
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.put(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.put(field, Value::Int(i64::try_from(value).unwrap_or(i64::MAX)));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OtlpLogLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let meta = event.metadata();
        // The exporter's own failures would feed themselves.
        if meta.target().starts_with("switchyard_otlp") {
            return;
        }
        let severity = match *meta.level() {
            tracing::Level::TRACE => Severity::Trace,
            tracing::Level::DEBUG => Severity::Debug,
            tracing::Level::INFO => Severity::Info,
            tracing::Level::WARN => Severity::Warn,
            tracing::Level::ERROR => Severity::Error,
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.exporter.push(LogRecord {
            time: SystemTime::now(),
            severity,
            severity_text: None,
            body: fields.message,
            attributes: fields.attributes,
            trace: None,
        });
    }
}
