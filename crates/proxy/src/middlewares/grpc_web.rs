//! `grpcWeb`: lets browsers call a gRPC service. A gRPC-Web request
//! (`application/grpc-web[+proto]`, or `-text` in base64) becomes a gRPC
//! request (`application/grpc…`, which the service's `h2c://` or HTTPS
//! server receives over HTTP/2); the answer's trailers are moved into the
//! body as gRPC-Web's trailer frame, and the CORS preflights browsers send
//! are answered for the `allowOrigins`.

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use http_body_util::BodyExt;

use crate::body::{self, Body, BoxError};
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request, Response};

const GRPC: &str = "application/grpc";
const GRPC_WEB: &str = "application/grpc-web";
const GRPC_WEB_TEXT: &str = "application/grpc-web-text";

pub struct GrpcWeb {
    /// Allowed origins; `*` allows any.
    origins: Vec<String>,
    next: BoxHandler,
}

impl GrpcWeb {
    pub fn new(origins: Vec<String>, next: BoxHandler) -> GrpcWeb {
        GrpcWeb { origins, next }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o == "*" || o == origin)
    }

    /// The CORS headers for an allowed origin, if the request has one.
    fn cors(&self, req: &Request, headers: &mut HeaderMap) -> bool {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            return false;
        };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return false;
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        true
    }

    fn preflight(&self, req: &Request) -> Response {
        // Traefik's CORS layer answers preflights with 200.
        let mut resp = Response::new(body::empty());
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        h.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Method"),
        );
        h.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
        let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
            return resp;
        };
        if !origin.to_str().is_ok_and(|o| self.origin_allowed(o)) {
            return resp;
        }
        let method = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("")
            .to_ascii_uppercase();
        if !["GET", "POST", "HEAD"].contains(&method.as_str()) {
            return resp;
        }
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(v) = HeaderValue::from_str(&method) {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
        }
        let asked: Vec<String> = req
            .headers()
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| canonical(&s.trim().to_ascii_lowercase()))
            .filter(|s| !s.is_empty())
            .collect();
        if !asked.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&asked.join(", ")) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        resp
    }
}

fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("x-grpc-web"))
}

fn content_type(req: &Request) -> &str {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The gRPC-Web trailer frame: flag 0x80, length, `key: value` lines.
pub fn trailer_frame(trailers: &HeaderMap) -> Bytes {
    let mut keys: Vec<&HeaderName> = trailers.keys().collect();
    keys.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut text = String::new();
    for k in keys {
        for v in trailers.get_all(k) {
            text.push_str(k.as_str());
            text.push_str(": ");
            text.push_str(&String::from_utf8_lossy(v.as_bytes()).replace(['\r', '\n'], " "));
            text.push_str("\r\n");
        }
    }
    let mut out = BytesMut::with_capacity(5 + text.len());
    out.put_u8(0x80);
    out.put_u32(u32::try_from(text.len()).unwrap_or(u32::MAX));
    out.put_slice(text.as_bytes());
    out.freeze()
}

/// The answer's body with its trailers appended as a trailer frame (and
/// everything base64-encoded for the text format).
fn web_body(body: Body, text: bool) -> Body {
    let encode = move |b: Bytes| -> Bytes {
        if text {
            Bytes::from(base64::engine::general_purpose::STANDARD.encode(&b))
        } else {
            b
        }
    };
    let stream = futures_util::stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        loop {
            return match body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if data.is_empty() => continue,
                    Ok(data) => Some((Ok(http_body::Frame::data(encode(data))), Some(body))),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        Some((
                            Ok(http_body::Frame::data(encode(trailer_frame(&trailers)))),
                            None,
                        ))
                    }
                },
                Some(Err(e)) => Some((Err::<http_body::Frame<Bytes>, BoxError>(e), None)),
                None => Some((
                    Ok(http_body::Frame::data(encode(trailer_frame(
                        &HeaderMap::new(),
                    )))),
                    None,
                )),
            };
        }
    });
    BodyExt::boxed(http_body_util::StreamBody::new(stream))
}

