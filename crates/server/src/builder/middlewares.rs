//! Compiling middlewares: each definition becomes a factory that wraps a
//! router's next handler. A definition that does not decode or compile is
//! that middleware's error; unchanged definitions keep their factory.
//!
//! Each kind has a small translator beside the middleware it builds
//! (`switchyard_proxy::middlewares::<kind>::from_config`), and the proxy
//! crate's `translate` is the table from kind to translator; `errors`,
//! which calls a service of the runtime being built, lives in
//! `middlewares/`.

mod api_json;
mod errors;

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::dynamic::{HttpConfiguration, Middleware};
use switchyard_proxy::middlewares::{self as mw, Factory, TranslateCtx, Translated};

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
/// factory, and warnings that leave it serving. The proxy crate's table
/// ([`mw::translate`]) builds every kind but the two that need the
/// runtime being built: `chain` (resolved per router) and `errors` (it
/// calls one of the services).
fn compile(
    m: &Middleware,
    name: &str,
    services: &HashMap<String, BuiltService>,
    upstream: &Arc<switchyard_proxy::upstream::Upstream>,
) -> Result<(String, CompiledMiddleware, Vec<String>), String> {
    let mut ctx = TranslateCtx::new(name);
    let translated = mw::translate(m, &mut ctx, Some(upstream))?;
    let kind = translated.kind();
    let compiled = match translated {
        Translated::Wrap { factory, .. } => CompiledMiddleware::Wrap(factory),
        Translated::Chain(names) => CompiledMiddleware::Chain(names),
        Translated::Errors(c) => {
            CompiledMiddleware::Wrap(errors::from_config(c, &mut ctx, services)?)
        }
    };
    Ok((kind.to_string(), compiled, ctx.warnings))
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
