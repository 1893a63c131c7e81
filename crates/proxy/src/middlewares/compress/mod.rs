//! `compress`: gzip, brotli or zstd, chosen from `Accept-Encoding` (q-values,
//! ties by the order of `encodings`), for responses of at least
//! `minResponseBodyBytes` whose type is allowed and that are not encoded
//! already. A body that arrives complete, without pausing and within
//! `WHOLE_MAX` is compressed in one call and sent with its length (as Go's
//! server does for a small answer); any other streams (`stream.rs`), so
//! event streams keep flowing. Levels and their sizes against Traefik's:
//! `encode.rs`.

mod encode;
mod stream;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method};
use http_body::{Body as _, Frame};

use crate::body::{self, Body, BoxError};
use crate::{BoxHandler, Handler, HandlerFuture, Request, Response};
pub use encode::Pools;

/// The encodings Switchyard can produce, by Traefik's names.
pub const SUPPORTED: [&str; 3] = ["gzip", "br", "zstd"];

/// `name` as one of [`SUPPORTED`].
fn supported(name: &str) -> Option<&'static str> {
    SUPPORTED.into_iter().find(|s| *s == name)
}

#[derive(Debug, Clone)]
pub struct CompressSettings {
    /// In preference order.
    pub encodings: Vec<String>,
    pub default_encoding: Option<String>,
    pub excluded_content_types: Vec<String>,
    pub included_content_types: Vec<String>,
    pub min_response_body_bytes: usize,
}

pub struct Compress {
    pool: Arc<Pools>,
    s: CompressSettings,
    excludes: Vec<String>,
    /// The checks on the response's type, shared by its requests.
    types: Arc<TypeCheck>,
    next: BoxHandler,
}

fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Compress {
    /// Shares `pool` with the other chains built from the same definition.
    pub fn with_pool(mut self, pool: Arc<Pools>) -> Compress {
        self.pool = pool;
        self
    }

    pub fn new(s: CompressSettings, next: BoxHandler) -> Result<Compress, String> {
        if !s.excluded_content_types.is_empty() && !s.included_content_types.is_empty() {
            return Err(
                "excludedContentTypes and includedContentTypes options are mutually exclusive"
                    .into(),
            );
        }
        if s.encodings.is_empty() {
            return Err("at least one encoding must be specified".into());
        }
        if let Some(e) = s
            .encodings
            .iter()
            .find(|e| !SUPPORTED.contains(&e.as_str()))
        {
            return Err(format!("unsupported encoding: {e}"));
        }
        if let Some(d) = s
            .default_encoding
            .as_deref()
            .filter(|d| !s.encodings.iter().any(|e| e == d))
        {
            return Err(format!("unsupported default encoding: {d}"));
        }
        let mut excludes = vec!["application/grpc".to_string()];
        excludes.extend(s.excluded_content_types.iter().map(|t| media_type(t)));
        let types = Arc::new(TypeCheck {
            included: s
                .included_content_types
                .iter()
                .map(|t| media_type(t))
                .collect(),
            excluded: excludes.clone(),
        });
        Ok(Compress {
            pool: Arc::new(Pools::default()),
            s,
            types,
            excludes,
            next,
        })
    }

    /// The encoding for a request's `Accept-Encoding` lines, if any.
    pub fn choose(&self, accept: &[&str]) -> Option<&'static str> {
        if accept.is_empty() {
            return self.s.default_encoding.as_deref().and_then(supported);
        }
        if accept.len() == 1 && accept[0].trim().is_empty() {
            return None;
        }
        let rank = |t: &str| -> i64 {
            match t {
                "*" => -1,
                "identity" => self.s.encodings.len() as i64,
                _ => self
                    .s
                    .encodings
                    .iter()
                    .position(|e| e == t)
                    .map_or(i64::MAX, |i| i as i64),
            }
        };
        let mut acceptable: Vec<(String, f64)> = Vec::new();
        for line in accept {
            for item in line.replace(' ', "").split(',') {
                let mut parts = item.splitn(2, ';');
                let name = parts.next().unwrap_or("");
                if rank(name) == i64::MAX {
                    continue;
                }
                let mut weight = 1.0;
                if let Some(q) = parts.next().and_then(|p| p.strip_prefix("q=")) {
                    weight = q.parse().unwrap_or(0.0);
                    if weight == 0.0 {
                        continue;
                    }
                }
                acceptable.push((name.to_string(), weight));
            }
        }
        acceptable.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| rank(&a.0).cmp(&rank(&b.0)))
        });
        let (best, _) = acceptable.into_iter().next()?;
        match best.as_str() {
            "*" => supported(
                self.s
                    .default_encoding
                    .as_deref()
                    .unwrap_or(&self.s.encodings[0]),
            ),
            "identity" => None,
            other => supported(other),
        }
    }
}

