//! The export queue: requests hand finished spans (or log records) to a
//! bounded queue and never wait; one background task sends them in
//! batches, as OpenTelemetry's batch processors do (a batch leaves when
//! it is full or when the schedule delay has passed). A full queue drops
//! the item and counts it. A failed export is retried a few times, then
//! dropped; the first failure is logged as a warning, the next ones at
//! debug level until an export succeeds again.
//!
//! One queue per signal: [`Exporter<T>`] for any [`Batchable`] item,
//! [`SpanExporter`] for spans.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use crate::resource::Resource;
use crate::span::SpanRecord;
use crate::transport::{Signal, Transport};

/// An item one export request carries many of.
pub trait Batchable: Send + 'static {
    /// The signal the items are.
    const SIGNAL: Signal;
    /// The encoded export request of `batch`.
    fn encode(batch: &[Self], resource: &ProtoResource, scope: &InstrumentationScope) -> Vec<u8>
    where
        Self: Sized;
}

impl Batchable for SpanRecord {
    const SIGNAL: Signal = Signal::Traces;

    fn encode(batch: &[Self], resource: &ProtoResource, scope: &InstrumentationScope) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope.clone()),
                    spans: batch.iter().map(SpanRecord::to_proto).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec()
    }
}

/// The span queue.
pub type SpanExporter = Exporter<SpanRecord>;

/// The queue's sizes and timing (OpenTelemetry's defaults; the standard
/// `OTEL_BSP_*` variables change them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// Spans waiting at most; more are dropped.
    pub max_queue: usize,
    /// Spans in one export at most.
    pub max_batch: usize,
    /// How long a span waits for its batch to fill.
    pub delay: Duration,
    /// Attempts per batch before it is dropped.
    pub attempts: u32,
    /// The pause after the first failed attempt, doubled after each.
    pub backoff: Duration,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_queue: 2048,
            max_batch: 512,
            delay: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

impl BatchSettings {
    /// The defaults, changed by `OTEL_BSP_SCHEDULE_DELAY` (milliseconds),
    /// `OTEL_BSP_MAX_QUEUE_SIZE` and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` as
    /// `env` gives them; a value that does not parse is ignored.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> BatchSettings {
        let mut s = BatchSettings::default();
        let num = |k: &str| env(k).and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(ms) = num("OTEL_BSP_SCHEDULE_DELAY") {
            s.delay = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = num("OTEL_BSP_MAX_QUEUE_SIZE").filter(|n| *n > 0) {
            s.max_queue = usize::try_from(n).unwrap_or(s.max_queue);
        }
        if let Some(n) = num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE").filter(|n| *n > 0) {
            s.max_batch = usize::try_from(n).unwrap_or(s.max_batch);
        }
        s.max_batch = s.max_batch.min(s.max_queue);
        s
    }
}

/// What the exporter did so far.
#[derive(Debug, Default)]
pub struct Stats {
    /// Spans sent and accepted.
    pub exported: AtomicU64,
    /// Spans dropped: queue full, or their batch failed every attempt.
    pub dropped: AtomicU64,
    /// Export attempts that failed.
    pub failures: AtomicU64,
}

enum Msg<T> {
    Item(Box<T>),
    Flush(oneshot::Sender<()>),
}

/// The handle items are pushed into; cheap to clone.
pub struct Exporter<T> {
    tx: mpsc::Sender<Msg<T>>,
    stats: Arc<Stats>,
}

