//! `redirectScheme`, and the entrypoint's `http.redirections.entryPoint`
//! built on it: answers with a redirect to the same URL on another scheme
//! and port.

use http::{header, HeaderValue, Method, StatusCode};

use crate::{body, Handler, HandlerFuture, Request, Response};

pub struct RedirectScheme {
    scheme: String,
    /// None keeps the request's port; Some("") or the scheme's default drops it.
    port: Option<String>,
    permanent: bool,
}

impl RedirectScheme {
    pub fn new(scheme: String, port: Option<String>, permanent: bool) -> RedirectScheme {
        RedirectScheme {
            scheme,
            port,
            permanent,
        }
    }

    fn location(&self, req: &Request) -> String {
        let host_port = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| req.uri().authority().map(|a| a.to_string()))
            .unwrap_or_default();
        let host = strip_port(&host_port);
        let port = match &self.port {
            Some(p) => p.clone(),
            None => host_port
                .strip_prefix(host)
                .and_then(|p| p.strip_prefix(':'))
                .unwrap_or("")
                .to_string(),
        };
        let default_port = matches!(
            (self.scheme.as_str(), port.as_str()),
            ("https", "443") | ("http", "80")
        );
        let mut out = format!("{}://{}", self.scheme, host);
        if !port.is_empty() && !default_port {
            out.push(':');
            out.push_str(&port);
        }
        out.push_str(
            req.uri()
                .path_and_query()
                .map(|pq| pq.as_str())
                .unwrap_or("/"),
        );
        out
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    })
}

impl Handler for RedirectScheme {
    fn call(&self, req: Request) -> HandlerFuture {
        let location = self.location(&req);
        let get_like = req.method() == Method::GET || req.method() == Method::HEAD;
        let status = match (self.permanent, get_like) {
            (true, true) => StatusCode::MOVED_PERMANENTLY,
            (true, false) => StatusCode::PERMANENT_REDIRECT,
            (false, true) => StatusCode::FOUND,
            (false, false) => StatusCode::TEMPORARY_REDIRECT,
        };
        let text = status.canonical_reason().unwrap_or("Redirect").to_string();
        Box::pin(async move {
            let mut resp = Response::new(body::full(text));
            *resp.status_mut() = status;
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let cases = [
            (
                "to https default port dropped",
                "https",
                Some("443"),
                "example.com",
                "/a?b=1",
                "https://example.com/a?b=1",
            ),
            (
                "explicit port",
                "https",
                Some("8443"),
                "example.com:8000",
                "/",
                "https://example.com:8443/",
            ),
            (
                "keep request port",
                "https",
                None,
                "example.com:8000",
                "/x",
                "https://example.com:8000/x",
            ),
            (
                "ipv6 host",
                "https",
                Some("8443"),
                "[::1]:8000",
                "/",
                "https://[::1]:8443/",
            ),
        ];
        for (what, scheme, port, host, path, want) in cases {
            let r = RedirectScheme::new(scheme.into(), port.map(String::from), true);
            let req = http::Request::builder()
                .uri(path)
                .header("host", host)
                .body(body::empty())
                .unwrap();
            assert_eq!(r.location(&req), want, "{what}");
        }
    }
}
