//! `buffering`: reads the whole request before sending it on, and the whole
//! answer before sending it back, in memory up to a threshold and in a
//! temporary file beyond it; bodies over the maximums get a 413. With a
//! `retryExpression`, the buffered request is sent again (up to 10 times)
//! while the expression holds for the answer.
//!
//! Framing, as Traefik's: the buffered request goes on with a
//! `Content-Length` of its size, never chunked (an empty body declares
//! `Content-Length: 0` only for POST, PUT and PATCH, as Go's client does).
//! The answer keeps the backend's `Content-Length`; one the backend sent
//! without a length gets one when it is small enough to fit Go's server
//! buffer (2048 bytes over HTTP/1.x, 4096 over HTTP/2 and HTTP/3), and is
//! sent chunked otherwise.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::body::{self, Body, BoxError};
use crate::context::request_from_parts;
use crate::predicate::{self, Call, Expr, Functions, Kind, Signature, Value};
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request, Response};

/// The functions a retry expression can call.
pub const FUNCTIONS: &[Signature] = &[
    Signature {
        name: "RequestMethod",
        args: &[],
        returns: Kind::Text,
    },
    Signature {
        name: "IsNetworkError",
        args: &[],
        returns: Kind::Bool,
    },
    Signature {
        name: "Attempts",
        args: &[],
        returns: Kind::Number,
    },
    Signature {
        name: "ResponseCode",
        args: &[],
        returns: Kind::Number,
    },
];

/// Attempts at most, whatever the expression says (as Traefik).
const MAX_ATTEMPTS: u32 = 10;

/// The largest answer without a length of its own that Go's HTTP/1.x
/// server still sends with a `Content-Length` (its buffer before chunking).
const GO_H1_LENGTH_BUFFER: u64 = 2048;

/// The same for Go's HTTP/2 server (and quic-go's HTTP/3 one).
const GO_H2_LENGTH_BUFFER: u64 = 4096;

#[derive(Debug, Clone)]
pub struct Settings {
    /// 0: no maximum.
    pub max_request_body_bytes: u64,
    pub mem_request_body_bytes: u64,
    pub max_response_body_bytes: u64,
    pub mem_response_body_bytes: u64,
    pub retry_expression: String,
}

/// A body read whole: its first bytes in memory, the rest in a temporary
/// file that is removed when the spool is dropped.
#[derive(Debug)]
pub struct Spool {
    memory: Vec<Bytes>,
    file: Option<PathBuf>,
    size: u64,
}

#[derive(Debug)]
pub enum SpoolError {
    TooLarge,
    Body(BoxError),
    Io(std::io::Error),
}

static SPOOL_ID: AtomicU64 = AtomicU64::new(0);

impl Spool {
    /// Reads `body`; `max` 0 means no maximum.
    pub async fn fill(mut body: Body, mem: u64, max: u64) -> Result<Spool, SpoolError> {
        let mut spool = Spool {
            memory: Vec::new(),
            file: None,
            size: 0,
        };
        let mut file: Option<tokio::fs::File> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(SpoolError::Body)?;
            let Ok(data) = frame.into_data() else { break };
            spool.size += data.len() as u64;
            if max > 0 && spool.size > max {
                return Err(SpoolError::TooLarge);
            }
            if file.is_none() && spool.size > mem {
                let path = std::env::temp_dir().join(format!(
                    "switchyard-buffer-{}-{}",
                    std::process::id(),
                    SPOOL_ID.fetch_add(1, Ordering::Relaxed)
                ));
                let f = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .await
                    .map_err(SpoolError::Io)?;
                spool.file = Some(path);
                file = Some(f);
            }
            match file.as_mut() {
                Some(f) => f.write_all(&data).await.map_err(SpoolError::Io)?,
                None => spool.memory.push(data),
            }
        }
        if let Some(mut f) = file {
            f.flush().await.map_err(SpoolError::Io)?;
        }
        Ok(spool)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether part of it went to disk.
    pub fn on_disk(&self) -> bool {
        self.file.is_some()
    }

