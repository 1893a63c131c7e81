//! HTTP middlewares, one per file. Each is built once per configuration with
//! the handler it forwards to (`next`), and implements [`crate::Handler`].

pub mod add_prefix;
pub mod basic_auth;
pub mod buffering;
pub mod circuit_breaker;
pub mod client_ip;
pub mod compress;
pub mod content_type;
pub mod deny_router_recursion;
pub mod digest_auth;
pub mod encoded_characters;
pub mod errors;
pub mod forward_auth;
pub mod grpc_web;
pub mod header_modifier;
pub mod headers;
pub mod htpasswd;
pub mod in_flight_req;
pub mod ip_allow_list;
pub mod pass_tls_client_cert;
pub mod path;
pub mod rate_limit;
pub mod redirect;
pub mod replace_path;
pub mod replace_path_regex;
pub mod request_redirect;
pub mod retry;
pub mod strip_prefix;
pub mod strip_prefix_regex;
pub mod timeout;
pub mod translate;

pub use add_prefix::AddPrefix;
pub use basic_auth::BasicAuth;
pub use buffering::Buffering;
pub use circuit_breaker::CircuitBreaker;
pub use client_ip::IpStrategy;
pub use compress::{Compress, CompressSettings};
pub use content_type::ContentType;
pub use deny_router_recursion::DenyRouterRecursion;
pub use digest_auth::DigestAuth;
pub use encoded_characters::EncodedCharacters;
pub use errors::{ErrorPages, Errors};
pub use forward_auth::{ForwardAuth, ForwardAuthSettings};
pub use grpc_web::GrpcWeb;
pub use headers::{Headers, HeadersSettings};
pub use in_flight_req::InFlightReq;
pub use ip_allow_list::IpAllowList;
pub use rate_limit::RateLimit;
pub use redirect::Redirect;
pub use replace_path::ReplacePath;
pub use replace_path_regex::ReplacePathRegex;
pub use retry::{Retry, RetrySettings};
pub use strip_prefix::StripPrefix;
pub use strip_prefix_regex::StripPrefixRegex;
pub use translate::{translate, Translated};

use http::{HeaderName, HeaderValue};

/// `X-Forwarded-Prefix`, set by the strip-prefix middlewares.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
/// `X-Replaced-Path`, set by the replace-path middlewares.
pub const X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a middleware definition compiles to: wraps the next handler of a
/// chain. One factory serves every router that uses the middleware, so state
/// captured by it (counters, buckets, a breaker) is shared by those routers.
pub type Factory = std::sync::Arc<dyn Fn(crate::BoxHandler) -> crate::BoxHandler + Send + Sync>;

/// What a translator (`from_config` beside each middleware) is given besides
/// the middleware's settings, and what it hands back besides its factory.
pub struct TranslateCtx<'a> {
    /// The middleware's qualified name (`name@provider`).
    pub name: &'a str,
    /// Warnings that leave the middleware serving; the translator adds to them.
    pub warnings: Vec<String>,
}

impl<'a> TranslateCtx<'a> {
    pub fn new(name: &'a str) -> TranslateCtx<'a> {
        TranslateCtx {
            name,
            warnings: Vec::new(),
        }
    }
}

/// A factory from a constructor that was already validated: should it fail
/// on a later call after all, the chain goes on to `next` unchanged.
pub(crate) fn validated<M, E, F>(build: F) -> Factory
where
    M: crate::Handler + 'static,
    F: Fn(crate::BoxHandler) -> Result<M, E> + Send + Sync + 'static,
{
    std::sync::Arc::new(move |next| match build(next.clone()) {
        Ok(m) => std::sync::Arc::new(m) as crate::BoxHandler,
        Err(_) => next,
    })
}

/// Stands in for `next` while a translator validates a middleware's settings.
pub(crate) struct NoopHandler;

impl crate::Handler for NoopHandler {
    fn call(&self, _req: crate::Request) -> crate::HandlerFuture {
        Box::pin(async { Err(crate::ProxyError::NotFound) })
    }
}

/// A placeholder `next` for validation.
pub(crate) fn noop() -> crate::BoxHandler {
    std::sync::Arc::new(NoopHandler)
}

#[cfg(test)]
mod translate_tests;
