//! The access log's writer: a bounded queue to one thread that formats and
//! writes lines. A request only tries to queue its record: when the queue
//! is full the line is dropped and counted, and the thread logs the count
//! every few seconds. Traffic never waits on the disk.
//!
//! The thread formats a batch into one buffer and writes it at once, then
//! pauses briefly ([`BATCH_PAUSE`]) so that the next batch gathers without
//! waking it: under load a request costs a queue slot, not a thread
//! wake-up and a write. A quiet log wakes it per line, as it costs nothing
//! then.
//!
//! `SIGUSR1` reopens the file: [`Writer::reopen`] opens the path again
//! where it is called (so the caller learns an error) and hands the new
//! file to the thread, which switches to it before its next line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use switchyard_otlp::ids::{SpanId, TraceId};
use switchyard_otlp::log::{LogExporter, LogRecord, Severity};
use switchyard_otlp::span::{Attribute, Value};

use super::format::{LineWriter, Record, Scratch, Val};
use super::settings::Settings;

/// `accessLog.otlp`: each line also goes out as a log record.
pub struct Otlp {
    pub exporter: LogExporter,
    /// `accessLog.dualOutput`: the lines are written to the file (or
    /// stdout) too; else only sent.
    pub dual_output: bool,
}

/// The queue's size when `bufferingSize` is 0.
pub const DEFAULT_QUEUE: usize = 16_384;
/// The smallest queue a `bufferingSize` makes.
pub const MIN_QUEUE: usize = 1024;
/// How often the thread reports dropped lines (when there are new ones).
const DROP_REPORT_EVERY: Duration = Duration::from_secs(10);
/// How long the thread waits for a line before its periodic work.
const IDLE_WAKE: Duration = Duration::from_millis(500);
/// How much of a batch is formatted before it is written.
const WRITE_AT: usize = 64 * 1024;
/// The pause after a batch, for the next one to gather.
pub const BATCH_PAUSE: Duration = Duration::from_millis(10);

/// Where lines go.
enum Out {
    Stdout,
    File(File),
}

impl Out {
    fn write(&mut self, text: &str) -> io::Result<()> {
        match self {
            Out::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Out::File(f) => f.write_all(text.as_bytes()),
        }
    }
}

/// What the queue carries.
enum Item {
    Record(Box<Record>),
    /// Write out what came before, then say so.
    Sync(std::sync::mpsc::Sender<()>),
}

/// The handle requests queue their records through; clones share it.
#[derive(Clone)]
pub struct Writer {
    /// Records boxed: a queue slot is small, so an idle queue costs little.
    queue: SyncSender<Item>,
    dropped: Arc<AtomicU64>,
    path: Option<PathBuf>,
    /// A file [`Writer::reopen`] opened, for the thread to take.
    reopened: Arc<Mutex<Option<File>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.path)
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .finish()
    }
}