impl Handler for Compress {
    fn call(&self, req: Request) -> HandlerFuture {
        if req.method() == Method::HEAD {
            return self.next.call(req);
        }
        let req_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        if self.excludes.contains(&req_type) {
            return self.next.call(req);
        }
        let accept: Vec<&str> = req
            .headers()
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let Some(encoding) = self.choose(&accept) else {
            return self.next.call(req);
        };
        let fut = self.next.call(req);
        let min = self.s.min_response_body_bytes;
        // Only the checks that need the response are left for later.
        let types = self.types.clone();
        let pool = self.pool.clone();
        Box::pin(async move {
            let resp = fut.await?;
            Ok(compress_response(resp, encoding, min, &types, &pool).await)
        })
    }
}

struct TypeCheck {
    included: Vec<String>,
    excluded: Vec<String>,
}

impl TypeCheck {
    fn allows(&self, headers: &HeaderMap) -> bool {
        let t = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        if !self.included.is_empty() {
            return self.included.contains(&t);
        }
        !self.excluded.contains(&t)
    }
}

fn add_vary(headers: &mut HeaderMap) {
    let has = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"));
    if !has {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

/// Bodies up to this size that arrive without pausing are compressed in one
/// call and sent with a `Content-Length`; larger or slower ones stream.
const WHOLE_MAX: usize = 128 * 1024;

/// What the source did next.
enum Step {
    Frame(Frame<Bytes>),
    Error(BoxError),
    End,
    /// Nothing came within the wait.
    Paused,
}

/// The next frame of `body`, waiting at most `wait` (forever if `None`).
async fn next_frame(body: &mut Body, wait: Option<std::time::Duration>) -> Step {
    let convert = |f: Option<Result<Frame<Bytes>, BoxError>>| match f {
        Some(Ok(frame)) => Step::Frame(frame),
        Some(Err(e)) => Step::Error(e),
        None => Step::End,
    };
    let mut next = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx));
    match wait {
        None => convert(next.await),
        Some(wait) => {
            // A frame that is ready costs no timer.
            let now = std::future::poll_fn(|cx| match Pin::new(&mut next).poll(cx) {
                Poll::Ready(f) => Poll::Ready(Some(f)),
                Poll::Pending => Poll::Ready(None),
            })
            .await;
            match now {
                Some(f) => convert(f),
                None if wait.is_zero() => Step::Paused,
                None => match tokio::time::timeout(wait, next).await {
                    Ok(f) => convert(f),
                    Err(_) => Step::Paused,
                },
            }
        }
    }
}

