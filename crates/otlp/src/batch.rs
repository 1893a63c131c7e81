//! The span queue: requests hand finished spans to a bounded queue and
//! never wait; one background task sends them in batches, as
//! OpenTelemetry's batch span processor does (a batch leaves when it is
//! full or when the schedule delay has passed). A full queue drops the
//! span and counts it. A failed export is retried a few times, then
//! dropped; the first failure is logged as a warning, the next ones at
//! debug level until an export succeeds again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use crate::resource::Resource;
use crate::span::SpanRecord;
use crate::transport::{Signal, Transport};

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

enum Msg {
    Span(Box<SpanRecord>),
    Flush(oneshot::Sender<()>),
}

/// The handle requests push spans into; cheap to clone.
#[derive(Clone)]
pub struct SpanExporter {
    tx: mpsc::Sender<Msg>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for SpanExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanExporter").finish_non_exhaustive()
    }
}

impl SpanExporter {
    /// Starts the sending task on the current Tokio runtime. Spans go out
    /// with `resource`, under the instrumentation scope `scope`.
    pub fn start(
        transport: Transport,
        resource: Resource,
        scope: &str,
        settings: BatchSettings,
    ) -> SpanExporter {
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
        };
        tokio::spawn(sender.run(rx));
        SpanExporter { tx, stats }
    }

    /// An exporter whose spans stay in memory, for tests: `capacity`
    /// spans at most, then they are dropped (and counted).
    pub fn in_memory(capacity: usize) -> (SpanExporter, MemorySpans) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let stats = Arc::new(Stats::default());
        (SpanExporter { tx, stats }, MemorySpans { rx })
    }

    /// Queues a finished span; never waits. A full queue drops it.
    pub fn push(&self, span: SpanRecord) {
        if self.tx.try_send(Msg::Span(Box::new(span))).is_err() {
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

/// The spans an [`SpanExporter::in_memory`] received.
pub struct MemorySpans {
    rx: mpsc::Receiver<Msg>,
}

impl MemorySpans {
    /// The spans received so far, oldest first.
    pub fn drain(&mut self) -> Vec<SpanRecord> {
        let mut out = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Span(s) => out.push(*s),
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
    resource: opentelemetry_proto::tonic::resource::v1::Resource,
    scope: InstrumentationScope,
    settings: BatchSettings,
    stats: Arc<Stats>,
    /// Whether the last export failed (its failure was logged).
    failing: bool,
}

impl Sender {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut batch: Vec<SpanRecord> = Vec::new();
        let mut deadline = tokio::time::Instant::now() + self.settings.delay;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Span(span)) => {
                        if batch.is_empty() {
                            deadline = tokio::time::Instant::now() + self.settings.delay;
                        }
                        batch.push(*span);
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

    fn encode(&self, batch: &[SpanRecord]) -> Vec<u8> {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans: batch.iter().map(SpanRecord::to_proto).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        request.encode_to_vec()
    }

    async fn send(&mut self, batch: Vec<SpanRecord>) {
        let count = batch.len() as u64;
        let message = self.encode(&batch);
        drop(batch);
        let mut pause = self.settings.backoff;
        for attempt in 1..=self.settings.attempts.max(1) {
            match self.transport.export(Signal::Traces, message.clone()).await {
                Ok(()) => {
                    self.stats.exported.fetch_add(count, Ordering::Relaxed);
                    if self.failing {
                        self.failing = false;
                        tracing::info!("OTLP trace export works again");
                    }
                    return;
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    if !self.failing {
                        self.failing = true;
                        tracing::warn!(error = %e, "OTLP trace export failed; retrying (further failures are logged at debug level until an export succeeds)");
                    } else {
                        tracing::debug!(error = %e, attempt, "OTLP trace export failed");
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
