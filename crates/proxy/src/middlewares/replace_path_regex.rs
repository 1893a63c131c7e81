//! `replacePathRegex`: rewrites the path with a regex and a replacement
//! (`$1`, `${name}`), keeping the old path in `X-Replaced-Path`.

use http::StatusCode;
use regex::Regex;

use super::path::{require_clean, set_path, strict_percent_decode};
use super::{header_value, X_REPLACED_PATH};
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

pub struct ReplacePathRegex {
    regex: Regex,
    replacement: String,
    next: BoxHandler,
}

impl ReplacePathRegex {
    pub fn new(
        regex: &str,
        replacement: String,
        next: BoxHandler,
    ) -> Result<ReplacePathRegex, regex::Error> {
        Ok(ReplacePathRegex {
            regex: Regex::new(regex)?,
            replacement,
            next,
        })
    }

    fn rewrite(&self, req: &mut Request) -> Result<(), ProxyError> {
        let current = req.uri().path().to_string();
        if !self.regex.is_match(&current) {
            return Ok(());
        }
        let replaced = self
            .regex
            .replace_all(&current, self.replacement.as_str())
            .into_owned();
        let decoded = strict_percent_decode(&replaced).map_err(|e| ProxyError::Status {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("{e}\n"),
        })?;
        req.headers_mut()
            .append(X_REPLACED_PATH, header_value(&current));
        set_path(req, &replaced)?;
        require_clean(&decoded)
    }
}

impl Handler for ReplacePathRegex {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if let Err(e) = self.rewrite(&mut req) {
            return Box::pin(async move { Err(e) });
        }
        self.next.call(req)
    }
}

/// Translates a `replacePathRegex` definition.
pub fn from_config(
    c: switchyard_config::middlewares::ReplacePathRegex,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let regex = Regex::new(&c.regex)
        .map_err(|e| format!("replacePathRegex: invalid regex {:?}: {e}", c.regex))?;
    let (pattern, replacement) = (regex.as_str().to_string(), c.replacement);
    Ok(super::validated(move |next| {
        ReplacePathRegex::new(&pattern, replacement.clone(), next)
    }))
}
