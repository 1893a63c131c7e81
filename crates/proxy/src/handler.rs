//! The object-safe handler trait that routers, middlewares and services share.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::{Body, ProxyError};

pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;

/// What a handler returns: a response, or the typed reason there is none.
/// The entrypoint turns an error into Traefik's status and body in one place
/// ([`ProxyError::into_response`]).
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ProxyError>> + Send>>;

/// One step of a router's chain.
///
/// `call` runs once per request that reaches this step. A middleware either
/// answers itself (a redirect, a 403, ...) or calls the next handler it was
/// built with; a service forwards to a backend. Handlers are built once per
/// configuration and shared by every request: they hold no per-request state.
pub trait Handler: Send + Sync + 'static {
    fn call(&self, req: Request) -> HandlerFuture;
}

pub type BoxHandler = Arc<dyn Handler>;

/// A handler from a closure, for small internal handlers and tests.
pub struct FnHandler<F>(pub F);

impl<F> Handler for FnHandler<F>
where
    F: Fn(Request) -> HandlerFuture + Send + Sync + 'static,
{
    fn call(&self, req: Request) -> HandlerFuture {
        (self.0)(req)
    }
}

/// A handler decided after it is handed out: services with their own
/// `middlewares` are referenced (by routers and by other services) before
/// those middlewares are compiled, and completed once they are.
#[derive(Default)]
pub struct Late {
    inner: std::sync::OnceLock<BoxHandler>,
}

impl Late {
    pub fn new() -> Late {
        Late::default()
    }

    /// Sets the handler; later calls are ignored.
    pub fn set(&self, handler: BoxHandler) {
        let _ = self.inner.set(handler);
    }
}

impl Handler for Late {
    fn call(&self, req: Request) -> HandlerFuture {
        match self.inner.get() {
            Some(h) => h.call(req),
            None => Box::pin(async { Err(crate::ProxyError::NoAvailableServer) }),
        }
    }
}
