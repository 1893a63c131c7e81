//! The keep-alive pool of plain `http://` servers spoken to in HTTP/1.1,
//! over `hyper::client::conn::http1`: the common case, kept cheap. Each
//! request takes the most recently used idle connection of its server (or
//! dials a new one), and its connection goes back to the pool once the
//! response body has been read to its end; a response left unread, failed,
//! or upgraded (101) takes its connection with it. Idle connections are
//! closed after `idleConnTimeout`, at most `maxIdleConnsPerHost` are kept
//! per server, and a request that a reused connection refused before
//! sending a byte (the server had closed it) is sent again on another, as
//! is one the server closed the connection on without answering, when Go's
//! transport would send it again (no body, an idempotent method or an
//! idempotency key).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, PathAndQuery};
use http::{Method, StatusCode, Uri};
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::{Body, Request, Response};

/// How many reused connections a request tries, each found closed before
/// the request was written, before it dials a new one.
const MAX_STALE_TRIES: usize = 4;

/// Why a request got no response.
#[derive(Debug)]
pub(super) enum Failure {
    /// Dialing or the HTTP/1.1 handshake failed.
    Connect(crate::body::BoxError),
    /// The exchange failed once the request was handed to a connection.
    Exchange(hyper::Error),
}

/// FNV-1a: server authorities are short, SipHash is slow for them.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

struct Idle {
    tx: SendRequest<Body>,
    since: Instant,
}

type IdleLists = HashMap<Authority, Vec<Idle>, BuildHasherDefault<Fnv>>;

struct Shared {
    /// Per server, idle connections, the most recently used last.
    idle: Mutex<IdleLists>,
    /// Whether a task closes expired idle connections.
    reaping: AtomicBool,
    max_idle: usize,
    idle_timeout: Option<Duration>,
    dial_timeout: Option<Duration>,
}

/// The HTTP/1.1 pool of one transport for `http://` servers.
pub(super) struct Http1Pool {
    shared: Arc<Shared>,
}

impl Http1Pool {
    pub(super) fn new(
        max_idle: usize,
        idle_timeout: Option<Duration>,
        dial_timeout: Option<Duration>,
    ) -> Self {
        Http1Pool {
            shared: Arc::new(Shared {
                idle: Mutex::new(IdleLists::default()),
                reaping: AtomicBool::new(false),
                max_idle,
                idle_timeout: idle_timeout.filter(|t| !t.is_zero()),
                dial_timeout,
            }),
        }
    }

    /// Whether this pool carries `req`: an `http://` URI with a host, and
    /// not `CONNECT` (whose target is written in authority form).
    pub(super) fn carries(req: &Request) -> bool {
        req.uri().scheme() == Some(&http::uri::Scheme::HTTP)
            && req.uri().authority().is_some()
            && req.method() != Method::CONNECT
    }

    /// Sends `req` (absolute URI, see [`Http1Pool::carries`]) and returns the
    /// response head; its body returns the connection when read to its end.
    pub(super) async fn send(&self, mut req: Request) -> Result<Response, Failure> {
        let Some(authority) = req.uri().authority().cloned() else {
            return Err(Failure::Connect("the server URL has no host".into()));
        };
        // HTTP/1.1 to a server (no proxy): the request target in origin form.
        let pq = req
            .uri()
            .path_and_query()
            .filter(|pq| !pq.as_str().is_empty())
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        *req.uri_mut() = Uri::from(pq);
        let mut stale_tries = 0;
        loop {
            let reused = if stale_tries < MAX_STALE_TRIES {
                self.checkout(&authority).await
            } else {
                None
            };
            let is_reused = reused.is_some();
            let mut tx = match reused {
                Some(tx) => tx,
                // Boxed: dialing is rare, and its future would make every
                // request's future (moved into a box per request) larger.
                None => Box::pin(self.connect(&authority)).await?,
            };
            // On a reused connection, a request that can be sent again
            // keeps a copy, for when the server closed the connection as
            // the request reached it (the race of every idle timeout).
            let replay = if is_reused { replica(&req) } else { None };
            match tx.try_send_request(req).await {
                Ok(resp) => return Ok(self.returning(resp, authority, tx)),
                Err(mut e) => match (e.take_message(), replay) {
                    // Refused before a byte was written: the server had
                    // closed this connection; another one is tried.
                    (Some(back), _) if is_reused => {
                        req = back;
                        stale_tries += 1;
                    }
                    // Written, and the connection ended before a byte of
                    // an answer: sent again as Go's transport does.
                    (None, Some(copy)) if closed_unanswered(e.error()) => {
                        req = copy;
                        stale_tries += 1;
                    }
                    _ => return Err(Failure::Exchange(e.into_error())),
                },
            }
        }
    }

    /// The most recently used idle connection to `authority` that is still
    /// open and ready now. One not ready yet (still sending the body of a
    /// request its server answered early) goes back to the oldest end of
    /// the list: a request never waits behind another's upload.
    async fn checkout(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        for _ in 0..MAX_STALE_TRIES {
            let mut tx = self.shared.take_idle(authority)?;
            match std::future::poll_fn(|cx| Poll::Ready(tx.poll_ready(cx))).await {
                Poll::Ready(Ok(())) => return Some(tx),
                Poll::Ready(Err(_)) => {}
                Poll::Pending => self.shared.put_busy(authority, tx),
            }
        }
        None
    }

