//! Compiling middlewares: each definition becomes a factory that wraps a
//! router's next handler. A definition that does not decode or compile is
//! that middleware's error; unchanged definitions keep their factory.
//!
//! Each kind has a small translator beside the middleware it builds
//! (`switchyard_proxy::middlewares::<kind>::from_config`); the few that need
//! the runtime being built (the services for `errors`, the upstream client
//! for `forwardAuth`) live in `middlewares/`. [`translate`] is the table
//! from kind to translator.

mod api_json;
mod errors;
mod forward_auth;

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::dynamic::{
    decode_middleware, HttpConfiguration, Middleware, MiddlewareKind,
};
use switchyard_proxy::middlewares::header_modifier::Side;
use switchyard_proxy::middlewares::{self as mw, Factory, TranslateCtx};

use super::services::BuiltService;
use super::Builder;
use crate::runtime::{ElementInfo, RuntimeInfo};
pub(super) use errors::service_name as errors_service;

/// Wraps the next handler of a chain.
pub type Wrap = Factory;

/// A compiled middleware.
#[derive(Clone)]
pub enum CompiledMiddleware {
    Wrap(Wrap),
    /// A `chain`: the referenced names, as written.
    Chain(Vec<String>),
}

/// Compiles one middleware: its type name (as the API shows it), the
/// factory, and warnings that leave it serving.
fn compile(
    m: &Middleware,
    name: &str,
    services: &HashMap<String, BuiltService>,
    upstream: &Arc<switchyard_proxy::upstream::Upstream>,
) -> Result<(String, CompiledMiddleware, Vec<String>), String> {
    let kind = decode_middleware(m).map_err(|e| e.to_string())?;
    let mut ctx = TranslateCtx::new(name);
    let (kind, compiled) = translate(kind, m, &mut ctx, services, upstream)?;
    Ok((kind.to_string(), compiled, ctx.warnings))
}

/// The table: each kind to its translator, with the type name the API shows.
/// A `chain` compiles to the names it references, resolved per router.
fn translate(
    kind: MiddlewareKind,
    m: &Middleware,
    ctx: &mut TranslateCtx<'_>,
    services: &HashMap<String, BuiltService>,
    upstream: &Arc<switchyard_proxy::upstream::Upstream>,
) -> Result<(&'static str, CompiledMiddleware), String> {
    use MiddlewareKind as K;
    let w = CompiledMiddleware::Wrap;
    Ok(match kind {
        K::Chain(c) => ("chain", CompiledMiddleware::Chain(c.middlewares)),
        K::StripPrefix(c) => ("stripprefix", w(mw::strip_prefix::from_config(c, ctx)?)),
        K::StripPrefixRegex(c) => (
            "stripprefixregex",
            w(mw::strip_prefix_regex::from_config(c, ctx)?),
        ),
        K::AddPrefix(c) => ("addprefix", w(mw::add_prefix::from_config(c, ctx)?)),
        K::ReplacePath(c) => ("replacepath", w(mw::replace_path::from_config(c, ctx)?)),
        K::ReplacePathRegex(c) => (
            "replacepathregex",
            w(mw::replace_path_regex::from_config(c, ctx)?),
        ),
        K::Headers(c) => ("headers", w(mw::headers::from_config(*c, ctx)?)),
        K::RedirectScheme(c) => (
            "redirectscheme",
            w(mw::redirect::scheme_from_config(c, ctx)?),
        ),
        K::RedirectRegex(c) => ("redirectregex", w(mw::redirect::regex_from_config(c, ctx)?)),
        K::IpAllowList(c) => {
            let factory = w(mw::ip_allow_list::from_config(c, ctx)?);
            // The deprecated name keeps its own type in the API.
            if m.0.keys().any(|k| k.eq_ignore_ascii_case("ipwhitelist")) {
                ("ipwhitelist", factory)
            } else {
                ("ipallowlist", factory)
            }
        }
        K::InFlightReq(c) => ("inflightreq", w(mw::in_flight_req::from_config(c, ctx)?)),
        K::RateLimit(c) => ("ratelimit", w(mw::rate_limit::from_config(c, ctx)?)),
        K::Compress(c) => ("compress", w(mw::compress::from_config(c, ctx)?)),
        K::Retry(c) => ("retry", w(mw::retry::from_config(c, ctx)?)),
        K::Errors(c) => ("customerrors", w(errors::from_config(c, ctx, services)?)),
        K::ForwardAuth(c) => (
            "forwardauth",
            w(forward_auth::from_config(c, ctx, upstream)?),
        ),
        K::BasicAuth(c) => ("basicauth", w(mw::basic_auth::from_config(c, ctx)?)),
        K::DigestAuth(c) => ("digestauth", w(mw::digest_auth::from_config(c, ctx)?)),
        K::ContentType(c) => ("contenttype", w(mw::content_type::from_config(c, ctx)?)),
        K::EncodedCharacters(c) => (
            "encodedcharacters",
            w(mw::encoded_characters::from_config(c, ctx)?),
        ),
        K::Buffering(c) => ("buffering", w(mw::buffering::from_config(c, ctx)?)),
        K::CircuitBreaker(c) => (
            "circuitbreaker",
            w(mw::circuit_breaker::from_config(c, ctx)?),
        ),
        K::GrpcWeb(c) => ("grpcweb", w(mw::grpc_web::from_config(c, ctx)?)),
        K::PassTlsClientCert(c) => (
            "passtlsclientcert",
            w(mw::pass_tls_client_cert::from_config(c, ctx)?),
        ),
        K::RequestHeaderModifier(c) => (
            "requestheadermodifier",
            w(mw::header_modifier::from_config(c, Side::Request, ctx)?),
        ),
        K::ResponseHeaderModifier(c) => (
            "responseheadermodifier",
            w(mw::header_modifier::from_config(c, Side::Response, ctx)?),
        ),
        K::RequestRedirect(c) => (
            "requestredirect",
            w(mw::request_redirect::from_config(c, ctx)?),
        ),
        K::Other { kind, .. } => {
            return Err(format!(
                "middleware type {kind:?} is not supported yet by Switchyard"
            ));
        }
    })
}

