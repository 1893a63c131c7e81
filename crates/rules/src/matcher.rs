//! Compiled matchers and the boolean tree that combines them.

use std::net::IpAddr;

use http::HeaderName;
use ipnet::IpNet;
use regex::Regex;

use crate::RequestInfo;

/// One compiled matcher.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Lower-cased; `*` alone matches any host, `*.x` one label.
    Host(String),
    HostRegexp(Regex),
    Path(String),
    PathPrefix(String),
    PathRegexp(Regex),
    Method(String),
    Header(HeaderName, String),
    HeaderRegexp(HeaderName, Regex),
    /// Key and value (`Query(k)` means the empty value, as in Traefik).
    Query(String, String),
    QueryRegexp(String, Regex),
    ClientIP(Vec<IpNet>),
}

/// The boolean tree of a rule.
#[derive(Debug, Clone)]
pub enum Expr {
    Match(Matcher),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

/// A parsed and compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    source: String,
    expr: Expr,
}

fn regex(kind: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern)
        .map_err(|e| format!("compiling {kind} matcher: invalid regexp {pattern:?}: {e}"))
}

fn header_name(kind: &str, name: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{kind}: invalid header name {name:?}"))
}

fn ip_or_cidr(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net);
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
        format!("initializing IP checker for ClientIP matcher: invalid IP or CIDR {s:?}")
    })
}

impl Matcher {
    /// Compiles `name` (canonical spelling) with its arguments.
    pub(crate) fn compile(name: &str, args: &[String]) -> Result<Matcher, String> {
        let want: &[usize] = match name {
            "Header" | "HeaderRegexp" => &[2],
            "Query" | "QueryRegexp" => &[1, 2],
            _ => &[1],
        };
        if !want.contains(&args.len()) {
            return Err(format!(
                "unexpected number of parameters for {name}; got {}, expected one of {want:?}",
                args.len()
            ));
        }
        let a = &args[0];
        Ok(match name {
            "Host" => {
                if a.is_empty() {
                    return Err("empty value for Host matcher".into());
                }
                if !a.is_ascii() {
                    return Err(format!("invalid value {a:?} for Host matcher, non-ASCII characters are not allowed"));
                }
                Matcher::Host(a.to_ascii_lowercase())
            }
            "HostRegexp" => {
                if !a.is_ascii() {
                    return Err(format!("invalid value {a:?} for HostRegexp matcher, non-ASCII characters are not allowed"));
                }
                Matcher::HostRegexp(regex("HostRegexp", a)?)
            }
            "Path" | "PathPrefix" => {
                if !a.starts_with('/') {
                    return Err(format!("path {a:?} does not start with a '/'"));
                }
                if name == "Path" {
                    Matcher::Path(a.clone())
                } else {
                    Matcher::PathPrefix(a.clone())
                }
            }
            "PathRegexp" => Matcher::PathRegexp(regex("PathRegexp", a)?),
            "Method" => {
                if a.is_empty() {
                    return Err("empty value for Method matcher".into());
                }
                Matcher::Method(a.to_ascii_uppercase())
            }
            "Header" => Matcher::Header(header_name("Header", a)?, args[1].clone()),
            "HeaderRegexp" => Matcher::HeaderRegexp(
                header_name("HeaderRegexp", a)?,
                regex("HeaderRegexp", &args[1])?,
            ),
            "Query" => Matcher::Query(a.clone(), args.get(1).cloned().unwrap_or_default()),
            "QueryRegexp" => match args.get(1) {
                Some(re) => Matcher::QueryRegexp(a.clone(), regex("QueryRegexp", re)?),
                None => Matcher::Query(a.clone(), String::new()),
            },
            "ClientIP" => Matcher::ClientIP(vec![ip_or_cidr(a)?]),
            other => return Err(format!("unsupported function: {other}")),
        })
    }

