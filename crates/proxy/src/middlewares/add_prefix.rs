//! `addPrefix`: puts a prefix in front of the path.

use super::path::{ensure_leading_slash, set_path};
use crate::{BoxHandler, Handler, HandlerFuture, Request};

pub struct AddPrefix {
    prefix: String,
    next: BoxHandler,
}

impl AddPrefix {
    pub fn new(prefix: String, next: BoxHandler) -> AddPrefix {
        AddPrefix { prefix, next }
    }
}

impl Handler for AddPrefix {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let path = ensure_leading_slash(format!("{}{}", self.prefix, req.uri().path()));
        if let Err(e) = set_path(&mut req, &path) {
            return Box::pin(async move { Err(e) });
        }
        self.next.call(req)
    }
}

/// Translates an `addPrefix` definition.
pub fn from_config(
    c: switchyard_config::middlewares::AddPrefix,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let prefix = c.prefix;
    if prefix.is_empty() {
        return Err("addPrefix: prefix cannot be empty".into());
    }
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(AddPrefix::new(prefix.clone(), next)) as BoxHandler
    }))
}
