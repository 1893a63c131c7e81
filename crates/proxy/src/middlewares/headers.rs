//! `headers`: custom request and response headers (an empty value removes
//! one), CORS (preflights answered here, `Access-Control-*` on responses)
//! and the security set (allowed hosts, HSTS, frame options, nosniff, XSS
//! filter, CSP, referrer and permissions policies), as Traefik applies them:
//! security headers first, then custom and CORS headers over them.

use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use regex::Regex;

use crate::{
    body, BoxHandler, Handler, HandlerFuture, ProxyError, Request, RequestContext, Response,
};

/// The settings of one `headers` middleware.
#[derive(Debug, Clone, Default)]
pub struct HeadersSettings {
    pub custom_request_headers: Vec<(String, String)>,
    pub custom_response_headers: Vec<(String, String)>,
    pub allow_credentials: bool,
    pub allow_headers: Vec<String>,
    pub allow_methods: Vec<String>,
    pub allow_origin_list: Vec<String>,
    pub allow_origin_list_regex: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<i64>,
    pub add_vary_header: bool,
    pub allowed_hosts: Vec<String>,
    pub hosts_proxy_headers: Vec<String>,
    pub ssl_proxy_headers: Vec<(String, String)>,
    pub sts_seconds: i64,
    pub sts_include_subdomains: bool,
    pub sts_preload: bool,
    pub force_sts_header: bool,
    pub frame_deny: bool,
    pub custom_frame_options_value: String,
    pub content_type_nosniff: bool,
    pub browser_xss_filter: bool,
    pub custom_browser_xss_value: String,
    pub content_security_policy: String,
    pub content_security_policy_report_only: String,
    pub public_key: String,
    pub referrer_policy: String,
    pub permissions_policy: String,
    pub is_development: bool,
}

/// A header name or value that HTTP does not allow, or a bad regex.
#[derive(Debug, thiserror::Error)]
#[error("invalid header {name:?}: {reason}")]
pub struct BadHeader {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
enum Op {
    Set(HeaderName, HeaderValue),
    Remove(HeaderName),
}

fn compile(pairs: &[(String, String)]) -> Result<Vec<Op>, BadHeader> {
    pairs
        .iter()
        .map(|(k, v)| {
            let bad = |reason: String| BadHeader {
                name: k.clone(),
                reason,
            };
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad(e.to_string()))?;
            if v.is_empty() {
                return Ok(Op::Remove(name));
            }
            Ok(Op::Set(
                name,
                HeaderValue::from_str(v).map_err(|e| bad(e.to_string()))?,
            ))
        })
        .collect()
}

fn apply(ops: &[Op], headers: &mut HeaderMap) {
    for op in ops {
        match op {
            Op::Set(k, v) => {
                headers.insert(k.clone(), v.clone());
            }
            Op::Remove(k) => {
                headers.remove(k);
            }
        }
    }
}

fn value(s: &str) -> Result<HeaderValue, BadHeader> {
    HeaderValue::from_str(s).map_err(|e| BadHeader {
        name: s.to_string(),
        reason: e.to_string(),
    })
}

/// Set on a request whose `X-Forwarded-For` a custom header emptied: the
/// proxy then adds none (Traefik's way to drop it).
#[derive(Debug, Clone, Copy)]
pub struct OmitForwardedFor;

pub struct Headers {
    request: Vec<Op>,
    response: Vec<Op>,
    /// Security headers for every response (HSTS is decided per request).
    security: Vec<(HeaderName, HeaderValue)>,
    sts: Option<HeaderValue>,
    s: HeadersSettings,
    origin_regexes: Vec<Regex>,
    has_cors: bool,
    next: BoxHandler,
}