    /// A body that yields the spooled bytes again.
    pub fn body(self: &Arc<Self>) -> Body {
        if self.file.is_none() {
            let chunks: Vec<Result<http_body::Frame<Bytes>, BoxError>> = self
                .memory
                .iter()
                .map(|b| Ok(http_body::Frame::data(b.clone())))
                .collect();
            return BodyExt::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
                chunks,
            )));
        }
        let spool = self.clone();
        enum Step {
            Memory(usize),
            File(Option<tokio::fs::File>),
            Done,
        }
        let stream = futures_util::stream::unfold(Step::Memory(0), move |step| {
            let spool = spool.clone();
            async move {
                match step {
                    Step::Memory(i) if i < spool.memory.len() => Some((
                        Ok(http_body::Frame::data(spool.memory[i].clone())),
                        Step::Memory(i + 1),
                    )),
                    Step::Memory(_) => {
                        let path = spool.file.clone()?;
                        match tokio::fs::File::open(&path).await {
                            Ok(f) => read_chunk(f)
                                .await
                                .map(|(r, f)| (r, f.map_or(Step::Done, |f| Step::File(Some(f))))),
                            Err(e) => Some((Err(Box::new(e) as BoxError), Step::Done)),
                        }
                    }
                    Step::File(Some(f)) => read_chunk(f)
                        .await
                        .map(|(r, f)| (r, f.map_or(Step::Done, |f| Step::File(Some(f))))),
                    Step::File(None) | Step::Done => None,
                }
            }
        });
        async fn read_chunk(
            mut f: tokio::fs::File,
        ) -> Option<(
            Result<http_body::Frame<Bytes>, BoxError>,
            Option<tokio::fs::File>,
        )> {
            let mut buf = vec![0u8; 64 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(http_body::Frame::data(Bytes::from(buf))), Some(f)))
                }
                Err(e) => Some((Err(Box::new(e) as BoxError), None)),
            }
        }
        BodyExt::boxed(http_body_util::StreamBody::new(stream))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(path) = &self.file {
            let _ = std::fs::remove_file(path);
        }
    }
}

pub struct Buffering {
    settings: Arc<Settings>,
    retry: Option<Arc<Expr>>,
    next: BoxHandler,
}

impl Buffering {
    pub fn new(settings: Settings, next: BoxHandler) -> Result<Buffering, String> {
        let retry = if settings.retry_expression.trim().is_empty() {
            None
        } else {
            Some(Arc::new(
                predicate::parse(&settings.retry_expression, FUNCTIONS).map_err(|e| {
                    format!(
                        "buffering.retryExpression {:?}: {e}",
                        settings.retry_expression
                    )
                })?,
            ))
        };
        Ok(Buffering {
            settings: Arc::new(settings),
            retry,
            next,
        })
    }
}

/// What a retry expression sees.
struct Attempt<'a> {
    method: &'a Method,
    attempt: u32,
    status: u16,
}

impl Functions for Attempt<'_> {
    fn call(&self, call: &Call) -> Value {
        match call.name {
            "RequestMethod" => Value::Text(self.method.as_str().to_string()),
            "IsNetworkError" => Value::Bool(self.status == 502 || self.status == 504),
            "Attempts" => Value::Number(f64::from(self.attempt)),
            _ => Value::Number(f64::from(self.status)),
        }
    }
}

fn too_large() -> Response {
    let mut resp = Response::new(body::full("Request Entity Too Large"));
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp
}

fn internal_error() -> Response {
    let mut resp = Response::new(body::full("Internal Server Error"));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

fn spool_error(e: SpoolError) -> Result<Response, ProxyError> {
    match e {
        SpoolError::TooLarge => Ok(too_large()),
        SpoolError::Body(e) => Err(ProxyError::BadRequest(e.to_string())),
        SpoolError::Io(e) => {
            tracing::error!(error = %e, "buffering: cannot use the temporary file");
            Ok(internal_error())
        }
    }
}

/// Declares the buffered request body's length instead of the client's
/// framing, as Go's client does for a request of known length.
fn declare_request_length(headers: &mut HeaderMap, method: &Method, size: u64) {
    headers.remove(TRANSFER_ENCODING);
    if size > 0 || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    } else {
        headers.remove(CONTENT_LENGTH);
    }
}

