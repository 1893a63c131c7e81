//! `forwardAuth`: asks an authentication server about each request (a
//! `GET` to `address` with the request's headers and `X-Forwarded-*`
//! describing it: with `trustForwardHeader` unset, For/Proto/Method/Host/Uri
//! are set over what the request carries; set, the request's own are kept
//! (true) or all removed first, `_` aliases too (false), and
//! For/Method/Proto/Port/Host/Uri filled in where missing, as Traefik). A 2xx answer lets the request through, with the headers
//! named in `authResponseHeaders` (or matching `authResponseHeadersRegex`)
//! copied onto it; any other answer is sent to the client as is (or, with
//! `authSigninURL`, a 401 becomes a redirect there). With `forwardBody`,
//! the request body (up to `maxBodySize`) goes to the server as well.

use std::sync::Arc;

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use regex::Regex;

use crate::forwarded;
use crate::service::reverse_proxy::remove_hop_by_hop;
use crate::upstream::Upstream;
use crate::{
    body, BoxHandler, Handler, HandlerFuture, ProxyError, Request, RequestContext, Response,
};

#[derive(Clone)]
pub struct ForwardAuthSettings {
    pub address: Uri,
    /// None: Traefik's default (the request's own `X-Forwarded-*` are
    /// replaced); Some(true) keeps trusted ones; Some(false) drops them.
    pub trust_forward_header: Option<bool>,
    pub auth_response_headers: Vec<HeaderName>,
    pub auth_response_headers_regex: Option<Regex>,
    pub auth_request_headers: Vec<HeaderName>,
    pub add_auth_cookies_to_response: Vec<String>,
    pub preserve_location_header: bool,
    pub preserve_request_method: bool,
    /// Send the request's body to the authentication server too.
    pub forward_body: bool,
    /// With `forward_body`: the largest body sent (None: any); a larger
    /// one is refused with 401.
    pub max_body_size: Option<usize>,
    /// Where a 401 from the authentication server redirects (302).
    pub auth_signin_url: Option<String>,
}

pub struct ForwardAuth {
    s: ForwardAuthSettings,
    client: Arc<Upstream>,
    next: BoxHandler,
}

impl ForwardAuth {
    pub fn new(s: ForwardAuthSettings, client: Arc<Upstream>, next: BoxHandler) -> ForwardAuth {
        ForwardAuth { s, client, next }
    }

    fn auth_request(&self, req: &Request) -> Request {
        let s = &self.s;
        let mut headers = req.headers().clone();
        remove_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        headers.remove(header::CONTENT_LENGTH);
        if !s.auth_request_headers.is_empty() {
            let mut kept = HeaderMap::new();
            for n in &s.auth_request_headers {
                for v in headers.get_all(n) {
                    kept.append(n.clone(), v.clone());
                }
            }
            headers = kept;
        }
        let ctx = RequestContext::of(req);
        let host = req.headers().get(header::HOST).cloned().or_else(|| {
            req.uri()
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let uri = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let proto = if ctx.tls { "https" } else { "http" };
        let ip = ctx.client_addr.ip().to_string();
        let set = |h: &mut HeaderMap, name: &'static str, value: &str, only_if_absent: bool| {
            if only_if_absent && h.contains_key(name) {
                return;
            }
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(name, v);
            }
        };
        match s.trust_forward_header {
            None => {
                set(&mut headers, "x-forwarded-for", &ip, false);
                set(&mut headers, "x-forwarded-proto", proto, false);
                set(
                    &mut headers,
                    "x-forwarded-method",
                    req.method().as_str(),
                    false,
                );
                if let Some(h) = &host {
                    headers.insert("x-forwarded-host", h.clone());
                }
                set(&mut headers, "x-forwarded-uri", uri, false);
            }
            Some(trust) => {
                // Without trust, every header Traefik manages goes (with
                // its `_` aliases) and is set anew below.
                if !trust {
                    forwarded::delete_managed(&mut headers);
                }
                let prior: Vec<&str> = headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                let xff = if prior.is_empty() {
                    ip
                } else {
                    format!("{}, {ip}", prior.join(", "))
                };
                set(&mut headers, "x-forwarded-for", &xff, false);
                set(
                    &mut headers,
                    "x-forwarded-method",
                    req.method().as_str(),
                    true,
                );
                set(&mut headers, "x-forwarded-proto", proto, true);
                if !headers.contains_key("x-forwarded-port") {
                    let host = host.as_ref().and_then(|h| h.to_str().ok());
                    let port = forwarded::forwarded_port(&headers, host, ctx.tls, 0);
                    headers.insert("x-forwarded-port", HeaderValue::from(port));
                }
                if !headers.contains_key("x-forwarded-host") {
                    if let Some(h) = &host {
                        headers.insert("x-forwarded-host", h.clone());
                    }
                }
                set(&mut headers, "x-forwarded-uri", uri, true);
            }
        }
        if let Some(authority) = s
            .address
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        {
            headers.insert(header::HOST, authority);
        }
        let mut out = Request::new(body::empty());
        *out.method_mut() = if s.preserve_request_method {
            req.method().clone()
        } else {
            Method::GET
        };
        *out.uri_mut() = s.address.clone();
        *out.headers_mut() = headers;
        out
    }
}

