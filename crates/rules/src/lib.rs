//! Traefik v3's HTTP router rules: parsing, compiled matchers, and a
//! router table indexed by host. Rules are read in Traefik's v3 syntax
//! ([`parse`]) or in its v2 syntax ([`parse_with`] and [`Syntax::V2`]: the
//! same grammar, the v2 matchers, see `src/v2/mod.rs`).
//!
//! # Using the crate
//!
//! Parse a rule once, then match requests against it. A program's own
//! `http::Request` (or its parts) is matched as a Traefik entrypoint would
//! see it: [`Rule::matches_request`] for one rule, or a
//! [`PreparedRequest`] made once and tried against many. `ClientIP`
//! matches the connection's peer address, which the caller passes in.
//!
//! ```
//! use std::net::IpAddr;
//!
//! let rule = switchyard_rules::parse("Host(`a.test`) && PathPrefix(`/api`)")?;
//! let peer: IpAddr = [127, 0, 0, 1].into();
//!
//! let req = http::Request::get("/api/v1").header("host", "A.test:8080").body(())?;
//! assert!(rule.matches_request(&req, peer));
//! let req = http::Request::get("/web").header("host", "a.test").body(())?;
//! assert!(!rule.matches_request(&req, peer));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A rule that does not parse is a [`RuleError`] with the byte position
//! of the problem and what was expected there:
//!
//! ```
//! let err = switchyard_rules::parse("Host(`a.test`) && Pth(`/`)").unwrap_err();
//! assert_eq!(err.position, 18);
//! assert!(err.to_string().contains("Pth"), "{err}");
//! ```
//!
//! Rules written for Traefik v2 (routers with `ruleSyntax: v2`) are read
//! with [`parse_with`]:
//!
//! ```
//! use switchyard_rules::{parse, parse_with, Syntax};
//!
//! let v2 = parse_with("Path(`/u/{id:[0-9]+}`)", Syntax::V2)?;
//! let req = http::Request::get("/u/42").body(())?;
//! assert!(v2.matches_request(&req, [127, 0, 0, 1].into()));
//! assert!(parse("Headers(`X`, `y`)").is_err()); // a v2 matcher, not v3
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Many rules, as a gateway holds them, go in a [`RouterTable`]: ordered
//! as Traefik orders routers (priority, by default the rule's length:
//! [`default_priority`]), indexed by exact host, and asked for the first
//! match:
//!
//! ```
//! use std::sync::Arc;
//! use switchyard_rules::{default_priority, parse, Entry, PreparedRequest, RouterTable};
//!
//! let entry = |name: &str, rule: &str, value: &'static str| -> Result<_, switchyard_rules::RuleError> {
//!     Ok(Entry {
//!         name: name.into(),
//!         rule: Arc::new(parse(rule)?),
//!         priority: default_priority(rule),
//!         value,
//!     })
//! };
//! let table = RouterTable::new(vec![
//!     entry("site", "Host(`a.test`)", "the site")?,
//!     entry("api", "Host(`a.test`) && PathPrefix(`/api`)", "the API")?, // longer: first
//! ]);
//! let req = http::Request::get("/api/users").header("host", "a.test").body(())?;
//! let prepared = PreparedRequest::new(&req, [127, 0, 0, 1].into())?;
//! assert_eq!(table.find(&prepared.info()), Some(&"the API"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Grammar
//!
//! Traefik parses a rule as a Go expression (`go/parser.ParseExpr`, through
//! `vulcand/predicate`); this crate reads the same language:
//!
//! ```text
//! rule    := or [newline]
//! or      := and { "||" and }
//! and     := unary { "&&" unary }
//! unary   := "!" unary | primary
//! primary := "(" or ")" | NAME "(" value { "," value } [ "..." ] [ "," ] ")"
//! value   := `raw string` | "interpreted string"
//! ```
//!
//! - `!` binds tighter than `&&`, which binds tighter than `||`.
//! - Spaces, tabs, carriage returns and line breaks separate tokens, and
//!   Go comments (`/* ... */`, `// ...`) are allowed. As in Go, a line
//!   break right after a matcher, a value or `)` ends the rule: break lines
//!   after `&&`, `||`, `(` or `,`.
//! - A raw string (backticks) is taken as written, carriage returns
//!   dropped; an interpreted string (double quotes) has Go's escapes: `\"`
//!   `\\` `\n` `\t` `\r` `\a` `\b` `\f` `\v`, `\xNN`, `\NNN` (octal),
//!   `\uNNNN`, `\UNNNNNNNN`.
//! - `NAME` is one of `Host`, `HostRegexp`, `Path`, `PathPrefix`,
//!   `PathRegexp`, `Method`, `Header`, `HeaderRegexp`, `Query`,
//!   `QueryRegexp`, `ClientIP`, in one of the four spellings Traefik
//!   accepts: as written here, lower-case, upper-case, or lower-case with
//!   a capital first letter (`Pathprefix`, `Clientip`).
//! - Every value must be non-empty; `Header` and `HeaderRegexp` take two
//!   values, `Query` and `QueryRegexp` one or two, the others one.
//!
//! # Matchers
//!
//! | matcher | matches when |
//! |---|---|
//! | `Host(h)` | the host (port ignored) equals `h` ignoring case; `*.x` replaces the host's first label, `*` matches every request |
//! | `HostRegexp(re)` | `re` matches somewhere in the lower-cased host |
//! | `Path(p)`, `PathPrefix(p)` | the routing path equals / starts with `p` (a plain string prefix) |
//! | `PathRegexp(re)` | `re` matches somewhere in the routing path |
//! | `Method(m)` | the method is `m` upper-cased |
//! | `Header(k, v)`, `HeaderRegexp(k, re)` | one value of header `k` (any case) is `v` / is matched by `re` |
//! | `Query(k)`, `Query(k, v)`, `QueryRegexp(k, re)` | one decoded value of query key `k` is empty / is `v` / is matched by `re` |
//! | `ClientIP(ip or cidr)` | the peer address is `ip` or in `cidr` |
//!
//! # The v2 syntax
//!
//! Routers with `ruleSyntax: v2` (or none, under the static
//! `core.defaultRuleSyntax: v2`) are read with the same grammar and the
//! matchers of Traefik v2: `Host`, `HostHeader`, `HostRegexp`, `Path`,
//! `PathPrefix`, `Method`, `Headers`, `HeadersRegexp`, `Query` and
//! `ClientIP`, each taking one or more values; `Path`, `PathPrefix`,
//! `HostRegexp` and `Query` take gorilla/mux templates (`/u/{id:[0-9]+}`).
//! `src/v2/mod.rs` has the table of what each matches. The v3 names
//! `Header`, `HeaderRegexp`, `PathRegexp` and `QueryRegexp` are errors
//! there, as `Headers`, `HeadersRegexp` and `HostHeader` are in v3. A
//! router's default priority is its rule's length in either syntax.
//!
//! Regular expressions are Go's (RE2) syntax, unanchored; the notes at the
//! top of `src/goregex.rs` say how they map onto Rust's `regex`. What the
//! host, path and query look like by the time matchers see them is said on
//! [`RequestInfo`], [`normalize_host`], [`normalize_path`],
//! [`sanitize_path`] and [`routing_path`].
//!
//! # Where this differs from Traefik on purpose
//!
//! - `HostRegexp` sees the host without its trailing dot (Traefik keeps
//!   it), because the host index needs one spelling per host; in v2 too.
//! - Bytes that are not UTF-8 stay `%XX`-encoded in the routing path.
//! - Routers of equal priority and provider are tried by name (Traefik
//!   tries them in Go map order).
//! - A rule nested deeper than 200 levels of `(` and `!` is refused.
//! - Error messages give a byte position and say what was expected; the
//!   matchers' own messages keep Traefik's wording.

