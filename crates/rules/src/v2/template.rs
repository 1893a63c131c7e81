//! Route templates of the v2 matchers: `/users/{id:[0-9]+}`,
//! `{sub}.example.com`, `id={id}`.
//!
//! Traefik's v2 `Path`, `PathPrefix`, `HostRegexp` and `Query` hand their
//! values to its fork of gorilla/mux (`containous/mux`, `regexp.go`), which
//! turns each template into one regular expression:
//!
//! - `{name}` or `{name:pattern}` is a variable; braces nest, so
//!   `{id:[0-9]{3}}` is one variable. Unbalanced braces, an empty name or
//!   an empty pattern are errors, and each pattern must also compile alone
//!   (as `^pattern$`).
//! - A variable without a pattern matches `[^/]+` in a path, `[^.]+` in a
//!   host and `.*` in a query.
//! - Text outside the braces is literal.
//! - The whole is anchored at the start, and at the end too except for
//!   `PathPrefix` (which therefore matches `/apix` for `/api`, and
//!   `/users/12abc` for `/users/{id:[0-9]+}`).
//! - A host template ignores case (`(?i)`).
//! - A query template `key=value` is matched against `key=` and the first
//!   value the request has for `key` (nothing when it has none); an empty
//!   `value` matches any value.

use regex::Regex;

use crate::goregex;

/// Where a template is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Host,
    Path,
    PathPrefix,
    Query,
}

/// What a template compiles to.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    /// A `Path` template without variables: the path must be this text.
    Exact(String),
    /// A `PathPrefix` template without variables: the path must start with
    /// this text.
    Prefix(String),
    Regex(Regex),
}

impl Compiled {
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Compiled::Exact(p) => text == p,
            Compiled::Prefix(p) => text.starts_with(p.as_str()),
            Compiled::Regex(re) => re.is_match(text),
        }
    }
}

/// A compiled template and the names of its variables.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    pub compiled: Compiled,
    pub names: Vec<String>,
}

/// The spans (`{` to `}` inclusive) of the outermost braces, as mux's
/// `braceIndices` finds them.
fn brace_spans(tpl: &str) -> Result<Vec<(usize, usize)>, String> {
    let mut level = 0usize;
    let mut start = 0;
    let mut spans = Vec::new();
    for (i, b) in tpl.bytes().enumerate() {
        match b {
            b'{' => {
                level += 1;
                if level == 1 {
                    start = i;
                }
            }
            b'}' => {
                if level == 0 {
                    return Err(format!("mux: unbalanced braces in {tpl:?}"));
                }
                level -= 1;
                if level == 0 {
                    spans.push((start, i + 1));
                }
            }
            _ => {}
        }
    }
    if level != 0 {
        return Err(format!("mux: unbalanced braces in {tpl:?}"));
    }
    Ok(spans)
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(out: &mut String, text: &str) {
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Compiles a template for `place`; the error reads like mux's.
pub(crate) fn compile(tpl: &str, place: Place) -> Result<Template, String> {
    let spans = brace_spans(tpl)?;
    if spans.is_empty() {
        match place {
            Place::Path => {
                return Ok(Template {
                    compiled: Compiled::Exact(tpl.to_string()),
                    names: Vec::new(),
                })
            }
            Place::PathPrefix => {
                return Ok(Template {
                    compiled: Compiled::Prefix(tpl.to_string()),
                    names: Vec::new(),
                })
            }
            Place::Host | Place::Query => {}
        }
    }
    let default = match place {
        Place::Query => ".*",
        Place::Host => "[^.]+",
        Place::Path | Place::PathPrefix => "[^/]+",
    };
    let mut pattern = String::with_capacity(tpl.len() + 16);
    if place == Place::Host {
        pattern.push_str("(?i)");
    }
    pattern.push('^');
    let mut names = Vec::with_capacity(spans.len());
    let mut end = 0;
    for (i, &(start, stop)) in spans.iter().enumerate() {
        quote_meta(&mut pattern, &tpl[end..start]);
        end = stop;
        let inner = &tpl[start + 1..stop - 1];
        let (name, patt) = inner.split_once(':').unwrap_or((inner, default));
        if name.is_empty() || patt.is_empty() {
            return Err(format!(
                "mux: missing name or pattern in {:?}",
                &tpl[start..stop]
            ));
        }
        // Mux also compiles each variable's pattern alone, anchored.
        goregex::compile(format!("^{patt}$").as_bytes())?;
        pattern.push_str(&format!("(?P<v{i}>{patt})"));
        names.push(name.to_string());
    }
    quote_meta(&mut pattern, &tpl[end..]);
    if place == Place::Query && tpl.split_once('=').is_some_and(|(_, v)| v.is_empty()) {
        pattern.push_str(default);
    }
    if place != Place::PathPrefix {
        pattern.push('$');
    }
    Ok(Template {
        compiled: Compiled::Regex(goregex::compile(pattern.as_bytes())?),
        names,
    })
}