fn cookie_name(set_cookie: &HeaderValue) -> Option<String> {
    let text = set_cookie.to_str().ok()?;
    Some(
        text.split(';')
            .next()?
            .split('=')
            .next()?
            .trim()
            .to_string(),
    )
}

/// A 302 to `location`, bodiless, as Traefik sends it.
fn found(location: &str) -> Response {
    let mut r = Response::new(body::empty());
    *r.status_mut() = http::StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn status_only(status: http::StatusCode) -> Response {
    let mut r = Response::new(body::empty());
    *r.status_mut() = status;
    r
}

impl Handler for ForwardAuth {
    fn call(&self, req: Request) -> HandlerFuture {
        let mut auth_req = self.auth_request(&req);
        let span = crate::trace::ClientSpan::start_auth(&req, &mut auth_req);
        let client = self.client.clone();
        let s = self.s.clone();
        let next = self.next.clone();
        Box::pin(async move {
            let mut req = req;
            if s.forward_body && req.method() != Method::CONNECT {
                let (parts, body_in) = req.into_parts();
                let bytes = match body::buffer_up_to(body_in, s.max_body_size).await {
                    Ok(body::Buffered::Whole(b)) => b,
                    Ok(body::Buffered::TooLarge(_)) => {
                        tracing::debug!("forwardAuth: request body over maxBodySize");
                        return Ok(status_only(http::StatusCode::UNAUTHORIZED));
                    }
                    Err(e) => return Err(ProxyError::BadRequest(e.to_string())),
                };
                if !bytes.is_empty() {
                    auth_req
                        .headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                }
                *auth_req.body_mut() = body::full(bytes.clone());
                req = crate::context::request_from_parts(&parts, body::full(bytes));
            }
            let address = s.address.to_string();
            let sent = client
                .send(auth_req, &address, crate::upstream::Protocol::Auto)
                .await;
            let auth = match crate::trace::ClientSpan::end(span, sent) {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "forwardAuth: authentication server unreachable");
                    let mut r = Response::new(body::empty());
                    *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    return Ok(r);
                }
            };
            let (parts, auth_body) = auth.into_parts();
            let auth_bytes = auth_body
                .collect()
                .await
                .map_err(|e| ProxyError::Upstream {
                    upstream: address.clone(),
                    source: e,
                })?
                .to_bytes();
            if parts.status == http::StatusCode::UNAUTHORIZED {
                if let Some(url) = &s.auth_signin_url {
                    return Ok(found(url));
                }
            }
            if !parts.status.is_success() {
                let mut r = Response::new(body::full(auth_bytes));
                *r.status_mut() = parts.status;
                let mut h = parts.headers.clone();
                remove_hop_by_hop(&mut h);
                h.remove(header::CONTENT_LENGTH);
                if !s.preserve_location_header {
                    if let Some(loc) = h
                        .get(header::LOCATION)
                        .and_then(|l| l.to_str().ok())
                        .map(str::to_string)
                    {
                        if loc.starts_with('/') {
                            let base = format!(
                                "{}://{}",
                                s.address.scheme_str().unwrap_or("http"),
                                s.address.authority().map(|a| a.as_str()).unwrap_or("")
                            );
                            if let Ok(v) = HeaderValue::from_str(&format!("{base}{loc}")) {
                                h.insert(header::LOCATION, v);
                            }
                        }
                    }
                }
                *r.headers_mut() = h;
                return Ok(r);
            }
            for name in &s.auth_response_headers {
                req.headers_mut().remove(name);
                for v in parts.headers.get_all(name) {
                    req.headers_mut().append(name.clone(), v.clone());
                }
            }
            if let Some(re) = &s.auth_response_headers_regex {
                let drop: Vec<HeaderName> = req
                    .headers()
                    .keys()
                    .filter(|k| re.is_match(k.as_str()))
                    .cloned()
                    .collect();
                for k in drop {
                    req.headers_mut().remove(k);
                }
                for (k, v) in parts
                    .headers
                    .iter()
                    .filter(|(k, _)| re.is_match(k.as_str()))
                {
                    req.headers_mut().append(k.clone(), v.clone());
                }
            }
            let auth_cookies: Vec<HeaderValue> = parts
                .headers
                .get_all(header::SET_COOKIE)
                .iter()
                .filter(|c| {
                    cookie_name(c).is_some_and(|n| s.add_auth_cookies_to_response.contains(&n))
                })
                .cloned()
                .collect();
            let mut resp = next.call(req).await?;
            if !auth_cookies.is_empty() {
                let kept: Vec<HeaderValue> = resp
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter(|c| {
                        !cookie_name(c).is_some_and(|n| s.add_auth_cookies_to_response.contains(&n))
                    })
                    .cloned()
                    .collect();
                let h = resp.headers_mut();
                h.remove(header::SET_COOKIE);
                for c in kept.into_iter().chain(auth_cookies) {
                    h.append(header::SET_COOKIE, c);
                }
            }
            Ok(resp)
        })
    }
}

