//! `accessLog`: one line per request, as Traefik v3 writes it.
//!
//! The entrypoint's handler asks [`AccessLog::wants`] once it knows the
//! router (its `observability.accessLogs`, and whether its service is an
//! internal one, logged only with `addInternals`); a request without a
//! router (404) is logged too, as Traefik's default handler does. For a
//! logged request [`AccessLog::begin`] takes what the request says and
//! puts a [`LogFacts`] in its extensions for the chain to fill in;
//! [`Pending::finish`] wraps the answer's body, and when that body is
//! dropped (sent, or abandoned) the record goes to the writer's queue
//! ([`writer`]). A request whose client leaves before the answer is
//! logged with status 499 (502 over HTTP/3), as Traefik does.
//!
//! Differences from Traefik, on purpose (the README says so): lines are
//! written by a thread behind a bounded queue, and dropped (and counted)
//! when it is full rather than slowing requests down; local times
//! (`StartLocal`, the common line's time) are written in UTC.

pub mod format;
pub mod settings;
pub mod subject;
pub mod writer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use switchyard_config::static_config::AccessLog as Config;
use switchyard_proxy::accesslog::{Counted, LogFacts};
use switchyard_proxy::{Request, RequestContext, Response};

pub use format::{Record, TlsFacts};
pub use settings::Settings;
pub use writer::Writer;

static X_FORWARDED_FOR: http::HeaderName = http::HeaderName::from_static("x-forwarded-for");

/// The running access log.
#[derive(Debug)]
pub struct AccessLog {
    settings: Settings,
    writer: Writer,
    /// Logged requests so far (Traefik's `RequestCount`).
    count: AtomicU64,
}

impl AccessLog {
    /// Compiles the settings, opens the output and starts the writer;
    /// `otlp`: where `accessLog.otlp` sends the lines.
    pub fn start(
        config: &Config,
        otlp: Option<switchyard_otlp::log::LogExporter>,
    ) -> Result<AccessLog, String> {
        let settings = Settings::new(config)?;
        let path = (!config.file_path.is_empty()).then(|| std::path::Path::new(&config.file_path));
        // `bufferingSize` lines at least; never so few that the pause
        // between two batches fills the queue.
        let capacity = usize::try_from(config.buffering_size)
            .ok()
            .filter(|n| *n > 0)
            .map_or(writer::DEFAULT_QUEUE, |n| n.max(writer::MIN_QUEUE));
        let otlp = otlp.map(|exporter| writer::Otlp {
            exporter,
            dual_output: config.dual_output,
        });
        let writer = Writer::start(path, capacity, settings.clone(), otlp).map_err(|e| {
            format!(
                "accessLog.filePath: cannot open {:?}: {e}",
                config.file_path
            )
        })?;
        Ok(AccessLog {
            settings,
            writer,
            count: AtomicU64::new(0),
        })
    }

    /// Reopens the file (`SIGUSR1`).
    pub fn reopen(&self) -> std::io::Result<()> {
        self.writer.reopen()
    }

    /// Waits (at most `timeout`) for the lines queued so far to be
    /// written; at shutdown.
    pub fn sync(&self, timeout: std::time::Duration) -> bool {
        self.writer.sync(timeout)
    }

    /// Lines dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.writer.dropped()
    }

    /// Whether a request through a router whose `observability.accessLogs`
    /// is `switch` and whose service is `internal` (or not) is logged.
    pub fn wants(&self, internal: bool, switch: bool) -> bool {
        switch && (!internal || self.settings.add_internals)
    }

    /// Starts the record of `req`, routed by `router` (none: no router
    /// matched); `start` is when the request came.
    pub fn begin(
        self: &Arc<Self>,
        req: &mut Request,
        router: Option<Arc<str>>,
        start: (SystemTime, Instant),
    ) -> Pending {
        let ctx = req.extensions().get::<RequestContext>();
        let client_addr = ctx.map_or(SocketAddr::from(([127, 0, 0, 1], 0)), |c| c.client_addr);
        let entrypoint = ctx.map_or_else(|| Arc::from(""), |c| c.entrypoint.clone());
        let tls = ctx.filter(|c| c.tls).map(|c| TlsFacts {
            version: c.tls_session.map(|s| s.version),
            cipher: c.tls_session.map(|s| s.cipher),
            client_subject: c
                .peer_certificates
                .as_ref()
                .and_then(|chain| chain.first())
                .and_then(|leaf| subject::subject(leaf.as_ref())),
        });
        // Copied, not shared: a reference to the request's bytes would keep
        // its connection's whole read buffer while the line waits.
        let host = switchyard_proxy::context::request_host(req).map(Box::from);
        let forwarded_for = req
            .headers()
            .get(&X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string);
        let path = path_text(req, self.settings.keep_query);
        // Go keeps the Host header out of the request's header map.
        let request_headers = self.settings.any_header().then(|| {
            let mut h = req.headers().clone();
            h.remove(http::header::HOST);
            h
        });
        let facts = Arc::new(LogFacts::new(self.settings.any_header()));
        if let Some(ids) = switchyard_proxy::trace::TraceCtx::of(req).map(|t| t.ids()) {
            facts.update(|r| r.trace = Some(ids));
        }
        req.extensions_mut().insert(facts.clone());
        // A request without a body (most) has nothing to count.
        let request_bytes = (!http_body::Body::is_end_stream(req.body())).then(|| {
            let counter = Arc::new(AtomicU64::new(0));
            let body = std::mem::replace(req.body_mut(), switchyard_proxy::body::empty());
            *req.body_mut() = Counted::new(body, Some(counter.clone()), None).boxed();
            counter
        });
        // Boxed once here: the record then moves as a pointer, from the
        // request to its answer's body to the writer's queue.
        let record = Box::new(Record {
            start: start.0,
            duration: std::time::Duration::ZERO,
            client_addr,
            forwarded_for,
            host,
            method: req.method().clone(),
            path,
            version: req.version(),
            tls,
            request_size: 0,
            request_count: self.count.fetch_add(1, Ordering::Relaxed) + 1,
            entrypoint,
            router,
            recorded: Default::default(),
            status: 0,
            size: 0,
            request_headers,
            downstream_headers: None,
        });
        Pending {
            open: Some(Open {
                log: self.clone(),
                record,
                facts,
                request_bytes,
                started: start.1,
            }),
        }
    }
}

