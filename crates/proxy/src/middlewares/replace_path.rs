//! `replacePath`: replaces the whole path and keeps the old one in
//! `X-Replaced-Path`.

use http::StatusCode;

use super::path::{set_path, strict_percent_decode};
use super::{header_value, X_REPLACED_PATH};
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

pub struct ReplacePath {
    path: String,
    next: BoxHandler,
}

impl ReplacePath {
    pub fn new(path: String, next: BoxHandler) -> ReplacePath {
        ReplacePath { path, next }
    }

    fn rewrite(&self, req: &mut Request) -> Result<(), ProxyError> {
        strict_percent_decode(&self.path).map_err(|e| ProxyError::Status {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("{e}\n"),
        })?;
        let old = header_value(req.uri().path());
        req.headers_mut().append(X_REPLACED_PATH, old);
        set_path(req, &self.path)
    }
}

impl Handler for ReplacePath {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if let Err(e) = self.rewrite(&mut req) {
            return Box::pin(async move { Err(e) });
        }
        self.next.call(req)
    }
}

/// Translates a `replacePath` definition.
pub fn from_config(
    c: switchyard_config::middlewares::ReplacePath,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let path = c.path;
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(ReplacePath::new(path.clone(), next)) as BoxHandler
    }))
}
