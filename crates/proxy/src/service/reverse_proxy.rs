//! Forwarding one request to one server: the outgoing URI and headers as
//! Traefik's reverse proxy writes them, hop-by-hop headers removed, and
//! protocol upgrades (WebSocket, ...) spliced once the backend agrees.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{StatusCode, Uri, Version};

use crate::context::RequestContext;
use crate::forwarded::append_forwarded_for;
use crate::upstream::{Protocol, Upstream};
use crate::{ProxyError, Request, Response};

/// One server of a load balancer, ready to forward to.
#[derive(Debug)]
pub struct Target {
    /// The server URL as configured (for logs, errors and the API).
    pub url: String,
    scheme: Scheme,
    authority: Authority,
    /// The URL's path without a trailing slash, used with `preservePath`.
    base_path: String,
    preserve_path: bool,
    /// `h2c://`: HTTP/2 with prior knowledge over plain TCP.
    h2c: bool,
}

/// A server URL that cannot be forwarded to.
#[derive(Debug, thiserror::Error)]
#[error("invalid server URL {url:?}: {reason}")]
pub struct BadServerUrl {
    pub url: String,
    pub reason: String,
}

impl Target {
    pub fn parse(url: &str, preserve_path: bool) -> Result<Target, BadServerUrl> {
        let bad = |reason: &str| BadServerUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let mut scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
        let h2c = scheme.as_str().eq_ignore_ascii_case("h2c");
        if h2c {
            scheme = Scheme::HTTP;
        }
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(bad("unsupported scheme (expected http, https or h2c)"));
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Target {
            url: url.to_string(),
            scheme,
            authority,
            base_path,
            preserve_path,
            h2c,
        })
    }

    /// How requests reach this server (upgrades aside).
    pub fn protocol(&self) -> Protocol {
        if self.h2c {
            Protocol::H2c
        } else {
            Protocol::Auto
        }
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    fn outgoing_uri(&self, incoming: &Uri) -> Result<Uri, ProxyError> {
        // The common case reuses the request's path and query as they are.
        if !self.preserve_path
            && !incoming.query().is_some_and(|q| q.contains(';'))
            && incoming.path().starts_with('/')
        {
            if let Some(pq) = incoming.path_and_query() {
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(self.scheme.clone());
                parts.authority = Some(self.authority.clone());
                parts.path_and_query = Some(pq.clone());
                return Uri::from_parts(parts)
                    .map_err(|e| ProxyError::BadRequest(format!("cannot forward: {e}")));
            }
        }
        let path = incoming.path();
        let mut pq = String::with_capacity(self.base_path.len() + path.len() + 16);
        if self.preserve_path {
            pq.push_str(&self.base_path);
            if !path.starts_with('/') {
                pq.push('/');
            }
        }
        pq.push_str(if path.is_empty() { "/" } else { path });
        if let Some(q) = incoming.query() {
            pq.push('?');
            // As Traefik: `;` separates query parameters like `&`.
            if q.contains(';') {
                pq.push_str(&q.replace(';', "&"));
            } else {
                pq.push_str(q);
            }
        }
        let pq = PathAndQuery::try_from(pq)
            .map_err(|e| ProxyError::BadRequest(format!("cannot forward path: {e}")))?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(pq)
            .build()
            .map_err(|e| ProxyError::BadRequest(format!("cannot forward: {e}")))
    }
}

/// Hop-by-hop headers that never cross a proxy. `Trailer` is kept: it
/// announces the trailers, which do cross (Go's proxy re-announces them too).
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
];

/// The upgrade protocol a request asks for (`Connection: upgrade` + `Upgrade`).
fn upgrade_of(headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if connection_upgrade {
        headers.get(header::UPGRADE).cloned()
    } else {
        None
    }
}

/// Removes hop-by-hop headers and those the Connection header names.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them: one pass over the names says so,
    // for less than the removals would cost.
    if !headers
        .keys()
        .any(|name| HOP_BY_HOP.contains(name) || name == header::UPGRADE)
    {
        return;
    }
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    let te_trailers = headers
        .get(header::TE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        });
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
}