/// Opens `path` for appending, creating it and its directory.
fn open(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

impl Writer {
    /// Opens the output (`path`, else stdout) and starts the thread, with a
    /// queue of `capacity` lines.
    pub fn start(
        path: Option<&Path>,
        capacity: usize,
        settings: Settings,
        otlp: Option<Otlp>,
    ) -> io::Result<Writer> {
        let out = match path {
            Some(p) => Out::File(open(p)?),
            None => Out::Stdout,
        };
        let (tx, rx) = sync_channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        let reopened = Arc::new(Mutex::new(None));
        let thread = Thread {
            rx,
            out,
            settings,
            pause_below: (capacity / 8).max(1),
            buf: String::with_capacity(WRITE_AT + 4096),
            lines: LineWriter::default(),
            dropped: dropped.clone(),
            reported: 0,
            last_report: Instant::now(),
            reopened: reopened.clone(),
            otlp,
            scratch: Scratch::default(),
        };
        std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || thread.run())?;
        Ok(Writer {
            queue: tx,
            dropped,
            path: path.map(Path::to_path_buf),
            reopened,
        })
    }

    /// Queues a record, or drops and counts it when the queue is full.
    pub fn submit(&self, record: Box<Record>) {
        match self.queue.try_send(Item::Record(record)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (at most `timeout`) until what was queued before is written:
    /// at shutdown, so that the last lines are not lost.
    pub fn sync(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (tx, rx) = std::sync::mpsc::channel();
        let mut item = Item::Sync(tx);
        loop {
            match self.queue.try_send(item) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    item = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
        }
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Lines dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Opens the configured path again (for `SIGUSR1`); the thread writes
    /// its next line there. Stdout has nothing to reopen.
    pub fn reopen(&self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let file = open(path)?;
        *self.reopened.lock().unwrap_or_else(PoisonError::into_inner) = Some(file);
        Ok(())
    }
}

struct Thread {
    rx: Receiver<Item>,
    out: Out,
    settings: Settings,
    /// A batch smaller than this is followed by a pause.
    pause_below: usize,
    /// The batch being formatted.
    buf: String,
    lines: LineWriter,
    dropped: Arc<AtomicU64>,
    reported: u64,
    last_report: Instant,
    reopened: Arc<Mutex<Option<File>>>,
    otlp: Option<Otlp>,
    /// What the log records' attributes borrow from.
    scratch: Scratch,
}

impl Thread {
    fn run(mut self) {
        loop {
            match self.rx.recv_timeout(IDLE_WAKE) {
                Ok(item) => {
                    self.take_reopened();
                    // What else is queued goes out in the same batch.
                    let mut n = 0;
                    let mut next = Some(item);
                    // A batch is formatted within microseconds: one clock
                    // read gives every line its time (to the second).
                    let now = SystemTime::now();
                    while let Some(item) = next {
                        n += 1;
                        self.take(item, now);
                        next = self.rx.try_recv().ok();
                    }
                    self.emit();
                    self.report_drops();
                    if n < self.pause_below {
                        std::thread::sleep(BATCH_PAUSE);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.take_reopened();
                    self.report_drops();
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.emit();
                    return;
                }
            }
        }
    }

    fn take(&mut self, item: Item, now: SystemTime) {
        match item {
            Item::Record(record) => {
                let at = self.buf.len();
                self.lines
                    .write(&record, &self.settings, now, &mut self.buf);
                if let Some(otlp) = &self.otlp {
                    // The line is the record's body, as Traefik sends it.
                    let body = self.buf.get(at..).unwrap_or_default().to_string();
                    let log = log_record(&record, &self.settings, &mut self.scratch, now, body);
                    otlp.exporter.push(log);
                    if !otlp.dual_output {
                        self.buf.truncate(at);
                    }
                }
                if self.buf.len() >= WRITE_AT {
                    self.emit();
                }
            }
            Item::Sync(done) => {
                self.emit();
                let _ = done.send(());
            }
        }
    }

    fn take_reopened(&mut self) {
        let file = self
            .reopened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(file) = file {
            self.emit();
            self.out = Out::File(file);
        }
    }

    /// Writes the batch formatted so far.
    fn emit(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        if let Err(e) = self.out.write(&self.buf) {
            tracing::error!("access log: cannot write: {e}");
        }
        self.buf.clear();
    }

    fn report_drops(&mut self) {
        if self.last_report.elapsed() < DROP_REPORT_EVERY {
            return;
        }
        self.last_report = Instant::now();
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            tracing::warn!(
                dropped = dropped - self.reported,
                total = dropped,
                "access log: queue full, lines dropped"
            );
            self.reported = dropped;
        }
    }
}

/// The OpenTelemetry log record of a line: its fields (after the modes)
/// as attributes, in the trace of its request.
fn log_record(
    record: &Record,
    settings: &Settings,
    scratch: &mut Scratch,
    now: SystemTime,
    body: String,
) -> LogRecord {
    // The start times go out as nanoseconds since the epoch, as Traefik's
    // log bridge sends a time.
    let start = record
        .start
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let attributes: Vec<Attribute> = record
        .fields(settings, scratch)
        .iter()
        .map(|(name, value)| {
            let value = match value {
                _ if matches!(name, "StartUTC" | "StartLocal") => Value::Int(start),
                Val::Str(s) => Value::Str(s.to_string()),
                Val::Int(n) => Value::Int(i64::try_from(*n).unwrap_or(i64::MAX)),
                Val::Float(x) => Value::Double(*x),
            };
            (name.to_string().into(), value)
        })
        .collect();
    let trace = record
        .recorded
        .trace
        .as_ref()
        .and_then(|(trace, span)| Some((TraceId::from_hex(trace)?, SpanId::from_hex(span)?)));
    LogRecord {
        time: now,
        severity: Severity::Info,
        severity_text: Some("info"),
        body,
        attributes,
        trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn record(n: u64) -> Record {
        Record {
            start: SystemTime::now(),
            duration: Duration::from_millis(1),
            client_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
            forwarded_for: None,
            host: Some("a.test".into()),
            method: http::Method::GET,
            path: format!("/{}", "x".repeat(2000)).into(),
            version: http::Version::HTTP_11,
            tls: None,
            request_size: 0,
            request_count: n,
            entrypoint: Arc::from("web"),
            router: None,
            recorded: Default::default(),
            status: 200,
            size: 0,
            request_headers: None,
            downstream_headers: None,
        }
    }

    /// The writer stuck on a pipe nobody reads: queuing never waits, and
    /// the lines that do not fit are counted as dropped.
    #[test]
    fn a_stuck_writer_drops_lines_and_never_blocks() {
        let dir = std::env::temp_dir().join(format!("sy-alog-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fifo = dir.join("pipe");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            eprintln!("mkfifo unavailable: test skipped");
            return;
        }
        // Held open (read and write, which does not block on Linux) and
        // never read: the writer's writes stop once the pipe is full.
        let _held = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .expect("open fifo");
        let settings = Settings::new(&Default::default()).expect("settings");
        let writer = Writer::start(Some(&fifo), 8, settings, None).expect("start");
        let started = Instant::now();
        for n in 0..2000 {
            writer.submit(Box::new(record(n)));
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "submitting took {:?}",
            started.elapsed()
        );
        let dropped = writer.dropped();
        // 2000 lines of 2 KB cannot fit in a 64 KiB pipe and 8 queue slots.
        assert!(dropped > 1000, "dropped {dropped}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
