//! Start-up of `tracing`: the OTLP transport (gRPC when `otlp.grpc` is
//! given, else HTTP), the resource, the span queue and the tracer every
//! entrypoint shares.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchyard_config::static_config::{ClientTls, Tracing};
use switchyard_otlp::{
    BatchSettings, Endpoint, Resource, SpanExporter, Transport, TransportConfig,
};
use switchyard_proxy::trace::{Tracer, TracerSettings};

/// The instrumentation scope of the spans: Traefik's, so that queries
/// written for Traefik's traces keep working.
const SCOPE: &str = "github.com/traefik/traefik";

/// How long one export may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The tracer `tracing` asks for; `None` without `tracing`. Must run on
/// the runtime (it starts the sending task).
pub fn start_tracing(config: Option<&Tracing>, host: &str) -> anyhow::Result<Option<Arc<Tracer>>> {
    let Some(c) = config else {
        return Ok(None);
    };
    let otlp = c.otlp.clone().unwrap_or_default();
    let (key, endpoint, headers, tls) = match (otlp.grpc, otlp.http) {
        (Some(g), _) => (
            "tracing.otlp.grpc",
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
                "tracing.otlp.http",
                Endpoint::Http { url: h.endpoint },
                h.headers,
                h.tls,
            )
        }
    };
    let tls =
        switchyard_providers::docker::tls::client_config(&tls.unwrap_or_else(ClientTls::default))
            .with_context(|| format!("{key}.tls"))?;
    let transport = Transport::new(TransportConfig {
        endpoint,
        headers: headers.into_iter().collect(),
        tls,
        timeout: EXPORT_TIMEOUT,
    })
    .with_context(|| key.to_string())?;
    let env = |k: &str| std::env::var(k).ok();
    let attributes = if c.resource_attributes.is_empty() {
        &c.global_attributes
    } else {
        &c.resource_attributes
    };
    let resource = Resource::new(
        &c.service_name,
        env!("CARGO_PKG_VERSION"),
        host,
        attributes,
        env,
    );
    let exporter = SpanExporter::start(transport, resource, SCOPE, BatchSettings::from_env(env));
    let settings = TracerSettings {
        sample_rate: c.sample_rate,
        captured_request_headers: c.captured_request_headers.clone(),
        captured_response_headers: c.captured_response_headers.clone(),
        safe_query_params: c.safe_query_params.clone(),
        add_internals: c.add_internals,
    };
    tracing::debug!(key, "OpenTelemetry tracer configured");
    Ok(Some(Arc::new(Tracer::new(exporter, &settings))))
}
