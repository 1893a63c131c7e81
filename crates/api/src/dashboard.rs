//! The dashboard: a single page of our own that reads the API. Traefik
//! serves it two ways, and so do we:
//!
//! - `dashboard@internal`, behind the internal `dashboard` router whose
//!   middlewares redirect `/` to `/dashboard/` and strip `/dashboard`: it
//!   sees `/` for the page and any other path as a file (`index.html` is
//!   redirected to `./`, as Go's file server does; there are no other
//!   files).
//! - `api@internal`, when the dashboard is on: `{basePath}` redirects to
//!   `{basePath}/dashboard/` (after `X-Forwarded-Prefix`), which is the
//!   page, and files below it answer as above.
//!
//! The page finds the API at `{basePath}/api/`. It is one file, put
//! together at start from `dashboard.html` (the frame), `dashboard.css`,
//! `dashboard_certificates.js` (the certificates views) and
//! `dashboard.js` (a small single-page application: the URL fragment names
//! the view, so views can be linked and reloaded); it asks nothing of the
//! network but the API.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde_json::json;
use switchyard_proxy::handler::FnHandler;
use switchyard_proxy::{body, BoxHandler, HandlerFuture, Response};

use crate::respond;

const PAGE: &str = include_str!("dashboard.html");
const STYLE: &str = include_str!("dashboard.css");
const SCRIPT: &str = include_str!("dashboard.js");
const SCRIPT_CERTIFICATES: &str = include_str!("dashboard_certificates.js");

/// The page, with the API's address in it.
#[derive(Clone)]
pub struct Dashboard {
    index: Bytes,
}

impl Dashboard {
    pub fn new(base_path: &str) -> Dashboard {
        let api_url = format!("{}/api/", base_path.trim_end_matches('/'));
        // A JSON string (HTML characters escaped) is a safe script literal.
        let literal = respond::go_json(&json!(api_url));
        // The script and the style are ours and hold no `</script` or
        // `</style`, so they
        // cannot end their element early; the API's address goes in last,
        // so nothing in it is taken for a placeholder.
        let index = PAGE
            .replace("/*{{STYLE}}*/", STYLE)
            .replace("/*{{SCRIPT_CERTIFICATES}}*/", SCRIPT_CERTIFICATES)
            .replace("/*{{SCRIPT}}*/", SCRIPT)
            .replace("\"{{API_URL}}\"", literal.trim_end());
        Dashboard {
            index: Bytes::from(index),
        }
    }

    pub fn index(&self) -> Response {
        let mut r = Response::new(body::full(self.index.clone()));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        r
    }

    /// The file at `path` below the dashboard (`/`, or `` after Go's
    /// `StripPrefix`, is the page).
    pub fn file(&self, path: &str) -> Response {
        let path = path.strip_prefix('/').unwrap_or(path);
        match path {
            "" => self.index(),
            "index.html" => respond::redirect(StatusCode::MOVED_PERMANENTLY, "./"),
            _ => respond::page_not_found(),
        }
    }

    /// Where `{basePath}` redirects: the dashboard under the prefix a proxy
    /// in front says it strips. A prefix that is an absolute URL is ignored.
    pub fn redirect(base_path: &str, forwarded_prefix: Option<&str>) -> Response {
        let prefix = forwarded_prefix
            .filter(|p| !absolute_url(p))
            .unwrap_or("")
            .trim_end_matches('/');
        let location = format!("{prefix}{}/dashboard/", base_path.trim_end_matches('/'));
        respond::redirect(StatusCode::FOUND, &location)
    }
}

/// Whether Go's URL parser would find a scheme or a host in `s` (or fail
/// on it): `//host...`, `scheme:...`, `:...`.
fn absolute_url(s: &str) -> bool {
    if s.starts_with("//") || s.starts_with(':') {
        return true;
    }
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `dashboard@internal`: any method, the path as the internal router's
/// middlewares left it.
pub fn dashboard(base_path: &str) -> BoxHandler {
    let page = Dashboard::new(base_path);
    Arc::new(FnHandler(
        move |req: switchyard_proxy::Request| -> HandlerFuture {
            let r = page.file(req.uri().path());
            Box::pin(async move { Ok(r) })
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn text(r: Response) -> String {
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn page_knows_the_api() {
        for (base, want) in [
            ("/", "\"/api/\""),
            ("/traefik", "\"/traefik/api/\""),
            ("/x/", "\"/x/api/\""),
        ] {
            let page = text(Dashboard::new(base).index()).await;
            assert!(
                page.contains(&format!("window.APIUrl = {want}")),
                "{base}: {page}"
            );
            assert!(!page.contains("{{API_URL}}"), "{base}");
        }
        let odd = text(Dashboard::new("/</script>").index()).await;
        assert!(
            !odd.contains("/</script>/api/"),
            "HTML characters are escaped"
        );
    }

    #[tokio::test]
    async fn page_holds_its_script_and_style() {
        for (part, name) in [
            (SCRIPT, "script"),
            (SCRIPT_CERTIFICATES, "certificates script"),
            (STYLE, "style"),
        ] {
            let lower = part.to_ascii_lowercase();
            assert!(
                !lower.contains("</script") && !lower.contains("</style"),
                "the {name} must not close its element"
            );
        }
        let page = text(Dashboard::new("/").index()).await;
        assert!(!page.contains("{{"), "every placeholder is filled");
        assert!(page.contains("function navigate()"), "the script is in");
        assert!(
            page.contains("function certificatesView()"),
            "the certificates script is in"
        );
        assert!(page.contains(".badge.disabled"), "the style is in");
        for external in ["src=", "url(", "@import", "<link"] {
            assert!(
                !page.contains(external),
                "nothing from the network: {external}"
            );
        }
    }

    #[test]
    fn files() {
        let d = Dashboard::new("/");
        let cases: &[(&str, u16, Option<&str>)] = &[
            ("/", 200, None),
            ("", 200, None),
            ("/index.html", 301, Some("./")),
            ("/favicon.ico", 404, None),
            ("/assets/", 404, None),
        ];
        for (path, status, location) in cases {
            let r = d.file(path);
            assert_eq!(r.status().as_u16(), *status, "{path}");
            assert_eq!(
                r.headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok()),
                *location,
                "{path}"
            );
        }
    }

    #[test]
    fn redirects() {
        let cases: &[(&str, Option<&str>, &str)] = &[
            ("/", None, "/dashboard/"),
            ("/traefik", None, "/traefik/dashboard/"),
            ("/traefik/", None, "/traefik/dashboard/"),
            ("/traefik", Some("/edge/"), "/edge/traefik/dashboard/"),
            ("/", Some("http://evil.test"), "/dashboard/"),
            ("/", Some("//evil.test"), "/dashboard/"),
            ("/", Some("evil.test:80"), "/dashboard/"),
            ("/", Some("/a:b"), "/a:b/dashboard/"),
        ];
        for (base, prefix, want) in cases {
            let r = Dashboard::redirect(base, *prefix);
            assert_eq!(r.status(), StatusCode::FOUND);
            assert_eq!(r.headers()[header::LOCATION], *want, "{base} {prefix:?}");
        }
    }
}
