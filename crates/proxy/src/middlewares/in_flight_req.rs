//! `inFlightReq`: at most `amount` requests at once per source (the client
//! IP by `ipStrategy`, a request header, or the Host); the next gets 429.
//! A request counts until its response has been sent whole. The counters
//! belong to the middleware's definition, so they live on across reloads
//! that leave it unchanged.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;

use super::client_ip::IpStrategy;
use crate::body::BoxError;
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

/// What a request is counted against.
#[derive(Debug, Clone)]
pub enum Source {
    Ip(IpStrategy),
    Header(http::HeaderName),
    Host,
}

impl Source {
    pub fn key(&self, req: &Request) -> Option<String> {
        match self {
            Source::Ip(s) => s.client_ip(req).map(|ip| ip.to_string()),
            Source::Header(h) => req
                .headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            Source::Host => req
                .headers()
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or_else(|| req.uri().authority().map(|a| a.to_string())),
        }
    }
}

/// The counters, shared by every chain built from one definition.
#[derive(Debug, Default)]
pub struct Counters {
    by_source: Mutex<HashMap<String, u64>>,
}

impl Counters {
    fn acquire(self: &Arc<Self>, key: String, limit: u64) -> Option<Slot> {
        let mut map = self.by_source.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            counters: self.clone(),
            key,
        })
    }

    /// Requests in flight for `key` (for tests and the API).
    pub fn current(&self, key: &str) -> u64 {
        self.by_source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

/// One request's place; freed when dropped.
struct Slot {
    counters: Arc<Counters>,
    key: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self
            .counters
            .by_source
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

pub struct InFlightReq {
    limit: u64,
    source: Source,
    counters: Arc<Counters>,
    next: BoxHandler,
}

impl InFlightReq {
    pub fn new(
        limit: u64,
        source: Source,
        counters: Arc<Counters>,
        next: BoxHandler,
    ) -> InFlightReq {
        InFlightReq {
            limit,
            source,
            counters,
            next,
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that holds its request's slot until it ends.
    struct Held<B> {
        #[pin]
        inner: B,
        slot: Option<Slot>,
    }
}

impl<B> http_body::Body for Held<B>
where
    B: http_body::Body<Data = Bytes, Error = BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.slot.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Handler for InFlightReq {
    fn call(&self, req: Request) -> HandlerFuture {
        let Some(key) = self.source.key(&req) else {
            return Box::pin(async {
                Err(ProxyError::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Internal Server Error".into(),
                })
            });
        };
        let Some(slot) = self.counters.acquire(key, self.limit) else {
            // Traefik's text for it.
            let message = format!("max connections reached: {}", self.limit);
            return Box::pin(async move {
                Err(ProxyError::Status {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    message,
                })
            });
        };
        let fut = self.next.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(resp.map(|b| {
                http_body_util::BodyExt::boxed(Held {
                    inner: b,
                    slot: Some(slot),
                })
            }))
        })
    }
}

/// Translates an `inFlightReq` definition. Every router using it shares one
/// set of counters.
pub fn from_config(
    c: switchyard_config::middlewares::InFlightReq,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let limit = u64::try_from(c.amount)
        .ok()
        .filter(|a| *a > 0)
        .ok_or("inFlightReq: amount must be greater than 0")?;
    let source = source_from_config(c.source_criterion.as_ref())?;
    let counters = Arc::new(Counters::default());
    Ok(Arc::new(move |next| {
        Arc::new(InFlightReq::new(
            limit,
            source.clone(),
            counters.clone(),
            next,
        )) as BoxHandler
    }))
}

/// The source a `sourceCriterion` section describes (the client IP without
/// one): a request header, the host, or the IP by an `ipStrategy`.
pub fn source_from_config(
    c: Option<&switchyard_config::middlewares::SourceCriterion>,
) -> Result<Source, String> {
    let Some(c) = c else {
        return Ok(Source::Ip(IpStrategy::default()));
    };
    if let Some(h) = c.request_header_name.as_deref().filter(|h| !h.is_empty()) {
        let name = http::HeaderName::from_bytes(h.as_bytes())
            .map_err(|_| format!("sourceCriterion.requestHeaderName: invalid header {h:?}"))?;
        return Ok(Source::Header(name));
    }
    if c.request_host {
        return Ok(Source::Host);
    }
    Ok(Source::Ip(super::client_ip::strategy_from_config(
        c.ip_strategy.as_ref(),
    )?))
}
