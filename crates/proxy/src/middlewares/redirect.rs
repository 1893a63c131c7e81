//! `redirectScheme` and `redirectRegex` (and the entrypoint redirections
//! built on `redirectScheme`): the request's URL is rewritten by a regex; a
//! URL that changed is answered with a redirect to it, an unchanged one goes
//! on to the next handler.

use http::{header, HeaderValue, Method, StatusCode};
use regex::Regex;

use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

/// Which URL the regex sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `redirectRegex`: `http(s)://` + Host as sent + path and query.
    Raw,
    /// `redirectScheme`: the scheme the client used (X-Forwarded-Proto, TLS),
    /// the Host with a default port dropped.
    Client,
}

pub struct Redirect {
    regex: Regex,
    replacement: String,
    permanent: bool,
    source: Source,
    next: BoxHandler,
}

/// Traefik's pattern for a URL: scheme, host, port, the rest.
const URL_PATTERN: &str = r"^(https?://)?(\[[\w:.]+\]|[\w._-]+)?(:\d+)?(.*)$";

impl Redirect {
    /// `redirectScheme`: `scheme` is required; `port` is kept unless it is
    /// the scheme's default.
    pub fn scheme(
        scheme: &str,
        port: &str,
        permanent: bool,
        next: BoxHandler,
    ) -> Result<Redirect, String> {
        if scheme.is_empty() {
            return Err("redirectScheme: you must provide a target scheme".into());
        }
        let default_port =
            (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
        let port = if port.is_empty() || default_port {
            String::new()
        } else {
            format!(":{port}")
        };
        let regex = Regex::new(URL_PATTERN).map_err(|e| e.to_string())?;
        Ok(Redirect {
            regex,
            replacement: format!("{scheme}://${{2}}{port}${{4}}"),
            permanent,
            source: Source::Client,
            next,
        })
    }

    /// `redirectRegex`.
    pub fn regex(
        regex: &str,
        replacement: &str,
        permanent: bool,
        next: BoxHandler,
    ) -> Result<Redirect, String> {
        let regex = Regex::new(regex)
            .map_err(|e| format!("redirectRegex: invalid regex {regex:?}: {e}"))?;
        Ok(Redirect {
            regex,
            replacement: replacement.to_string(),
            permanent,
            source: Source::Raw,
            next,
        })
    }

    fn old_url(&self, req: &Request) -> String {
        let host = crate::context::request_host(req)
            .map(str::to_string)
            .unwrap_or_default();
        let uri = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let tls = crate::RequestContext::of(req).tls;
        match self.source {
            Source::Raw => format!("{}://{host}{uri}", if tls { "https" } else { "http" }),
            Source::Client => {
                let (name, port) = split_host_port(&host);
                let proto = req
                    .headers()
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let scheme = if proto.eq_ignore_ascii_case("https")
                    || proto.eq_ignore_ascii_case("wss")
                {
                    "https"
                } else if proto.eq_ignore_ascii_case("http") || proto.eq_ignore_ascii_case("ws") {
                    "http"
                } else if tls {
                    "https"
                } else {
                    "http"
                };
                let port = match (scheme, port) {
                    ("http", Some("80")) | ("https", Some("443")) | (_, None) => String::new(),
                    (_, Some(p)) => format!(":{p}"),
                };
                format!("{scheme}://{name}{port}{uri}")
            }
        }
    }
}

fn split_host_port(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((_, after)) = rest.split_once(']') {
            let end = host.len() - after.len();
            return (&host[..end], after.strip_prefix(':'));
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, Some(p)),
        _ => (host, None),
    }
}

