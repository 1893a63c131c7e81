//! OpenTelemetry spans of a request, as Traefik v3 makes them:
//!
//! - the entrypoint's server span (named after the method, kind SERVER),
//!   begun once the router is known ([`Tracer::begin_server`], ended by
//!   [`ServerSpan::finish`] with the response);
//! - with `traceVerbosity: detailed` only: the `Router` span, one span
//!   per middleware (named after its type, `Headers`, `StripPrefix`, ...)
//!   ([`Traced`]), the `Service` span around the call to the server a load
//!   balancer picked ([`service_span`]) and one `Retry` span per attempt
//!   ([`retry_span`]), all INTERNAL;
//! - the `ReverseProxy` client span around the call to the server
//!   ([`ClientSpan`]), which also sends W3C `traceparent` / `tracestate`
//!   with its own id; `forwardAuth`'s `AuthRequest` span likewise.
//!
//! The trace joins a caller's `traceparent`; new traces are sampled by
//! `sampleRate`, continued ones keep the caller's decision. A request that
//! is not sampled carries ids (so the backend still gets a `traceparent`)
//! and allocates no span. A request whose router has tracing off, or with
//! no `tracing` configured, carries nothing and costs one branch.
//!
//! The request carries a [`TraceCtx`] in its extensions: the trace, the
//! span that is the parent of the next one, and the verbosity.

mod attrs;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use http::header::{HeaderName, HeaderValue};
use switchyard_otlp::{
    Attribute, Sampler, SpanExporter, SpanId, SpanKind, SpanRecord, Status, TraceId, TraceParent,
    Value,
};

use crate::{BoxHandler, Handler, HandlerFuture, Request, Response};

pub use attrs::redact_query;

/// How much of a router's requests is traced (its `observability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// `tracing: false`: no span, no `traceparent`.
    Off,
    /// The server and client spans.
    #[default]
    Minimal,
    /// Also the router, middleware and service spans.
    Detailed,
}

impl Verbosity {
    /// A router's `observability` as written: `tracing` (default true)
    /// and `traceVerbosity` (`minimal` unless `detailed`).
    pub fn of_router(observability: Option<&switchyard_config::Node>) -> Verbosity {
        Verbosity::of_router_on(observability, None)
    }

