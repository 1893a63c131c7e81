//! A parsed rule: the boolean tree over compiled matchers, what it says
//! about hosts, and its canonical text.

use std::fmt;

use crate::matcher::{Kind, Matcher};
use crate::request::RequestInfo;
use crate::{v2, Syntax};

/// The tree of a rule. Chains of one operator are kept flat
/// (`a && b && c` is one `All` of three), which bounds the tree's depth by
/// the nesting of parentheses and `!`, not by the rule's length.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Match(Box<Matcher>),
    /// A matcher of the v2 syntax.
    MatchV2(Box<v2::Matcher>),
    Not(Box<Expr>),
    /// `&&` of two or more.
    All(Vec<Expr>),
    /// `||` of two or more.
    Any(Vec<Expr>),
}

impl Expr {
    /// `a && b`, flattening `All`s.
    pub(crate) fn and(a: Expr, b: Expr) -> Expr {
        let mut items = match a {
            Expr::All(items) => items,
            a => vec![a],
        };
        match b {
            Expr::All(more) => items.extend(more),
            b => items.push(b),
        }
        Expr::All(items)
    }

    /// `a || b`, flattening `Any`s.
    pub(crate) fn or(a: Expr, b: Expr) -> Expr {
        let mut items = match a {
            Expr::Any(items) => items,
            a => vec![a],
        };
        match b {
            Expr::Any(more) => items.extend(more),
            b => items.push(b),
        }
        Expr::Any(items)
    }

    fn matches(&self, req: &RequestInfo<'_>) -> bool {
        match self {
            Expr::Match(m) => m.matches(req),
            Expr::MatchV2(m) => m.matches(req),
            Expr::Not(e) => !e.matches(req),
            Expr::All(items) => items.iter().all(|e| e.matches(req)),
            Expr::Any(items) => items.iter().any(|e| e.matches(req)),
        }
    }

    /// The hosts every request matching this (negated when `negated`)
    /// must have, or None when it can match any host.
    fn terms(&self, req: &RequestInfo<'_>, out: &mut Vec<Term>) {
        match self {
            Expr::Match(m) => out.push(Term {
                text: Leaf(m.kind().name(), m.args()).to_string(),
                matched: m.matches(req),
            }),
            Expr::MatchV2(m) => out.push(Term {
                text: Leaf(m.kind().name(), m.args()).to_string(),
                matched: m.matches(req),
            }),
            Expr::Not(e) => e.terms(req, out),
            Expr::All(items) | Expr::Any(items) => {
                for e in items {
                    e.terms(req, out);
                }
            }
        }
    }

    fn exact_hosts(&self, negated: bool) -> Option<Vec<String>> {
        match self {
            Expr::Match(m) if !negated => m.exact_host().map(|h| vec![h.to_string()]),
            Expr::MatchV2(m) if !negated => m.exact_hosts().map(<[String]>::to_vec),
            Expr::Match(_) | Expr::MatchV2(_) => None,
            Expr::Not(e) => e.exact_hosts(!negated),
            Expr::All(items) | Expr::Any(items) => {
                // `!(a || b)` is `!a && !b`, and `!(a && b)` is `!a || !b`.
                let every = matches!(self, Expr::All(_)) != negated;
                let sets = items.iter().map(|e| e.exact_hosts(negated));
                if every {
                    // Each constraining item narrows the set.
                    sets.flatten()
                        .reduce(|acc, next| acc.into_iter().filter(|h| next.contains(h)).collect())
                } else {
                    // Each item must constrain; the set is their union.
                    let mut union = Vec::new();
                    for set in sets {
                        union.extend(set?);
                    }
                    Some(union)
                }
            }
        }
    }

