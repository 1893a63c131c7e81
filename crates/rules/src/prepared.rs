//! Matching a program's own `http::Request`: its parts prepared as a
//! Traefik entrypoint prepares them before the routers see them.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::path::{normalize_path, routing_path, sanitize_path, RoutingPathError};
use crate::request::normalize_host;
use crate::{RequestInfo, Rule};

/// A request's method, host, path, query, headers and client address, as
/// the matchers see them behind a Traefik entrypoint with its default
/// settings:
///
/// - the host is the `Host` header, or the URI's authority (HTTP/2),
///   through [`normalize_host`];
/// - the path is [`normalize_path`]ed, [`sanitize_path`]ed (dot segments
///   and `//` cleaned, Traefik's default `sanitizePath: true`), then
///   made the [`routing_path`];
/// - `;` in the query separates parameters as `&` does (Traefik's default,
///   without `encodeQuerySemicolons`).
///
/// Make one per request and match it against as many rules as needed
/// ([`Rule::matches`], [`crate::RouterTable::find`]) through
/// [`PreparedRequest::info`].
///
/// ```
/// use switchyard_rules::{parse, PreparedRequest};
///
/// let rule = parse("Host(`example.com`) && PathPrefix(`/api`) && ClientIP(`10.0.0.0/8`)")?;
/// let req = http::Request::get("http://Example.com:8080/x/../api/users").body(())?;
/// let prepared = PreparedRequest::new(&req, [10, 1, 2, 3].into())?;
/// assert_eq!(prepared.info().host, "example.com");
/// assert_eq!(prepared.info().path, "/api/users");
/// assert!(rule.matches(&prepared.info()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PreparedRequest<'a> {
    method: &'a http::Method,
    headers: &'a http::HeaderMap,
    host: String,
    path: String,
    query: Option<Cow<'a, str>>,
    client_ip: IpAddr,
}

impl<'a> PreparedRequest<'a> {
    /// Prepares `req`, whose connection comes from `client_ip` (what
    /// `ClientIP` matches; not `X-Forwarded-For`). A path with a broken
    /// percent-escape (`%` not followed by two hex digits) is an error, as
    /// Traefik answers it with 400 before routing.
    ///
    /// ```
    /// use switchyard_rules::PreparedRequest;
    ///
    /// let bad = http::Request::get("/a%zz").body(())?;
    /// assert!(PreparedRequest::new(&bad, [127, 0, 0, 1].into()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<B>(
        req: &'a http::Request<B>,
        client_ip: IpAddr,
    ) -> Result<PreparedRequest<'a>, RoutingPathError> {
        PreparedRequest::of(req.method(), req.uri(), req.headers(), client_ip)
    }

    /// Prepares a request's [`http::request::Parts`] (what a middleware or
    /// an extractor holds), as [`PreparedRequest::new`] prepares a request.
    ///
    /// ```
    /// use switchyard_rules::PreparedRequest;
    ///
    /// let (parts, _body) = http::Request::post("/upload?a=1;b=2").body(())?.into_parts();
    /// let prepared = PreparedRequest::from_parts(&parts, [127, 0, 0, 1].into())?;
    /// assert_eq!(prepared.info().query, Some("a=1&b=2"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_parts(
        parts: &'a http::request::Parts,
        client_ip: IpAddr,
    ) -> Result<PreparedRequest<'a>, RoutingPathError> {
        PreparedRequest::of(&parts.method, &parts.uri, &parts.headers, client_ip)
    }

    fn of(
        method: &'a http::Method,
        uri: &'a http::Uri,
        headers: &'a http::HeaderMap,
        client_ip: IpAddr,
    ) -> Result<PreparedRequest<'a>, RoutingPathError> {
        let raw_host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let normalized = normalize_path(uri.path())?;
        let sanitized = sanitize_path(&normalized);
        let path = routing_path(&sanitized)?.into_owned();
        let query = uri.query().map(|q| {
            if q.contains(';') {
                Cow::Owned(q.replace(';', "&"))
            } else {
                Cow::Borrowed(q)
            }
        });
        Ok(PreparedRequest {
            method,
            headers,
            host: normalize_host(raw_host),
            path,
            query,
            client_ip,
        })
    }

    /// What the matchers look at, borrowed from this.
    ///
    /// ```
    /// use switchyard_rules::PreparedRequest;
    ///
    /// let req = http::Request::get("/%7Euser/").header("host", "a.test").body(())?;
    /// let prepared = PreparedRequest::new(&req, [127, 0, 0, 1].into())?;
    /// let info = prepared.info();
    /// assert_eq!((info.host, info.path), ("a.test", "/~user/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            method: self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: self.headers,
            client_ip: self.client_ip,
        }
    }
}

impl Rule {
    /// Whether a program's own request matches, prepared as
    /// [`PreparedRequest`] says; `client_ip` is the connection's peer
    /// (what `ClientIP` matches). A path with a broken percent-escape
    /// matches no rule (Traefik answers it with 400). To try many rules on
    /// one request, prepare it once instead.
    ///
    /// ```
    /// let rule = switchyard_rules::parse("Method(`POST`) && Path(`/login`)")?;
    /// let req = http::Request::post("/login").body(())?;
    /// assert!(rule.matches_request(&req, [127, 0, 0, 1].into()));
    /// let req = http::Request::get("/login").body(())?;
    /// assert!(!rule.matches_request(&req, [127, 0, 0, 1].into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn matches_request<B>(&self, req: &http::Request<B>, client_ip: IpAddr) -> bool {
        PreparedRequest::new(req, client_ip).is_ok_and(|p| self.matches(&p.info()))
    }

    /// [`Rule::matches_request`] for a request's parts.
    ///
    /// ```
    /// let rule = switchyard_rules::parse("Header(`X-Tenant`, `blue`)")?;
    /// let (parts, _) = http::Request::get("/").header("x-tenant", "blue").body(())?.into_parts();
    /// assert!(rule.matches_parts(&parts, [127, 0, 0, 1].into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn matches_parts(&self, parts: &http::request::Parts, client_ip: IpAddr) -> bool {
        PreparedRequest::from_parts(parts, client_ip).is_ok_and(|p| self.matches(&p.info()))
    }
}