    /// A router's verbosity on an entrypoint whose own `observability` is
    /// `entrypoint`: what the router does not say, the entrypoint does
    /// (Traefik's entrypoint models).
    pub fn of_router_on(
        observability: Option<&switchyard_config::Node>,
        entrypoint: Option<&switchyard_config::static_config::EntryPointObservability>,
    ) -> Verbosity {
        use switchyard_config::node::{Scalar, Value as V};
        let field = |name: &str| {
            observability.and_then(|o| {
                o.entries()
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
        };
        let off = match field("tracing").map(|n| &n.value) {
            Some(V::Scalar(Scalar::Bool(b))) => !*b,
            Some(V::Scalar(Scalar::Str(s))) => s.trim().eq_ignore_ascii_case("false"),
            Some(_) => false,
            None => entrypoint.and_then(|e| e.tracing) == Some(false),
        };
        if off {
            return Verbosity::Off;
        }
        let detailed = match field("traceVerbosity").map(|n| &n.value) {
            Some(V::Scalar(Scalar::Str(s))) => s.trim().eq_ignore_ascii_case("detailed"),
            Some(_) => false,
            None => entrypoint.is_some_and(|e| e.trace_verbosity.eq_ignore_ascii_case("detailed")),
        };
        if detailed {
            Verbosity::Detailed
        } else {
            Verbosity::Minimal
        }
    }
}

/// Whether a [`Tracer`] was made in this process (tracing configured).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// A header recorded on spans.
#[derive(Debug, Clone)]
struct Captured {
    name: HeaderName,
    /// `http.request.header.<name>` / `http.response.header.<name>`.
    key: Cow<'static, str>,
}

/// The static `tracing` settings and the exporter; one per process.
#[derive(Debug)]
pub struct Tracer {
    exporter: SpanExporter,
    sampler: Sampler,
    request_headers: Vec<Captured>,
    response_headers: Vec<Captured>,
    safe_query_params: Vec<String>,
    add_internals: bool,
}

/// What [`Tracer::new`] needs besides the exporter.
#[derive(Debug, Clone, Default)]
pub struct TracerSettings {
    pub sample_rate: f64,
    pub captured_request_headers: Vec<String>,
    pub captured_response_headers: Vec<String>,
    pub safe_query_params: Vec<String>,
    pub add_internals: bool,
}

fn captured(names: &[String], prefix: &str, skip_user_agent: bool) -> Vec<Captured> {
    names
        .iter()
        .filter(|n| !(skip_user_agent && n.eq_ignore_ascii_case("user-agent")))
        .filter_map(|n| {
            let name = HeaderName::from_bytes(n.trim().as_bytes()).ok()?;
            let key = Cow::Owned(format!("{prefix}{}", name.as_str()));
            Some(Captured { name, key })
        })
        .collect()
}

impl Tracer {
    pub fn new(exporter: SpanExporter, settings: &TracerSettings) -> Tracer {
        ACTIVE.store(true, Ordering::Relaxed);
        Tracer {
            exporter,
            sampler: Sampler::ratio(settings.sample_rate),
            // The user agent is a span attribute of its own.
            request_headers: captured(
                &settings.captured_request_headers,
                "http.request.header.",
                true,
            ),
            response_headers: captured(
                &settings.captured_response_headers,
                "http.response.header.",
                false,
            ),
            safe_query_params: settings.safe_query_params.clone(),
            add_internals: settings.add_internals,
        }
    }

    /// The exporter the spans go to.
    pub fn exporter(&self) -> &SpanExporter {
        &self.exporter
    }

    /// Begins the entrypoint's span of `req`, routed to a router of
    /// `verbosity` (`internal` when its service is an internal one), and
    /// puts the trace in the request. `None` when the request is not
    /// traced.
    pub fn begin_server(
        self: &Arc<Tracer>,
        req: &mut Request,
        entrypoint: &str,
        verbosity: Verbosity,
        internal: bool,
    ) -> Option<ServerSpan> {
        if verbosity == Verbosity::Off || (internal && !self.add_internals) {
            return None;
        }
        let parent = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        let trace_state = parent.and_then(|_| attrs::trace_state(req.headers()));
        let trace_id = parent.map_or_else(TraceId::random, |p| p.trace_id);
        let sampled = self.sampler.sampled(&trace_id, parent.as_ref());
        let span_id = SpanId::random();
        let record = sampled.then(|| {
            Box::new(SpanRecord {
                trace_id,
                span_id,
                parent: parent.map(|p| p.span_id),
                parent_remote: parent.is_some(),
                trace_state: trace_state.clone(),
                name: Cow::Owned(req.method().as_str().to_string()),
                kind: SpanKind::Server,
                start: SystemTime::now(),
                end: SystemTime::UNIX_EPOCH,
                attributes: attrs::server_request(self, req, entrypoint),
                status: Status::Unset,
            })
        });
        req.extensions_mut().insert(TraceCtx {
            tracer: self.clone(),
            trace_id,
            parent: span_id,
            sampled,
            detailed: verbosity == Verbosity::Detailed,
            state: trace_state,
        });
        Some(ServerSpan {
            tracer: self.clone(),
            record,
        })
    }
}

/// The trace a request belongs to, in its extensions.
#[derive(Clone)]
pub struct TraceCtx {
    tracer: Arc<Tracer>,
    trace_id: TraceId,
    /// The span the next span is a child of.
    parent: SpanId,
    sampled: bool,
    detailed: bool,
    state: Option<Arc<str>>,
}

impl std::fmt::Debug for TraceCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceCtx")
            .field("trace_id", &self.trace_id.to_hex())
            .field("parent", &self.parent.to_hex())
            .field("sampled", &self.sampled)
            .finish_non_exhaustive()
    }
}

