//! `stripPrefix`: removes the first matching prefix from the path and records
//! it in `X-Forwarded-Prefix`.

use super::path::{
    encoded_prefix_len, ensure_leading_slash, percent_decode, require_clean, set_path,
};
use super::{header_value, X_FORWARDED_PREFIX};
use crate::{BoxHandler, Handler, HandlerFuture, Request};

pub struct StripPrefix {
    prefixes: Vec<String>,
    force_slash: bool,
    next: BoxHandler,
}

impl StripPrefix {
    pub fn new(prefixes: Vec<String>, force_slash: bool, next: BoxHandler) -> StripPrefix {
        StripPrefix {
            prefixes,
            force_slash,
            next,
        }
    }

    fn strip(&self, req: &mut Request) -> Result<(), crate::ProxyError> {
        let raw = req.uri().path().to_string();
        let decoded = percent_decode(&raw).into_owned();
        let Some(prefix) = self
            .prefixes
            .iter()
            .find(|p| decoded.starts_with(p.as_str()))
        else {
            return Ok(());
        };
        let rest_raw = &raw[encoded_prefix_len(&raw, prefix.chars().count())..];
        let rest_decoded = &decoded[prefix.len()..];
        let (new_raw, new_decoded) = if self.force_slash {
            (
                format!("/{}", rest_raw.trim_start_matches('/')),
                format!("/{}", rest_decoded.trim_start_matches('/')),
            )
        } else {
            (
                ensure_leading_slash(rest_raw.to_string()),
                ensure_leading_slash(rest_decoded.to_string()),
            )
        };
        require_clean(&new_decoded)?;
        req.headers_mut()
            .append(X_FORWARDED_PREFIX, header_value(prefix));
        set_path(req, if new_raw.is_empty() { "/" } else { &new_raw })
    }
}

impl Handler for StripPrefix {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if let Err(e) = self.strip(&mut req) {
            return Box::pin(async move { Err(e) });
        }
        self.next.call(req)
    }
}

/// Translates a `stripPrefix` definition.
pub fn from_config(
    c: switchyard_config::middlewares::StripPrefix,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let (prefixes, force) = (c.prefixes, c.force_slash.unwrap_or(false));
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(StripPrefix::new(prefixes.clone(), force, next)) as BoxHandler
    }))
}
