//! `requestRedirect`, the Gateway API's RequestRedirect filter as Traefik's
//! middleware of that name answers it: the request's URL (the scheme it
//! came with, its Host, path and query) with the filter's scheme,
//! hostname, port (`""`: none) and path put in, sent back in `Location`
//! with the filter's status (301, 302, 303, 307 or 308; 302 when unset)
//! for every method, and the status text as body. A path with a prefix
//! replaces that prefix (without its trailing `/`) of the decoded path
//! (Go's `path.Join` of the two, a trailing `/` kept); the rest of the URL
//! stays as it came.

use http::{header, HeaderValue, StatusCode};
use switchyard_config::gateway_filters::RequestRedirect as Settings;

use super::path::{clean_keep_trailing, percent_decode};
use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

pub struct RequestRedirect {
    s: Settings,
    status: StatusCode,
}

/// The statuses the Gateway API allows a redirect.
const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// Go's `url.URL` host split: the port after the last `:` when all digits
/// (maybe none), the brackets of an IPv6 address taken off.
fn split_host_port(host_port: &str) -> (&str, &str) {
    let (mut host, mut port) = (host_port, "");
    if let Some(i) = host_port.rfind(':') {
        let tail = &host_port[i + 1..];
        if tail.bytes().all(|b| b.is_ascii_digit()) {
            (host, port) = (&host_port[..i], tail);
        }
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        host = inner;
    }
    (host, port)
}

/// Go's `path.Join` of two parts: the non-empty ones joined by `/`, cleaned.
fn join(a: &str, b: &str) -> String {
    let joined = match (a.is_empty(), b.is_empty()) {
        (true, true) => return String::new(),
        (false, true) => a.to_string(),
        (true, false) => b.to_string(),
        (false, false) => format!("{a}/{b}"),
    };
    let cleaned = clean_keep_trailing(&joined);
    match cleaned.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed.to_string(),
        _ => cleaned,
    }
}

/// Go's escaping of a URL path: unreserved bytes and `$&+,/:;=@` as they
/// are, every other byte `%XX`.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl RequestRedirect {
    /// The `Location` for `req`.
    fn location(&self, req: &Request) -> String {
        let s = &self.s;
        let tls = crate::RequestContext::of(req).tls;
        let scheme = s
            .scheme
            .clone()
            .unwrap_or_else(|| if tls { "https" } else { "http" }.to_string());
        let (req_host, req_port) = split_host_port(crate::context::request_host(req).unwrap_or(""));
        let host = s.hostname.as_deref().unwrap_or(req_host);
        let port = s.port.as_deref().unwrap_or(req_port);
        let authority = match (port.is_empty(), host.contains(':')) {
            (true, _) => host.to_string(),
            (false, true) => format!("[{host}]:{port}"),
            (false, false) => format!("{host}:{port}"),
        };
        let raw = req.uri().path();
        let path = match (&s.path, &s.path_prefix) {
            (None, _) => raw.to_string(),
            (Some(full), None) => escape_path(full),
            (Some(replacement), Some(prefix)) => {
                let decoded = percent_decode(raw);
                // Traefik 3.7.15 takes the prefix without its trailing `/`
                // (a request `/p` under the prefix `/p/` is under it).
                let prefix = prefix.trim_end_matches('/');
                let rest = decoded.strip_prefix(prefix).unwrap_or(&decoded);
                let mut joined = join(replacement, rest);
                if decoded.ends_with('/') && !joined.ends_with('/') {
                    joined.push('/');
                }
                escape_path(&joined)
            }
        };
        let slash = if !path.is_empty() && !path.starts_with('/') && !authority.is_empty() {
            "/"
        } else {
            ""
        };
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("{scheme}://{authority}{slash}{path}{query}")
    }
}

impl Handler for RequestRedirect {
    fn call(&self, req: Request) -> HandlerFuture {
        let location = self.location(&req);
        let mut resp = Response::new(body::full(self.status.canonical_reason().unwrap_or("")));
        *resp.status_mut() = self.status;
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&location) {
            headers.insert(header::LOCATION, v);
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Box::pin(async move { Ok(resp) })
    }
}

/// Translates a `requestRedirect` definition.
pub fn from_config(
    c: Settings,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let code = if c.status_code == 0 {
        302
    } else {
        c.status_code
    };
    if !STATUSES.contains(&code) {
        return Err(format!("unsupported status code: {code}"));
    }
    let status = StatusCode::from_u16(code).map_err(|e| e.to_string())?;
    Ok(std::sync::Arc::new(move |_next| {
        std::sync::Arc::new(RequestRedirect {
            s: c.clone(),
            status,
        }) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(v: serde_json::Value) -> Settings {
        serde_json::from_value(v).expect("settings")
    }

    #[test]
    fn locations_as_traefik_writes_them() {
        let cases = [
            (
                "https only, no port kept",
                serde_json::json!({"scheme": "https", "port": ""}),
                "r.test:8000",
                "/a?q=1",
                "https://r.test/a?q=1",
            ),
            (
                "request port kept",
                serde_json::json!({"hostname": "o.test"}),
                "r.test:8000",
                "/a",
                "http://o.test:8000/a",
            ),
            (
                "port replaced",
                serde_json::json!({"port": "8443"}),
                "r.test",
                "/a",
                "http://r.test:8443/a",
            ),
            (
                "ipv6 host",
                serde_json::json!({"port": "81"}),
                "[::1]:80",
                "/",
                "http://[::1]:81/",
            ),
            (
                "full path",
                serde_json::json!({"path": "/x y"}),
                "r.test",
                "/a?k",
                "http://r.test/x%20y?k",
            ),
            (
                "prefix",
                serde_json::json!({"path": "/new", "pathPrefix": "/old"}),
                "r.test",
                "/old/a/b",
                "http://r.test/new/a/b",
            ),
            (
                "prefix itself",
                serde_json::json!({"path": "/new", "pathPrefix": "/old"}),
                "r.test",
                "/old",
                "http://r.test/new",
            ),
            (
                "trailing slash kept",
                serde_json::json!({"path": "/new", "pathPrefix": "/old"}),
                "r.test",
                "/old/",
                "http://r.test/new/",
            ),
            (
                "prefix with a slash, request without",
                serde_json::json!({"path": "/new/", "pathPrefix": "/old/"}),
                "r.test",
                "/old",
                "http://r.test/new",
            ),
            (
                "escapes decoded then written",
                serde_json::json!({"path": "/n", "pathPrefix": "/o"}),
                "r.test",
                "/o/a%20b",
                "http://r.test/n/a%20b",
            ),
            (
                "path untouched as sent",
                serde_json::json!({"hostname": "h"}),
                "r.test",
                "/a%2Fb",
                "http://h/a%2Fb",
            ),
        ];
        for (what, s, host, uri, want) in cases {
            let r = RequestRedirect {
                s: settings(s),
                status: StatusCode::FOUND,
            };
            let req = http::Request::builder()
                .uri(uri)
                .header("host", host)
                .body(body::empty())
                .expect("request");
            assert_eq!(r.location(&req), want, "{what}");
        }
    }

    #[test]
    fn statuses_the_gateway_api_allows() {
        for code in [0, 301, 302, 303, 307, 308] {
            let c = Settings {
                status_code: code,
                ..Settings::default()
            };
            assert!(
                from_config(c, &mut super::super::TranslateCtx::new("r")).is_ok(),
                "{code}"
            );
        }
        let c = Settings {
            status_code: 300,
            ..Settings::default()
        };
        assert!(from_config(c, &mut super::super::TranslateCtx::new("r")).is_err());
    }
}