impl TraceCtx {
    /// The trace of `req`, when it is traced.
    pub fn of<B>(req: &http::Request<B>) -> Option<&TraceCtx> {
        // Without a tracer in the process no request carries a trace: one
        // load and a branch instead of a lookup in the extensions.
        if !ACTIVE.load(Ordering::Relaxed) {
            return None;
        }
        req.extensions().get::<TraceCtx>()
    }

    /// The trace id and the current span's id, in hex (for the access
    /// log, which reads them when the entrypoint's span is the current one).
    pub fn ids(&self) -> (String, String) {
        (self.trace_id.to_hex(), self.parent.to_hex())
    }

    /// A span of this trace under the current one, not yet started.
    fn child(&self, name: Cow<'static, str>, kind: SpanKind) -> (SpanId, Option<SpanRecord>) {
        let span_id = SpanId::random();
        let record = self.sampled.then(|| SpanRecord {
            trace_id: self.trace_id,
            span_id,
            parent: Some(self.parent),
            parent_remote: false,
            trace_state: self.state.clone(),
            name,
            kind,
            start: SystemTime::now(),
            end: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            status: Status::Unset,
        });
        (span_id, record)
    }

    /// The same trace with `span` as the current span.
    fn under(&self, span: SpanId) -> TraceCtx {
        TraceCtx {
            parent: span,
            ..self.clone()
        }
    }
}

/// The entrypoint's span of one request, ended with its response.
pub struct ServerSpan {
    tracer: Arc<Tracer>,
    /// `None` when the trace is not sampled.
    record: Option<Box<SpanRecord>>,
}

impl ServerSpan {
    /// Ends the span with the response sent to the client, once its body
    /// has gone out (or was abandoned).
    pub fn finish(mut self, resp: Response) -> Response {
        let Some(mut record) = self.record.take() else {
            return resp;
        };
        self.complete(&mut record, resp.status().as_u16(), Some(resp.headers()));
        push_at_body_end(self.tracer.clone(), *record, resp)
    }

    /// The response's attributes and the span's status.
    fn complete(&self, record: &mut SpanRecord, code: u16, headers: Option<&http::HeaderMap>) {
        record.status = attrs::server_status(code);
        record.attributes.push((
            "http.response.status_code".into(),
            Value::Int(i64::from(code)),
        ));
        if let Some(headers) = headers {
            attrs::capture(
                &mut record.attributes,
                &self.tracer.response_headers,
                headers,
            );
        }
    }
}

impl Drop for ServerSpan {
    /// Dropped unfinished (the client went away before its answer was
    /// ready): ended with 499, as Traefik records a client that left.
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            self.complete(&mut record, 499, None);
            record.end = SystemTime::now();
            self.tracer.exporter.push(*record);
        }
    }
}

/// Hands `record` to the exporter once `resp`'s body is dropped (sent to
/// its end, or abandoned): Traefik's spans end when their handler has
/// written the whole body, not at the answer's head.
fn push_at_body_end(tracer: Arc<Tracer>, mut record: SpanRecord, resp: Response) -> Response {
    resp.map(move |body| {
        crate::accesslog::Counted::new(
            body,
            None,
            Some(Box::new(move |_| {
                record.end = SystemTime::now();
                tracer.exporter.push(record);
            })),
        )
        .boxed()
    })
}

/// What a [`Traced`] step is.
#[derive(Debug, Clone)]
enum Step {
    Router {
        name: Arc<str>,
        rule: Arc<str>,
        service: Arc<str>,
    },
    Middleware {
        name: Arc<str>,
        type_name: &'static str,
    },
}

/// A router, middleware or service whose requests get a span of their own
/// under `traceVerbosity: detailed` (built only when tracing is on).
pub struct Traced {
    step: Step,
    next: BoxHandler,
}