async fn compress_response(
    resp: Response,
    encoding: &str,
    min: usize,
    types: &TypeCheck,
    pools: &Arc<Pools>,
) -> Response {
    let (mut parts, mut inner) = resp.into_parts();
    let length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let skip = parts.headers.contains_key(header::CONTENT_ENCODING)
        || !types.allows(&parts.headers)
        || parts.status.is_informational()
        || parts.status == http::StatusCode::NO_CONTENT
        || parts.status == http::StatusCode::NOT_MODIFIED
        || length.is_some_and(|n| n < min);
    if skip {
        return Response::from_parts(parts, inner);
    }
    // A stream (no length, or server-sent events) is flushed whenever the
    // backend pauses; a body of known length may wait FLUSH_INTERVAL.
    let is_stream = length.is_none()
        || parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| media_type(t) == "text/event-stream");
    // Read up to `min` bytes before deciding, as Traefik does; then on, to
    // take the body whole if it comes complete, small and without pausing.
    let mut read: Vec<Bytes> = Vec::new();
    let mut len = 0;
    let mut trailers = None;
    let mut paused = false;
    let mut ended = false;
    while len <= WHOLE_MAX {
        let wait = if len < min {
            None
        } else if is_stream {
            Some(std::time::Duration::ZERO)
        } else {
            Some(stream::FLUSH_INTERVAL)
        };
        match next_frame(&mut inner, wait).await {
            Step::Frame(frame) => match frame.into_data() {
                Ok(data) => {
                    len += data.len();
                    read.push(data);
                }
                Err(frame) => {
                    trailers = frame.into_trailers().ok();
                    ended = true;
                    break;
                }
            },
            Step::Error(e) => {
                // Hand the error on after what was read, uncompressed.
                let rest = futures_util::stream::iter([Err::<Frame<Bytes>, BoxError>(e)]);
                let body = prefixed(
                    read,
                    None,
                    body::boxed(http_body_util::StreamBody::new(rest)),
                );
                return Response::from_parts(parts, body);
            }
            Step::End => {
                ended = true;
                break;
            }
            Step::Paused => {
                paused = true;
                break;
            }
        }
    }
    if ended && len < min {
        return Response::from_parts(parts, prefixed(read, trailers, body::empty()));
    }
    if ended {
        let out = match encode::whole(encoding, &read, pools) {
            Ok(out) => out,
            Err(e) => {
                tracing::debug!(encoding, error = %e, "compress: sending uncompressed");
                return Response::from_parts(parts, prefixed(read, trailers, body::empty()));
            }
        };
        mark_encoded(&mut parts.headers, encoding);
        if trailers.is_none() {
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(out.len()));
        }
        return Response::from_parts(
            parts,
            prefixed(vec![Bytes::from(out)], trailers, body::empty()),
        );
    }
    let mut encoder = match encode::Stream::new(encoding, pools) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(encoding, error = %e, "compress: sending uncompressed");
            return Response::from_parts(parts, prefixed(read, trailers, inner));
        }
    };
    let written = read.iter().try_for_each(|piece| encoder.write(piece));
    let flushed = written.and_then(|()| if paused { encoder.flush() } else { Ok(()) });
    if let Err(e) = flushed {
        let rest = futures_util::stream::iter([Err::<Frame<Bytes>, BoxError>(e.into())]);
        return Response::from_parts(parts, body::boxed(http_body_util::StreamBody::new(rest)));
    }
    mark_encoded(&mut parts.headers, encoding);
    let body = stream::Compressing::new(encoder, !paused && len > 0, inner, is_stream);
    Response::from_parts(parts, body::boxed(body))
}

/// The headers of a response whose body is now `encoding`-encoded.
fn mark_encoded(headers: &mut HeaderMap, encoding: &str) {
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::ACCEPT_RANGES);
    if let Ok(v) = HeaderValue::from_str(encoding) {
        headers.insert(header::CONTENT_ENCODING, v);
    }
    add_vary(headers);
}

/// `read`, then `rest`, then `trailers`.
fn prefixed(read: Vec<Bytes>, trailers: Option<HeaderMap>, rest: Body) -> Body {
    if trailers.is_none() && rest.is_end_stream() {
        match <[Bytes; 1]>::try_from(read) {
            Ok([one]) => return body::full(one),
            Err(read) if read.is_empty() => return rest,
            Err(read) => return prefixed_stream(read, None, rest),
        }
    }
    prefixed_stream(read, trailers, rest)
}

fn prefixed_stream(read: Vec<Bytes>, trailers: Option<HeaderMap>, rest: Body) -> Body {
    use futures_util::StreamExt;
    let head =
        futures_util::stream::iter(read.into_iter().map(|b| Ok::<_, BoxError>(Frame::data(b))));
    let tail = futures_util::stream::iter(trailers.map(|t| Ok::<_, BoxError>(Frame::trailers(t))));
    let middle = http_body_util::BodyStream::new(rest);
    body::boxed(http_body_util::StreamBody::new(
        head.chain(middle).chain(tail),
    ))
}

/// Translates a `compress` definition. Every router using it shares one
/// pool of compressors.
pub fn from_config(
    c: switchyard_config::middlewares::Compress,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let settings = CompressSettings {
        encodings: c.encodings,
        default_encoding: c.default_encoding.filter(|d| !d.is_empty()),
        excluded_content_types: c.excluded_content_types,
        included_content_types: c.included_content_types,
        min_response_body_bytes: usize::try_from(c.min_response_body_bytes)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(1024),
    };
    Compress::new(settings.clone(), super::noop()).map_err(|e| format!("compress: {e}"))?;
    let pool = Arc::new(Pools::default());
    Ok(super::validated(move |next| {
        Compress::new(settings.clone(), next).map(|m| m.with_pool(pool.clone()))
    }))
}

#[cfg(test)]
mod tests;
