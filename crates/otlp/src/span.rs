//! One finished span as Switchyard records it, and its OTLP form.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{self as proto, span, status};

use crate::ids::{SpanId, TraceId};

/// An attribute value (the kinds Traefik's spans use).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    StrList(Vec<String>),
}

/// One attribute.
pub type Attribute = (Cow<'static, str>, Value);

/// OpenTelemetry's span kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Internal,
    Server,
    Client,
}

/// A span's status: unset, or an error with its description.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Unset,
    Error(String),
}

/// A finished span.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent: Option<SpanId>,
    /// Whether the parent came from another process (a `traceparent`).
    pub parent_remote: bool,
    /// The caller's `tracestate`, passed on as it came.
    pub trace_state: Option<std::sync::Arc<str>>,
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Vec<Attribute>,
    pub status: Status,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// An OTLP attribute.
pub fn key_value(key: &str, value: &Value) -> KeyValue {
    let str_value = |s: &str| AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    };
    let value = match value {
        Value::Str(s) => str_value(s),
        Value::Int(i) => AnyValue {
            value: Some(any_value::Value::IntValue(*i)),
        },
        Value::Double(x) => AnyValue {
            value: Some(any_value::Value::DoubleValue(*x)),
        },
        Value::Bool(b) => AnyValue {
            value: Some(any_value::Value::BoolValue(*b)),
        },
        Value::StrList(list) => AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: list.iter().map(|s| str_value(s)).collect(),
            })),
        },
    };
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

// The span flags field: the W3C trace flags, then whether the parent's
// remoteness is known (bit 8) and whether it is remote (bit 9).
const FLAG_SAMPLED: u32 = 0x01;
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

impl SpanRecord {
    /// The OTLP message.
    pub fn to_proto(&self) -> proto::Span {
        let kind = match self.kind {
            SpanKind::Internal => span::SpanKind::Internal,
            SpanKind::Server => span::SpanKind::Server,
            SpanKind::Client => span::SpanKind::Client,
        };
        let status = match &self.status {
            Status::Unset => None,
            Status::Error(message) => Some(proto::Status {
                message: message.clone(),
                code: status::StatusCode::Error as i32,
            }),
        };
        let mut flags = FLAG_SAMPLED | FLAG_HAS_IS_REMOTE;
        if self.parent_remote {
            flags |= FLAG_IS_REMOTE;
        }
        proto::Span {
            trace_id: self.trace_id.0.to_vec(),
            span_id: self.span_id.0.to_vec(),
            trace_state: self.trace_state.as_deref().unwrap_or("").to_string(),
            parent_span_id: self.parent.map(|p| p.0.to_vec()).unwrap_or_default(),
            flags,
            name: self.name.to_string(),
            kind: kind as i32,
            start_time_unix_nano: nanos(self.start),
            end_time_unix_nano: nanos(self.end),
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| key_value(k, v))
                .collect(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Some(status.unwrap_or_default()),
        }
    }
}
