//! The `failover` service, as Traefik's: requests go to `service` while it
//! is up (as its health check says; a service without one is always up),
//! else to `fallback`.
//!
//! With `errors.status`, an answer from `service` whose status is in those
//! ranges (an error of the proxy's own, such as 502 for a refused
//! connection, counts with its status) is thrown away and the request goes
//! to `fallback` again. For that the request body is read into memory
//! first, up to `errors.maxRequestBodyBytes` (negative: no limit, the
//! default); a larger body is refused with 413, whatever `service` would
//! have answered. The copy sent again keeps the framing the client used:
//! `Content-Length` when it sent one, chunked otherwise.
//!
//! `fallback`'s health counts only when the failover service has a
//! `healthCheck` of its own; then, with both sides down, the answer is 503.

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};

use super::weighted::UpFn;
use crate::body::{self, buffer_up_to, Buffered};
use crate::context::request_from_parts;
use crate::{BoxHandler, Handler, HandlerFuture, Request, Response};

/// When an answer of the main service hands the request to the fallback.
#[derive(Debug, Clone, Default)]
pub struct OnErrors {
    /// Inclusive status ranges; empty: never.
    pub status: Vec<(u16, u16)>,
    /// The largest request body kept to send again (None: any).
    pub max_request_body_bytes: Option<usize>,
}

impl OnErrors {
    fn matches(&self, status: StatusCode) -> bool {
        let code = status.as_u16();
        self.status.iter().any(|(a, b)| (*a..=*b).contains(&code))
    }
}

pub struct Failover {
    main: BoxHandler,
    main_up: Option<UpFn>,
    fallback: BoxHandler,
    /// Set only when the failover service checks health itself.
    fallback_up: Option<UpFn>,
    errors: OnErrors,
}

impl Failover {
    /// `fallback_up` is consulted only if given: pass it when the failover
    /// service has a `healthCheck` section.
    pub fn new(
        main: (BoxHandler, Option<UpFn>),
        fallback: (BoxHandler, Option<UpFn>),
        errors: OnErrors,
    ) -> Failover {
        Failover {
            main: main.0,
            main_up: main.1,
            fallback: fallback.0,
            fallback_up: fallback.1,
            errors,
        }
    }

    fn main_is_up(&self) -> bool {
        self.main_up.as_ref().is_none_or(|u| u())
    }

    fn fallback_is_up(&self) -> bool {
        self.fallback_up.as_ref().is_none_or(|u| u())
    }

    /// Whether either side can take a request.
    pub fn is_up(&self) -> bool {
        self.main_is_up() || self.fallback_is_up()
    }
}

/// An answer as Go's `http.Error` writes it: the text and a newline,
/// plain text, no sniffing.
fn plain_error(status: StatusCode, text: &str) -> Response {
    let mut resp = Response::new(body::full(format!("{text}\n")));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A body that yields `bytes` again: with its length known when the client
/// declared one, as a stream of unknown length (sent chunked) otherwise.
fn replay(bytes: &Bytes, sized: bool) -> body::Body {
    if sized || bytes.is_empty() {
        return body::full(bytes.clone());
    }
    let frame = Ok::<_, body::BoxError>(http_body::Frame::data(bytes.clone()));
    http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(futures_util::stream::iter(
        [frame],
    )))
}

