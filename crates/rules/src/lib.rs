//! Traefik v3's HTTP rule language: parsing, compiled matchers, and a router
//! table indexed by host.
//!
//! Grammar (whitespace allowed between tokens):
//!
//! ```text
//! rule    := or
//! or      := and ( "||" and )*
//! and     := unary ( "&&" unary )*
//! unary   := "!" unary | primary
//! primary := "(" or ")" | NAME "(" value ( "," value )* ")"
//! value   := `raw string` | "Go string literal with escapes"
//! ```
//!
//! `NAME` is one of `Host`, `HostRegexp`, `Path`, `PathPrefix`, `PathRegexp`,
//! `Method`, `Header`, `HeaderRegexp`, `Query`, `QueryRegexp`, `ClientIP`, in
//! one of the four spellings Traefik accepts: as written, lower-case,
//! upper-case, or capitalised lower-case (`Pathprefix`).
//!
//! Regular expressions are Go's RE2 syntax as Rust's `regex` reads it; the
//! two agree on everything but a few rarely used escapes (`\C`, `\Q..\E` is
//! not in either). They are compiled once, when the rule is parsed.

mod matcher;
mod parse;
mod path;
mod table;

#[cfg(test)]
mod tests;

pub use matcher::{Matcher, Rule};
pub use path::{normalize_host, normalize_path, routing_path, sanitize_path, RoutingPathError};
pub use table::{default_priority, Entry, RouterTable};

/// A rule that does not parse or compile, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error while parsing rule {rule}: {message} at position {position}")]
pub struct RuleError {
    /// The rule as written.
    pub rule: String,
    /// Byte offset in the rule where the problem is.
    pub position: usize,
    pub message: String,
}

/// Parses and compiles `src`.
pub fn parse(src: &str) -> Result<Rule, RuleError> {
    parse::parse(src)
}

/// What matchers look at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a http::Method,
    /// Lower-cased, port stripped (see [`normalize_host`]).
    pub host: &'a str,
    /// The routing path: escapes of reserved characters kept, others decoded
    /// (see [`routing_path`]).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    pub client_ip: std::net::IpAddr,
}