/// Forwards `req` to `target` through `upstream`.
pub async fn forward(
    upstream: Arc<Upstream>,
    target: &Target,
    pass_host_header: bool,
    mut req: Request,
) -> Result<Response, ProxyError> {
    let ctx = RequestContext::of(&req);
    let upgrade = upgrade_of(req.headers());
    let client_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));

    let uri = target.outgoing_uri(req.uri())?;
    // The Host the client asked for: its Host header, or the HTTP/2 authority.
    let client_host = req.headers().get(header::HOST).cloned().or_else(|| {
        req.uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    *req.uri_mut() = uri;
    *req.version_mut() = Version::HTTP_11;
    let headers = req.headers_mut();
    remove_hop_by_hop(headers);
    if let Some(proto) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, proto.clone());
    }
    let host = if pass_host_header {
        client_host
    } else {
        HeaderValue::from_str(target.authority.as_str()).ok()
    };
    if let Some(host) = host {
        headers.insert(header::HOST, host);
    }
    if req
        .extensions()
        .get::<crate::middlewares::headers::OmitForwardedFor>()
        .is_none()
    {
        append_forwarded_for(req.headers_mut(), ctx.client_addr.ip());
    }

    // Upgrades need HTTP/1.1 whatever the server could otherwise speak.
    let protocol = if upgrade.is_some() {
        Protocol::Http1
    } else {
        target.protocol()
    };
    let span = crate::trace::ClientSpan::start(&mut req);
    let port = crate::semconv::server_port(
        target.authority.port().is_some(),
        target.scheme == Scheme::HTTPS,
        target.h2c,
    );
    let call = crate::semconv::ClientCall::start(&req, &target.authority, port);
    let sent = upstream.send(req, &target.url, protocol).await;
    if let Some(call) = call {
        call.finish(&sent);
    }
    let mut resp = crate::trace::ClientSpan::end(span, sent)?;

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let backend_upgrade = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
                    Ok(pair) => pair,
                    Err(e) => {
                        tracing::debug!(error = %e, "upgrade failed");
                        return;
                    }
                };
                let mut client = hyper_util::rt::TokioIo::new(client);
                let mut backend = hyper_util::rt::TokioIo::new(backend);
                if let Err(e) = super::tunnel::copy_both(&mut client, &mut backend).await {
                    tracing::debug!(error = %e, "upgraded connection ended");
                }
            });
            return Ok(resp);
        }
    }
    remove_hop_by_hop(resp.headers_mut());
    set_reason_phrase(&mut resp);
    Ok(resp)
}

/// Gives `resp` the reason phrase Traefik's clients see: Go's server writes
/// its own text for the status ([`go_status_text`]), or `status code N` for
/// one it has no text for, never the backend's.
fn set_reason_phrase(resp: &mut Response) {
    // hyper's client keeps a backend's phrase only when it is not the
    // canonical one: most answers have none to remove.
    resp.extensions_mut().remove::<hyper::ext::ReasonPhrase>();
    let status = resp.status();
    let go = go_status_text(status.as_u16());
    if go.is_some() && go == status.canonical_reason() {
        return;
    }
    let phrase = match go {
        Some(text) => hyper::ext::ReasonPhrase::try_from(text.as_bytes()),
        None => hyper::ext::ReasonPhrase::try_from(format!("status code {}", status.as_u16())),
    };
    if let Ok(phrase) = phrase {
        resp.extensions_mut().insert(phrase);
    }
}

