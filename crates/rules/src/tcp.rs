//! Traefik v3's TCP router rules (`pkg/muxer/tcp`): the same grammar as
//! HTTP rules (see the crate docs), with the matchers a connection can
//! answer before any byte is forwarded.
//!
//! | matcher | matches when |
//! |---|---|
//! | `HostSNI(h)` | the TLS server name equals `h` ignoring case (a trailing dot ignored); `*.x` replaces the name's first label; `*` matches every connection, TLS or not |
//! | `HostSNIRegexp(re)` | `re` (Go syntax, unanchored) matches somewhere in the lower-cased server name |
//! | `ClientIP(ip or cidr)` | the peer address is `ip` or in `cidr` |
//! | `ALPN(p)` | the client offered the protocol `p` (`acme-tls/1` is refused) |
//!
//! Each matcher takes exactly one value in the v3 syntax. With
//! `ruleSyntax: v2`, `HostSNI`, `ClientIP` and `ALPN` take one or more
//! values, any of which may match; v2's `HostSNIRegexp` templates are not
//! read (an error says so). A connection that is not TLS has no server
//! name: only `HostSNI(`*`)` (and rules without `HostSNI`) can match it.
//! A router's default priority is its rule's length, except a rule that is
//! exactly `HostSNI(`*`)`, whose default is -1 (Traefik's
//! `GetRulePriority`), so that every other router is tried first.

use std::net::IpAddr;

use regex::Regex;

use crate::lexer::{Fault, Lexer, Tok, Token};
use crate::matcher::spelled_as;
use crate::net::IpMatcher;
use crate::{goregex, RuleError, Syntax};

/// What a TCP rule sees of a connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo<'a> {
    /// The TLS server name, lower-cased, without a trailing dot; empty when
    /// the connection is not TLS or sent none.
    pub server_name: &'a str,
    pub client_ip: IpAddr,
    /// The ALPN protocols the client offered.
    pub alpn: &'a [Vec<u8>],
}

/// A compiled TCP rule.
#[derive(Debug, Clone)]
pub struct TcpRule {
    expr: Node,
    catch_all: bool,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Leaf),
    Not(Box<Node>),
    All(Vec<Node>),
    Any(Vec<Node>),
}

#[derive(Debug, Clone)]
enum Leaf {
    /// `HostSNI(`*`)`.
    AnySni,
    /// Exact names and `*.suffix` patterns (lower-cased); any may match.
    HostSni(Vec<String>),
    HostSniRegexp(Regex),
    ClientIp(Vec<IpMatcher>),
    Alpn(Vec<Vec<u8>>),
}

/// The matchers of TCP rules.
const NAMES: [&str; 4] = ["HostSNI", "HostSNIRegexp", "ClientIP", "ALPN"];

/// The nesting a rule may have, as for HTTP rules.
const MAX_DEPTH: usize = 200;

impl TcpRule {
    /// Whether this connection matches.
    pub fn matches(&self, conn: &ConnInfo<'_>) -> bool {
        self.expr.matches(conn)
    }

    /// Whether the rule is exactly `HostSNI(`*`)`: Traefik tries TLS
    /// routers of other kinds before such a router.
    pub fn is_catch_all(&self) -> bool {
        self.catch_all
    }

    /// The `HostSNI` values of the rule other than `*` (Traefik's
    /// `ParseHostSNI`, used to refuse a non-TLS router that names hosts).
    pub fn host_sni_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.hosts(&mut out);
        out
    }
}

impl Node {
    fn matches(&self, conn: &ConnInfo<'_>) -> bool {
        match self {
            Node::Leaf(l) => l.matches(conn),
            Node::Not(n) => !n.matches(conn),
            Node::All(items) => items.iter().all(|n| n.matches(conn)),
            Node::Any(items) => items.iter().any(|n| n.matches(conn)),
        }
    }

    fn hosts(&self, out: &mut Vec<String>) {
        match self {
            Node::Leaf(Leaf::HostSni(names)) => out.extend(names.iter().cloned()),
            Node::Leaf(_) => {}
            Node::Not(n) => n.hosts(out),
            Node::All(items) | Node::Any(items) => items.iter().for_each(|n| n.hosts(out)),
        }
    }
}

