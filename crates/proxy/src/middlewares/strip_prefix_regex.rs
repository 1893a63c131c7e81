//! `stripPrefixRegex`: removes the first regex match found at the start of
//! the path and records it in `X-Forwarded-Prefix`.

use regex::Regex;

use super::path::{
    encoded_prefix_len, ensure_leading_slash, percent_decode, require_clean, set_path,
};
use super::{header_value, X_FORWARDED_PREFIX};
use crate::{BoxHandler, Handler, HandlerFuture, Request};

pub struct StripPrefixRegex {
    expressions: Vec<Regex>,
    next: BoxHandler,
}

impl StripPrefixRegex {
    /// Fails on the first expression that does not compile.
    pub fn new(expressions: &[String], next: BoxHandler) -> Result<StripPrefixRegex, regex::Error> {
        let expressions = expressions
            .iter()
            .map(|e| Regex::new(e))
            .collect::<Result<_, _>>()?;
        Ok(StripPrefixRegex { expressions, next })
    }

    fn strip(&self, req: &mut Request) -> Result<(), crate::ProxyError> {
        let raw = req.uri().path().to_string();
        let decoded = percent_decode(&raw).into_owned();
        for exp in &self.expressions {
            let Some(m) = exp.find(&decoded) else {
                continue;
            };
            let prefix = m.as_str();
            if prefix.is_empty() || !decoded.starts_with(prefix) {
                continue;
            }
            let new_decoded = ensure_leading_slash(decoded.replacen(prefix, "", 1));
            let new_raw = ensure_leading_slash(
                raw[encoded_prefix_len(&raw, prefix.chars().count())..].to_string(),
            );
            require_clean(&new_decoded)?;
            req.headers_mut()
                .append(X_FORWARDED_PREFIX, header_value(prefix));
            return set_path(req, if new_raw.is_empty() { "/" } else { &new_raw });
        }
        Ok(())
    }
}

impl Handler for StripPrefixRegex {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if let Err(e) = self.strip(&mut req) {
            return Box::pin(async move { Err(e) });
        }
        self.next.call(req)
    }
}

/// Translates a `stripPrefixRegex` definition.
pub fn from_config(
    c: switchyard_config::middlewares::StripPrefixRegex,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    for r in &c.regex {
        Regex::new(r).map_err(|e| format!("stripPrefixRegex: invalid regex {r:?}: {e}"))?;
    }
    let regexes = c.regex;
    Ok(super::validated(move |next| {
        StripPrefixRegex::new(&regexes, next)
    }))
}
