//! The table from a middleware's Traefik configuration to what it
//! compiles to. The server's builder and the tower adapter
//! ([`crate::tower`]) both go through [`translate`], so a middleware
//! behaves the same behind the gateway and around a program's own service.

use std::sync::Arc;

use switchyard_config::dynamic::{decode_middleware, Middleware, MiddlewareKind};
use switchyard_config::middlewares::ErrorPage;

use super::{Factory, TranslateCtx};
use crate::upstream::Upstream;

/// What one middleware's configuration compiles to.
pub enum Translated {
    /// A middleware built on its own: its type name as Traefik's API shows
    /// it (`stripprefix`, `ratelimit`, ...) and the factory that wraps the
    /// next handler.
    Wrap {
        /// The type name as Traefik's API shows it.
        kind: &'static str,
        /// Wraps the next handler.
        factory: Factory,
    },
    /// A `chain`: the middleware names it references, as written. Only a
    /// gateway, which knows the other middlewares, can resolve them.
    Chain(Vec<String>),
    /// An `errors` middleware: it calls a service of the gateway by name,
    /// so only a gateway can build it.
    Errors(ErrorPage),
}

impl Translated {
    /// The type name as Traefik's API shows it (`chain`, `customerrors`
    /// for the two a gateway builds).
    pub fn kind(&self) -> &'static str {
        match self {
            Translated::Wrap { kind, .. } => kind,
            Translated::Chain(_) => "chain",
            Translated::Errors(_) => "customerrors",
        }
    }
}

/// Decodes middleware `m` and translates it: each kind to the translator
/// beside it (`from_config` in each middleware's file). A definition that
/// does not decode, or whose settings are wrong, gets the message the API
/// and the log show. `upstream` is the client `forwardAuth` asks its
/// server through (None: one of its own with default settings).
///
/// ```
/// use switchyard_config::dynamic::Middleware;
/// use switchyard_proxy::middlewares::{translate, TranslateCtx, Translated};
///
/// let m = Middleware::from_yaml("stripPrefix:\n  prefixes: [/api]\n")?;
/// let mut ctx = TranslateCtx::new("strip");
/// let built = translate(&m, &mut ctx, None).map_err(std::io::Error::other)?;
/// assert_eq!(built.kind(), "stripprefix");
/// assert!(matches!(built, Translated::Wrap { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn translate(
    m: &Middleware,
    ctx: &mut TranslateCtx<'_>,
    upstream: Option<&Arc<Upstream>>,
) -> Result<Translated, String> {
    use MiddlewareKind as K;
    let kind = decode_middleware(m).map_err(|e| e.to_string())?;
    let w = |kind: &'static str, factory: Factory| Translated::Wrap { kind, factory };
    Ok(match kind {
        K::Chain(c) => Translated::Chain(c.middlewares),
        K::Errors(c) => Translated::Errors(c),
        K::StripPrefix(c) => w("stripprefix", super::strip_prefix::from_config(c, ctx)?),
        K::StripPrefixRegex(c) => w(
            "stripprefixregex",
            super::strip_prefix_regex::from_config(c, ctx)?,
        ),
        K::AddPrefix(c) => w("addprefix", super::add_prefix::from_config(c, ctx)?),
        K::ReplacePath(c) => w("replacepath", super::replace_path::from_config(c, ctx)?),
        K::ReplacePathRegex(c) => w(
            "replacepathregex",
            super::replace_path_regex::from_config(c, ctx)?,
        ),
        K::Headers(c) => w("headers", super::headers::from_config(*c, ctx)?),
        K::RedirectScheme(c) => w(
            "redirectscheme",
            super::redirect::scheme_from_config(c, ctx)?,
        ),
        K::RedirectRegex(c) => w("redirectregex", super::redirect::regex_from_config(c, ctx)?),
        K::IpAllowList(c) => {
            let factory = super::ip_allow_list::from_config(c, ctx)?;
            // The deprecated name keeps its own type in the API.
            if m.0.keys().any(|k| k.eq_ignore_ascii_case("ipwhitelist")) {
                w("ipwhitelist", factory)
            } else {
                w("ipallowlist", factory)
            }
        }
        K::InFlightReq(c) => w("inflightreq", super::in_flight_req::from_config(c, ctx)?),
        K::RateLimit(c) => w("ratelimit", super::rate_limit::from_config(c, ctx)?),
        K::Compress(c) => w("compress", super::compress::from_config(c, ctx)?),
        K::Retry(c) => w("retry", super::retry::from_config(c, ctx)?),
        K::ForwardAuth(c) => w(
            "forwardauth",
            super::forward_auth::from_config(c, ctx, upstream)?,
        ),
        K::BasicAuth(c) => w("basicauth", super::basic_auth::from_config(c, ctx)?),
        K::DigestAuth(c) => w("digestauth", super::digest_auth::from_config(c, ctx)?),
        K::ContentType(c) => w("contenttype", super::content_type::from_config(c, ctx)?),
        K::EncodedCharacters(c) => w(
            "encodedcharacters",
            super::encoded_characters::from_config(c, ctx)?,
        ),
        K::Buffering(c) => w("buffering", super::buffering::from_config(c, ctx)?),
        K::CircuitBreaker(c) => w(
            "circuitbreaker",
            super::circuit_breaker::from_config(c, ctx)?,
        ),
        K::GrpcWeb(c) => w("grpcweb", super::grpc_web::from_config(c, ctx)?),
        K::PassTlsClientCert(c) => w(
            "passtlsclientcert",
            super::pass_tls_client_cert::from_config(c, ctx)?,
        ),
        K::RequestHeaderModifier(c) => w(
            "requestheadermodifier",
            super::header_modifier::from_config(c, super::header_modifier::Side::Request, ctx)?,
        ),
        K::ResponseHeaderModifier(c) => w(
            "responseheadermodifier",
            super::header_modifier::from_config(c, super::header_modifier::Side::Response, ctx)?,
        ),
        K::RequestRedirect(c) => w(
            "requestredirect",
            super::request_redirect::from_config(c, ctx)?,
        ),
        K::Other { kind, .. } => {
            return Err(format!(
                "middleware type {kind:?} is not supported yet by Switchyard"
            ));
        }
    })
}
