//! OpenTelemetry export (OTLP) for Switchyard.
//!
//! - [`transport`]: one encoded export request to the collector, over
//!   HTTP (`POST /v1/<signal>`, protobuf) or gRPC (the collector service's
//!   unary `Export`), with the configured headers and TLS.
//! - [`resource`]: who is sending (`service.name`, host, process), the same
//!   for every signal.
//! - [`ids`]: trace and span ids, W3C `traceparent`, the sampler.
//! - [`span`]: a finished span and its OTLP message.
//! - [`batch`]: the bounded queue and the task that sends batches, for
//!   any [`Batchable`] item.
//! - [`log`]: a log record (`log.otlp`) and its OTLP form.
//!
//! Metrics (`metrics.otlp`) are meant to come the same way: a [`Signal`]
//! with its own message and collector path, over the same transport,
//! resource and queue.
//!
//! The messages are `opentelemetry-proto`'s prost types; no OpenTelemetry
//! SDK runs here: the proxy records its few span kinds itself.

#![forbid(unsafe_code)]

pub mod batch;
pub mod ids;
pub mod log;
pub mod resource;
pub mod span;
pub mod transport;

pub use batch::{BatchSettings, Batchable, Exporter, Memory, MemorySpans, SpanExporter};
pub use ids::{Sampler, SpanId, TraceId, TraceParent};
pub use log::{LogExporter, LogRecord, Severity};
pub use resource::Resource;
pub use span::{Attribute, SpanKind, SpanRecord, Status, Value};
pub use transport::{Endpoint, Signal, Transport, TransportConfig};

/// The protobuf types, for receivers (tests) that decode what is sent.
pub use opentelemetry_proto::tonic as proto;