pub mod constraints;
mod expr;
mod goregex;
mod lexer;
mod matcher;
mod net;
mod parser;
mod path;
mod prepared;
mod request;
mod table;
pub mod tcp;
mod v2;

#[cfg(test)]
mod tests;

pub use expr::{Rule, Term};
pub use path::{normalize_path, routing_path, sanitize_path, RoutingPathError};
pub use prepared::PreparedRequest;
pub use request::{normalize_host, RequestInfo};
pub use table::{default_priority, Entry, RouterTable, DEFAULT_PROVIDER_PRECEDENCE};

/// A rule that does not parse or compile: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("error while parsing rule {rule}: {message} at position {position}")]
pub struct RuleError {
    /// The rule as written.
    pub rule: String,
    /// Byte offset in the rule where the problem is.
    pub position: usize,
    /// What is wrong there (for a matcher, Traefik's wording).
    pub message: String,
}

/// The language a rule is written in: Traefik v3's, or the v2 one that
/// Traefik v3 still reads for routers with `ruleSyntax: v2` (or, when they
/// have none, with the static `core.defaultRuleSyntax: v2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    V2,
    #[default]
    V3,
}

impl Syntax {
    /// `v2` or `v3`, exactly (Traefik's names; `V2` is neither).
    pub fn from_name(name: &str) -> Option<Syntax> {
        match name {
            "v2" => Some(Syntax::V2),
            "v3" => Some(Syntax::V3),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Syntax::V2 => "v2",
            Syntax::V3 => "v3",
        }
    }

    /// The syntax of a router's rule given its `ruleSyntax` as written and
    /// the default: none or empty is the default; `v2` and `v3` are
    /// themselves; anything else (`V2`, `v4`, `default`) is v3, as Traefik
    /// reads it (`SyntaxParser.parse` falls back to v3, without an error).
    pub fn for_router(written: Option<&str>, default: Syntax) -> Syntax {
        match written {
            None | Some("") => default,
            Some(other) => Syntax::from_name(other).unwrap_or(Syntax::V3),
        }
    }
}

/// Parses and compiles a rule (Traefik's `ruleSyntax: v3`).
pub fn parse(src: &str) -> Result<Rule, RuleError> {
    parser::parse(src, Syntax::V3)
}

/// Parses and compiles a rule written in `syntax`.
pub fn parse_with(src: &str, syntax: Syntax) -> Result<Rule, RuleError> {
    parser::parse(src, syntax)
}

/// The `Host(...)` values of a rule in either syntax, as
/// [`Rule::host_values`] gives them: Traefik's `ParseDomains`, which reads
/// rules with the matchers of both syntaxes, for certificates and TLS
/// options of routers whatever their syntax. The v3 reading is tried
/// first, then the v2 one; the error is the v3 one.
pub fn host_values(src: &str) -> Result<Vec<String>, RuleError> {
    match parse(src) {
        Ok(rule) => Ok(rule.host_values()),
        Err(e) => parse_with(src, Syntax::V2)
            .map(|rule| rule.host_values())
            .map_err(|_| e),
    }
}