    fn matches(&self, req: &RequestInfo<'_>) -> bool {
        match self {
            Matcher::Host(h) => host_matches(req.host, h),
            Matcher::HostRegexp(re) => re.is_match(req.host),
            Matcher::Path(p) => req.path == p,
            Matcher::PathPrefix(p) => req.path.starts_with(p.as_str()),
            Matcher::PathRegexp(re) => re.is_match(req.path),
            Matcher::Method(m) => req.method.as_str() == m,
            Matcher::Header(k, v) => req
                .headers
                .get_all(k)
                .iter()
                .any(|x| x.as_bytes() == v.as_bytes()),
            Matcher::HeaderRegexp(k, re) => req
                .headers
                .get_all(k)
                .iter()
                .any(|x| std::str::from_utf8(x.as_bytes()).is_ok_and(|s| re.is_match(s))),
            Matcher::Query(k, v) => query_values(req.query, k).any(|x| x == *v),
            Matcher::QueryRegexp(k, re) => query_values(req.query, k).any(|x| re.is_match(&x)),
            Matcher::ClientIP(nets) => nets.iter().any(|n| n.contains(&req.client_ip)),
        }
    }
}

/// Host equality as Traefik's `Host`: case-insensitive, a trailing dot on
/// either side ignored, `*` any host, `*.x` replaces the first label.
fn host_matches(req_host: &str, expr: &str) -> bool {
    if req_host.is_empty() {
        return false;
    }
    if expr == "*" {
        return true;
    }
    let domain_match = |domain: &str, expr: &str| -> bool {
        if let Some(rest) = expr.strip_prefix('*') {
            return match domain.split_once('.') {
                Some((_, tail)) => rest
                    .strip_prefix('.')
                    .is_some_and(|r| r.eq_ignore_ascii_case(tail)),
                None => rest.is_empty(),
            };
        }
        domain.eq_ignore_ascii_case(expr)
    };
    domain_match(req_host, expr)
        || expr
            .strip_suffix('.')
            .is_some_and(|e| domain_match(req_host, e))
        || req_host
            .strip_suffix('.')
            .is_some_and(|h| domain_match(h, expr))
}

/// The values of `key` in a raw query, decoded as Go's `url.ParseQuery`
/// does: pairs with `;` or a bad escape are skipped, `+` is a space.
fn query_values<'q>(query: Option<&'q str>, key: &'q str) -> impl Iterator<Item = String> + 'q {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = query_unescape(k)?;
            (k == key).then(|| query_unescape(v)).flatten()
        })
}

fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Expr {
    fn matches(&self, req: &RequestInfo<'_>) -> bool {
        match self {
            Expr::Match(m) => m.matches(req),
            Expr::Not(e) => !e.matches(req),
            Expr::And(a, b) => a.matches(req) && b.matches(req),
            Expr::Or(a, b) => a.matches(req) || b.matches(req),
        }
    }

    /// Exact hosts every match needs, or None when some match needs none.
    fn exact_hosts(&self) -> Option<Vec<String>> {
        match self {
            Expr::Match(Matcher::Host(h)) if !h.starts_with('*') => {
                let bare = h.trim_end_matches('.').to_string();
                Some(vec![bare])
            }
            Expr::Match(_) | Expr::Not(_) => None,
            Expr::And(a, b) => match (a.exact_hosts(), b.exact_hosts()) {
                (Some(x), Some(y)) => {
                    // Both sides constrain the host: only names in both can match.
                    Some(x.into_iter().filter(|h| y.contains(h)).collect())
                }
                (Some(x), None) | (None, Some(x)) => Some(x),
                (None, None) => None,
            },
            Expr::Or(a, b) => {
                let mut x = a.exact_hosts()?;
                x.extend(b.exact_hosts()?);
                x.sort();
                x.dedup();
                Some(x)
            }
        }
    }

    fn host_values(&self, out: &mut Vec<String>) {
        match self {
            Expr::Match(Matcher::Host(h)) => out.push(h.clone()),
            Expr::Match(_) => {}
            Expr::Not(e) => e.host_values(out),
            Expr::And(a, b) | Expr::Or(a, b) => {
                a.host_values(out);
                b.host_values(out);
            }
        }
    }
}

impl Rule {
    pub(crate) fn new(source: &str, expr: Expr) -> Rule {
        Rule {
            source: source.to_string(),
            expr,
        }
    }

    /// The rule as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, req: &RequestInfo<'_>) -> bool {
        self.expr.matches(req)
    }

    /// When every request this rule matches must have one of these hosts
    /// (lower-cased, no port, no trailing dot), the hosts; else None.
    pub fn exact_hosts(&self) -> Option<Vec<String>> {
        self.expr.exact_hosts()
    }

    /// Every literal `Host(...)` value in the rule.
    pub fn host_values(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.expr.host_values(&mut out);
        out
    }
}
