//! The one request handler of an entrypoint, for HTTP/1.1, HTTP/2 and
//! HTTP/3 alike: the checks Go's server makes, ACME HTTP-01 answers,
//! forwarded headers, path and query cleaning, one load of the live
//! runtime, router lookup, the chain, and the mapping of errors to
//! responses.

use std::net::IpAddr;
use std::sync::Arc;

use http::Version;
use switchyard_proxy::{body, ProxyError, Request, RequestContext, Response};
use switchyard_rules::{normalize_host, normalize_path, routing_path, sanitize_path, RequestInfo};

use super::{checks, EntryPointSettings};
use crate::accesslog::AccessLog;
use crate::Switcher;

/// Replaces the path and query of `req`'s URI.
fn set_path_and_query(req: &mut Request, pq: &str) -> Result<(), ProxyError> {
    let pq = http::uri::PathAndQuery::try_from(pq)
        .map_err(|e| ProxyError::BadRequest(format!("invalid request target: {e}")))?;
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    *req.uri_mut() = http::Uri::from_parts(parts)
        .map_err(|e| ProxyError::BadRequest(format!("invalid request target: {e}")))?;
    Ok(())
}

/// Answers one request of a connection described by `ctx`; `over_quic`
/// for HTTP/3 requests (which do not advertise HTTP/3 again).
pub(super) async fn handle<B>(
    settings: &EntryPointSettings,
    switcher: &Switcher,
    ctx: RequestContext,
    req: http::Request<B>,
    over_quic: bool,
) -> Response
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<body::BoxError>,
{
    let started = tokio::time::Instant::now();
    let log_start = settings.access_log.as_ref().map(|log| {
        (
            log.clone(),
            (std::time::SystemTime::now(), started.into_std()),
        )
    });
    // readTimeout bounds the request body; writeTimeout the whole exchange
    // until the response is written (both off when zero).
    let mut req: Request = match settings.read_timeout {
        Some(limit) if !http_body::Body::is_end_stream(req.body()) => {
            req.map(|b| body::boxed(body::Deadline::new(b, limit, "read")))
        }
        _ => req.map(body::boxed),
    };
    if let Some(refused) = checks::check(&mut req) {
        return refused;
    }
    // An ACME HTTP-01 validation is answered before routing; with
    // `allowACMEByPass`, a router of priority 42 or more (the length of
    // Traefik's own `PathPrefix` rule for it) may take it instead.
    let acme_answer = match (
        &settings.acme_challenges,
        req.uri()
            .path()
            .strip_prefix("/.well-known/acme-challenge/"),
    ) {
        (Some(challenges), Some(token)) => challenges.http_answer(token),
        _ => None,
    };
    let acme_answer = match acme_answer {
        Some(key_auth) if !settings.allow_acme_by_pass => return acme_response(key_auth),
        other => other,
    };
    let host = switchyard_proxy::context::request_host(&req).map(str::to_string);
    if host.is_none() && req.version() == Version::HTTP_11 {
        return ProxyError::BadRequest("missing required Host header".into()).into_response();
    }
    if let Err(rejected) = settings.forwarded.apply(
        req.headers_mut(),
        ctx.client_addr.ip(),
        ctx.tls,
        ctx.local_addr.port(),
        host.as_deref(),
    ) {
        tracing::debug!(reason = %rejected, "request refused");
        return rejected.into_response();
    }
    if settings.forwarded.not_append_forwarded_for() {
        req.extensions_mut()
            .insert(switchyard_proxy::middlewares::headers::OmitForwardedFor);
    }
    // Percent-encoding normalised, then dot segments and `//` cleaned, as
    // Traefik's entrypoints do; a broken escape is a 400.
    let cleaned: Option<String> = {
        let raw = req.uri().path();
        let normalized = match normalize_path(raw) {
            Ok(p) => p,
            Err(e) => return ProxyError::BadRequest(e.to_string()).into_response(),
        };
        let sanitized = if settings.sanitize_path {
            match sanitize_path(&normalized) {
                std::borrow::Cow::Owned(clean) => std::borrow::Cow::Owned(clean),
                std::borrow::Cow::Borrowed(_) => normalized,
            }
        } else {
            normalized
        };
        (sanitized != raw).then(|| sanitized.into_owned())
    };
    // As Traefik, `;` in the query separates parameters like `&`, for the
    // routers and for the backend alike; with `encodeQuerySemicolons` it is
    // encoded instead, and stays part of the value.
    let query_fixed = req.uri().query().filter(|q| q.contains(';')).map(|q| {
        let with = if settings.encode_query_semicolons {
            "%3B"
        } else {
            "&"
        };
        q.replace(';', with)
    });
    if cleaned.is_some() || query_fixed.is_some() {
        let path = cleaned.unwrap_or_else(|| req.uri().path().to_string());
        let target = match query_fixed {
            Some(q) => format!("{path}?{q}"),
            None => match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            },
        };
        if let Err(e) = set_path_and_query(&mut req, &target) {
            return e.into_response();
        }
    }
    let client_ip = ctx.client_addr.ip();
    let is_tls = ctx.tls;
    req.extensions_mut().insert(ctx);

    let runtime = switcher.load();
    // TLS responses of an HTTP/3 entrypoint advertise it, as Traefik's do
    // (not for names whose TLS options HTTP/3 cannot honour).
    let alt_svc = settings
        .alt_svc
        .as_ref()
        .filter(|_| is_tls && !over_quic)
        .filter(|_| {
            let name = host.as_deref().map(normalize_host);
            runtime.tls.quic_allowed(name.as_deref())
        })
        .cloned();
    let mut resp = route(
        settings,
        &runtime,
        req,
        (host.as_deref(), is_tls, client_ip),
        acme_answer,
        log_start,
    )
    .await;
    if let Some(v) = alt_svc {
        resp.headers_mut().append(http::header::ALT_SVC, v);
    }
    if let Some(limit) = settings.write_timeout {
        resp = resp.map(|b| body::boxed(body::Deadline::until(b, started + limit, "write")));
    }
    resp
}

