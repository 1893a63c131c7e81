//! What a request must be before it is routed, as Go's server checks it
//! for Traefik (hyper lets these through): one valid `Host`, a
//! `Transfer-Encoding` that is exactly `chunked`, an `Expect` Switchyard
//! can meet; and the host a request is routed by, which is the request
//! target's authority when it has one (absolute form, RFC 9112 §3.2.2, or
//! HTTP/2's `:authority`), never a `Host` header that disagrees with it.

use http::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST};
use http::{Method, StatusCode, Version};
use switchyard_proxy::{body, Response};

/// Checks `req` and makes its `Host` header the one it is routed by; an
/// answer when the request goes no further.
pub(crate) fn check<B>(req: &mut http::Request<B>) -> Option<Response> {
    let http1 = req.version() <= Version::HTTP_11;
    if http1 {
        let mut hosts = req.headers().get_all(HOST).iter();
        match (hosts.next(), hosts.next()) {
            (Some(_), Some(_)) => {
                return Some(refuse(StatusCode::BAD_REQUEST, "too many Host headers"))
            }
            // Even with an absolute-form target, as Go.
            (None, _) if req.version() == Version::HTTP_11 && req.method() != Method::CONNECT => {
                return Some(refuse(
                    StatusCode::BAD_REQUEST,
                    "missing required Host header",
                ))
            }
            _ => {}
        }
        if !transfer_encoding_is_chunked(req.headers()) {
            return Some(refuse(
                StatusCode::NOT_IMPLEMENTED,
                "Unsupported transfer encoding",
            ));
        }
    }
    if let Some(authority) = req.uri().authority() {
        // The target's authority, without user information.
        let host = match authority.port() {
            Some(port) => format!("{}:{}", authority.host(), port.as_str()),
            None => authority.host().to_string(),
        };
        let same = req
            .headers()
            .get(HOST)
            .is_some_and(|h| h.as_bytes() == host.as_bytes());
        // HTTP/2 requests without a Host header keep going without one.
        if !same && (http1 || req.headers().contains_key(HOST)) {
            match HeaderValue::from_str(&host) {
                Ok(v) => {
                    req.headers_mut().insert(HOST, v);
                }
                Err(_) => return Some(refuse(StatusCode::BAD_REQUEST, "malformed Host header")),
            }
        }
    }
    if let Some(host) = req.headers().get(HOST) {
        if !host.as_bytes().iter().all(|b| valid_host_byte(*b)) {
            return Some(refuse(StatusCode::BAD_REQUEST, "malformed Host header"));
        }
    }
    if http1 {
        if let Some(expect) = req.headers().get(EXPECT) {
            let continues = expect
                .as_bytes()
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"100-continue"));
            if !continues {
                return Some(expectation_failed());
            }
        }
        // `OPTIONS *` asks about the server: Go answers it itself.
        if req.method() == Method::OPTIONS && req.uri() == "*" {
            let mut resp = Response::new(body::empty());
            resp.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            return Some(resp);
        }
    }
    None
}

/// Go takes one `Transfer-Encoding` line whose value is `chunked`, and
/// answers 501 to anything else (hyper already refused a last coding other
/// than chunked; it takes `gzip, chunked` and `chunked, chunked`). True
/// without the header too.
fn transfer_encoding_is_chunked(headers: &http::HeaderMap) -> bool {
    let mut values = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    match (values.next(), values.next()) {
        (None, _) => true,
        (Some(v), None) => v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"chunked"),
        (Some(_), Some(_)) => false,
    }
}

/// The bytes Go accepts in a Host header (`httpguts.ValidHostHeader`).
fn valid_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!$%&'()*+,-.:;=[]_~".contains(&b)
}