impl Leaf {
    fn matches(&self, conn: &ConnInfo<'_>) -> bool {
        match self {
            Leaf::AnySni => true,
            Leaf::HostSni(names) => {
                !conn.server_name.is_empty()
                    && names.iter().any(|n| sni_matches(conn.server_name, n))
            }
            Leaf::HostSniRegexp(re) => re.is_match(conn.server_name),
            Leaf::ClientIp(nets) => nets.iter().any(|n| n.contains(conn.client_ip)),
            Leaf::Alpn(protos) => protos.iter().any(|p| conn.alpn.contains(p)),
        }
    }
}

/// Whether a server name (lower-cased) matches a `HostSNI` value
/// (lower-cased): equal, or `*.rest` equal once the name's first label is
/// replaced by `*`.
pub fn sni_matches(server_name: &str, host: &str) -> bool {
    match host.strip_prefix('*') {
        Some(rest) => {
            let tail = server_name.find('.').map_or("", |i| &server_name[i..]);
            rest == tail
        }
        None => server_name == host,
    }
}

/// The server name as rules see it: lower-cased, without a trailing dot.
pub fn canonical_server_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Traefik's default priority of a TCP router with this rule.
pub fn tcp_default_priority(rule: &str) -> i64 {
    match parse_tcp(rule, Syntax::V3) {
        Ok(r) if r.catch_all => -1,
        _ => crate::default_priority(rule),
    }
}

/// Parses and compiles a TCP rule written in `syntax`.
pub fn parse_tcp(src: &str, syntax: Syntax) -> Result<TcpRule, RuleError> {
    let fault = |f: Fault| RuleError {
        rule: src.to_string(),
        position: f.pos,
        message: f.msg,
    };
    let mut lexer = Lexer::new(src);
    let tok = lexer.next_token().map_err(fault)?;
    if tok.tok == Tok::Eof {
        return Err(fault(Fault::new(0, "empty rule")));
    }
    let mut p = Parser {
        lexer,
        tok,
        depth: 0,
        syntax,
    };
    let expr = p.or().map_err(fault)?;
    if p.tok.tok == Tok::Newline {
        p.advance().map_err(fault)?;
    }
    if p.tok.tok != Tok::Eof {
        return Err(fault(p.fault(format!(
            "unexpected {}: expected '&&' or '||' between two conditions",
            p.tok.tok.describe()
        ))));
    }
    let catch_all = matches!(&expr, Node::Leaf(Leaf::AnySni));
    Ok(TcpRule { expr, catch_all })
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Token<'a>,
    depth: usize,
    syntax: Syntax,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<Token<'a>, Fault> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn fault(&self, msg: impl Into<String>) -> Fault {
        Fault::new(self.tok.pos, msg)
    }

    fn or(&mut self) -> Result<Node, Fault> {
        let mut items = vec![self.and()?];
        while self.tok.tok == Tok::OrOr {
            self.advance()?;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::Any(items)
        })
    }

    fn and(&mut self) -> Result<Node, Fault> {
        let mut items = vec![self.unary()?];
        while self.tok.tok == Tok::AndAnd {
            self.advance()?;
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Node::All(items)
        })
    }

    fn unary(&mut self) -> Result<Node, Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fault("rule nests too deeply"));
        }
        let node = if self.tok.tok == Tok::Bang {
            self.advance()?;
            Node::Not(Box::new(self.unary()?))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, Fault> {
        let tok = self.advance()?;
        match tok.tok {
            Tok::LParen => {
                let inner = self.or()?;
                if self.tok.tok != Tok::RParen {
                    return Err(self.fault(format!(
                        "expected ')' to close the '(' at position {}, found {}",
                        tok.pos,
                        self.tok.tok.describe()
                    )));
                }
                self.advance()?;
                Ok(inner)
            }
            Tok::Ident(name) => self.call(name, tok.pos),
            Tok::Eof => Err(Fault::new(
                tok.pos,
                "unexpected end of rule: expected a matcher, '(' or '!'",
            )),
            other => Err(Fault::new(
                tok.pos,
                format!("expected a matcher, '(' or '!', found {}", other.describe()),
            )),
        }
    }

    fn call(&mut self, name: &str, name_pos: usize) -> Result<Node, Fault> {
        let Some(canon) = NAMES.into_iter().find(|c| spelled_as(name, c)) else {
            return Err(Fault::new(
                name_pos,
                format!("unsupported function: {name} (TCP rules have HostSNI, HostSNIRegexp, ClientIP and ALPN)"),
            ));
        };
        if self.tok.tok != Tok::LParen {
            return Err(self.fault(format!(
                "expected '(' after {name}, found {}",
                self.tok.tok.describe()
            )));
        }
        self.advance()?;
        let mut args: Vec<(Vec<u8>, usize)> = Vec::new();
        while self.tok.tok != Tok::RParen {
            let tok = self.advance()?;
            let Tok::Str(value) = tok.tok else {
                return Err(Fault::new(
                    tok.pos,
                    format!(
                        "expected a value in backticks or double quotes in {name}(...), found {}",
                        tok.tok.describe()
                    ),
                ));
            };
            args.push((value, tok.pos));
            match self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => {}
                _ => {
                    return Err(self.fault(format!(
                        "expected ',' or ')' after a value of {name}, found {}",
                        self.tok.tok.describe()
                    )))
                }
            }
        }
        self.advance()?;
        if args.is_empty() || (self.syntax == Syntax::V3 && args.len() != 1) {
            return Err(Fault::new(
                name_pos,
                format!(
                    "unexpected number of parameters; got {}, expected 1",
                    args.len()
                ),
            ));
        }
        if let Some((_, pos)) = args.iter().find(|(v, _)| v.is_empty()) {
            return Err(Fault::new(*pos, format!("empty value for {canon}")));
        }
        compile(canon, args, self.syntax).map(Node::Leaf)
    }
}

