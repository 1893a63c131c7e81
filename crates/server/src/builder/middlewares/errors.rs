//! The `errors` translator: it calls a service of the runtime being built,
//! so it lives with the builder.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::dynamic::Middleware;
use switchyard_config::middlewares::ErrorPage;
use switchyard_proxy::middlewares::{retry, ErrorPages, Errors, Factory, TranslateCtx};
use switchyard_proxy::BoxHandler;

use crate::builder::services::BuiltService;
use crate::merge::{provider_of, qualify};

/// Translates an `errors` definition; its service must have built.
pub(super) fn from_config(
    c: ErrorPage,
    ctx: &mut TranslateCtx<'_>,
    services: &HashMap<String, BuiltService>,
) -> Result<Factory, String> {
    if c.status.is_empty() {
        return Err("errors: status is required".into());
    }
    let status = retry::parse_status_ranges(&c.status).map_err(|e| format!("errors: {e}"))?;
    let mut rewrites = Vec::new();
    for (from, to) in &c.status_rewrites {
        let ranges = retry::parse_status_ranges(std::slice::from_ref(from))
            .map_err(|e| format!("errors.statusRewrites: {e}"))?;
        let to = u16::try_from(*to)
            .ok()
            .filter(|t| (100..=599).contains(t))
            .ok_or_else(|| format!("errors.statusRewrites: invalid status {to}"))?;
        rewrites.push((ranges, to));
    }
    let service_name = qualify(&c.service, provider_of(ctx.name));
    let service = services
        .get(&service_name)
        .ok_or_else(|| format!("errors: the service \"{service_name}\" does not exist"))?
        .handler
        .clone();
    let request_headers = c
        .error_request_headers
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| {
                    http::HeaderName::from_bytes(n.as_bytes())
                        .map_err(|_| format!("errors.errorRequestHeaders: invalid header {n:?}"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let pages = ErrorPages {
        status,
        rewrites,
        service,
        query: c.query,
        request_headers,
    };
    Ok(Arc::new(move |next| {
        Arc::new(Errors::new(pages.clone(), next)) as BoxHandler
    }))
}

/// The identity of the service an `errors` middleware calls, if any: a new
/// instance of that service means the middleware is built anew.
/// The qualified name of the service an `errors` middleware calls.
pub(in crate::builder) fn service_name(m: &Middleware, name: &str) -> Option<String> {
    let node =
        m.0.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("errors"))
            .map(|(_, n)| n)?;
    let target = node.get("service")?.to_json();
    Some(qualify(target.as_str()?, provider_of(name)))
}

pub(super) fn service_identity(
    m: &Middleware,
    name: &str,
    services: &HashMap<String, BuiltService>,
) -> Option<usize> {
    let target = service_name(m, name)?;
    services
        .get(&target)
        .map(|s| Arc::as_ptr(&s.handler) as *const () as usize)
}