/// Go's plain-text refusal, on a connection it then closes.
fn refuse(status: StatusCode, why: &'static str) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    let mut resp = Response::new(body::full(format!("{} {reason}: {why}", status.as_u16())));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

fn expectation_failed() -> Response {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::EXPECTATION_FAILED;
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, target: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut b = http::Request::builder().version(version).uri(target);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let method = if target == "*" {
            Method::OPTIONS
        } else {
            Method::GET
        };
        let mut req = b.body(()).expect("request");
        *req.method_mut() = method;
        req
    }

    #[test]
    fn checks() {
        const V1: Version = Version::HTTP_11;
        const V2: Version = Version::HTTP_2;
        const V0: Version = Version::HTTP_10;
        // (description, version, target, headers, status or None, Host after)
        type Case<'a> = (
            &'a str,
            Version,
            &'a str,
            &'a [(&'a str, &'a str)],
            Option<u16>,
            Option<&'a str>,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("plain", V1, "/", &[("host", "a.test")], None, Some("a.test")),
            ("two Host headers", V1, "/", &[("host", "a.test"), ("host", "b.test")], Some(400), None),
            ("HTTP/1.1 without Host", V1, "/", &[], Some(400), None),
            ("HTTP/1.0 without Host", V0, "/", &[], None, None),
            ("Host with a space", V1, "/", &[("host", "a.test b")], Some(400), None),
            ("Host with a slash", V1, "/", &[("host", "a.test/x")], Some(400), None),
            ("IPv6 Host with a port", V1, "/", &[("host", "[::1]:80")], None, Some("[::1]:80")),
            ("absolute form wins over Host", V1, "http://b.test/x", &[("host", "a.test")], None, Some("b.test")),
            ("absolute form keeps its port", V1, "http://b.test:8080/x", &[("host", "a.test")], None, Some("b.test:8080")),
            ("absolute form drops user information", V1, "http://u:p@b.test/x", &[("host", "a.test")], None, Some("b.test")),
            ("absolute form still needs a Host header", V1, "http://b.test/x", &[], Some(400), None),
            ("HTTP/1.0 absolute form without Host", V0, "http://b.test/x", &[], None, Some("b.test")),
            ("HTTP/2 authority wins over Host", V2, "https://b.test/x", &[("host", "a.test")], None, Some("b.test")),
            ("HTTP/2 without Host stays without", V2, "https://b.test/x", &[], None, None),
            ("Expect other than 100-continue", V1, "/", &[("host", "a"), ("expect", "foo")], Some(417), None),
            ("Expect 100-continue in any case", V1, "/", &[("host", "a"), ("expect", "100-Continue")], None, Some("a")),
            ("Expect list with 100-continue", V1, "/", &[("host", "a"), ("expect", "foo, 100-continue")], None, Some("a")),
            ("TE chunked", V1, "/", &[("host", "a"), ("transfer-encoding", "Chunked")], None, Some("a")),
            ("TE gzip, chunked", V1, "/", &[("host", "a"), ("transfer-encoding", "gzip, chunked")], Some(501), None),
            ("TE chunked, chunked", V1, "/", &[("host", "a"), ("transfer-encoding", "chunked, chunked")], Some(501), None),
            ("TE on two lines", V1, "/", &[("host", "a"), ("transfer-encoding", "chunked"), ("transfer-encoding", "chunked")], Some(501), None),
            ("OPTIONS *", V1, "*", &[("host", "a")], Some(200), None),
        ];
        for (what, version, target, headers, status, host) in cases {
            let mut req = request(*version, target, headers);
            match (check(&mut req), status) {
                (None, None) => assert_eq!(
                    req.headers().get(HOST).map(|h| h.to_str().expect("ascii")),
                    *host,
                    "{what}"
                ),
                (Some(resp), Some(s)) => assert_eq!(resp.status().as_u16(), *s, "{what}"),
                (None, Some(s)) => panic!("{what}: passed, expected {s}"),
                (Some(resp), None) => panic!("{what}: answered {}", resp.status()),
            }
        }
    }
}