impl Headers {
    pub fn new(s: HeadersSettings, next: BoxHandler) -> Result<Headers, BadHeader> {
        let request = compile(&s.custom_request_headers)?;
        let response = compile(&s.custom_response_headers)?;
        let origin_regexes = s
            .allow_origin_list_regex
            .iter()
            .map(|r| {
                Regex::new(r).map_err(|e| BadHeader {
                    name: r.clone(),
                    reason: format!("error occurred during origin parsing: {e}"),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut security = Vec::new();
        let mut push = |name: &'static str, v: &str| -> Result<(), BadHeader> {
            security.push((HeaderName::from_static(name), value(v)?));
            Ok(())
        };
        if !s.custom_frame_options_value.is_empty() {
            push("x-frame-options", &s.custom_frame_options_value)?;
        } else if s.frame_deny {
            push("x-frame-options", "DENY")?;
        }
        if s.content_type_nosniff {
            push("x-content-type-options", "nosniff")?;
        }
        if !s.custom_browser_xss_value.is_empty() {
            push("x-xss-protection", &s.custom_browser_xss_value)?;
        } else if s.browser_xss_filter {
            push("x-xss-protection", "1; mode=block")?;
        }
        if !s.content_security_policy.is_empty() {
            push("content-security-policy", &s.content_security_policy)?;
        }
        if !s.content_security_policy_report_only.is_empty() {
            push(
                "content-security-policy-report-only",
                &s.content_security_policy_report_only,
            )?;
        }
        if !s.public_key.is_empty() {
            push("public-key-pins", &s.public_key)?;
        }
        if !s.referrer_policy.is_empty() {
            push("referrer-policy", &s.referrer_policy)?;
        }
        if !s.permissions_policy.is_empty() {
            push("permissions-policy", &s.permissions_policy)?;
        }
        let sts = (s.sts_seconds != 0)
            .then(|| {
                let mut v = format!("max-age={}", s.sts_seconds);
                if s.sts_include_subdomains {
                    v.push_str("; includeSubDomains");
                }
                if s.sts_preload {
                    v.push_str("; preload");
                }
                value(&v)
            })
            .transpose()?;
        let has_cors = s.allow_credentials
            || !s.allow_headers.is_empty()
            || !s.allow_methods.is_empty()
            || !s.allow_origin_list.is_empty()
            || !s.allow_origin_list_regex.is_empty()
            || !s.expose_headers.is_empty()
            || s.max_age.is_some()
            || s.add_vary_header;
        Ok(Headers {
            request,
            response,
            security,
            sts,
            s,
            origin_regexes,
            has_cors,
            next,
        })
    }

    /// Whether anything but custom headers is configured.
    pub fn defines_anything(&self) -> bool {
        self.has_cors
            || !self.security.is_empty()
            || self.sts.is_some()
            || !self.s.allowed_hosts.is_empty()
            || !self.s.ssl_proxy_headers.is_empty()
            || !self.s.hosts_proxy_headers.is_empty()
    }

    fn match_origin(&self, origin: &str) -> Option<String> {
        for item in &self.s.allow_origin_list {
            if item == origin {
                return Some(item.clone());
            }
            if item == "*" {
                // A wildcard cannot go with credentials: echo the origin.
                return Some(if self.s.allow_credentials {
                    origin.to_string()
                } else {
                    item.clone()
                });
            }
        }
        self.origin_regexes
            .iter()
            .any(|r| r.is_match(origin))
            .then(|| origin.to_string())
    }

    fn expose(&self, headers: &mut HeaderMap) {
        let wildcard_with_credentials =
            self.s.expose_headers.iter().any(|h| h == "*") && self.s.allow_credentials;
        if self.s.expose_headers.is_empty() || wildcard_with_credentials {
            return;
        }
        if let Ok(v) = value(&self.s.expose_headers.join(",")) {
            headers.insert("access-control-expose-headers", v);
        }
    }

    /// The answer to a CORS preflight, when `req` is one.
    fn preflight(&self, req: &Request) -> Option<Response> {
        if !self.has_cors || req.method() != Method::OPTIONS {
            return None;
        }
        let h = req.headers();
        let method = h
            .get("access-control-request-method")?
            .to_str()
            .ok()?
            .to_string();
        let origin = h.get(header::ORIGIN)?.to_str().ok()?.to_string();
        if method.is_empty() || origin.is_empty() {
            return None;
        }
        let mut resp = Response::new(body::empty());
        let out = resp.headers_mut();
        if self.s.allow_credentials {
            out.insert(
                "access-control-allow-credentials",
                HeaderValue::from_static("true"),
            );
        }
        let wildcard_headers =
            self.s.allow_headers.iter().any(|x| x == "*") && self.s.allow_credentials;
        if wildcard_headers {
            if let Some(v) = h
                .get("access-control-request-headers")
                .filter(|v| !v.is_empty())
            {
                out.insert("access-control-allow-headers", v.clone());
            }
        } else if !self.s.allow_headers.is_empty() {
            if let Ok(v) = value(&self.s.allow_headers.join(",")) {
                out.insert("access-control-allow-headers", v);
            }
        }
        let wildcard_methods =
            self.s.allow_methods.iter().any(|x| x == "*") && self.s.allow_credentials;
        if wildcard_methods {
            if let Ok(v) = value(&method) {
                out.insert("access-control-allow-methods", v);
            }
        } else if !self.s.allow_methods.is_empty() {
            if let Ok(v) = value(&self.s.allow_methods.join(",")) {
                out.insert("access-control-allow-methods", v);
            }
        }
        if let Some(v) = self.match_origin(&origin).and_then(|o| value(&o).ok()) {
            out.insert("access-control-allow-origin", v);
        }
        if let Some(age) = self.s.max_age {
            out.insert("access-control-max-age", HeaderValue::from(age));
        }
        self.expose(out);
        out.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
        Some(resp)
    }

    /// `allowedHosts`: the request's host (or the first of
    /// `hostsProxyHeaders` present) must be listed.
    fn host_allowed(&self, req: &Request) -> bool {
        if self.s.allowed_hosts.is_empty() || self.s.is_development {
            return true;
        }
        let from_proxy = self.s.hosts_proxy_headers.iter().find_map(|h| {
            req.headers()
                .get(h.as_str())
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        });
        let host = from_proxy
            .or_else(|| crate::context::request_host(req))
            .unwrap_or("");
        self.s.allowed_hosts.iter().any(|h| h == host)
    }

    /// Whether the request came over TLS, directly or per `sslProxyHeaders`.
    fn is_ssl(&self, req: &Request) -> bool {
        RequestContext::of(req).tls
            || self.s.ssl_proxy_headers.iter().any(|(k, v)| {
                req.headers().get(k.as_str()).and_then(|x| x.to_str().ok()) == Some(v.as_str())
            })
    }
}

impl Handler for Headers {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if let Some(resp) = self.preflight(&req) {
            return Box::pin(async move { Ok(resp) });
        }
        if !self.host_allowed(&req) {
            return Box::pin(async {
                Err(ProxyError::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: "Bad Host\n".into(),
                })
            });
        }
        let sts = self
            .sts
            .clone()
            .filter(|_| !self.s.is_development && (self.s.force_sts_header || self.is_ssl(&req)));
        let origin = self
            .has_cors
            .then(|| {
                req.headers()
                    .get(header::ORIGIN)
                    .and_then(|o| o.to_str().ok())
                    .and_then(|o| self.match_origin(o))
            })
            .flatten();
        for op in &self.request {
            match op {
                Op::Remove(name) if name == "x-forwarded-for" => {
                    req.headers_mut().remove(name);
                    req.extensions_mut().insert(OmitForwardedFor);
                }
                _ => apply(std::slice::from_ref(op), req.headers_mut()),
            }
        }
        let fut = self.next.call(req);
        let security = self.security.clone();
        let response = self.response.clone();
        let (credentials, vary) = (self.s.allow_credentials, self.s.add_vary_header);
        let mut expose = HeaderMap::new();
        self.expose(&mut expose);
        Box::pin(async move {
            let mut resp = fut.await?;
            let h = resp.headers_mut();
            for (k, v) in security {
                h.insert(k, v);
            }
            if let Some(v) = sts {
                h.insert(header::STRICT_TRANSPORT_SECURITY, v);
            }
            apply(&response, h);
            if let Some(v) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
                h.insert("access-control-allow-origin", v);
            }
            if credentials {
                h.insert(
                    "access-control-allow-credentials",
                    HeaderValue::from_static("true"),
                );
            }
            h.extend(expose);
            if vary {
                let current = h
                    .get(header::VARY)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if current != "Origin" {
                    let new = if current.is_empty() {
                        "Origin".to_string()
                    } else {
                        format!("{current},Origin")
                    };
                    if let Ok(v) = HeaderValue::from_str(&new) {
                        h.insert(header::VARY, v);
                    }
                }
            }
            Ok(resp)
        })
    }
}

