//! HTTP/1.1 and HTTP/2 on an accepted connection: the HTTP/2 preface picks
//! the protocol (as `hyper_util`'s `auto` does; it is not used because it
//! hides HTTP/2's HPACK table setting), and each protocol runs with limits
//! set explicitly, so that a hostile peer costs bounded memory and CPU:
//!
//! - HTTP/1: a head up to `maxHeaderBytes` of up to 4096 lines (hyper's
//!   own default stops at 100 lines), refused heads answered by
//!   [`super::guard`];
//! - HTTP/2: Go's limits as Traefik sets them (`maxConcurrentStreams`,
//!   `maxDecoderHeaderTableSize`; a header list up to `maxHeaderBytes`),
//!   and h2's defences against the known floods made explicit: streams
//!   reset before they are accepted (rapid reset) and streams the server
//!   itself resets for the peer's errors end the connection with GOAWAY
//!   `ENHANCE_YOUR_CALM` past a small count; the response bytes queued for
//!   a peer that keeps its flow-control window shut are bounded per
//!   stream. CONTINUATION floods and HPACK bombs are refused by h2 itself
//!   once a header list passes its limit.

use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::guard::Guarded;

/// The HTTP/2 client preface.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// `entryPoints.<name>.http2`, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Limits {
    pub max_concurrent_streams: u32,
    pub max_decoder_header_table_size: u32,
    /// h2's encoder never uses more than 4096 bytes (Go's default), so a
    /// larger value changes nothing and a smaller one is not honoured.
    pub max_encoder_header_table_size: u32,
}

impl Default for Http2Limits {
    fn default() -> Self {
        Http2Limits {
            max_concurrent_streams: 250,
            max_decoder_header_table_size: 4096,
            max_encoder_header_table_size: 4096,
        }
    }
}

impl Http2Limits {
    /// From the static configuration; 0 stands for Go's default, a negative
    /// value is an error (Traefik refuses to start the entrypoint).
    pub fn new(
        max_concurrent_streams: i64,
        max_decoder_header_table_size: i64,
        max_encoder_header_table_size: i64,
    ) -> Result<Http2Limits, String> {
        let d = Http2Limits::default();
        let pick = |v: i64, default: u32, what: &str| -> Result<u32, String> {
            match v {
                0 => Ok(default),
                v if v < 0 => Err(format!(
                    "{what} value must be greater than or equal to zero"
                )),
                v => Ok(u32::try_from(v).unwrap_or(u32::MAX)),
            }
        };
        Ok(Http2Limits {
            max_concurrent_streams: pick(
                max_concurrent_streams,
                d.max_concurrent_streams,
                "max concurrent streams",
            )?,
            max_decoder_header_table_size: pick(
                max_decoder_header_table_size,
                d.max_decoder_header_table_size,
                "max decoder header table size",
            )?,
            max_encoder_header_table_size: pick(
                max_encoder_header_table_size,
                d.max_encoder_header_table_size,
                "max encoder header table size",
            )?,
        })
    }
}

/// Streams a peer may reset before the server has accepted them; past it,
/// GOAWAY (the rapid-reset defence; h2's default, written down).
const PENDING_ACCEPT_RESETS: usize = 20;
/// Streams the server may reset for the peer's protocol errors before it
/// ends the connection (hyper's default, written down).
const LOCAL_ERROR_RESETS: usize = 1024;
/// Response bytes queued per stream beyond what the peer's window takes.
const SEND_BUFFER: usize = 64 * 1024;
/// How often an idle HTTP/2 connection is pinged, and how long the answer
/// may take before the connection is closed as dead.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Both protocols' servers, built once per entrypoint.
pub(crate) struct Protocols {
    /// HTTP/1 through `auto` held to HTTP/1: its connections with upgrades
    /// can be stopped gracefully, hyper's own cannot (with `hyper_util`'s
    /// graceful watcher).
    h1: hyper_util::server::conn::auto::Builder<TokioExecutor>,
    h2: hyper::server::conn::http2::Builder<TokioExecutor>,
    /// HTTP/1 for one request at a time on plain connections
    /// ([`super::idle`]), with `h1`'s limits; its head timeout is set per
    /// request.
    pub(crate) h1_single: hyper::server::conn::http1::Builder,
    /// How long a connection may wait for, and then read, a request head.
    pub(crate) header_read_timeout: Option<Duration>,
    /// How long a connection may take to show which protocol it speaks.
    first_bytes: Duration,
}

