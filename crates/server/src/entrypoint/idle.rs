//! Plain HTTP/1.1 connections that cost almost nothing between requests.
//!
//! hyper keeps a connection's read and write buffers (8 KiB each) and its
//! state for as long as the connection lives, idle or not. Here a plain
//! connection is served one request at a time instead:
//!
//! 1. idle, the task holds the socket and nothing else: it waits until the
//!    socket is readable and peeks at the next head with a buffer on the
//!    stack, that lives only during the peek;
//! 2. a hyper connection serves the request; when it has written a response
//!    to a request without a body and asks the socket for more while there
//!    is nothing to read, it is idle: it is closed without shutting the
//!    socket, and what it had read ahead (pipelined requests) is handed to
//!    the next round, which starts at 2 rather than 1.
//!
//! The wait and the head share the entrypoint's head timeout, as they do
//! when hyper waits itself. A head that may ask for an upgrade (an
//! `Upgrade` field), or that is not complete in the first bytes, is served
//! by the connection-long hyper connection ([`Protocols::serve_h1`]) that
//! can hand the socket over to the upgrade, for the rest of that connection.
//! So is a request whose response ends the connection (`Connection: close`,
//! HTTP/1.0, a keep-alive limit reached), which hyper closes as usual.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode, Version};
use hyper::body::{Body as _, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::guard::Guarded;
use super::protocols::{Closing, Protocols};
use switchyard_proxy::Response;

/// How much of the next head is peeked at to see whether it may upgrade.
const PEEK: usize = 4096;
/// hyper's own head timeout, when the entrypoint sets none.
const HYPER_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// What one round's service tells its transport.
#[derive(Default)]
struct Round {
    /// The last response leaves the connection open for another request,
    /// and its request had no body left to read.
    reusable: AtomicBool,
    /// Set by the transport: hyper asked for the next request and there
    /// was nothing to read.
    idle: AtomicBool,
}

/// What a peek at the next head found.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The peer closed.
    Closed,
    /// A whole head without an `Upgrade` field.
    Plain,
    /// A head that may upgrade, or is not whole yet.
    Other,
}

fn classify(bytes: &[u8]) -> Head {
    if bytes.is_empty() {
        return Head::Closed;
    }
    let end =
        memchr::memmem::find(bytes, b"\r\n\r\n").or_else(|| memchr::memmem::find(bytes, b"\n\n"));
    let Some(end) = end else {
        return Head::Other;
    };
    let head = &bytes[..end];
    let upgrade = memchr::memchr_iter(b'\n', head).any(|i| {
        head.get(i + 1..i + 8)
            .is_some_and(|name| name.eq_ignore_ascii_case(b"upgrade"))
    });
    if upgrade {
        Head::Other
    } else {
        Head::Plain
    }
}

/// Waits until `stream` has bytes (or is closed) and classifies them,
/// without keeping a buffer beyond the peek.
fn poll_peek_head(stream: &TcpStream, cx: &mut Context<'_>) -> Poll<std::io::Result<Head>> {
    // Left uninitialised: zeroing 4 KiB for every request would cost more
    // than the rest of the peek.
    let mut bytes = [std::mem::MaybeUninit::<u8>::uninit(); PEEK];
    let mut buf = ReadBuf::uninit(&mut bytes);
    ready!(stream.poll_peek(cx, &mut buf))?;
    Poll::Ready(Ok(classify(buf.filled())))
}

/// Resolves when the entrypoint starts its graceful stop.
async fn drained(drain: &mut watch::Receiver<bool>) {
    loop {
        if *drain.borrow_and_update() {
            return;
        }
        if drain.changed().await.is_err() {
            return;
        }
    }
}

/// Serves the plain HTTP/1 connection `stream`, `first` being its bytes
/// already read, until it ends.
pub(crate) async fn serve<S>(
    mut stream: TcpStream,
    first: Vec<u8>,
    protocols: &Protocols,
    service: S,
    watcher: hyper_util::server::graceful::Watcher,
    closing: Option<Closing>,
    mut drain: watch::Receiver<bool>,
) -> Result<(), String>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Unpin
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let limit = protocols.header_read_timeout.unwrap_or(HYPER_HEAD_TIMEOUT);
    let round = Arc::new(Round::default());
    let mut ahead = Bytes::from(first);
    loop {
        let deadline = tokio::time::Instant::now() + limit;
        let head = if ahead.is_empty() {
            let peek = std::future::poll_fn(|cx| poll_peek_head(&stream, cx));
            tokio::select! {
                biased;
                _ = drained(&mut drain) => return Ok(()),
                peeked = tokio::time::timeout_at(deadline, peek) => match peeked {
                    Ok(Ok(head)) => head,
                    Ok(Err(e)) => return Err(format!("waiting for a request: {e}")),
                    Err(_) => return Ok(()),
                },
            }
        } else {
            classify(&ahead)
        };
        match head {
            Head::Closed => return Ok(()),
            Head::Plain => {}
            Head::Other => {
                let io = Guarded::new(stream, ahead, true);
                // Boxed: the task does not carry its size while idle.
                return Box::pin(protocols.serve_h1(io, service, watcher, closing)).await;
            }
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Boxed: the round's state (hyper's connection included) lives on
        // the heap while it runs, not in the task between requests.
        let served = Box::pin(one_request(
            stream, ahead, protocols, &service, &round, left, &mut drain,
        ));
        match served.await? {
            Some((socket, unread)) => {
                stream = socket;
                ahead = unread;
            }
            None => return Ok(()),
        }
    }
}