impl<T> Clone for Exporter<T> {
    fn clone(&self) -> Self {
        Exporter {
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Exporter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl<T: Batchable> Exporter<T> {
    /// Starts the sending task on the current Tokio runtime. Items go out
    /// with `resource`, under the instrumentation scope `scope`.
    pub fn start(
        transport: Transport,
        resource: Resource,
        scope: &str,
        settings: BatchSettings,
    ) -> Exporter<T> {
        let (tx, rx) = mpsc::channel(settings.max_queue.max(1));
        let stats = Arc::new(Stats::default());
        let sender = Sender {
            transport,
            resource: resource.to_proto(),
            scope: InstrumentationScope {
                name: scope.to_string(),
                ..Default::default()
            },
            settings,
            stats: stats.clone(),
            failing: false,
            reported: (0, None),
        };
        tokio::spawn(sender.run(rx));
        Exporter { tx, stats }
    }

    /// An exporter whose items stay in memory, for tests: `capacity`
    /// items at most, then they are dropped (and counted).
    pub fn in_memory(capacity: usize) -> (Exporter<T>, Memory<T>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(Stats::default());
        (Exporter { tx, stats }, Memory { rx })
    }

    /// Queues an item; never waits. A full queue drops it.
    pub fn push(&self, item: T) {
        if self.tx.try_send(Msg::Item(Box::new(item))).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends what is queued now and waits (at most `limit`) until it went.
    pub async fn flush(&self, limit: Duration) {
        let (done, wait) = oneshot::channel();
        let _ = tokio::time::timeout(limit, async {
            if self.tx.send(Msg::Flush(done)).await.is_ok() {
                let _ = wait.await;
            }
        })
        .await;
    }

    /// The exporter's counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// The items an [`Exporter::in_memory`] received.
pub struct Memory<T> {
    rx: mpsc::Receiver<Msg<T>>,
}

/// The spans an in-memory [`SpanExporter`] received.
pub type MemorySpans = Memory<SpanRecord>;

impl<T> Memory<T> {
    /// The items received so far, oldest first.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Item(s) => out.push(*s),
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
        out
    }
}

struct Sender {
    transport: Transport,
    resource: ProtoResource,
    scope: InstrumentationScope,
    settings: BatchSettings,
    stats: Arc<Stats>,
    /// Whether the last export failed (its failure was logged).
    failing: bool,
    /// The dropped count last logged, and when.
    reported: (u64, Option<tokio::time::Instant>),
}

/// How often, at most, dropped items are logged.
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);

/// The signal's name in the log.
fn signal_name(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "trace",
        Signal::Metrics => "metric",
        Signal::Logs => "log",
    }
}

impl Sender {
    async fn run<T: Batchable>(mut self, mut rx: mpsc::Receiver<Msg<T>>) {
        let mut batch: Vec<T> = Vec::new();
        let mut deadline = tokio::time::Instant::now() + self.settings.delay;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Item(item)) => {
                        if batch.is_empty() {
                            deadline = tokio::time::Instant::now() + self.settings.delay;
                        }
                        batch.push(*item);
                        if batch.len() >= self.settings.max_batch {
                            self.send(std::mem::take(&mut batch)).await;
                        }
                    }
                    Some(Msg::Flush(done)) => {
                        // What was queued before the flush is in `rx` ahead of it.
                        if !batch.is_empty() {
                            self.send(std::mem::take(&mut batch)).await;
                        }
                        let _ = done.send(());
                    }
                    None => {
                        if !batch.is_empty() {
                            self.send(batch).await;
                        }
                        return;
                    }
                },
                _ = tokio::time::sleep_until(deadline), if !batch.is_empty() => {
                    self.send(std::mem::take(&mut batch)).await;
                }
            }
        }
    }

    /// Logs how many items were dropped since the last report, at most
    /// every [`DROP_REPORT_EVERY`].
    fn report_drops(&mut self, signal: &str) {
        let dropped = self.stats.dropped.load(Ordering::Relaxed);
        let now = tokio::time::Instant::now();
        let due = self
            .reported
            .1
            .is_none_or(|at| now.duration_since(at) >= DROP_REPORT_EVERY);
        if dropped > self.reported.0 && due {
            tracing::warn!(
                dropped = dropped - self.reported.0,
                total = dropped,
                "OTLP {signal} export: items dropped (queue full or export failed)"
            );
            self.reported = (dropped, Some(now));
        }
    }

    async fn send<T: Batchable>(&mut self, batch: Vec<T>) {
        self.send_batch(batch).await;
        self.report_drops(signal_name(T::SIGNAL));
    }

    async fn send_batch<T: Batchable>(&mut self, batch: Vec<T>) {
        let count = batch.len() as u64;
        let message = T::encode(&batch, &self.resource, &self.scope);
        drop(batch);
        let signal = signal_name(T::SIGNAL);
        let mut pause = self.settings.backoff;
        for attempt in 1..=self.settings.attempts.max(1) {
            match self.transport.export(T::SIGNAL, message.clone()).await {
                Ok(()) => {
                    self.stats.exported.fetch_add(count, Ordering::Relaxed);
                    if self.failing {
                        self.failing = false;
                        tracing::info!("OTLP {signal} export works again");
                    }
                    return;
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    if !self.failing {
                        self.failing = true;
                        tracing::warn!(error = %e, "OTLP {signal} export failed; retrying (further failures are logged at debug level until an export succeeds)");
                    } else {
                        tracing::debug!(error = %e, attempt, "OTLP {signal} export failed");
                    }
                }
            }
            if attempt < self.settings.attempts {
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
        }
        self.stats.dropped.fetch_add(count, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn full_queue_drops_and_counts() {
        let (exporter, mut spans) = SpanExporter::in_memory(2);
        let span = || SpanRecord {
            trace_id: crate::TraceId::random(),
            span_id: crate::SpanId::random(),
            parent: None,
            parent_remote: false,
            trace_state: None,
            name: "GET".into(),
            kind: crate::SpanKind::Server,
            start: std::time::SystemTime::now(),
            end: std::time::SystemTime::now(),
            attributes: Vec::new(),
            status: crate::Status::Unset,
        };
        for _ in 0..5 {
            exporter.push(span());
        }
        assert_eq!(spans.drain().len(), 2);
        assert_eq!(exporter.stats().dropped.load(Ordering::Relaxed), 3);
        exporter.push(span());
        assert_eq!(spans.drain().len(), 1, "room again once drained");
    }

    #[tokio::test]
    async fn a_batch_failing_every_attempt_is_dropped_and_counted() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let transport = Transport::new(crate::TransportConfig {
            endpoint: crate::Endpoint::Http {
                url: format!("http://127.0.0.1:{port}"),
            },
            headers: Vec::new(),
            tls,
            timeout: Duration::from_secs(2),
        })
        .expect("transport");
        let settings = BatchSettings {
            attempts: 2,
            backoff: Duration::from_millis(1),
            ..BatchSettings::default()
        };
        let resource = Resource::new("t", "0", "h", &Default::default(), |_| None);
        let exporter = SpanExporter::start(transport, resource, "s", settings);
        for _ in 0..3 {
            exporter.push(span());
        }
        exporter.flush(Duration::from_secs(10)).await;
        let stats = exporter.stats();
        assert_eq!(stats.dropped.load(Ordering::Relaxed), 3);
        assert_eq!(stats.failures.load(Ordering::Relaxed), 2, "both attempts");
        assert_eq!(stats.exported.load(Ordering::Relaxed), 0);
    }

    fn span() -> SpanRecord {
        SpanRecord {
            trace_id: crate::TraceId::random(),
            span_id: crate::SpanId::random(),
            parent: None,
            parent_remote: false,
            trace_state: None,
            name: "GET".into(),
            kind: crate::SpanKind::Server,
            start: std::time::SystemTime::now(),
            end: std::time::SystemTime::now(),
            attributes: Vec::new(),
            status: crate::Status::Unset,
        }
    }

    #[test]
    fn settings_from_env() {
        let env = |k: &str| match k {
            "OTEL_BSP_SCHEDULE_DELAY" => Some("100".to_string()),
            "OTEL_BSP_MAX_QUEUE_SIZE" => Some("10".to_string()),
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" => Some("nope".to_string()),
            _ => None,
        };
        let s = BatchSettings::from_env(env);
        assert_eq!(s.delay, Duration::from_millis(100));
        assert_eq!(s.max_queue, 10);
        assert_eq!(s.max_batch, 10, "a batch is never larger than the queue");
        assert_eq!(BatchSettings::from_env(|_| None), BatchSettings::default());
    }
}
