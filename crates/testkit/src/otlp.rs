//! An OpenTelemetry collector double: receives OTLP trace, log and metric
//! exports over HTTP (`POST /v1/traces`, `/v1/logs`, `/v1/metrics`,
//! protobuf, gzip or not) or gRPC (`TraceService/Export`,
//! `LogsService/Export`, `MetricsService/Export`), decodes the real
//! protobuf messages and keeps the spans, log records and metrics,
//! flattened for assertions.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// One received span, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    pub name: String,
    /// `SERVER`, `CLIENT`, `INTERNAL`, ...
    pub kind: String,
    pub trace_id: String,
    pub span_id: String,
    /// `None` for a root span.
    pub parent: Option<String>,
    pub trace_state: String,
    pub flags: u32,
    /// Values as text; string lists as `[a, b]`.
    pub attributes: BTreeMap<String, String>,
    /// Attribute keys in the order sent.
    pub keys: Vec<String>,
    /// `UNSET`, `OK` or `ERROR`.
    pub status: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// The resource's attributes, as text.
    pub resource: BTreeMap<String, String>,
    pub scope: String,
}

impl ReceivedSpan {
    /// An attribute's value as text.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// One received log record, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedLog {
    pub severity_number: i32,
    pub severity_text: String,
    pub body: String,
    /// Values as text.
    pub attributes: BTreeMap<String, String>,
    pub resource: BTreeMap<String, String>,
    /// The instrumentation scope's name.
    pub scope: String,
    /// Hex; empty when the record is in no trace.
    pub trace_id: String,
    pub span_id: String,
}

/// The records of one decoded logs export request.
pub fn flatten_logs(request: &ExportLogsServiceRequest) -> Vec<ReceivedLog> {
    let mut out = Vec::new();
    for rl in &request.resource_logs {
        let resource: BTreeMap<String, String> = rl
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map(text).unwrap_or_default(),
                )
            })
            .collect();
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                out.push(ReceivedLog {
                    severity_number: r.severity_number,
                    severity_text: r.severity_text.clone(),
                    body: r.body.as_ref().map(text).unwrap_or_default(),
                    attributes: r
                        .attributes
                        .iter()
                        .map(|kv| {
                            (
                                kv.key.clone(),
                                kv.value.as_ref().map(text).unwrap_or_default(),
                            )
                        })
                        .collect(),
                    resource: resource.clone(),
                    scope: sl
                        .scope
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    trace_id: hex(&r.trace_id),
                    span_id: hex(&r.span_id),
                });
            }
        }
    }
    out
}

/// One received metric (instrument), flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    pub name: String,
    pub description: String,
    pub unit: String,
    /// `sum`, `gauge`, `histogram` (or another OTLP data kind's name).
    pub kind: String,
    /// For sums and histograms: 1 delta, 2 cumulative.
    pub temporality: i32,
    /// For sums.
    pub monotonic: bool,
    pub points: Vec<ReceivedPoint>,
    pub resource: BTreeMap<String, String>,
    pub scope: String,
    pub scope_version: String,
}

/// One data point of a [`ReceivedMetric`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedPoint {
    /// Values as text.
    pub attributes: BTreeMap<String, String>,
    /// A number's value; a histogram's count.
    pub value: f64,
    /// A histogram's sum.
    pub sum: f64,
    /// A histogram's smallest and largest observation, when sent.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// A histogram's per-bucket counts and bounds.
    pub bucket_counts: Vec<u64>,
    pub bounds: Vec<f64>,
    pub start_ns: u64,
    pub time_ns: u64,
}

impl ReceivedMetric {
    /// The point whose attributes include every pair of `attrs`.
    pub fn point(&self, attrs: &[(&str, &str)]) -> Option<&ReceivedPoint> {
        self.points.iter().find(|p| {
            attrs
                .iter()
                .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
        })
    }
}