/// Translates a `headers` definition.
pub fn from_config(
    c: switchyard_config::middlewares::Headers,
    ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    for field in c.deprecated_fields() {
        ctx.warnings.push(format!(
            "headers.{field} is deprecated in Traefik v3 and has no effect"
        ));
    }
    let settings = settings_from_config(&c);
    let defined = !settings.custom_request_headers.is_empty()
        || !settings.custom_response_headers.is_empty()
        || Headers::new(settings.clone(), super::noop()).is_ok_and(|h| h.defines_anything());
    if !defined {
        return Err("headers configuration not valid".into());
    }
    Headers::new(settings.clone(), super::noop()).map_err(|e| format!("headers: {e}"))?;
    Ok(super::validated(move |next| {
        Headers::new(settings.clone(), next)
    }))
}

fn settings_from_config(c: &switchyard_config::middlewares::Headers) -> HeadersSettings {
    let pairs = |m: &std::collections::BTreeMap<String, String>| {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    HeadersSettings {
        custom_request_headers: pairs(&c.custom_request_headers),
        custom_response_headers: pairs(&c.custom_response_headers),
        allow_credentials: c.access_control_allow_credentials,
        allow_headers: c.access_control_allow_headers.clone(),
        allow_methods: c.access_control_allow_methods.clone(),
        allow_origin_list: c.access_control_allow_origin_list.clone(),
        allow_origin_list_regex: c.access_control_allow_origin_list_regex.clone(),
        expose_headers: c.access_control_expose_headers.clone(),
        max_age: c.access_control_max_age,
        add_vary_header: c.add_vary_header,
        allowed_hosts: c.allowed_hosts.clone(),
        hosts_proxy_headers: c.hosts_proxy_headers.clone(),
        ssl_proxy_headers: pairs(&c.ssl_proxy_headers),
        sts_seconds: c.sts_seconds,
        sts_include_subdomains: c.sts_include_subdomains,
        sts_preload: c.sts_preload,
        force_sts_header: c.force_sts_header,
        frame_deny: c.frame_deny,
        custom_frame_options_value: c.custom_frame_options_value.clone(),
        content_type_nosniff: c.content_type_nosniff,
        browser_xss_filter: c.browser_xss_filter,
        custom_browser_xss_value: c.custom_browser_xss_value.clone(),
        content_security_policy: c.content_security_policy.clone(),
        content_security_policy_report_only: c.content_security_policy_report_only.clone(),
        public_key: c.public_key.clone(),
        referrer_policy: c.referrer_policy.clone(),
        permissions_policy: c.permissions_policy.clone(),
        is_development: c.is_development,
    }
}