/// A compiled middleware with the definition it came from.
pub struct Cached {
    config: Middleware,
    /// The service it calls (errors pages), by handler identity: a new
    /// instance of that service means a new middleware.
    service: Option<usize>,
    kind: String,
    compiled: CompiledMiddleware,
    warnings: Vec<String>,
    /// The build that compiled it: a router built over it is kept only
    /// while the same instance is.
    generation: u64,
}

impl Builder {
    pub(super) fn compile_middlewares(
        &mut self,
        http: &HttpConfiguration,
        services: &HashMap<String, BuiltService>,
        info: &mut RuntimeInfo,
    ) {
        let mut previous = std::mem::take(&mut self.middlewares);
        for (name, m) in &http.middlewares {
            let el = self.compile_middleware(name, m, previous.remove(name), services);
            info.middlewares.insert(name.clone(), Arc::new(el));
        }
    }

    /// Compiles middleware `name` (qualified) into `self.middlewares`,
    /// taking over `previous` (its last compilation) when its definition
    /// and the service it calls are the same; its API view.
    pub(super) fn compile_middleware(
        &mut self,
        name: &str,
        m: &Middleware,
        previous: Option<Cached>,
        services: &HashMap<String, BuiltService>,
    ) -> ElementInfo {
        let mut el = ElementInfo::new(name, &api_json::api_json(m));
        for w in m.1.warnings() {
            tracing::warn!(middleware = %name, "{w}");
            el.warn(w);
        }
        if let Some(e) = m.1.error() {
            tracing::error!(middleware = %name, "{e}");
            el.fail(e);
            return el;
        }
        let service = errors::service_identity(m, name, services);
        // An unchanged definition keeps its instance, and so its state.
        let cached = match previous.filter(|c| c.config == *m && c.service == service) {
            Some(c) => Ok(c),
            None => compile(m, name, services, &self.default_upstream).map(
                |(kind, compiled, warnings)| Cached {
                    config: m.clone(),
                    service,
                    kind,
                    compiled,
                    warnings,
                    generation: self.generation,
                },
            ),
        };
        match cached {
            Ok(c) => {
                for w in &c.warnings {
                    tracing::warn!(middleware = %name, "{w}");
                    el.warn(w.clone());
                }
                el.kind = Some(c.kind.clone());
                self.middlewares.insert(name.to_string(), c);
            }
            Err(e) => el.fail(e),
        }
        el
    }

    /// Forgets the compilation of middleware `name` (qualified), handing
    /// it back.
    pub(super) fn take_middleware(&mut self, name: &str) -> Option<Cached> {
        self.middlewares.remove(name)
    }

    /// The compiled middleware `name` (qualified), if it built.
    pub(super) fn middleware(&self, name: &str) -> Option<&CompiledMiddleware> {
        self.middlewares.get(name).map(|c| &c.compiled)
    }

    /// The build that compiled middleware `name` (qualified), if it built.
    pub(super) fn middleware_generation(&self, name: &str) -> Option<u64> {
        self.middlewares.get(name).map(|c| c.generation)
    }

    /// A compiled middleware's kind (`headers`, `stripprefix`, ...).
    pub(super) fn middleware_kind(&self, name: &str) -> Option<&str> {
        self.middlewares.get(name).map(|c| c.kind.as_str())
    }
}