/// Finds the router for `req` in the entrypoint's table and runs its chain.
async fn route(
    settings: &EntryPointSettings,
    runtime: &crate::Runtime,
    mut req: Request,
    (host, is_tls, client_ip): (Option<&str>, bool, IpAddr),
    acme_answer: Option<String>,
    log: Option<(Arc<AccessLog>, LogStart)>,
) -> Response {
    let tables = if is_tls {
        &runtime.tls_entrypoints
    } else {
        &runtime.entrypoints
    };
    let Some(table) = tables.get(&settings.name) else {
        return ProxyError::NotFound.into_response();
    };
    let route = {
        let Ok(routing) = routing_path(req.uri().path()) else {
            return ProxyError::BadRequest("invalid percent-encoding in URL path".into())
                .into_response();
        };
        let host = normalize_host(host.unwrap_or(""));
        let info = RequestInfo {
            method: req.method(),
            host: &host,
            path: &routing,
            query: req.uri().query(),
            headers: req.headers(),
            client_ip,
        };
        table
            .find_entry(&info)
            .filter(|e| acme_answer.is_none() || e.priority >= ACME_BYPASS_PRIORITY)
            .map(|e| {
                (
                    e.value.router.clone(),
                    e.value.handler.clone(),
                    log.as_ref()
                        .filter(|(l, _)| l.wants(e.value.internal, e.value.access_logs)),
                    (e.value.tracing, e.value.internal),
                    &e.value.metrics,
                )
            })
    };
    let Some((router, handler, log, (tracing, internal), route_metrics)) = route else {
        if let Some(key_auth) = acme_answer {
            return acme_response(key_auth);
        }
        // As Traefik's default handler, a request no router takes is
        // logged (without a router name), traced and counted on the
        // entrypoint.
        let span = settings
            .tracer
            .as_ref()
            .and_then(|t| t.begin_server(&mut req, &settings.name, settings.trace_unrouted, false));
        let unrouted = crate::metrics::RouteMetrics::unrouted();
        let observed = crate::metrics::begin(settings.metrics.as_deref(), &mut req, &unrouted);
        let mut resp = crate::metrics::finish(observed, ProxyError::NotFound.into_response());
        if let Some(span) = span {
            resp = span.finish(resp);
        }
        return match log.filter(|_| settings.log_unrouted) {
            Some((log, start)) => log.begin(&mut req, None, start).finish(resp),
            None => resp,
        };
    };
    let span = settings
        .tracer
        .as_ref()
        .and_then(|t| t.begin_server(&mut req, &settings.name, tracing, internal));
    // Dropped unfinished (the client went away), it logs a 499.
    let pending = log.map(|(log, start)| log.begin(&mut req, Some(router.clone()), *start));
    let observed = crate::metrics::begin(settings.metrics.as_deref(), &mut req, route_metrics);
    let mut gone = ClientGone {
        router: Some(router.clone()),
    };
    let mut resp = match handler.call(req).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(router = %router, error = %e, status = e.status().as_u16(), "request failed");
            e.into_response()
        }
    };
    gone.router = None;
    if let Some(span) = span {
        resp = span.finish(resp);
    }
    let resp = crate::metrics::finish(observed, resp);
    match pending {
        Some(p) => p.finish(resp),
        None => resp,
    }
}

/// When a logged request came: wall clock and monotonic.
type LogStart = (std::time::SystemTime, std::time::Instant);

/// The priority of Traefik's ACME HTTP-01 router on an entrypoint with
/// `allowACMEByPass`: the length of its rule,
/// ``PathPrefix(`/.well-known/acme-challenge/`)``.
const ACME_BYPASS_PRIORITY: i64 = 42;

/// The answer to an ACME HTTP-01 validation.
fn acme_response(key_auth: String) -> Response {
    let mut resp = Response::new(body::full(key_auth));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// Notes a request whose client went away before its response head was
/// ready (Traefik's 499): hyper drops the request's future then.
struct ClientGone {
    router: Option<Arc<str>>,
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some(router) = &self.router {
            tracing::debug!(router = %router, status = 499, "{}", ProxyError::ClientClosed);
        }
    }
}