    fn host_values(&self, out: &mut Vec<String>) {
        match self {
            Expr::Match(m) if m.kind() == Kind::Host => {
                out.extend(
                    m.args()
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()),
                );
            }
            Expr::MatchV2(m) if m.kind() == v2::Kind::Host => {
                out.extend(
                    m.args()
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()),
                );
            }
            Expr::Match(_) | Expr::MatchV2(_) => {}
            Expr::Not(e) => e.host_values(out),
            Expr::All(items) | Expr::Any(items) => {
                for e in items {
                    e.host_values(out);
                }
            }
        }
    }

    /// Writes the expression, in parentheses when its precedence (`||` 1,
    /// `&&` 2, `!` and matchers 3) is below `min`.
    fn write(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let (prec, op, items) = match self {
            Expr::Match(m) => return write_matcher(f, m.kind().name(), m.args()),
            Expr::MatchV2(m) => return write_matcher(f, m.kind().name(), m.args()),
            Expr::Not(e) => {
                f.write_str("!")?;
                return e.write(f, 3);
            }
            Expr::Any(items) => (1, " || ", items),
            Expr::All(items) => (2, " && ", items),
        };
        if prec < min {
            f.write_str("(")?;
        }
        for (i, e) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(op)?;
            }
            // An item of the same operator was flattened away; one that
            // is there came from parentheses only if it binds looser.
            e.write(f, prec + 1)?;
        }
        if prec < min {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// One matcher of a rule, as Switchyard writes it back, and whether a
/// request satisfies it on its own (a `!` or `||` around it decides what
/// that means for the whole rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    pub matched: bool,
}

/// A matcher's name and arguments, written as in a rule.
struct Leaf<'a>(&'a str, &'a [Vec<u8>]);

impl fmt::Display for Leaf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_matcher(f, self.0, self.1)
    }
}

fn write_matcher(f: &mut fmt::Formatter<'_>, name: &str, args: &[Vec<u8>]) -> fmt::Result {
    f.write_str(name)?;
    f.write_str("(")?;
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(&quote(arg))?;
    }
    f.write_str(")")
}

/// A value as a rule literal: in backticks when it can be, else in double
/// quotes with Go escapes.
pub(crate) fn quote(value: &[u8]) -> String {
    let raw_ok = |s: &str| !s.contains(['`', '\r', '\0', '\u{feff}']);
    match std::str::from_utf8(value) {
        Ok(s) if raw_ok(s) => format!("`{s}`"),
        _ => {
            let mut out = String::from("\"");
            for chunk in value.utf8_chunks() {
                for c in chunk.valid().chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        '\u{feff}' => out.push_str("\\uFEFF"),
                        c if c.is_ascii_control() => {
                            out.push_str(&format!("\\x{:02x}", u32::from(c)));
                        }
                        c => out.push(c),
                    }
                }
                for b in chunk.invalid() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            out.push('"');
            out
        }
    }
}

/// A parsed and compiled rule. Cheap to match, `Send + Sync`; regular
/// expressions are compiled once, when the rule is parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    source: String,
    syntax: Syntax,
    expr: Expr,
}

impl PartialEq for Rule {
    /// Same tree of matchers with the same arguments (however written);
    /// matchers of different syntaxes always differ.
    fn eq(&self, other: &Rule) -> bool {
        self.expr == other.expr
    }
}

impl Rule {
    pub(crate) fn new(source: &str, syntax: Syntax, expr: Expr) -> Rule {
        Rule {
            source: source.to_string(),
            syntax,
            expr,
        }
    }

    /// The rule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The syntax the rule was parsed with.
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// Whether the request matches.
    pub fn matches(&self, req: &RequestInfo<'_>) -> bool {
        self.expr.matches(req)
    }

    /// Each matcher of the rule, in the order written, with whether the
    /// request satisfies it (for explaining a routing decision).
    pub fn explain(&self, req: &RequestInfo<'_>) -> Vec<Term> {
        let mut out = Vec::new();
        self.expr.terms(req, &mut out);
        out
    }

    /// When every request this rule can match must have one of these
    /// hosts, the hosts (lower-cased, no port, no trailing dot; sorted, no
    /// duplicates; empty when no host can satisfy the rule); None when it
    /// can match other hosts: some branch without a `Host`, a wildcard or
    /// `*` host, `HostRegexp`, a negated `Host`. (In the v2 syntax, `Host`
    /// and `HostHeader` have no wildcards: each of their values counts.)
    pub fn exact_hosts(&self) -> Option<Vec<String>> {
        let mut hosts = self.expr.exact_hosts(false)?;
        hosts.sort();
        hosts.dedup();
        Some(hosts)
    }

    /// Every literal `Host(...)` value in the rule, lower-cased, in the
    /// order written, negated ones and wildcards included (Traefik's
    /// `ParseDomains`; not `HostHeader`, in v2).
    pub fn host_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.host_values(&mut out);
        out
    }
}

impl fmt::Display for Rule {
    /// The rule in canonical form: matchers spelled as Traefik defines
    /// them, values in backticks where possible, single spaces around
    /// operators, parentheses only where needed. Parsing it with the same
    /// [`Syntax`] gives an equal rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.write(f, 0)
    }
}