impl Handler for GrpcWeb {
    fn call(&self, req: Request) -> HandlerFuture {
        if is_preflight(&req) {
            let resp = self.preflight(&req);
            return Box::pin(async move { Ok(resp) });
        }
        let ct = content_type(&req).to_string();
        if req.method() != Method::POST || !ct.starts_with(GRPC_WEB) {
            return self.next.call(req);
        }
        let text = ct.starts_with(GRPC_WEB_TEXT);
        let mut cors = HeaderMap::new();
        self.cors(&req, &mut cors);
        let next = self.next.clone();
        Box::pin(async move {
            let (mut parts, body_in) = req.into_parts();
            let grpc_type = ct.replacen(if text { GRPC_WEB_TEXT } else { GRPC_WEB }, GRPC, 1);
            if let Ok(v) = HeaderValue::from_str(&grpc_type) {
                parts.headers.insert(header::CONTENT_TYPE, v);
            }
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.version = http::Version::HTTP_2;
            let body = if text {
                let raw = body_in
                    .collect()
                    .await
                    .map_err(|e| ProxyError::BadRequest(e.to_string()))?
                    .to_bytes();
                let cleaned: Vec<u8> = raw
                    .iter()
                    .copied()
                    .filter(|b| !b.is_ascii_whitespace())
                    .collect();
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(&cleaned)
                    .map_err(|e| ProxyError::BadRequest(format!("grpc-web-text body: {e}")))?;
                body::full(decoded)
            } else {
                body_in
            };
            let resp = next
                .call(crate::context::request_from_parts(&parts, body))
                .await?;
            let (mut rparts, rbody) = resp.into_parts();
            let h = &mut rparts.headers;
            h.remove(header::TRAILER);
            h.remove(header::CONTENT_LENGTH);
            let web_type = if text { GRPC_WEB_TEXT } else { GRPC_WEB };
            let new_type = h
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.replacen(GRPC, web_type, 1));
            if let Some(v) = new_type.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(header::CONTENT_TYPE, v);
            }
            for (k, v) in cors.iter() {
                h.append(k.clone(), v.clone());
            }
            let mut exposed: Vec<String> = h
                .keys()
                .filter(|k| *k != header::ACCESS_CONTROL_EXPOSE_HEADERS)
                .map(|k| canonical(k.as_str()))
                .collect();
            exposed.sort();
            exposed.dedup();
            exposed.push("grpc-status".into());
            exposed.push("grpc-message".into());
            if let Ok(v) = HeaderValue::from_str(&exposed.join(", ")) {
                h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, v);
            }
            rparts.version = http::Version::HTTP_11;
            Ok(Response::from_parts(rparts, web_body(rbody, text)))
        })
    }
}

/// `content-type` → `Content-Type`, as Go writes header names.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Translates a `grpcWeb` definition.
pub fn from_config(
    c: switchyard_config::middlewares::GrpcWeb,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let origins = c.allow_origins;
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(GrpcWeb::new(origins.clone(), next)) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_frames() {
        let mut t = HeaderMap::new();
        t.insert("grpc-status", HeaderValue::from_static("0"));
        t.insert("grpc-message", HeaderValue::from_static("ok"));
        let f = trailer_frame(&t);
        assert_eq!(f[0], 0x80);
        let text = "grpc-message: ok\r\ngrpc-status: 0\r\n";
        assert_eq!(&f[1..5], &(text.len() as u32).to_be_bytes());
        assert_eq!(&f[5..], text.as_bytes());
        assert_eq!(
            trailer_frame(&HeaderMap::new()).as_ref(),
            &[0x80, 0, 0, 0, 0]
        );
    }

    #[test]
    fn canonical_names() {
        assert_eq!(canonical("content-type"), "Content-Type");
        assert_eq!(canonical("x-backend"), "X-Backend");
        assert_eq!(canonical("grpc-status"), "Grpc-Status");
    }
}
