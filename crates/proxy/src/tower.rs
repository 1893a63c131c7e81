//! Switchyard's middlewares around a program's own service: a
//! [`tower_layer::Layer`] built from Traefik's configuration of one
//! middleware, and the [`tower_service::Service`] it makes of the
//! program's hyper or axum service.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use http_body_util::BodyExt;
//! use switchyard_proxy::tower::MiddlewareLayer;
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! // Traefik's YAML for one middleware, as under `http.middlewares.<name>`.
//! let strip = MiddlewareLayer::from_yaml("strip-api", "stripPrefix:\n  prefixes: [/api]\n")?;
//!
//! // Any service of `http::Request<switchyard_proxy::Body>`.
//! let app = service_fn(|req: switchyard_proxy::Request| async move {
//!     let text = format!("path {}", req.uri().path());
//!     Ok::<_, Infallible>(http::Response::new(switchyard_proxy::body::full(text)))
//! });
//! let svc = strip.layer(app);
//!
//! let req = http::Request::get("/api/users").body(http_body_util::Empty::<bytes::Bytes>::new())?;
//! let resp = svc.oneshot(req).await?;
//! assert_eq!(resp.into_body().collect().await?.to_bytes(), "path /users");
//! # Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
//! # }).unwrap();
//! ```
//!
//! # What the layer does
//!
//! [`MiddlewareLayer::layer`] builds the middleware once around the
//! service (the service becomes its `next` handler, as a router's service
//! is behind the gateway); the [`MiddlewareService`] it returns turns each
//! request's body into a [`crate::Body`], runs the middleware, and answers
//! with what it answers: a rejection (403, 429, a redirect) as Traefik
//! writes it, or the service's own response. Its error type is
//! [`Infallible`], as axum's `Router::layer` wants: an error of the wrapped
//! service becomes a 502 (500 for a malformed response), as a backend's
//! would behind the gateway.
//!
//! State lives in the layer: every service one layer makes shares the same
//! rate-limit buckets, in-flight counters and circuit breaker, as every
//! router that names one middleware shares them behind the gateway. Build a
//! second layer for a second, independent instance.
//!
//! # The client address
//!
//! `ipAllowList`, `rateLimit` (by client address), `inFlightReq` and the
//! `X-Forwarded-For` that `forwardAuth` sends need the peer address of the
//! connection. The service finds it, first match wins:
//!
//! 1. a [`RequestContext`] already in the request's extensions (set it to
//!    say everything: TLS, client certificates for `passTLSClientCert`);
//! 2. the address given to [`MiddlewareService::with_client_addr`] (a hyper
//!    server makes one service per connection and knows the peer);
//! 3. what [`MiddlewareLayer::client_addr_from`] reads from the extensions
//!    (axum: `ConnectInfo<SocketAddr>`);
//! 4. a [`SocketAddr`] in the extensions.
//!
//! Without any, the client is `0.0.0.0:0`: an allow list does not let it
//! in (unless it allows `0.0.0.0`), and rate limits by address share one
//! bucket among every request.
//!
//! # Which middlewares work on their own
//!
//! Every type but two: `chain` names other middlewares, and `errors` calls
//! one of the gateway's services; both are refused with
//! [`LayerError::NeedsGateway`] (stack layers instead of a chain; answer
//! error pages in your own service). `forwardAuth` asks its server with a
//! client of its own; `retry` calls the wrapped service again;
//! `passTLSClientCert` needs the certificates in a [`RequestContext`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use switchyard_config::dynamic::Middleware;
use switchyard_config::ConfigError;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{self, BoxError};
use crate::middlewares::{Factory, TranslateCtx, Translated};
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request, RequestContext, Response};

/// Reads the peer address of a request from its extensions.
pub type ClientAddrFn = Arc<dyn Fn(&http::Extensions) -> Option<SocketAddr> + Send + Sync>;

/// Why a middleware cannot be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The text does not read as one middleware; the error has the line,
    /// column and field.
    #[error("middleware {name:?}: {source}")]
    Config {
        /// The middleware's name, as given.
        name: String,
        #[source]
        source: ConfigError,
    },
    /// The middleware's settings are wrong (the message the gateway's API
    /// would show for it).
    #[error("middleware {name:?}: {message}")]
    Invalid {
        /// The middleware's name, as given.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The type needs a gateway: `chain` or `errors`.
    #[error("middleware {name:?}: {kind} cannot be used on its own: {reason}")]
    NeedsGateway {
        /// The middleware's name, as given.
        name: String,
        /// The type as Traefik's API shows it (`chain`, `customerrors`).
        kind: &'static str,
        /// What it would need.
        reason: &'static str,
    },
}

/// One middleware, built from Traefik's configuration, as a tower
/// [`Layer`]. Cheap to clone; clones share the middleware's state.
#[derive(Clone)]
pub struct MiddlewareLayer {
    kind: &'static str,
    factory: Factory,
    warnings: Arc<[String]>,
    client_addr: Option<ClientAddrFn>,
}

