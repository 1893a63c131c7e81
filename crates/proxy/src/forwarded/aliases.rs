//! The entrypoint's `http.aliasHeadersStrategy` (and the older
//! `http.underscoreHeadersStrategy`): what becomes of request headers whose
//! name aliases another for backends that turn every character but letters
//! and digits into `_` (CGI, WSGI, PHP, NGINX): kept, deleted, or the
//! request refused with 400, as Traefik 3.7.

use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::{body, Response};

/// What an entrypoint does with a request header whose name aliases
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AliasAction {
    /// Forwarded as is (the default).
    #[default]
    Keep,
    /// Removed before routing.
    Delete,
    /// The request is refused with 400.
    Reject,
}

/// The compiled `http.aliasHeadersStrategy` / `http.underscoreHeadersStrategy`
/// of one entrypoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AliasHeaders {
    pub action: AliasAction,
    /// `underscoreHeadersStrategy` alone: only names with `_` count;
    /// otherwise any name with a character other than a letter, a digit
    /// or `-` (which CGI-style backends turn into `_`).
    pub underscores_only: bool,
}

/// A strategy value Traefik does not know, or the two options at odds.
#[derive(Debug, thiserror::Error)]
pub enum BadAliasStrategy {
    #[error("invalid {option} value {value:?}: expected keep, delete or reject")]
    Invalid { option: &'static str, value: String },
    #[error("cannot have both underscoreHeadersStrategy and aliasHeadersStrategy options configured with different values")]
    Conflict,
}

impl AliasHeaders {
    /// From the entrypoint's `http.underscoreHeadersStrategy` and
    /// `http.aliasHeadersStrategy` (empty: not set). As in Traefik, values
    /// are lowercase, and both may be set only to the same value.
    pub fn from_config(underscore: &str, alias: &str) -> Result<AliasHeaders, BadAliasStrategy> {
        let parse = |option: &'static str, value: &str| match value {
            "" | "keep" => Ok(AliasAction::Keep),
            "delete" => Ok(AliasAction::Delete),
            "reject" => Ok(AliasAction::Reject),
            _ => Err(BadAliasStrategy::Invalid {
                option,
                value: value.to_string(),
            }),
        };
        if !underscore.is_empty() && !alias.is_empty() && underscore != alias {
            return Err(BadAliasStrategy::Conflict);
        }
        let underscore = parse("underscoreHeadersStrategy", underscore)?;
        let alias_set = !alias.is_empty();
        let alias = parse("aliasHeadersStrategy", alias)?;
        Ok(if alias_set {
            AliasHeaders {
                action: alias,
                underscores_only: false,
            }
        } else {
            AliasHeaders {
                action: underscore,
                underscores_only: true,
            }
        })
    }

    fn aliases(&self, name: &str) -> bool {
        if self.underscores_only {
            name.contains('_')
        } else {
            name.bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
        }
    }
}

/// A request refused by `aliasHeadersStrategy: reject`.
#[derive(Debug, thiserror::Error)]
#[error("request header {0:?} aliases another header name")]
pub struct AliasRejected(pub HeaderName);

impl AliasRejected {
    /// Traefik's answer: 400 written by Go's `http.Error`.
    pub fn into_response(self) -> Response {
        let mut resp = Response::new(body::full("Bad Request\n"));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        resp
    }
}

impl AliasHeaders {
    /// Deletes the aliasing headers, or refuses the request for the first
    /// one, as the strategy says.
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<(), AliasRejected> {
        if self.action == AliasAction::Keep {
            return Ok(());
        }
        let aliasing: Vec<HeaderName> = headers
            .keys()
            .filter(|k| self.aliases(k.as_str()))
            .cloned()
            .collect();
        if let (AliasAction::Reject, Some(first)) = (self.action, aliasing.first()) {
            return Err(AliasRejected(first.clone()));
        }
        for name in aliasing {
            headers.remove(name);
        }
        Ok(())
    }
}