/// Whether an answer of `size` bytes that came without a length leaves
/// with one: when Go's server, answering over `version`, would have held
/// it whole before writing the head.
fn fits_go_buffer(version: Version, size: u64) -> bool {
    let buffer = if version >= Version::HTTP_2 {
        GO_H2_LENGTH_BUFFER
    } else {
        GO_H1_LENGTH_BUFFER
    };
    size <= buffer
}

fn expects_body(method: &Method, resp: &Response) -> bool {
    let s = resp.status();
    !(method == Method::HEAD
        || s.is_informational()
        || s == StatusCode::NO_CONTENT
        || s == StatusCode::NOT_MODIFIED
        || resp.headers().get(CONTENT_LENGTH).is_some_and(|v| v == "0"))
}

impl Handler for Buffering {
    fn call(&self, req: Request) -> HandlerFuture {
        let settings = self.settings.clone();
        let retry = self.retry.clone();
        let next = self.next.clone();
        Box::pin(async move {
            let declared = req
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if settings.max_request_body_bytes > 0
                && declared.is_some_and(|n| n > settings.max_request_body_bytes)
            {
                return Ok(too_large());
            }
            let (mut parts, body_in) = req.into_parts();
            let spool = match Spool::fill(
                body_in,
                settings.mem_request_body_bytes,
                settings.max_request_body_bytes,
            )
            .await
            {
                Ok(s) => Arc::new(s),
                Err(e) => return spool_error(e),
            };
            declare_request_length(&mut parts.headers, &parts.method, spool.size());
            let mut attempt = 1;
            loop {
                let body = if spool.size() == 0 {
                    body::empty()
                } else {
                    spool.body()
                };
                let result = next.call(request_from_parts(&parts, body)).await;
                let resp = match result {
                    Ok(resp) => resp,
                    Err(e) => e.into_response(),
                };
                let again = attempt < MAX_ATTEMPTS
                    && retry.as_ref().is_some_and(|expr| {
                        expr.eval(&Attempt {
                            method: &parts.method,
                            attempt,
                            status: resp.status().as_u16(),
                        })
                    });
                if again {
                    tracing::debug!(attempt, "buffering: retrying");
                    attempt += 1;
                    continue;
                }
                if !expects_body(&parts.method, &resp) {
                    return Ok(resp);
                }
                let (mut rparts, rbody) = resp.into_parts();
                let answer = match Spool::fill(
                    rbody,
                    settings.mem_response_body_bytes,
                    settings.max_response_body_bytes,
                )
                .await
                {
                    Ok(s) => Arc::new(s),
                    // An answer over the limit is the proxy's failure: 500.
                    Err(SpoolError::TooLarge) => return Ok(internal_error()),
                    Err(e) => return spool_error(e),
                };
                rparts.headers.remove(TRANSFER_ENCODING);
                if rparts.headers.contains_key(CONTENT_LENGTH)
                    || fits_go_buffer(parts.version, answer.size())
                {
                    rparts
                        .headers
                        .insert(CONTENT_LENGTH, HeaderValue::from(answer.size()));
                }
                // Without a Content-Length, the spool's body (of unknown
                // length) goes out chunked.
                return Ok(Response::from_parts(rparts, answer.body()));
            }
        })
    }
}

