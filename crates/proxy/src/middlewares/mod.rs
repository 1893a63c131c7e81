//! HTTP middlewares, one per file. Each is built once per configuration with
//! the handler it forwards to (`next`), and implements [`crate::Handler`].

pub mod add_prefix;
pub mod basic_auth;
pub mod buffering;
pub mod circuit_breaker;
pub mod client_ip;
pub mod compress;
pub mod content_type;
pub mod digest_auth;
pub mod encoded_characters;
pub mod errors;
pub mod forward_auth;
pub mod grpc_web;
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
pub mod retry;
pub mod strip_prefix;
pub mod strip_prefix_regex;
pub mod timeout;

pub use add_prefix::AddPrefix;
pub use basic_auth::BasicAuth;
pub use buffering::Buffering;
pub use circuit_breaker::CircuitBreaker;
pub use client_ip::IpStrategy;
pub use compress::{Compress, CompressSettings};
pub use content_type::ContentType;
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

use http::{HeaderName, HeaderValue};

/// `X-Forwarded-Prefix`, set by the strip-prefix middlewares.
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
/// `X-Replaced-Path`, set by the replace-path middlewares.
pub const X_REPLACED_PATH: HeaderName = HeaderName::from_static("x-replaced-path");

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}
