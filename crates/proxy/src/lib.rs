//! The request path of Switchyard: the [`Handler`] trait that every middleware
//! and service implements, the typed [`ProxyError`] and its one mapping to a
//! response, the upstream client, load balancing, health checks and the HTTP
//! middlewares.
//!
//! A router's chain is compiled once per configuration into nested
//! `Arc<dyn Handler>` values; a request walks it without parsing anything.
//!
//! # In your own service
//!
//! Every middleware is built from its Traefik configuration by one table
//! ([`middlewares::translate`]), which the gateway's builder uses; the
//! [`tower`] module wraps the result as a `tower::Layer` around a
//! program's own hyper or axum service (see its notes on which types work
//! without a gateway, and on the client address).
//!
//! ```
//! use switchyard_proxy::tower::MiddlewareLayer;
//!
//! let limit = MiddlewareLayer::from_yaml("limit", "rateLimit:\n  average: 100\n  burst: 50\n")?;
//! assert_eq!(limit.kind(), "ratelimit");
//! # Ok::<(), switchyard_proxy::tower::LayerError>(())
//! ```

pub mod accesslog;
pub mod body;
pub mod certs;
pub mod context;
pub mod error;
pub mod forwarded;
pub mod handler;
pub mod metrics;
pub mod middlewares;
pub mod predicate;
pub mod redis;
pub mod semconv;
pub mod service;
pub mod tls_names;
pub mod tower;
pub mod trace;
pub mod upstream;

pub use body::Body;
pub use context::RequestContext;
pub use error::ProxyError;
pub use handler::{BoxHandler, Handler, HandlerFuture, Late, Request, Response};
