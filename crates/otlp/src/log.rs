//! One log record (Switchyard's own log, `log.otlp`) and its OTLP form.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope};
use opentelemetry_proto::tonic::logs::v1::{self as proto, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message;

use crate::batch::{Batchable, Exporter};
use crate::ids::{SpanId, TraceId};
use crate::span::{key_value, Attribute};
use crate::transport::Signal;

/// OpenTelemetry's severities for the five levels a log has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Severity {
    /// The severity number and text.
    fn number_and_text(self) -> (proto::SeverityNumber, &'static str) {
        use proto::SeverityNumber as N;
        match self {
            Severity::Trace => (N::Trace, "TRACE"),
            Severity::Debug => (N::Debug, "DEBUG"),
            Severity::Info => (N::Info, "INFO"),
            Severity::Warn => (N::Warn, "WARN"),
            Severity::Error => (N::Error, "ERROR"),
        }
    }
}

/// One log record.
#[derive(Debug, Clone)]
pub struct LogRecord {
    pub time: SystemTime,
    pub severity: Severity,
    /// The severity's text, when not the severity's own name (the access
    /// log's records say `info`, as logrus names its level).
    pub severity_text: Option<&'static str>,
    /// The message.
    pub body: String,
    /// The event's fields.
    pub attributes: Vec<Attribute>,
    /// The trace and span the record belongs to.
    pub trace: Option<(TraceId, SpanId)>,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl LogRecord {
    /// The OTLP message.
    pub fn to_proto(&self) -> proto::LogRecord {
        let (number, text) = self.severity.number_and_text();
        proto::LogRecord {
            time_unix_nano: nanos(self.time),
            observed_time_unix_nano: nanos(self.time),
            severity_number: number as i32,
            severity_text: self.severity_text.unwrap_or(text).to_string(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(self.body.clone())),
            }),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| key_value(k, v))
                .collect(),
            trace_id: self
                .trace
                .as_ref()
                .map_or_else(Vec::new, |(t, _)| t.0.to_vec()),
            span_id: self
                .trace
                .as_ref()
                .map_or_else(Vec::new, |(_, s)| s.0.to_vec()),
            ..Default::default()
        }
    }
}

impl Batchable for LogRecord {
    const SIGNAL: Signal = Signal::Logs;

    fn encode(batch: &[Self], resource: &ProtoResource, scope: &InstrumentationScope) -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(scope.clone()),
                    log_records: batch.iter().map(LogRecord::to_proto).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec()
    }
}

/// The log record queue.
pub type LogExporter = Exporter<LogRecord>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Value;

    #[test]
    fn record_encodes_severity_body_and_fields() {
        let r = LogRecord {
            time: UNIX_EPOCH + std::time::Duration::from_secs(2),
            severity: Severity::Warn,
            severity_text: None,
            body: "entrypoint listening".into(),
            attributes: vec![("entrypoint".into(), Value::Str("web".into()))],
            trace: None,
        };
        let bytes = LogRecord::encode(
            std::slice::from_ref(&r),
            &ProtoResource::default(),
            &InstrumentationScope::default(),
        );
        let back = ExportLogsServiceRequest::decode(&bytes[..]).expect("decodes");
        let rec = &back.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(rec.time_unix_nano, 2_000_000_000);
        assert_eq!(rec.severity_number, proto::SeverityNumber::Warn as i32);
        assert_eq!(rec.severity_text, "WARN");
        assert_eq!(
            rec.body.as_ref().and_then(|b| b.value.clone()),
            Some(any_value::Value::StringValue("entrypoint listening".into()))
        );
        assert_eq!(rec.attributes[0].key, "entrypoint");
        assert!(rec.trace_id.is_empty() && rec.span_id.is_empty());
    }

    #[test]
    fn record_with_its_own_severity_text_and_trace() {
        let trace = TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").expect("hex");
        let span = SpanId::from_hex("b7ad6b7169203331").expect("hex");
        let r = LogRecord {
            time: UNIX_EPOCH,
            severity: Severity::Info,
            severity_text: Some("info"),
            body: "line".into(),
            attributes: Vec::new(),
            trace: Some((trace, span)),
        };
        let rec = r.to_proto();
        assert_eq!(rec.severity_number, proto::SeverityNumber::Info as i32);
        assert_eq!(rec.severity_text, "info");
        assert_eq!(rec.trace_id, trace.0.to_vec());
        assert_eq!(rec.span_id, span.0.to_vec());
        assert!(TraceId::from_hex("0af7").is_none());
    }
}