impl std::fmt::Debug for MiddlewareLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiddlewareLayer")
            .field("kind", &self.kind)
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl MiddlewareLayer {
    /// Builds middleware `name` from its configuration. `name` appears in
    /// errors and is the name Traefik would know it by (`retry` reports
    /// it, for one).
    ///
    /// ```
    /// use switchyard_config::dynamic::Middleware;
    /// use switchyard_proxy::tower::{LayerError, MiddlewareLayer};
    ///
    /// let m = Middleware::from_yaml("headers:\n  customResponseHeaders:\n    X-Served-By: me\n")?;
    /// let layer = MiddlewareLayer::from_config("tag", &m)?;
    /// assert_eq!(layer.kind(), "headers");
    ///
    /// let chain = Middleware::from_yaml("chain:\n  middlewares: [a, b]\n")?;
    /// let err = MiddlewareLayer::from_config("both", &chain).unwrap_err();
    /// assert!(matches!(err, LayerError::NeedsGateway { kind: "chain", .. }), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(name: &str, m: &Middleware) -> Result<MiddlewareLayer, LayerError> {
        let invalid = |message: String| LayerError::Invalid {
            name: name.to_string(),
            message,
        };
        if let Some(e) = m.1.error() {
            return Err(invalid(e));
        }
        let mut ctx = TranslateCtx::new(name);
        ctx.warnings.extend(m.1.warnings());
        let translated = crate::middlewares::translate(m, &mut ctx, None).map_err(invalid)?;
        let needs = |kind, reason| LayerError::NeedsGateway {
            name: name.to_string(),
            kind,
            reason,
        };
        let (kind, factory) = match translated {
            Translated::Wrap { kind, factory } => (kind, factory),
            Translated::Chain(_) => {
                return Err(needs(
                    "chain",
                    "it names other middlewares; stack one layer per middleware instead",
                ))
            }
            Translated::Errors(_) => {
                return Err(needs(
                    "customerrors",
                    "it calls a service of the gateway for its error pages",
                ))
            }
        };
        Ok(MiddlewareLayer {
            kind,
            factory,
            warnings: ctx.warnings.into(),
            client_addr: None,
        })
    }

    /// Builds middleware `name` from its YAML, as it stands under
    /// `http.middlewares.<name>` in a dynamic file.
    ///
    /// ```
    /// use switchyard_proxy::tower::{LayerError, MiddlewareLayer};
    ///
    /// let limit = MiddlewareLayer::from_yaml("limit", "rateLimit:\n  average: 10\n  burst: 20\n")?;
    /// assert_eq!(limit.kind(), "ratelimit");
    ///
    /// // A misspelt key is an error with its line and field.
    /// let err = MiddlewareLayer::from_yaml("limit", "rateLimit:\n  avrage: 10\n").unwrap_err();
    /// assert!(matches!(&err, LayerError::Config { source, .. }
    ///     if source.location.as_ref().is_some_and(|l| l.line == 2)), "{err}");
    /// # Ok::<(), LayerError>(())
    /// ```
    pub fn from_yaml(name: &str, text: &str) -> Result<MiddlewareLayer, LayerError> {
        let m = Middleware::from_yaml(text).map_err(|source| LayerError::Config {
            name: name.to_string(),
            source,
        })?;
        MiddlewareLayer::from_config(name, &m)
    }

    /// Builds middleware `name` from its TOML (`[stripPrefix]` and its
    /// settings).
    ///
    /// ```
    /// use switchyard_proxy::tower::MiddlewareLayer;
    ///
    /// let add = MiddlewareLayer::from_toml("add", "[addPrefix]\nprefix = \"/v1\"\n")?;
    /// assert_eq!(add.kind(), "addprefix");
    /// # Ok::<(), switchyard_proxy::tower::LayerError>(())
    /// ```
    pub fn from_toml(name: &str, text: &str) -> Result<MiddlewareLayer, LayerError> {
        let m = Middleware::from_toml(text).map_err(|source| LayerError::Config {
            name: name.to_string(),
            source,
        })?;
        MiddlewareLayer::from_config(name, &m)
    }

    /// The middleware's type as Traefik's API shows it (`headers`,
    /// `ratelimit`, `ipallowlist`, ...).
    ///
    /// ```
    /// # use switchyard_proxy::tower::MiddlewareLayer;
    /// let l = MiddlewareLayer::from_yaml("a", "ipAllowList:\n  sourceRange: [127.0.0.1/32]\n")?;
    /// assert_eq!(l.kind(), "ipallowlist");
    /// # Ok::<(), switchyard_proxy::tower::LayerError>(())
    /// ```
    pub fn kind(&self) -> &str {
        self.kind
    }

    /// Warnings that leave the middleware working: settings Switchyard
    /// reads but does not act on yet, and advice (the gateway logs them).
    ///
    /// ```
    /// # use switchyard_proxy::tower::MiddlewareLayer;
    /// let l = MiddlewareLayer::from_yaml("a", "addPrefix:\n  prefix: /v1\n")?;
    /// assert!(l.warnings().is_empty());
    /// # Ok::<(), switchyard_proxy::tower::LayerError>(())
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Reads the client's address with `f` from each request's
    /// extensions (see the module's notes on the client address). With
    /// axum, whose `into_make_service_with_connect_info::<SocketAddr>()`
    /// puts a `ConnectInfo<SocketAddr>` there:
    ///
    /// ```ignore
    /// layer.client_addr_from(|ext| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0))
    /// ```
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # use switchyard_proxy::tower::MiddlewareLayer;
    /// #[derive(Clone)]
    /// struct Peer(SocketAddr);
    ///
    /// let l = MiddlewareLayer::from_yaml("a", "ipAllowList:\n  sourceRange: [10.0.0.0/8]\n")?
    ///     .client_addr_from(|ext| ext.get::<Peer>().map(|p| p.0));
    /// # Ok::<(), switchyard_proxy::tower::LayerError>(())
    /// ```
    pub fn client_addr_from(
        mut self,
        f: impl Fn(&http::Extensions) -> Option<SocketAddr> + Send + Sync + 'static,
    ) -> MiddlewareLayer {
        self.client_addr = Some(Arc::new(f));
        self
    }
}