impl Protocols {
    pub(crate) fn new(
        max_header_bytes: usize,
        header_read_timeout: Option<Duration>,
        http2: Http2Limits,
        first_bytes: Duration,
    ) -> Protocols {
        let mut h1 =
            hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
        {
            let mut b = h1.http1();
            b.timer(TokioTimer::new())
                .max_buf_size(max_header_bytes.max(8192))
                .max_headers(max_header_lines(max_header_bytes));
            if let Some(t) = header_read_timeout {
                b.header_read_timeout(t);
            }
        }
        let mut h1_single = hyper::server::conn::http1::Builder::new();
        h1_single
            .timer(TokioTimer::new())
            .max_buf_size(max_header_bytes.max(8192))
            .max_headers(max_header_lines(max_header_bytes));
        let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(http2.max_concurrent_streams)
            .header_table_size(http2.max_decoder_header_table_size)
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX))
            .max_pending_accept_reset_streams(PENDING_ACCEPT_RESETS)
            .max_local_error_reset_streams(LOCAL_ERROR_RESETS)
            .max_send_buf_size(SEND_BUFFER)
            .keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
        Protocols {
            h1,
            h2,
            h1_single,
            header_read_timeout,
            first_bytes,
        }
    }

    /// Serves `io` with `service` until the connection ends or `watcher`
    /// asks for a graceful stop; with `closing`, also when its keep-alive
    /// limits say so or its drain signal comes.
    pub(crate) async fn serve<I, S>(
        &self,
        mut io: I,
        service: S,
        watcher: hyper_util::server::graceful::Watcher,
        closing: Option<Closing>,
    ) -> Result<(), String>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: hyper::service::Service<
                http::Request<Incoming>,
                Response = switchyard_proxy::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let sniff = tokio::time::timeout(self.first_bytes, read_preface(&mut io));
        let (first, is_h2) = match sniff.await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => return Err(format!("reading the first bytes: {e}")),
            Err(_) => return Err("timed out waiting for the first bytes".into()),
        };
        if first.is_empty() {
            return Ok(());
        }
        let io = Guarded::new(io, first, !is_h2);
        if is_h2 {
            let conn = self.h2.serve_connection(TokioIo::new(io), service);
            match closing {
                None => watcher.watch(conn).await.map_err(|e| e.to_string()),
                Some(c) => c.drive(conn, watcher).await.map_err(|e| e.to_string()),
            }
        } else {
            self.serve_h1(io, service, watcher, closing).await
        }
    }

    /// Serves HTTP/1 on `io` with upgrades, as [`Protocols::serve`] does
    /// once the first bytes are known not to be HTTP/2.
    pub(crate) async fn serve_h1<I, S>(
        &self,
        io: Guarded<I>,
        service: S,
        watcher: hyper_util::server::graceful::Watcher,
        closing: Option<Closing>,
    ) -> Result<(), String>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: hyper::service::Service<
                http::Request<Incoming>,
                Response = switchyard_proxy::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let conn = self
            .h1
            .serve_connection_with_upgrades(TokioIo::new(io), service);
        match closing {
            None => watcher.watch(conn).await.map_err(|e| e.to_string()),
            Some(c) => c.drive(conn, watcher).await.map_err(|e| e.to_string()),
        }
    }
}

/// A connection with keep-alive limits, driven here rather than by the
/// graceful watcher so that it can also be wound down when a limit is
/// reached (`close`) or the entrypoint stops (`drain`).
pub(crate) struct Closing {
    pub(crate) close: std::sync::Arc<super::accept::KeepAlive>,
    pub(crate) drain: tokio::sync::watch::Receiver<bool>,
}

impl Closing {
    async fn drive<C>(
        mut self,
        conn: C,
        watcher: hyper_util::server::graceful::Watcher,
    ) -> Result<(), C::Error>
    where
        C: hyper_util::server::graceful::GracefulConnection,
    {
        // Kept until the connection ends, so that the graceful stop waits.
        let _watching = watcher;
        let mut conn = std::pin::pin!(conn);
        let mut closing = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => return r,
                _ = self.close.close.notified(), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                changed = self.drain.changed(), if !closing => {
                    if changed.is_err() || *self.drain.borrow() {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// The most header lines a head may have: as many as `max_header_bytes`
/// can hold (the smallest line, `a:` and its end, is 3 bytes), up to
/// [`MAX_HEADER_LINES`].
fn max_header_lines(max_header_bytes: usize) -> usize {
    (max_header_bytes / 3).clamp(100, MAX_HEADER_LINES)
}

/// hyper allocates its table of header lines whole for every request
/// (64 bytes a line): 4096 lines are 256 KiB per request in flight, taken
/// from and given back to the allocator's cache, untouched beyond the
/// lines used. As many lines as 1 MiB can hold would be 22 MiB per request.
const MAX_HEADER_LINES: usize = 4096;

/// Reads until the bytes are, or cannot be, the HTTP/2 preface; returns
/// them and which it is (empty: the peer closed at once).
async fn read_preface<I: AsyncRead + Unpin>(io: &mut I) -> std::io::Result<(bytes::Bytes, bool)> {
    let mut buf = bytes::BytesMut::with_capacity(1024);
    loop {
        let n = io.read_buf(&mut buf).await?;
        let seen = buf.len().min(PREFACE.len());
        if buf[..seen] != PREFACE[..seen] {
            return Ok((buf.freeze(), false));
        }
        if seen == PREFACE.len() {
            return Ok((buf.freeze(), true));
        }
        if n == 0 {
            return Ok((buf.freeze(), false));
        }
    }
}