/// The path (and query, with `keep_query`) as routed.
fn path_text(req: &Request, keep_query: bool) -> Box<str> {
    let uri = req.uri();
    match (keep_query, uri.path_and_query()) {
        (true, Some(pq)) => pq.as_str().into(),
        _ => uri.path().into(),
    }
}

/// A logged request whose answer is not known yet. Dropped before
/// [`Pending::finish`] (the client went away), it logs a 499 (502 over
/// HTTP/3, see [`client_closed`]).
pub struct Pending {
    open: Option<Open>,
}

struct Open {
    log: Arc<AccessLog>,
    record: Box<Record>,
    facts: Arc<LogFacts>,
    /// The request body's bytes, when it has a body.
    request_bytes: Option<Arc<AtomicU64>>,
    started: Instant,
}

impl Open {
    /// Completes the record with the answer's status, size and headers,
    /// and queues it when the filters keep it.
    fn submit(mut self, status: u16, size: u64, headers: Option<http::HeaderMap>) {
        let r = &mut self.record;
        r.duration = self.started.elapsed();
        r.status = status;
        r.size = size;
        r.request_size = self
            .request_bytes
            .as_ref()
            .map_or(0, |n| n.load(Ordering::Relaxed));
        // The chain is done with the facts: taken, not copied.
        r.recorded = self.facts.take();
        if self.log.settings.any_header() {
            r.downstream_headers = Some(headers.unwrap_or_default());
        }
        if self
            .log
            .settings
            .keeps(r.status, r.recorded.retry_attempts, r.duration)
        {
            self.log.writer.submit(self.record);
        }
    }
}

/// What Traefik's proxy writes for a client that went away:
/// "Client Closed Request".
const CLIENT_CLOSED_BODY_LEN: u64 = 21;

/// The status and size logged for a client that went away. Over HTTP/3
/// Traefik 3.7 logs 502 and the 11 bytes of "Bad Gateway" (quic-go cancels
/// the request with the connection's error, which its proxy reads as a
/// network error): so it did in each of 5 runs, as its metrics count it.
fn client_closed(version: http::Version) -> (u16, u64) {
    if version == http::Version::HTTP_3 {
        (502, 11)
    } else {
        (499, CLIENT_CLOSED_BODY_LEN)
    }
}

impl Pending {
    /// Wraps `resp`'s body: when it is dropped (sent or abandoned) the line
    /// is queued with the bytes it carried.
    pub fn finish(mut self, resp: Response) -> Response {
        let Some(open) = self.open.take() else {
            return resp;
        };
        let status = resp.status().as_u16();
        let headers = open
            .log
            .settings
            .any_header()
            .then(|| resp.headers().clone());
        // Typed, not boxed: the counted body is the one allocation.
        resp.map(move |body| {
            Counted::with_drop(
                body,
                None,
                Some(move |size| open.submit(status, size, headers)),
            )
            .boxed()
        })
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(open) = self.open.take() {
            let (status, size) = client_closed(open.record.version);
            open.submit(status, size, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_gone_status_by_version() {
        let cases = [
            (http::Version::HTTP_10, (499, 21)),
            (http::Version::HTTP_11, (499, 21)),
            (http::Version::HTTP_2, (499, 21)),
            (http::Version::HTTP_3, (502, 11)),
        ];
        for (version, want) in cases {
            assert_eq!(client_closed(version), want, "{version:?}");
        }
    }

    #[test]
    fn path_text_table() {
        // (what, URI, keep_query, path)
        let cases = [
            ("query kept", "/a/b?x=1", true, "/a/b?x=1"),
            ("query dropped", "/a/b?x=1", false, "/a/b"),
            ("absolute form", "http://h.test:8080/p?q", true, "/p?q"),
            ("empty path", "http://h.test", true, "/"),
            ("asterisk", "*", true, "*"),
        ];
        for (what, uri, keep_query, want) in cases {
            let req: Request = http::Request::builder()
                .uri(uri)
                .body(switchyard_proxy::body::empty())
                .expect("request");
            assert_eq!(&*path_text(&req, keep_query), want, "{what}");
        }
    }
}