fn text(value: &[u8], pos: usize) -> Result<&str, Fault> {
    std::str::from_utf8(value).map_err(|_| Fault::new(pos, "value is not valid UTF-8"))
}

fn compile(canon: &str, args: Vec<(Vec<u8>, usize)>, syntax: Syntax) -> Result<Leaf, Fault> {
    match canon {
        "HostSNI" => {
            let mut names = Vec::new();
            for (value, pos) in &args {
                let host = text(value, *pos)?;
                if host == "*" {
                    // Among others (v2), `*` matches every connection too.
                    return Ok(Leaf::AnySni);
                }
                if !valid_host(host) {
                    return Err(Fault::new(
                        *pos,
                        format!(
                            "invalid value for HostSNI matcher, {host:?} is not a valid hostname"
                        ),
                    ));
                }
                names.push(host.trim_end_matches('.').to_ascii_lowercase());
            }
            Ok(Leaf::HostSni(names))
        }
        "HostSNIRegexp" => {
            if syntax == Syntax::V2 {
                return Err(Fault::new(
                    args[0].1,
                    "HostSNIRegexp of the v2 syntax (templates) is not supported by Switchyard yet; use ruleSyntax v3",
                ));
            }
            let (value, pos) = &args[0];
            if !value.is_ascii() {
                return Err(Fault::new(
                    *pos,
                    format!(
                        "invalid value for HostSNIRegexp matcher, {:?} is not a valid hostname",
                        String::from_utf8_lossy(value)
                    ),
                ));
            }
            goregex::compile(value)
                .map(Leaf::HostSniRegexp)
                .map_err(|e| Fault::new(*pos, format!("compiling HostSNIRegexp matcher: {e}")))
        }
        "ClientIP" => {
            let mut nets = Vec::new();
            for (value, pos) in &args {
                let ip = text(value, *pos)?;
                let net = IpMatcher::parse(ip).ok_or_else(|| {
                    Fault::new(
                        *pos,
                        format!("initializing IP checker for ClientIP matcher: parsing CIDR trusted IPs {ip:?}: invalid CIDR address"),
                    )
                })?;
                nets.push(net);
            }
            Ok(Leaf::ClientIp(nets))
        }
        _ => {
            let mut protos = Vec::new();
            for (value, pos) in args {
                if value == b"acme-tls/1" {
                    return Err(Fault::new(
                        pos,
                        "invalid protocol value for ALPN matcher, \"acme-tls/1\" is not allowed",
                    ));
                }
                protos.push(value);
            }
            Ok(Leaf::Alpn(protos))
        }
    }
}