    /// Dials `authority` (within `dialTimeout`) and starts an HTTP/1.1
    /// connection on it.
    async fn connect(&self, authority: &Authority) -> Result<SendRequest<Body>, Failure> {
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = authority.port_u16().unwrap_or(80);
        let dial = async {
            let stream = tokio::net::TcpStream::connect((host, port)).await?;
            stream.set_nodelay(true)?;
            Ok::<_, std::io::Error>(stream)
        };
        let stream = match self.shared.dial_timeout {
            Some(limit) => tokio::time::timeout(limit, dial).await.map_err(|_| {
                Failure::Connect(format!("dial tcp {authority}: i/o timeout").into())
            })?,
            None => dial.await,
        }
        .map_err(|e| Failure::Connect(format!("dial tcp {authority}: {e}").into()))?;
        let (tx, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(Box::new(e)))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection ended");
            }
        });
        Ok(tx)
    }

    /// `resp` with a body that gives `tx` back to the pool at its end (at
    /// once when there is none); an upgrade keeps the connection.
    fn returning(
        &self,
        resp: http::Response<Incoming>,
        authority: Authority,
        tx: SendRequest<Body>,
    ) -> Response {
        let back = if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            None
        } else if resp.body().is_end_stream() {
            self.shared.put(authority, tx);
            None
        } else {
            Some(GiveBack {
                shared: self.shared.clone(),
                authority,
                tx,
            })
        };
        resp.map(|inner| crate::body::boxed(Returning { inner, back }))
    }
}

/// A copy of `req` when it may be sent twice, as Go's transport decides
/// (`isReplayable`): no body, and an idempotent method (GET, HEAD, OPTIONS,
/// TRACE) or an `Idempotency-Key` / `X-Idempotency-Key` header.
fn replica(req: &Request) -> Option<Request> {
    let idempotent = matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || req.headers().contains_key("idempotency-key")
        || req.headers().contains_key("x-idempotency-key");
    if !idempotent || !req.body().is_end_stream() {
        return None;
    }
    let mut copy = http::Request::new(crate::body::empty());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

/// Whether `error` says the server ended the connection (closed or reset
/// it) before answering a request written on it.
fn closed_unanswered(error: &hyper::Error) -> bool {
    if error.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        source = cause.source();
    }
    false
}

impl Shared {
    fn lists(&self) -> std::sync::MutexGuard<'_, IdleLists> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the most recent idle connection to `authority` not closed nor
    /// expired (older ones expire first: the rest of the list goes too).
    fn take_idle(&self, authority: &Authority) -> Option<SendRequest<Body>> {
        let mut lists = self.lists();
        let list = lists.get_mut(authority)?;
        while let Some(idle) = list.pop() {
            if self
                .idle_timeout
                .is_some_and(|limit| idle.since.elapsed() >= limit)
            {
                list.clear();
                return None;
            }
            if !idle.tx.is_closed() {
                return Some(idle.tx);
            }
        }
        None
    }

    /// Keeps `tx` as an idle connection to `authority`, unless closed or
    /// beyond `maxIdleConnsPerHost`.
    fn put(self: &Arc<Self>, authority: Authority, tx: SendRequest<Body>) {
        if self.max_idle == 0 || tx.is_closed() {
            return;
        }
        {
            let mut lists = self.lists();
            let list = lists.entry(authority).or_default();
            if list.len() >= self.max_idle {
                return;
            }
            list.push(Idle {
                tx,
                since: Instant::now(),
            });
        }
        if let Some(every) = self.idle_timeout {
            if !self.reaping.swap(true, Ordering::AcqRel) {
                tokio::spawn(reap(Arc::downgrade(self), every));
            }
        }
    }
}

impl Shared {
    /// Keeps `tx`, busy for now, at the oldest end of the idle list.
    fn put_busy(&self, authority: &Authority, tx: SendRequest<Body>) {
        let mut lists = self.lists();
        if let Some(list) = lists.get_mut(authority) {
            if list.len() < self.max_idle {
                list.insert(
                    0,
                    Idle {
                        tx,
                        since: Instant::now(),
                    },
                );
            }
        }
    }
}

/// Closes idle connections older than `limit` (or closed by the server),
/// every `limit`, while there are any; ends with the pool.
async fn reap(pool: Weak<Shared>, limit: Duration) {
    loop {
        tokio::time::sleep(limit).await;
        let Some(shared) = pool.upgrade() else { return };
        let mut lists = shared.lists();
        lists.retain(|_, list| {
            list.retain(|idle| idle.since.elapsed() < limit && !idle.tx.is_closed());
            !list.is_empty()
        });
        if lists.is_empty() {
            // Under the lock: a `put` after this sees the flag down.
            shared.reaping.store(false, Ordering::Release);
            return;
        }
    }
}

struct GiveBack {
    shared: Arc<Shared>,
    authority: Authority,
    tx: SendRequest<Body>,
}

pin_project_lite::pin_project! {
    /// A response body that gives its connection back at its end.
    struct Returning {
        #[pin]
        inner: Incoming,
        back: Option<GiveBack>,
    }
}

impl http_body::Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut this = self.project();
        let frame = std::task::ready!(this.inner.as_mut().poll_frame(cx));
        let ended = match &frame {
            None => true,
            Some(Ok(_)) => this.inner.is_end_stream(),
            Some(Err(_)) => {
                this.back.take();
                false
            }
        };
        if ended {
            if let Some(GiveBack {
                shared,
                authority,
                tx,
            }) = this.back.take()
            {
                shared.put(authority, tx);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_hashes_as_specified() {
        // FNV-1a test vectors.
        for (input, want) in [
            (&b"a"[..], 0xaf63_dc4c_8601_ec8c_u64),
            (&b"foobar"[..], 0x8594_4171_f739_67e8),
        ] {
            let mut h = Fnv::default();
            h.write(input);
            assert_eq!(h.finish(), want, "{input:?}");
        }
    }
}
