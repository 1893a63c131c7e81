//! What the chain tells the access log about one request. The entrypoint
//! puts an [`LogFacts`] in the request's extensions when the request is to
//! be logged; the handlers that learn a fact on the way fill it in (the
//! load balancer: service, server and the origin's answer; `retry`: the
//! attempts; the authentication middlewares: the user name), as Traefik's
//! handlers fill its `LogData` table. Requests that are not logged carry
//! none, and the handlers then do nothing extra.
//!
//! [`Counted`] counts the bytes of a body and says how many when the body
//! is dropped, for the request, origin and downstream sizes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Frame, SizeHint};

use crate::body::{self, BoxError};
use crate::Body;

/// The facts of one request, shared by the clones of its extensions.
#[derive(Debug, Default)]
pub struct LogFacts {
    recorded: Mutex<Recorded>,
    /// Whether the origin's headers can show in the line (else they are
    /// not copied).
    origin_headers: bool,
}

/// The service and server a request was sent to.
#[derive(Debug, Clone)]
pub struct ServiceFacts {
    /// The qualified name of the load-balancer service (`name@provider`).
    pub name: Arc<str>,
    /// The server URL as configured.
    pub url: Arc<str>,
    /// Its `host:port` ([`server_addr`]).
    pub addr: Arc<str>,
}

/// A server URL's `host:port` (as written: no port when it has none), for
/// the access log's `ServiceAddr`.
pub fn server_addr(url: &str) -> &str {
    let rest = url
        .find(':')
        .and_then(|i| url.get(i + 1..))
        .and_then(|r| r.strip_prefix("//"))
        .unwrap_or(url);
    let addr = rest
        .find(['/', '?', '#'])
        .and_then(|end| rest.get(..end))
        .unwrap_or(rest);
    addr.rsplit_once('@').map_or(addr, |(_, a)| a)
}

/// What the origin server answered.
#[derive(Debug, Clone)]
pub struct OriginFacts {
    pub status: u16,
    pub headers: HeaderMap,
    /// Body bytes received, once the body ended.
    pub size: u64,
    /// From the request sent to the end of the origin's body.
    pub duration: Duration,
}

/// Everything the chain recorded.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    pub service: Option<ServiceFacts>,
    pub origin: Option<OriginFacts>,
    /// Attempts after the first (the `retry` middleware's).
    pub retry_attempts: u32,
    /// The user an authentication middleware read from the request.
    pub client_username: Option<String>,
    /// The trace id and the entrypoint span's id (hex), when the request
    /// is traced (sampled or not).
    pub trace: Option<(String, String)>,
}

impl LogFacts {
    /// Empty facts; `origin_headers`: whether the origin's headers are to
    /// be recorded.
    pub fn new(origin_headers: bool) -> LogFacts {
        LogFacts {
            recorded: Mutex::default(),
            origin_headers,
        }
    }

    /// The facts `req` carries, when it is being logged.
    pub fn of<B>(req: &http::Request<B>) -> Option<Arc<LogFacts>> {
        req.extensions().get::<Arc<LogFacts>>().cloned()
    }

    /// Changes the record.
    pub fn update(&self, f: impl FnOnce(&mut Recorded)) {
        let mut r = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut r);
    }

    /// The record as it is now, leaving an empty one: for the access log
    /// once the answer is complete.
    pub fn take(&self) -> Recorded {
        std::mem::take(&mut *self.recorded.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the record as it is now.
    pub fn snapshot(&self) -> Recorded {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl LogFacts {
    /// Records the service and server the request goes to.
    pub fn note_service(&self, service: &Arc<str>, url: &Arc<str>, addr: &Arc<str>) {
        self.update(|r| {
            r.service = Some(ServiceFacts {
                name: service.clone(),
                url: url.clone(),
                addr: addr.clone(),
            });
        });
    }
}

/// Records the origin's answer head and wraps its body so that its size
/// and end are recorded too; `sent` is when the request was sent.
pub fn note_origin(facts: Arc<LogFacts>, resp: crate::Response, sent: Instant) -> crate::Response {
    let status = resp.status().as_u16();
    let headers = if facts.origin_headers {
        resp.headers().clone()
    } else {
        HeaderMap::new()
    };
    facts.update(|r| {
        r.origin = Some(OriginFacts {
            status,
            headers,
            size: 0,
            duration: sent.elapsed(),
        });
    });
    // Typed, not boxed: the counted body is the one allocation.
    resp.map(move |inner| {
        Counted::with_drop(
            inner,
            None,
            Some(move |size| {
                let duration = sent.elapsed();
                facts.update(|r| {
                    if let Some(o) = &mut r.origin {
                        o.size = size;
                        o.duration = duration;
                    }
                });
            }),
        )
        .boxed()
    })
}

/// What a [`Counted`] body calls once, when it is dropped, with the bytes
/// it yielded.
pub type OnDrop = Box<dyn FnOnce(u64) + Send + Sync>;

/// A body that counts the bytes it yields (also into a shared counter,
/// when given one) and calls its drop action (`F`, an [`OnDrop`] unless
/// given as a type) with the count when dropped (whether it ended or was
/// abandoned).
pub struct Counted<F: FnOnce(u64) = OnDrop> {
    inner: Body,
    bytes: u64,
    shared: Option<Arc<AtomicU64>>,
    on_drop: Option<F>,
}

impl Counted {
    pub fn new(inner: Body, shared: Option<Arc<AtomicU64>>, on_drop: Option<OnDrop>) -> Counted {
        Counted::with_drop(inner, shared, on_drop)
    }
}

impl<F: FnOnce(u64) + Send + Sync + Unpin + 'static> Counted<F> {
    /// With a drop action of its own type: the boxed body is then the
    /// only allocation.
    pub fn with_drop(inner: Body, shared: Option<Arc<AtomicU64>>, on_drop: Option<F>) -> Self {
        Counted {
            inner,
            bytes: 0,
            shared,
            on_drop,
        }
    }

    /// As the one body type of the request path.
    pub fn boxed(self) -> Body {
        http_body_util::BodyExt::boxed(self)
    }
}

impl<F: FnOnce(u64) + Unpin> http_body::Body for Counted<F> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let n = data.len() as u64;
                self.bytes += n;
                if let Some(shared) = &self.shared {
                    shared.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<F: FnOnce(u64)> Drop for Counted<F> {
    fn drop(&mut self) {
        // The inner body goes first, so that what it reports on its own
        // drop (the origin's size) is known when this one reports.
        drop(std::mem::replace(&mut self.inner, body::empty()));
        if let Some(f) = self.on_drop.take() {
            f(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn counts_and_reports_on_drop() {
        let seen = Arc::new(AtomicU64::new(u64::MAX));
        let s = seen.clone();
        let counter = Arc::new(AtomicU64::new(0));
        let body = Counted::new(
            body::full("hello"),
            Some(counter.clone()),
            Some(Box::new(move |n| s.store(n, Ordering::Relaxed))),
        )
        .boxed();
        let bytes = body.collect().await.map(|c| c.to_bytes());
        assert_eq!(bytes.ok().as_deref(), Some(&b"hello"[..]));
        assert_eq!(counter.load(Ordering::Relaxed), 5);
        assert_eq!(seen.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn service_addr_from_url() {
        let cases = [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://backend", "backend"),
            ("https://u:p@h:443/base?x", "h:443"),
            ("h2c://[::1]:81/", "[::1]:81"),
        ];
        for (url, want) in cases {
            assert_eq!(server_addr(url), want, "{url}");
        }
    }
}