impl Traced {
    /// The `Router` span around a router's whole chain.
    pub fn router(name: &str, rule: &str, service: &str, next: BoxHandler) -> BoxHandler {
        Arc::new(Traced {
            step: Step::Router {
                name: name.into(),
                rule: rule.into(),
                service: service.into(),
            },
            next,
        })
    }

    /// A middleware's span, named after its kind as Traefik names its
    /// type (`headers` → `Headers`). `None` for kinds Traefik gives no
    /// span of this sort (`chain`; `retry` makes its own).
    pub fn middleware(name: &str, kind: &str, next: BoxHandler) -> BoxHandler {
        match attrs::middleware_type_name(kind) {
            Some(type_name) => Arc::new(Traced {
                step: Step::Middleware {
                    name: name.into(),
                    type_name,
                },
                next,
            }),
            None => next,
        }
    }
}

impl Handler for Traced {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let Some(ctx) = TraceCtx::of(&req).filter(|c| c.detailed) else {
            return self.next.call(req);
        };
        let (name, attributes): (&'static str, Vec<Attribute>) = match &self.step {
            Step::Router {
                name,
                rule,
                service,
            } => (
                "Router",
                vec![
                    (
                        "traefik.service.name".into(),
                        Value::Str(service.to_string()),
                    ),
                    ("traefik.router.name".into(), Value::Str(name.to_string())),
                    ("http.route".into(), Value::Str(rule.to_string())),
                ],
            ),
            Step::Middleware { name, type_name } => (
                type_name,
                vec![(
                    "traefik.middleware.name".into(),
                    Value::Str(name.to_string()),
                )],
            ),
        };
        let (span_id, record) = ctx.child(Cow::Borrowed(name), SpanKind::Internal);
        let under = ctx.under(span_id);
        let tracer = ctx.tracer.clone();
        req.extensions_mut().insert(under);
        let next = self.next.call(req);
        let Some(mut record) = record else {
            return next;
        };
        record.attributes = attributes;
        Box::pin(async move {
            match next.await {
                Ok(resp) => Ok(push_at_body_end(tracer, record, resp)),
                Err(e) => {
                    record.end = SystemTime::now();
                    tracer.exporter.push(record);
                    Err(e)
                }
            }
        })
    }
}

/// An INTERNAL span that ends when dropped.
pub struct SpanGuard {
    tracer: Arc<Tracer>,
    record: Option<SpanRecord>,
}

impl SpanGuard {
    /// Ends the span when `result`'s body has gone out (an error: now).
    pub fn end_with(
        mut self,
        result: Result<Response, crate::ProxyError>,
    ) -> Result<Response, crate::ProxyError> {
        match (result, self.record.take()) {
            (Ok(resp), Some(record)) => Ok(push_at_body_end(self.tracer.clone(), record, resp)),
            (result, record) => {
                self.record = record;
                result
            }
        }
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if let Some(mut record) = self.record.take() {
            record.end = SystemTime::now();
            self.tracer.exporter.push(record);
        }
    }
}

/// Opens a child span of `req`'s current one under `detailed` verbosity,
/// and makes it the current one.
fn detailed_span(
    req: &mut Request,
    name: &'static str,
    attributes: impl FnOnce() -> Vec<Attribute>,
) -> Option<SpanGuard> {
    let ctx = TraceCtx::of(req).filter(|c| c.detailed)?;
    let (span_id, record) = ctx.child(Cow::Borrowed(name), SpanKind::Internal);
    let under = ctx.under(span_id);
    let tracer = ctx.tracer.clone();
    req.extensions_mut().insert(under);
    let record = record.map(|mut r| {
        r.attributes = attributes();
        r
    });
    Some(SpanGuard { tracer, record })
}

/// The `Service` span of load balancer `service` sending `req` to the
/// server it picked (Traefik opens it per server, so the services inside
/// `weighted`, `mirroring` and `failover` get theirs too). Ends when the
/// guard is dropped.
pub fn service_span(req: &mut Request, service: &str) -> Option<SpanGuard> {
    detailed_span(req, "Service", || {
        vec![(
            "traefik.service.name".into(),
            Value::Str(service.to_string()),
        )]
    })
}