/// Translates a `buffering` definition (a zero memory limit means 1 MiB).
pub fn from_config(
    c: switchyard_config::middlewares::Buffering,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let size = |n: i64, what: &str| {
        u64::try_from(n).map_err(|_| format!("buffering.{what} must not be negative"))
    };
    let mem = |n: i64, what: &str| size(n, what).map(|n| if n == 0 { 1024 * 1024 } else { n });
    let settings = Settings {
        max_request_body_bytes: size(c.max_request_body_bytes, "maxRequestBodyBytes")?,
        mem_request_body_bytes: mem(c.mem_request_body_bytes, "memRequestBodyBytes")?,
        max_response_body_bytes: size(c.max_response_body_bytes, "maxResponseBodyBytes")?,
        mem_response_body_bytes: mem(c.mem_response_body_bytes, "memResponseBodyBytes")?,
        retry_expression: c.retry_expression,
    };
    Buffering::new(settings.clone(), super::noop())?;
    Ok(super::validated(move |next| {
        Buffering::new(settings.clone(), next)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(n: usize, size: usize) -> Body {
        let frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = (0..n)
            .map(|i| {
                Ok(http_body::Frame::data(Bytes::from(vec![
                    b'a' + i as u8;
                    size
                ])))
            })
            .collect();
        BodyExt::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    #[tokio::test]
    async fn spools_to_disk_past_the_memory_threshold_and_replays() {
        let spool = Arc::new(Spool::fill(chunks(4, 1000), 1500, 0).await.unwrap());
        assert!(spool.on_disk());
        assert_eq!(spool.size(), 4000);
        let path = spool.file.clone().unwrap();
        assert!(path.exists());
        for _ in 0..2 {
            let bytes = spool.body().collect().await.unwrap().to_bytes();
            assert_eq!(bytes.len(), 4000);
            assert_eq!(&bytes[..1], b"a");
            assert_eq!(&bytes[3999..], b"d");
        }
        drop(spool);
        assert!(!path.exists(), "the temporary file is removed");
    }

    #[tokio::test]
    async fn small_bodies_stay_in_memory_and_large_ones_are_refused() {
        let spool = Spool::fill(chunks(2, 10), 100, 0).await.unwrap();
        assert!(!spool.on_disk());
        assert!(matches!(
            Spool::fill(chunks(3, 10), 100, 25).await,
            Err(SpoolError::TooLarge)
        ));
        assert!(Spool::fill(chunks(3, 10), 100, 30).await.is_ok());
    }

    #[test]
    fn request_length_is_declared_as_go_declares_it() {
        type Headers = &'static [(&'static str, &'static str)];
        let cases: [(&str, Method, Headers, u64, Option<&str>); 6] = [
            (
                "chunked body: its size",
                Method::POST,
                &[("transfer-encoding", "chunked")],
                11,
                Some("11"),
            ),
            (
                "chunked GET body: its size too",
                Method::GET,
                &[("transfer-encoding", "chunked")],
                3,
                Some("3"),
            ),
            ("empty POST: 0", Method::POST, &[], 0, Some("0")),
            (
                "empty PUT sent chunked: 0",
                Method::PUT,
                &[("transfer-encoding", "chunked")],
                0,
                Some("0"),
            ),
            (
                "empty DELETE: none",
                Method::DELETE,
                &[("transfer-encoding", "chunked")],
                0,
                None,
            ),
            (
                "GET with Content-Length: 0: none",
                Method::GET,
                &[("content-length", "0")],
                0,
                None,
            ),
        ];
        for (what, method, given, size, want) in cases {
            let mut h = HeaderMap::new();
            for (k, v) in given {
                h.insert(*k, HeaderValue::from_static(v));
            }
            declare_request_length(&mut h, &method, size);
            assert!(!h.contains_key(TRANSFER_ENCODING), "{what}");
            assert_eq!(
                h.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()),
                want,
                "{what}"
            );
        }
    }

    #[test]
    fn answers_without_length_get_one_when_go_would_buffer_them() {
        let cases = [
            (Version::HTTP_11, 2048, true),
            (Version::HTTP_11, 2049, false),
            (Version::HTTP_10, 0, true),
            (Version::HTTP_2, 4096, true),
            (Version::HTTP_2, 4097, false),
            (Version::HTTP_3, 4000, true),
        ];
        for (version, size, want) in cases {
            assert_eq!(fits_go_buffer(version, size), want, "{version:?} {size}");
        }
    }

    #[test]
    fn retry_expressions() {
        let ok = [
            "IsNetworkError() && Attempts() <= 2",
            "ResponseCode() == 503 || RequestMethod() == \"GET\"",
        ];
        for e in ok {
            assert!(predicate::parse(e, FUNCTIONS).is_ok(), "{e}");
        }
        let expr = predicate::parse("IsNetworkError() && Attempts() <= 2", FUNCTIONS).unwrap();
        let at = |attempt, status| Attempt {
            method: &Method::GET,
            attempt,
            status,
        };
        assert!(expr.eval(&at(1, 502)));
        assert!(expr.eval(&at(2, 504)));
        assert!(!expr.eval(&at(3, 502)));
        assert!(!expr.eval(&at(1, 500)));
    }
}