fn attribute_map(
    list: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    list.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

/// The metrics of one decoded metrics export request.
pub fn flatten_metrics(request: &ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for rm in &request.resource_metrics {
        let resource = rm
            .resource
            .as_ref()
            .map(|r| attribute_map(&r.attributes))
            .unwrap_or_default();
        for sm in &rm.scope_metrics {
            let (scope, scope_version) = sm
                .scope
                .as_ref()
                .map(|s| (s.name.clone(), s.version.clone()))
                .unwrap_or_default();
            for m in &sm.metrics {
                let number =
                    |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| ReceivedPoint {
                        attributes: attribute_map(&p.attributes),
                        value: match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            None => f64::NAN,
                        },
                        sum: 0.0,
                        min: None,
                        max: None,
                        bucket_counts: Vec::new(),
                        bounds: Vec::new(),
                        start_ns: p.start_time_unix_nano,
                        time_ns: p.time_unix_nano,
                    };
                let (kind, temporality, monotonic, points) = match &m.data {
                    Some(metric::Data::Sum(s)) => (
                        "sum",
                        s.aggregation_temporality,
                        s.is_monotonic,
                        s.data_points.iter().map(number).collect(),
                    ),
                    Some(metric::Data::Gauge(g)) => (
                        "gauge",
                        0,
                        false,
                        g.data_points.iter().map(number).collect(),
                    ),
                    Some(metric::Data::Histogram(h)) => (
                        "histogram",
                        h.aggregation_temporality,
                        false,
                        h.data_points
                            .iter()
                            .map(|p| ReceivedPoint {
                                attributes: attribute_map(&p.attributes),
                                value: p.count as f64,
                                sum: p.sum.unwrap_or(f64::NAN),
                                min: p.min,
                                max: p.max,
                                bucket_counts: p.bucket_counts.clone(),
                                bounds: p.explicit_bounds.clone(),
                                start_ns: p.start_time_unix_nano,
                                time_ns: p.time_unix_nano,
                            })
                            .collect(),
                    ),
                    Some(metric::Data::ExponentialHistogram(_)) => {
                        ("exponential_histogram", 0, false, Vec::new())
                    }
                    Some(metric::Data::Summary(_)) => ("summary", 0, false, Vec::new()),
                    None => ("none", 0, false, Vec::new()),
                };
                out.push(ReceivedMetric {
                    name: m.name.clone(),
                    description: m.description.clone(),
                    unit: m.unit.clone(),
                    kind: kind.into(),
                    temporality,
                    monotonic,
                    points,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    scope_version: scope_version.clone(),
                });
            }
        }
    }
    out
}

/// What one export request looked like.
#[derive(Debug, Clone)]
pub struct ReceivedExport {
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
struct State {
    spans: Vec<ReceivedSpan>,
    logs: Vec<ReceivedLog>,
    /// The metrics of each metrics export, in order.
    metric_exports: Vec<Vec<ReceivedMetric>>,
    exports: Vec<ReceivedExport>,
    /// Answer exports with this status (HTTP) instead of accepting them.
    failing: Option<u16>,
}

/// A running receiver; it stops when dropped.
pub struct OtlpReceiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    _stop: oneshot::Sender<()>,
}

fn text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(text).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spans of one decoded export request.
pub fn flatten(request: &ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for rs in &request.resource_spans {
        let resource: BTreeMap<String, String> = rs
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value.as_ref().map(text).unwrap_or_default(),
                )
            })
            .collect();
        for ss in &rs.scope_spans {
            let scope = ss
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for s in &ss.spans {
                let kind = match s.kind {
                    1 => "INTERNAL",
                    2 => "SERVER",
                    3 => "CLIENT",
                    4 => "PRODUCER",
                    5 => "CONSUMER",
                    _ => "UNSPECIFIED",
                };
                let status = match s.status.as_ref().map(|st| st.code) {
                    Some(1) => "OK",
                    Some(2) => "ERROR",
                    _ => "UNSET",
                };
                out.push(ReceivedSpan {
                    name: s.name.clone(),
                    kind: kind.into(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent: (!s.parent_span_id.is_empty()).then(|| hex(&s.parent_span_id)),
                    trace_state: s.trace_state.clone(),
                    flags: s.flags,
                    attributes: s
                        .attributes
                        .iter()
                        .map(|kv| {
                            (
                                kv.key.clone(),
                                kv.value.as_ref().map(text).unwrap_or_default(),
                            )
                        })
                        .collect(),
                    keys: s.attributes.iter().map(|kv| kv.key.clone()).collect(),
                    status: status.into(),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    resource: resource.clone(),
                    scope: scope.clone(),
                });
            }
        }
    }
    out
}

type Answer = Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