/// The status texts Go's `net/http` knows (what its server writes after
/// the code); checked against Traefik 3.7 for every code from 200 to 599.
fn go_status_text(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_uri_table() {
        let cases = [
            (
                "plain",
                "http://10.0.0.1:8080",
                false,
                "/a/b?x=1",
                "http://10.0.0.1:8080/a/b?x=1",
            ),
            (
                "server path ignored",
                "http://h:81/base/",
                false,
                "/a",
                "http://h:81/a",
            ),
            (
                "preservePath joins",
                "http://h:81/base/",
                true,
                "/a",
                "http://h:81/base/a",
            ),
            (
                "preservePath root",
                "http://h:81",
                true,
                "/a",
                "http://h:81/a",
            ),
            (
                "semicolons become ampersands",
                "http://h",
                false,
                "/?a=1;b=2",
                "http://h/?a=1&b=2",
            ),
            (
                "h2c is plain http on the wire",
                "h2c://h:81",
                false,
                "/a",
                "http://h:81/a",
            ),
            (
                "escapes kept",
                "http://h",
                false,
                "/a%2Fb",
                "http://h/a%2Fb",
            ),
        ];
        for (what, server, preserve, incoming, want) in cases {
            let t = Target::parse(server, preserve).unwrap();
            let got = t.outgoing_uri(&incoming.parse().unwrap()).unwrap();
            assert_eq!(got.to_string(), want, "{what}");
        }
    }

    #[test]
    fn bad_server_urls() {
        for url in ["", "10.0.0.1:80", "ftp://h", "http://", "h2c://"] {
            assert!(
                Target::parse(url, false).is_err(),
                "{url:?} should be rejected"
            );
        }
    }

    #[test]
    fn reason_phrases_are_gos() {
        // (status, the backend's phrase, the phrase written: none for hyper's
        // canonical one)
        let cases: [(u16, Option<&str>, Option<&str>); 7] = [
            (200, None, None),
            (200, Some(""), None),
            (418, Some("Odd"), None),
            (413, None, Some("Request Entity Too Large")),
            (299, Some("Odd"), Some("status code 299")),
            (306, None, Some("status code 306")),
            (999, Some("Odd"), Some("status code 999")),
        ];
        for (code, backend, want) in cases {
            let mut resp = Response::new(crate::body::empty());
            *resp.status_mut() = StatusCode::from_u16(code).expect("status");
            if let Some(p) = backend {
                let p = hyper::ext::ReasonPhrase::try_from(p.as_bytes()).expect("phrase");
                resp.extensions_mut().insert(p);
            }
            set_reason_phrase(&mut resp);
            let got = resp
                .extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned());
            assert_eq!(got.as_deref(), want, "{code} {backend:?}");
            if want.is_none() {
                assert_eq!(
                    resp.status().canonical_reason(),
                    go_status_text(code),
                    "{code}: hyper's own phrase is Go's"
                );
            }
        }
    }

    #[test]
    fn hop_by_hop_headers_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers, deflate"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("x-kept", "yes"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        remove_hop_by_hop(&mut h);
        let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["te", "x-kept"]);
        assert_eq!(h.get("te").unwrap(), "trailers");
    }

    /// Each hop-by-hop header alone among ordinary ones is found and
    /// removed (the quick check before the removals misses none); a
    /// message without any keeps every header.
    #[test]
    fn each_hop_by_hop_header_alone_is_removed() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("connection", "close", &["x-a"]),
            ("proxy-connection", "keep-alive", &["x-a"]),
            ("keep-alive", "timeout=5", &["x-a"]),
            ("proxy-authenticate", "Basic", &["x-a"]),
            ("proxy-authorization", "Basic eA==", &["x-a"]),
            ("te", "gzip", &["x-a"]),
            ("te", "trailers", &["te", "x-a"]),
            ("transfer-encoding", "chunked", &["x-a"]),
            ("upgrade", "websocket", &["x-a"]),
            ("x-b", "ordinary", &["x-a", "x-b"]),
        ];
        for (name, value, kept) in cases {
            let mut h = HeaderMap::new();
            h.insert("x-a", HeaderValue::from_static("1"));
            h.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
            remove_hop_by_hop(&mut h);
            let mut names: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
            names.sort();
            assert_eq!(names, *kept, "{name}: {value}");
        }
    }
}