/// The redirect answer: 302/301 for GET, 307/308 for any other method.
pub fn moved(location: &str, permanent: bool, method: &Method) -> Response {
    let get = method == Method::GET;
    let status = match (permanent, get) {
        (true, true) => StatusCode::MOVED_PERMANENTLY,
        (true, false) => StatusCode::PERMANENT_REDIRECT,
        (false, true) => StatusCode::FOUND,
        (false, false) => StatusCode::TEMPORARY_REDIRECT,
    };
    let mut resp = Response::new(body::full(status.canonical_reason().unwrap_or("")));
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

impl Handler for Redirect {
    fn call(&self, req: Request) -> HandlerFuture {
        let old = self.old_url(&req);
        if !self.regex.is_match(&old) {
            return self.next.call(req);
        }
        let new = self.regex.replace_all(&old, self.replacement.as_str());
        if new == old {
            return self.next.call(req);
        }
        let resp = moved(&new, self.permanent, req.method());
        Box::pin(async move { Ok(resp) })
    }
}

/// Translates a `redirectScheme` definition.
pub fn scheme_from_config(
    c: switchyard_config::middlewares::RedirectScheme,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    Redirect::scheme(&c.scheme, &c.port, c.permanent, super::noop())?;
    Ok(super::validated(move |next| {
        Redirect::scheme(&c.scheme, &c.port, c.permanent, next)
    }))
}

/// Translates a `redirectRegex` definition.
pub fn regex_from_config(
    c: switchyard_config::middlewares::RedirectRegex,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    Redirect::regex(&c.regex, &c.replacement, c.permanent, super::noop())?;
    Ok(super::validated(move |next| {
        Redirect::regex(&c.regex, &c.replacement, c.permanent, next)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Next;
    impl Handler for Next {
        fn call(&self, _req: Request) -> HandlerFuture {
            Box::pin(async { Ok(Response::new(body::full("next"))) })
        }
    }

    fn run(r: &Redirect, method: &str, host: &str, path: &str, xfp: &str) -> (u16, Option<String>) {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("host", host)
            .header("x-forwarded-proto", xfp)
            .body(body::empty())
            .unwrap();
        let fut = r.call(req);
        let resp = futures_util::FutureExt::now_or_never(fut).unwrap().unwrap();
        (
            resp.status().as_u16(),
            resp.headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
        )
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases
    fn scheme_table() {
        let next: BoxHandler = Arc::new(Next);
        let cases: &[(&str, &str, &str, bool, &str, &str, &str, u16, Option<&str>)] = &[
            (
                "to https, no port",
                "https",
                "",
                false,
                "GET",
                "a.test",
                "/p?q=1",
                302,
                Some("https://a.test/p?q=1"),
            ),
            (
                "request port dropped",
                "https",
                "",
                true,
                "GET",
                "a.test:8000",
                "/",
                301,
                Some("https://a.test/"),
            ),
            (
                "explicit port",
                "https",
                "8443",
                true,
                "GET",
                "a.test:8000",
                "/x",
                301,
                Some("https://a.test:8443/x"),
            ),
            (
                "default port omitted",
                "https",
                "443",
                true,
                "GET",
                "a.test",
                "/",
                301,
                Some("https://a.test/"),
            ),
            (
                "POST keeps method",
                "https",
                "",
                true,
                "POST",
                "a.test",
                "/",
                308,
                Some("https://a.test/"),
            ),
            (
                "HEAD is not GET",
                "https",
                "",
                false,
                "HEAD",
                "a.test",
                "/",
                307,
                Some("https://a.test/"),
            ),
            (
                "ipv6 host",
                "https",
                "8443",
                false,
                "GET",
                "[::1]:80",
                "/",
                302,
                Some("https://[::1]:8443/"),
            ),
        ];
        for (what, scheme, port, permanent, method, host, path, status, location) in cases {
            let r = Redirect::scheme(scheme, port, *permanent, next.clone()).unwrap();
            let (s, l) = run(&r, method, host, path, "http");
            assert_eq!((s, l.as_deref()), (*status, *location), "{what}");
        }
        // Already on the target scheme: no redirect.
        let r = Redirect::scheme("https", "", true, next.clone()).unwrap();
        assert_eq!(run(&r, "GET", "a.test", "/", "https"), (200, None));
        assert!(Redirect::scheme("", "", true, next).is_err());
    }

    #[test]
    fn regex_table() {
        let next: BoxHandler = Arc::new(Next);
        let r = Redirect::regex(
            r"^http://localhost/(.*)",
            "http://example.com/${1}",
            false,
            next.clone(),
        )
        .unwrap();
        assert_eq!(
            run(&r, "GET", "localhost", "/a/b?c=d", "http"),
            (302, Some("http://example.com/a/b?c=d".into()))
        );
        assert_eq!(run(&r, "GET", "other", "/a", "http"), (200, None));
        let r =
            Redirect::regex(r"^http://([^/]+)/old", "http://$1/new", true, next.clone()).unwrap();
        assert_eq!(
            run(&r, "GET", "h:81", "/old/x", "http"),
            (301, Some("http://h:81/new/x".into()))
        );
        assert!(Redirect::regex("(", "x", false, next).is_err());
    }
}