/// The addresses and networks of an `ipAllowList.sourceRange`, read as
/// `ClientIP` reads its value.
#[derive(Debug, Clone)]
pub struct SourceRange(Vec<IpMatcher>);

impl SourceRange {
    /// Parses every entry; the error names the first that does not parse.
    pub fn parse<S: AsRef<str>>(ranges: &[S]) -> Result<SourceRange, String> {
        ranges
            .iter()
            .map(|r| {
                let r = r.as_ref();
                IpMatcher::parse(r)
                    .ok_or_else(|| format!("parsing CIDR trusted IPs {r:?}: invalid CIDR address"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(SourceRange)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|m| m.contains(ip))
    }
}

/// Traefik's `^(\*\.)?[[:word:]\.\-\:]+$`.
fn valid_host(host: &str) -> bool {
    let rest = host.strip_prefix("*.").unwrap_or(host);
    !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn<'a>(sni: &'a str, ip: &str, alpn: &'a [Vec<u8>]) -> ConnInfo<'a> {
        ConnInfo {
            server_name: sni,
            client_ip: ip.parse().expect("ip"),
            alpn,
        }
    }

    #[test]
    fn matching_table() {
        let h2: Vec<Vec<u8>> = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let none: Vec<Vec<u8>> = Vec::new();
        // (what, rule, server name, client ip, alpn, matches)
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [Vec<u8>], bool);
        let cases: &[Case] = &[
            (
                "catch-all, plain",
                "HostSNI(`*`)",
                "",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "catch-all, tls",
                "HostSNI(`*`)",
                "a.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "exact",
                "HostSNI(`a.test`)",
                "a.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "exact, case",
                "HostSNI(`A.Test`)",
                "a.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "exact, trailing dot",
                "HostSNI(`a.test.`)",
                "a.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "other name",
                "HostSNI(`a.test`)",
                "b.test",
                "10.0.0.1",
                &none,
                false,
            ),
            ("no name", "HostSNI(`a.test`)", "", "10.0.0.1", &none, false),
            (
                "wildcard",
                "HostSNI(`*.test`)",
                "a.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "wildcard, one label only",
                "HostSNI(`*.test`)",
                "a.b.test",
                "10.0.0.1",
                &none,
                false,
            ),
            (
                "wildcard, not the apex",
                "HostSNI(`*.test`)",
                "test",
                "10.0.0.1",
                &none,
                false,
            ),
            (
                "regexp",
                "HostSNIRegexp(`^[a-z]+\\.test$`)",
                "ab.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "regexp, unanchored",
                "HostSNIRegexp(`b`)",
                "abc.test",
                "10.0.0.1",
                &none,
                true,
            ),
            (
                "regexp, no match",
                "HostSNIRegexp(`^x`)",
                "abc.test",
                "10.0.0.1",
                &none,
                false,
            ),
            (
                "client ip",
                "ClientIP(`10.0.0.0/8`)",
                "",
                "10.2.3.4",
                &none,
                true,
            ),
            (
                "client ip, outside",
                "ClientIP(`10.0.0.0/8`)",
                "",
                "11.2.3.4",
                &none,
                false,
            ),
            ("client ip, v6", "ClientIP(`::1`)", "", "::1", &none, true),
            ("alpn", "ALPN(`h2`)", "a.test", "10.0.0.1", &h2, true),
            (
                "alpn, not offered",
                "ALPN(`h3`)",
                "a.test",
                "10.0.0.1",
                &h2,
                false,
            ),
            (
                "and",
                "HostSNI(`a.test`) && ALPN(`h2`)",
                "a.test",
                "1.1.1.1",
                &h2,
                true,
            ),
            (
                "and, one fails",
                "HostSNI(`a.test`) && ALPN(`x`)",
                "a.test",
                "1.1.1.1",
                &h2,
                false,
            ),
            (
                "or",
                "HostSNI(`b.test`) || ClientIP(`1.1.1.1`)",
                "a.test",
                "1.1.1.1",
                &none,
                true,
            ),
            ("not", "!ClientIP(`1.1.1.1`)", "", "1.1.1.2", &none, true),
            (
                "not, excluded",
                "!ClientIP(`1.1.1.1`)",
                "",
                "1.1.1.1",
                &none,
                false,
            ),
            (
                "parentheses",
                "(HostSNI(`b.test`) || HostSNI(`a.test`)) && !ALPN(`x`)",
                "a.test",
                "1.1.1.1",
                &h2,
                true,
            ),
            (
                "lower-case spelling",
                "hostsni(`a.test`)",
                "a.test",
                "1.1.1.1",
                &none,
                true,
            ),
        ];
        for (what, rule, sni, ip, alpn, want) in cases {
            let r = parse_tcp(rule, Syntax::V3).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(r.matches(&conn(sni, ip, alpn)), *want, "{what}: {rule}");
        }
    }

    #[test]
    fn errors_table() {
        // (what, rule, part of the message, position)
        let cases: &[(&str, &str, &str, usize)] = &[
            ("empty", "", "empty rule", 0),
            ("http matcher", "Host(`a`)", "unsupported function: Host", 0),
            (
                "two values in v3",
                "HostSNI(`a`, `b`)",
                "got 2, expected 1",
                0,
            ),
            ("no value", "HostSNI()", "got 0, expected 1", 0),
            ("bad host", "HostSNI(`a b`)", "is not a valid hostname", 8),
            (
                "bad regexp",
                "HostSNIRegexp(`(`)",
                "compiling HostSNIRegexp",
                14,
            ),
            (
                "bad ip",
                "ClientIP(`10.0.0.300`)",
                "invalid CIDR address",
                9,
            ),
            ("acme alpn", "ALPN(`acme-tls/1`)", "is not allowed", 5),
            (
                "single &",
                "HostSNI(`*`) & ALPN(`h2`)",
                "expected '&&' or '||'",
                13,
            ),
            ("unclosed", "(HostSNI(`*`)", "expected ')'", 13),
            ("bare value", "`a`", "expected a matcher", 0),
        ];
        for (what, rule, want, pos) in cases {
            let e = parse_tcp(rule, Syntax::V3).expect_err(what);
            assert!(e.message.contains(want), "{what}: {}", e.message);
            assert_eq!(e.position, *pos, "{what}: {}", e.message);
        }
    }

    #[test]
    fn v2_takes_several_values() {
        let r = parse_tcp("HostSNI(`a.test`, `b.test`)", Syntax::V2).expect("v2");
        assert!(r.matches(&conn("b.test", "1.1.1.1", &[])));
        assert!(!r.matches(&conn("c.test", "1.1.1.1", &[])));
        assert!(parse_tcp("HostSNIRegexp(`{x:[a-z]+}.test`)", Syntax::V2).is_err());
    }

    #[test]
    fn priority_and_catch_all() {
        let cases: &[(&str, i64, bool)] = &[
            ("HostSNI(`*`)", -1, true),
            ("HostSNI(`a.test`)", 17, false),
            ("HostSNI(`*`) && ClientIP(`::1`)", 31, false),
        ];
        for (rule, priority, catch_all) in cases {
            assert_eq!(tcp_default_priority(rule), *priority, "{rule}");
            let r = parse_tcp(rule, Syntax::V3).expect("parses");
            assert_eq!(r.is_catch_all(), *catch_all, "{rule}");
        }
        let r = parse_tcp("HostSNI(`a.test`) || HostSNI(`*`)", Syntax::V3).expect("parses");
        assert_eq!(r.host_sni_values(), ["a.test"]);
    }
}