impl<S, B> Layer<S> for MiddlewareLayer
where
    S: Service<Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Service = MiddlewareService;

    /// Builds the middleware with `inner` as its next handler.
    fn layer(&self, inner: S) -> MiddlewareService {
        MiddlewareService {
            handler: (self.factory)(Arc::new(Inner(inner))),
            client_addr: self.client_addr.clone(),
            fixed_addr: None,
        }
    }
}

/// The wrapped service as the middleware's next handler.
struct Inner<S>(S);

impl<S, B> Handler for Inner<S>
where
    S: Service<Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, req: Request) -> HandlerFuture {
        // The service's readiness, then its call, polled by hand: a plain
        // state machine keeps the future `Send` without naming lifetimes
        // the compiler cannot prove for every request type.
        let mut svc = self.0.clone();
        let mut req = Some(req);
        let mut called: Option<Pin<Box<S::Future>>> = None;
        Box::pin(std::future::poll_fn(move |cx| loop {
            if let Some(fut) = called.as_mut() {
                return fut.as_mut().poll(cx).map(|answer| match answer {
                    Ok(resp) => Ok(resp.map(body::boxed_unsync)),
                    Err(e) => Err(service_error(e)),
                });
            }
            match svc.poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(service_error(e))),
                Poll::Ready(Ok(())) => {}
            }
            let Some(req) = req.take() else {
                return Poll::Ready(Err(ProxyError::Status {
                    status: http::StatusCode::INTERNAL_SERVER_ERROR,
                    message: "request polled after it was sent".into(),
                }));
            };
            called = Some(Box::pin(svc.call(req)));
        }))
    }
}

/// An error of the wrapped service, answered as a backend's would be.
fn service_error(e: impl Into<BoxError>) -> ProxyError {
    ProxyError::Upstream {
        upstream: "the wrapped service".into(),
        source: e.into(),
    }
}

/// A program's service behind one Switchyard middleware (what
/// [`MiddlewareLayer`] makes). Cheap to clone.
#[derive(Clone)]
pub struct MiddlewareService {
    handler: BoxHandler,
    client_addr: Option<ClientAddrFn>,
    fixed_addr: Option<SocketAddr>,
}

impl MiddlewareService {
    /// This service for the requests of one connection from `addr` (a
    /// hyper server makes one service per accepted connection).
    ///
    /// ```
    /// # use std::net::SocketAddr;
    /// # use switchyard_proxy::tower::{MiddlewareLayer, MiddlewareService};
    /// # fn per_connection(svc: &MiddlewareService, peer: SocketAddr) -> MiddlewareService {
    /// svc.clone().with_client_addr(peer)
    /// # }
    /// ```
    pub fn with_client_addr(mut self, addr: SocketAddr) -> MiddlewareService {
        self.fixed_addr = Some(addr);
        self
    }

    /// The context a request without one gets: its client address found
    /// as the module's notes say.
    fn context(&self, ext: &http::Extensions) -> RequestContext {
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let client_addr = self
            .fixed_addr
            .or_else(|| self.client_addr.as_ref().and_then(|f| f(ext)))
            .or_else(|| ext.get::<SocketAddr>().copied())
            .unwrap_or(unspecified);
        RequestContext {
            client_addr,
            local_addr: unspecified,
            entrypoint: Arc::from(""),
            tls: false,
            peer_certificates: None,
            tls_session: None,
        }
    }
}

impl std::fmt::Debug for MiddlewareService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiddlewareService")
            .field("fixed_addr", &self.fixed_addr)
            .finish_non_exhaustive()
    }
}

impl<B> Service<http::Request<B>> for MiddlewareService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    /// Always ready: the wrapped service's readiness is awaited per
    /// request, on a clone of it, when the middleware calls it.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let mut req = req.map(body::boxed_unsync);
        if req.extensions().get::<RequestContext>().is_none() {
            let ctx = self.context(req.extensions());
            req.extensions_mut().insert(ctx);
        }
        let answer = self.handler.call(req);
        Box::pin(async move { Ok(answer.await.unwrap_or_else(ProxyError::into_response)) })
    }
}