impl Handler for Failover {
    fn call(&self, req: Request) -> HandlerFuture {
        if !self.main_is_up() {
            if !self.fallback_is_up() {
                return Box::pin(async {
                    Ok(plain_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Service Unavailable",
                    ))
                });
            }
            return self.fallback.call(req);
        }
        if self.errors.status.is_empty() {
            return self.main.call(req);
        }
        let main = self.main.clone();
        let fallback = self.fallback.clone();
        let fallback_up = self.fallback_is_up();
        let errors = self.errors.clone();
        Box::pin(async move {
            let (parts, body_in) = req.into_parts();
            let sized = parts.headers.contains_key(header::CONTENT_LENGTH);
            let bytes = match buffer_up_to(body_in, errors.max_request_body_bytes).await {
                Ok(Buffered::Whole(bytes)) => bytes,
                Ok(Buffered::TooLarge(_)) => {
                    return Ok(plain_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Request body too large",
                    ))
                }
                Err(e) => {
                    tracing::debug!(error = %e, "failover: cannot read the request body");
                    return Ok(plain_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "Internal Server Error",
                    ));
                }
            };
            let answer = main
                .call(request_from_parts(&parts, replay(&bytes, sized)))
                .await;
            let status = match &answer {
                Ok(resp) => resp.status(),
                Err(e) => e.status(),
            };
            if !errors.matches(status) {
                return answer;
            }
            // The main answer is dropped unread; its connection is not reused.
            drop(answer);
            if !fallback_up {
                return Ok(plain_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable",
                ));
            }
            fallback
                .call(request_from_parts(&parts, replay(&bytes, sized)))
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use crate::ProxyError;

    /// A service answering `status` and counting its calls; the answer's
    /// body is the request body it got.
    struct Fixed {
        status: Result<u16, ()>,
        calls: AtomicUsize,
    }

    impl Handler for Fixed {
        fn call(&self, req: Request) -> HandlerFuture {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let status = self.status;
            Box::pin(async move {
                let got = req
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| ProxyError::BadRequest(format!("test body: {e}")))?;
                match status {
                    Ok(s) => {
                        let mut r = Response::new(body::full(got.to_bytes()));
                        *r.status_mut() = StatusCode::from_u16(s)
                            .map_err(|_| ProxyError::BadRequest("test status".into()))?;
                        Ok(r)
                    }
                    Err(()) => Err(ProxyError::Connect {
                        upstream: "test".into(),
                        source: "refused".into(),
                    }),
                }
            })
        }
    }

    fn fixed(status: Result<u16, ()>) -> Arc<Fixed> {
        Arc::new(Fixed {
            status,
            calls: AtomicUsize::new(0),
        })
    }

    fn up(v: bool) -> Option<UpFn> {
        Some(Arc::new(move || v))
    }

    fn post(body: &'static str) -> Request {
        let mut r = Request::new(body::full(body));
        *r.method_mut() = http::Method::POST;
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        r
    }

    #[tokio::test]
    async fn who_answers() {
        struct Case {
            what: &'static str,
            main: Result<u16, ()>,
            main_up: Option<UpFn>,
            fallback_up: Option<UpFn>,
            errors: OnErrors,
            body: &'static str,
            status: u16,
            answer_body: &'static str,
            main_calls: usize,
            fallback_calls: usize,
        }
        let on_5xx = |max| OnErrors {
            status: vec![(500, 599)],
            max_request_body_bytes: max,
        };
        let cases = [
            Case {
                what: "main up answers, errors or not",
                main: Ok(503),
                main_up: up(true),
                fallback_up: None,
                errors: OnErrors::default(),
                body: "x",
                status: 503,
                answer_body: "x",
                main_calls: 1,
                fallback_calls: 0,
            },
            Case {
                what: "main down: fallback",
                main: Ok(200),
                main_up: up(false),
                fallback_up: None,
                errors: OnErrors::default(),
                body: "",
                status: 200,
                answer_body: "",
                main_calls: 0,
                fallback_calls: 1,
            },
            Case {
                what: "both down (failover checks health): 503",
                main: Ok(200),
                main_up: up(false),
                fallback_up: up(false),
                errors: OnErrors::default(),
                body: "",
                status: 503,
                answer_body: "Service Unavailable\n",
                main_calls: 0,
                fallback_calls: 0,
            },
            Case {
                what: "no health check on main, status in range: fallback gets the body again",
                main: Ok(502),
                main_up: None,
                fallback_up: None,
                errors: on_5xx(None),
                body: "hello",
                status: 200,
                answer_body: "hello",
                main_calls: 1,
                fallback_calls: 1,
            },
            Case {
                what: "status out of range: main's answer",
                main: Ok(404),
                main_up: None,
                fallback_up: None,
                errors: on_5xx(None),
                body: "hello",
                status: 404,
                answer_body: "hello",
                main_calls: 1,
                fallback_calls: 0,
            },
            Case {
                what: "a proxy error counts with its status",
                main: Err(()),
                main_up: None,
                fallback_up: None,
                errors: on_5xx(None),
                body: "",
                status: 200,
                answer_body: "",
                main_calls: 1,
                fallback_calls: 1,
            },
            Case {
                what: "body at the limit is kept",
                main: Ok(500),
                main_up: None,
                fallback_up: None,
                errors: on_5xx(Some(5)),
                body: "hello",
                status: 200,
                answer_body: "hello",
                main_calls: 1,
                fallback_calls: 1,
            },
            Case {
                what: "body over the limit: 413 before anything is called",
                main: Ok(200),
                main_up: None,
                fallback_up: None,
                errors: on_5xx(Some(4)),
                body: "hello",
                status: 413,
                answer_body: "Request body too large\n",
                main_calls: 0,
                fallback_calls: 0,
            },
            Case {
                what: "status in range, fallback down (failover checks health): 503",
                main: Ok(500),
                main_up: None,
                fallback_up: up(false),
                errors: on_5xx(None),
                body: "",
                status: 503,
                answer_body: "Service Unavailable\n",
                main_calls: 1,
                fallback_calls: 0,
            },
        ];
        for c in cases {
            let main = fixed(c.main);
            let fallback = fixed(Ok(200));
            let f = Failover::new(
                (main.clone(), c.main_up),
                (fallback.clone(), c.fallback_up),
                c.errors,
            );
            let resp = f.call(post(c.body)).await.expect(c.what);
            assert_eq!(resp.status().as_u16(), c.status, "{}", c.what);
            let body = resp.into_body().collect().await.expect(c.what).to_bytes();
            assert_eq!(body, c.answer_body.as_bytes(), "{}", c.what);
            assert_eq!(
                main.calls.load(Ordering::SeqCst),
                c.main_calls,
                "{}",
                c.what
            );
            assert_eq!(
                fallback.calls.load(Ordering::SeqCst),
                c.fallback_calls,
                "{}",
                c.what
            );
        }
    }

    #[test]
    fn replay_keeps_the_framing() {
        let bytes = Bytes::from_static(b"abc");
        let sized = replay(&bytes, true);
        assert_eq!(http_body::Body::size_hint(&sized).exact(), Some(3));
        let chunked = replay(&bytes, false);
        assert_eq!(http_body::Body::size_hint(&chunked).exact(), None);
    }
}