fn plain(status: u16, body: Vec<u8>, content_type: &str) -> Answer {
    let mut resp = Response::new(Full::new(Bytes::from(body)).boxed());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

/// A gRPC answer: one empty response message, then `grpc-status`.
fn grpc_answer(code: u32, message: &str) -> Answer {
    let mut trailers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&code.to_string()) {
        trailers.insert("grpc-status", v);
    }
    if let Ok(v) = http::HeaderValue::from_str(message) {
        trailers.insert("grpc-message", v);
    }
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = if code == 0 {
        vec![
            Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
            Ok(Frame::trailers(trailers)),
        ]
    } else {
        vec![Ok(Frame::trailers(trailers))]
    };
    let body = StreamBody::new(futures_util::stream::iter(frames));
    let mut resp = Response::new(BodyExt::boxed(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    resp
}

async fn answer(state: Arc<Mutex<State>>, req: Request<Incoming>) -> Result<Answer, Infallible> {
    let path = req.uri().path().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let grpc = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let gzipped = req
        .headers()
        .get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v == "gzip");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(plain(400, b"body".to_vec(), "text/plain")),
    };
    let failing = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.exports.push(ReceivedExport {
            path: path.clone(),
            headers,
        });
        st.failing
    };
    if let Some(status) = failing {
        return Ok(if grpc {
            grpc_answer(14, "unavailable")
        } else {
            plain(status, b"failing on purpose".to_vec(), "text/plain")
        });
    }
    // One length-prefixed message (its first byte: compressed or not),
    // or the HTTP body (gzip when its encoding says so).
    let (message, compressed) = if grpc {
        if body.len() < 5 || body[0] > 1 {
            return Ok(grpc_answer(3, "expected one length-prefixed message"));
        }
        (body.slice(5..), body[0] == 1)
    } else {
        (body, gzipped)
    };
    let message = if compressed {
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(&message[..]);
        if let Err(e) = std::io::Read::read_to_end(&mut decoder, &mut out) {
            return Ok(plain(400, e.to_string().into_bytes(), "text/plain"));
        }
        Bytes::from(out)
    } else {
        message
    };
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if path.ends_with("/v1/metrics") || path.contains("MetricsService") {
        return Ok(store(message, grpc, |d: ExportMetricsServiceRequest| {
            state.metric_exports.push(flatten_metrics(&d));
        }));
    }
    if path.ends_with("/v1/logs") || path.contains("LogsService") {
        return Ok(store(message, grpc, |d: ExportLogsServiceRequest| {
            state.logs.extend(flatten_logs(&d));
        }));
    }
    Ok(store(message, grpc, |d: ExportTraceServiceRequest| {
        state.spans.extend(flatten(&d));
    }))
}

/// Decodes `message` as a `T` and hands it to `keep`; the answer says
/// whether it decoded, in gRPC's terms or HTTP's.
fn store<T: Message + Default>(message: Bytes, grpc: bool, keep: impl FnOnce(T)) -> Answer {
    match T::decode(message) {
        Ok(decoded) => {
            keep(decoded);
            if grpc {
                grpc_answer(0, "")
            } else {
                plain(200, Vec::new(), "application/x-protobuf")
            }
        }
        Err(e) if grpc => grpc_answer(3, &e.to_string()),
        Err(e) => plain(400, e.to_string().into_bytes(), "text/plain"),
    }
}

impl OtlpReceiver {
    /// Listens on a free port of 127.0.0.1, for HTTP/1.1 and HTTP/2
    /// (prior knowledge, so gRPC without TLS too).
    pub async fn start() -> OtlpReceiver {
        OtlpReceiver::serve(None).await
    }

    /// The same over TLS with the fixture certificate (signed by
    /// `fixtures/ca.pem`, valid for 127.0.0.1), offering `h2` and
    /// `http/1.1`; `client_cert`: a client certificate of the test CA is
    /// required.
    pub async fn start_tls(client_cert: bool) -> OtlpReceiver {
        let options = crate::tls::TlsOptions {
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            require_client_cert: client_cert,
            ..Default::default()
        };
        OtlpReceiver::serve(Some(crate::tls::acceptor_with(&options))).await
    }

    async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> OtlpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind OTLP receiver");
        let addr = listener.local_addr().expect("OTLP receiver address");
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = oneshot::channel::<()>();
        let st = state.clone();
        crate::serve::spawn_http(listener, tls, stopped, move |req| answer(st.clone(), req));
        OtlpReceiver {
            addr,
            state,
            _stop: stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/v1/traces`.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spans
            .clone()
    }

    /// The log records received so far.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .logs
            .clone()
    }

    /// The metrics of each metrics export received so far, oldest first.
    pub fn metric_exports(&self) -> Vec<Vec<ReceivedMetric>> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .metric_exports
            .clone()
    }

    /// The export requests received so far.
    pub fn exports(&self) -> Vec<ReceivedExport> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .exports
            .clone()
    }

    /// Refuses exports with `status` (`None`: accepts them again).
    pub fn set_failing(&self, status: Option<u16>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).failing = status;
    }
}