/// Translates a `forwardAuth` definition. It asks the authentication
/// server through `upstream` (the gateway's default client; None: a client
/// of its own with the default transport settings), or through a client of
/// its own when the definition has a `tls` section.
pub fn from_config(
    c: switchyard_config::middlewares::ForwardAuth,
    ctx: &mut super::TranslateCtx<'_>,
    upstream: Option<&Arc<Upstream>>,
) -> Result<super::Factory, String> {
    let address: Uri = c
        .address
        .parse()
        .map_err(|e| format!("forwardAuth.address {:?}: {e}", c.address))?;
    if address.scheme_str() != Some("http") && address.scheme_str() != Some("https") {
        return Err(format!(
            "forwardAuth.address {:?}: expected an http:// or https:// URL",
            c.address
        ));
    }
    let names = |list: &[String], field: &str| -> Result<Vec<HeaderName>, String> {
        list.iter()
            .map(|n| {
                HeaderName::from_bytes(n.as_bytes())
                    .map_err(|_| format!("forwardAuth.{field}: invalid header {n:?}"))
            })
            .collect()
    };
    let regex = (!c.auth_response_headers_regex.is_empty())
        .then(|| Regex::new(&format!("(?i){}", c.auth_response_headers_regex)))
        .transpose()
        .map_err(|e| format!("forwardAuth.authResponseHeadersRegex: {e}"))?;
    let settings = ForwardAuthSettings {
        address,
        trust_forward_header: c.trust_forward_header,
        auth_response_headers: names(&c.auth_response_headers, "authResponseHeaders")?,
        auth_response_headers_regex: regex,
        auth_request_headers: names(&c.auth_request_headers, "authRequestHeaders")?,
        add_auth_cookies_to_response: c.add_auth_cookies_to_response.clone(),
        preserve_location_header: c.preserve_location_header,
        preserve_request_method: c.preserve_request_method,
        forward_body: c.forward_body,
        max_body_size: c.max_body_size.and_then(|n| usize::try_from(n).ok()),
        auth_signin_url: c.auth_signin_url.clone().filter(|u| !u.is_empty()),
    };
    if c.forward_body && c.max_body_size.is_none_or(|n| n < 0) {
        ctx.warnings.push("forwardAuth.forwardBody without maxBodySize: request bodies of any size are read into memory".into());
    }
    let client = match (&c.tls, upstream) {
        (None, Some(shared)) => shared.clone(),
        (None, None) => Arc::new(
            Upstream::new(crate::upstream::TransportSettings::default())
                .map_err(|e| format!("forwardAuth: {e}"))?,
        ),
        (Some(tls), _) => Arc::new(tls_client(tls, &mut ctx.warnings)?),
    };
    Ok(Arc::new(move |next| {
        Arc::new(ForwardAuth::new(settings.clone(), client.clone(), next)) as BoxHandler
    }))
}

/// The client of a `forwardAuth` with a `tls` section (`ca`, `cert`,
/// `key`, `insecureSkipVerify`; `caOptional` is deprecated and ignored).
fn tls_client(
    tls: &switchyard_config::Node,
    warnings: &mut Vec<String>,
) -> Result<Upstream, String> {
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct ClientTls {
        ca: String,
        cert: String,
        key: String,
        insecure_skip_verify: bool,
        ca_optional: Option<bool>,
    }
    let c: ClientTls =
        switchyard_config::decode::from_node(tls).map_err(|e| format!("forwardAuth.tls: {e}"))?;
    if c.ca_optional.is_some() {
        warnings.push("forwardAuth.tls.caOptional is deprecated and has no effect".into());
    }
    if c.cert.is_empty() != c.key.is_empty() {
        return Err("forwardAuth.tls: cert and key go together".into());
    }
    let settings = crate::upstream::TransportSettings {
        insecure_skip_verify: c.insecure_skip_verify,
        root_cas: if c.ca.is_empty() {
            Vec::new()
        } else {
            vec![c.ca]
        },
        certificates: if c.cert.is_empty() {
            Vec::new()
        } else {
            vec![(c.cert, c.key)]
        },
        ..crate::upstream::TransportSettings::default()
    };
    Upstream::new(settings).map_err(|e| format!("forwardAuth.tls: {e}"))
}
