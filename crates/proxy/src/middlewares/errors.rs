//! `errors`: when the answer's status is in `status`, the client gets the
//! page of another service instead (requested as `GET {query}` with
//! `{status}`, `{originalStatus}` and `{url}` filled in, with the request's
//! headers or just `errorRequestHeaders`), under the original status or the
//! one `statusRewrites` maps it to.

use http::{header, HeaderMap, HeaderName, Method, StatusCode, Uri};

use crate::{body, BoxHandler, Handler, HandlerFuture, Request, RequestContext};

#[derive(Clone)]
pub struct ErrorPages {
    pub status: Vec<(u16, u16)>,
    /// `(from ranges, to)`, first match wins.
    pub rewrites: Vec<(Vec<(u16, u16)>, u16)>,
    pub service: BoxHandler,
    pub query: String,
    /// None: all the request's headers.
    pub request_headers: Option<Vec<HeaderName>>,
}

pub struct Errors {
    pages: ErrorPages,
    next: BoxHandler,
}

impl Errors {
    pub fn new(pages: ErrorPages, next: BoxHandler) -> Errors {
        Errors { pages, next }
    }
}

fn in_ranges(ranges: &[(u16, u16)], code: u16) -> bool {
    ranges.iter().any(|(a, b)| (*a..=*b).contains(&code))
}

/// `application/x-www-form-urlencoded` escaping, as Go's `QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Handler for Errors {
    fn call(&self, req: Request) -> HandlerFuture {
        let host = crate::context::request_host(&req)
            .map(str::to_string)
            .unwrap_or_default();
        let tls = RequestContext::of(&req).tls;
        let original_url = format!(
            "{}://{host}{}",
            if tls { "https" } else { "http" },
            req.uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let headers: HeaderMap = match &self.pages.request_headers {
            None => req.headers().clone(),
            Some(names) => {
                let mut h = HeaderMap::new();
                for n in names {
                    for v in req.headers().get_all(n) {
                        h.append(n.clone(), v.clone());
                    }
                }
                h
            }
        };
        let extensions = req.extensions().clone();
        let fut = self.next.call(req);
        let pages = self.pages.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let original = resp.status().as_u16();
            if !in_ranges(&pages.status, original) {
                return Ok(resp);
            }
            drop(resp);
            let code = pages
                .rewrites
                .iter()
                .find(|(from, _)| in_ranges(from, original))
                .map_or(original, |(_, to)| *to);
            let mut query = format!("/{}", pages.query.trim_start_matches('/'));
            query = query
                .replace("{status}", &code.to_string())
                .replace("{originalStatus}", &original.to_string())
                .replace("{url}", &query_escape(&original_url));
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let Ok(uri) = query.parse::<Uri>() else {
                let mut r = crate::Response::new(body::full(
                    status.canonical_reason().unwrap_or("").to_string(),
                ));
                *r.status_mut() = status;
                return Ok(r);
            };
            let mut page_req = Request::new(body::empty());
            *page_req.method_mut() = Method::GET;
            *page_req.uri_mut() = uri;
            *page_req.headers_mut() = headers;
            if let Ok(h) = http::HeaderValue::from_str(&host) {
                page_req.headers_mut().insert(header::HOST, h);
            }
            page_req.headers_mut().remove(header::CONTENT_LENGTH);
            page_req.headers_mut().remove(header::TRANSFER_ENCODING);
            *page_req.extensions_mut() = extensions;
            let mut page = pages.service.call(page_req).await?;
            *page.status_mut() = status;
            Ok(page)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_like_go() {
        assert_eq!(
            query_escape("http://a.test/p?q=1 2"),
            "http%3A%2F%2Fa.test%2Fp%3Fq%3D1+2"
        );
    }
}