/// Serves the request that starts `ahead` or the socket (and any that
/// hyper reads behind it) with one hyper connection; the socket and the
/// bytes read ahead once hyper is idle, `None` once the connection is
/// over.
async fn one_request<S>(
    stream: TcpStream,
    ahead: Bytes,
    protocols: &Protocols,
    service: &S,
    round: &Arc<Round>,
    head_timeout: Duration,
    drain: &mut watch::Receiver<bool>,
) -> Result<Option<(TcpStream, Bytes)>, String>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Unpin
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    round.reusable.store(false, Ordering::Relaxed);
    round.idle.store(false, Ordering::Relaxed);
    let io = Watched {
        io: Guarded::new(stream, ahead, true),
        round: round.clone(),
        wrote: false,
    };
    let mut builder = protocols.h1_single.clone();
    builder.header_read_timeout(head_timeout.max(Duration::from_millis(1)));
    let svc = Marking {
        inner: service.clone(),
        round: round.clone(),
    };
    let mut conn = builder.serve_connection(TokioIo::new(io), svc);
    drop(builder);
    let (mut recycling, mut stopping) = (false, false);
    let done = {
        let mut drain_signal = std::pin::pin!(drained(drain));
        std::future::poll_fn(|cx| loop {
            if !stopping && drain_signal.as_mut().poll(cx).is_ready() {
                stopping = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            if let Poll::Ready(r) = conn.poll_without_shutdown(cx) {
                return Poll::Ready(r);
            }
            if !recycling && !stopping && round.idle.swap(false, Ordering::AcqRel) {
                // Idle: closed, then polled again to finish.
                recycling = true;
                Pin::new(&mut conn).graceful_shutdown();
                continue;
            }
            return Poll::Pending;
        })
        .await
    };
    let parts = conn.into_parts();
    done.map_err(|e| e.to_string())?;
    let Some((mut socket, unread)) = parts.io.into_inner().io.into_inner() else {
        // A refused head: answered and shut already.
        return Ok(None);
    };
    if !recycling || stopping {
        // hyper ended the connection (or the entrypoint stops): shut it as
        // hyper would have.
        let _ = socket.shutdown().await;
        return Ok(None);
    }
    let ahead = match unread {
        Some(unread) if !unread.is_empty() => [unread, parts.read_buf].concat().into(),
        // An empty read buffer would keep hyper's whole buffer alive.
        _ if parts.read_buf.is_empty() => Bytes::new(),
        _ => parts.read_buf,
    };
    Ok(Some((socket, ahead)))
}

/// A round's transport: notes when hyper, having answered, waits for a
/// request that has not come.
struct Watched<I> {
    io: Guarded<I>,
    round: Arc<Round>,
    /// A response was written since the last bytes were read.
    wrote: bool,
}

/// hyper's own interim answer to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 ";

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                if this.wrote && this.round.reusable.load(Ordering::Acquire) {
                    this.wrote = false;
                    this.round.idle.store(true, Ordering::Release);
                }
                Poll::Pending
            }
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    this.wrote = false;
                }
                Poll::Ready(r)
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if !buf.starts_with(CONTINUE) {
            this.wrote = true;
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        if !bufs.first().is_some_and(|b| b.starts_with(CONTINUE)) {
            this.wrote = true;
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// A round's service: tells the transport whether the connection may go
/// on after each response.
#[derive(Clone)]
struct Marking<S> {
    inner: S,
    round: Arc<Round>,
}

fn says_close(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> hyper::service::Service<http::Request<Incoming>> for Marking<S>
where
    S: hyper::service::Service<http::Request<Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: http::Request<Incoming>) -> Answer {
        let plain = req.version() == Version::HTTP_11
            && req.body().is_end_stream()
            && !says_close(req.headers())
            && !req.headers().contains_key(header::UPGRADE);
        let answer = self.inner.call(req);
        let round = self.round.clone();
        Box::pin(async move {
            let resp = answer.await?;
            let reusable = plain
                && resp.status() != StatusCode::SWITCHING_PROTOCOLS
                && !says_close(resp.headers());
            round.reusable.store(reusable, Ordering::Release);
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let cases: [(&str, &[u8], Head); 8] = [
            ("closed", b"", Head::Closed),
            (
                "whole GET",
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
                Head::Plain,
            ),
            ("bare LF ends", b"GET / HTTP/1.1\nHost: a\n\n", Head::Plain),
            (
                "partial head",
                b"GET / HTTP/1.1\r\nHost: a\r\n",
                Head::Other,
            ),
            (
                "websocket",
                b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                Head::Other,
            ),
            (
                "upgrade any case",
                b"GET / HTTP/1.1\r\nuPGRADE: h2c\r\n\r\n",
                Head::Other,
            ),
            (
                "upgrade in a value only",
                b"GET /upgrade HTTP/1.1\r\nX-A: upgrade\r\n\r\n",
                Head::Plain,
            ),
            (
                "upgrade in the body only",
                b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n\nupgrade:",
                Head::Plain,
            ),
        ];
        for (what, bytes, want) in cases {
            assert_eq!(classify(bytes), want, "{what}");
        }
    }

    #[test]
    fn says_close_table() {
        let cases = [
            ("none", None, false),
            ("close", Some("close"), true),
            ("Close among others", Some("keep-alive, Close"), true),
            ("keep-alive", Some("keep-alive"), false),
            ("closed is not close", Some("closed"), false),
        ];
        for (what, value, want) in cases {
            let mut h = HeaderMap::new();
            if let Some(v) = value {
                h.insert(header::CONNECTION, v.parse().unwrap());
            }
            assert_eq!(says_close(&h), want, "{what}");
        }
    }
}