/// The `Retry` span of attempt `attempt` (from 1) of middleware
/// `middleware`; from the second attempt on it says how many were sent
/// before (`http.request.resend_count`).
pub fn retry_span(req: &mut Request, middleware: &str, attempt: u32) -> Option<SpanGuard> {
    detailed_span(req, "Retry", || {
        let mut attrs = vec![(
            "traefik.middleware.name".into(),
            Value::Str(middleware.to_string()),
        )];
        if attempt > 1 {
            attrs.push((
                "http.request.resend_count".into(),
                Value::Int(i64::from(attempt - 1)),
            ));
        }
        attrs
    })
}

/// The `ReverseProxy` span of one call to a server.
pub struct ClientSpan {
    tracer: Arc<Tracer>,
    record: Option<SpanRecord>,
    /// Whether the answer (status, headers) is recorded: Traefik's
    /// `AuthRequest` span ends before it would record it.
    answer: bool,
}

impl ClientSpan {
    /// Begins the span of sending `req` (as it goes to the server) and
    /// writes its `traceparent` (and the caller's `tracestate`) into it.
    /// `None` when the request is not traced.
    pub fn start(req: &mut Request) -> Option<ClientSpan> {
        let ctx = TraceCtx::of(req)?.clone();
        ClientSpan::begin(ctx, "ReverseProxy", req, true)
    }

    /// `forwardAuth`'s `AuthRequest` span: `auth` is the request to the
    /// authentication server, made for the client's `req`. As Traefik's,
    /// it records the request only (not the answer's status or headers).
    pub fn start_auth(req: &Request, auth: &mut Request) -> Option<ClientSpan> {
        let ctx = TraceCtx::of(req)?.clone();
        ClientSpan::begin(ctx, "AuthRequest", auth, false)
    }

    fn begin(
        ctx: TraceCtx,
        name: &'static str,
        req: &mut Request,
        answer: bool,
    ) -> Option<ClientSpan> {
        let (span_id, record) = ctx.child(Cow::Borrowed(name), SpanKind::Client);
        let parent = TraceParent {
            trace_id: ctx.trace_id,
            span_id,
            sampled: ctx.sampled,
        };
        let headers = req.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&parent.header_value()) {
            headers.insert(HeaderName::from_static("traceparent"), v);
        }
        match ctx.state.as_deref().map(HeaderValue::from_str) {
            Some(Ok(v)) => {
                headers.insert(HeaderName::from_static("tracestate"), v);
            }
            _ => {
                headers.remove("tracestate");
            }
        }
        let record = record.map(|mut r| {
            r.attributes = attrs::client_request(&ctx.tracer, req);
            r
        });
        Some(ClientSpan {
            tracer: ctx.tracer,
            record,
            answer,
        })
    }

    /// Ends `span` (if any) with the server's answer, and hands it on.
    pub fn end(
        span: Option<ClientSpan>,
        result: Result<Response, crate::ProxyError>,
    ) -> Result<Response, crate::ProxyError> {
        let Some(ClientSpan {
            tracer,
            record: Some(mut record),
            answer,
        }) = span
        else {
            return result;
        };
        if !answer {
            record.end = SystemTime::now();
            tracer.exporter.push(record);
            return result;
        }
        let code = match &result {
            Ok(resp) => resp.status().as_u16(),
            Err(e) => e.status().as_u16(),
        };
        record.status = attrs::client_status(code);
        record.attributes.push((
            "http.response.status_code".into(),
            Value::Int(i64::from(code)),
        ));
        match result {
            Ok(resp) => {
                attrs::capture(
                    &mut record.attributes,
                    &tracer.response_headers,
                    resp.headers(),
                );
                Ok(push_at_body_end(tracer, record, resp))
            }
            Err(e) => {
                record.end = SystemTime::now();
                tracer.exporter.push(record);
                Err(e)
            }
        }
    }
}
