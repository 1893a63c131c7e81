//! The matchers of Traefik's v2 rule syntax (`ruleSyntax: v2`, or the
//! static `core.defaultRuleSyntax: v2`), as Traefik v3 still runs them
//! (`pkg/muxer/http/matcher_v2.go`). The grammar is the v3 one; only the
//! matchers differ. Every matcher takes one or more values:
//!
//! | matcher | matches when |
//! |---|---|
//! | `Host(h, ...)`, `HostHeader(h, ...)` | the host (port ignored) is one of the `h` ignoring case; no wildcards |
//! | `HostRegexp(t, ...)` | the host matches one of the host templates (`{sub:[a-z]+}.example.com`, see [`template`]) |
//! | `Path(t, ...)` | the routing path matches one of the path templates, whole |
//! | `PathPrefix(t, ...)` | the routing path starts with a match of one of the templates |
//! | `Method(m, ...)` | the method is one of the `m` upper-cased |
//! | `Headers(k, v, ...)` | for every pair, one value of header `k` is `v` |
//! | `HeadersRegexp(k, re, ...)` | for every pair, one value of header `k` is matched by `re` (unanchored) |
//! | `Query("k=t", ...)` | for every `k=t`, the first value of query key `k` matches the template `t` |
//! | `ClientIP(ip or cidr, ...)` | the peer address is one of them |

mod template;

use http::HeaderName;
use regex::Regex;

use crate::lexer::Fault;
use crate::matcher::{check_args, go_upper, header_name, spelled_as, Arg};
use crate::net::IpMatcher;
use crate::request::{query_values, RequestInfo};
use template::{Compiled, Place};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Host,
    HostHeader,
    HostRegexp,
    Path,
    PathPrefix,
    Method,
    Headers,
    HeadersRegexp,
    Query,
    ClientIp,
}

impl Kind {
    pub(crate) const ALL: [Kind; 10] = [
        Kind::Host,
        Kind::HostHeader,
        Kind::HostRegexp,
        Kind::Path,
        Kind::PathPrefix,
        Kind::Method,
        Kind::Headers,
        Kind::HeadersRegexp,
        Kind::Query,
        Kind::ClientIp,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Host => "Host",
            Kind::HostHeader => "HostHeader",
            Kind::HostRegexp => "HostRegexp",
            Kind::Path => "Path",
            Kind::PathPrefix => "PathPrefix",
            Kind::Method => "Method",
            Kind::Headers => "Headers",
            Kind::HeadersRegexp => "HeadersRegexp",
            Kind::Query => "Query",
            Kind::ClientIp => "ClientIP",
        }
    }

    /// The matcher a name stands for, in Traefik's four spellings.
    pub(crate) fn from_spelling(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| spelled_as(name, k.name()))
    }

    /// A matcher whose name differs from `name` only in letter case.
    pub(crate) fn like(name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
    }
}

/// What a compiled v2 matcher tests.
#[derive(Debug, Clone)]
enum Test {
    /// Can never match (a header name no request can carry).
    Never,
    /// Lower-cased, one trailing dot removed.
    Hosts(Vec<String>),
    /// Host or path templates: one must match.
    Templates(Vec<Compiled>),
    Methods(Vec<Vec<u8>>),
    Headers(Vec<(HeaderName, Vec<u8>)>),
    HeadersRegexp(Vec<(HeaderName, Regex)>),
    /// Query keys and their `key=value` templates: all must match.
    Queries(Vec<(Vec<u8>, Compiled)>),
    ClientIps(Vec<IpMatcher>),
}

/// One compiled v2 matcher, with the values it was written with.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    kind: Kind,
    args: Vec<Vec<u8>>,
    test: Test,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.kind == other.kind && self.args == other.args
    }
}

impl Matcher {
    /// Checks and compiles `kind(args)`, in Traefik's order: no or empty
    /// values first (`CheckRule`), then the matcher's own checks, value by
    /// value. `name_pos` is where the name starts, for errors about the
    /// whole call.
    pub(crate) fn compile(kind: Kind, args: Vec<Arg>, name_pos: usize) -> Result<Matcher, Fault> {
        check_args(kind.name(), &args, name_pos)?;
        let test = build(kind, &args, name_pos)?;
        Ok(Matcher {
            kind,
            args: args.into_iter().map(|a| a.value).collect(),
            test,
        })
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The hosts a `Host`/`HostHeader` matcher accepts.
    pub(crate) fn exact_hosts(&self) -> Option<&[String]> {
        match &self.test {
            Test::Hosts(hosts) => Some(hosts),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, req: &RequestInfo<'_>) -> bool {
        match &self.test {
            Test::Never => false,
            Test::Hosts(hosts) => {
                !req.host.is_empty() && hosts.iter().any(|h| h.eq_ignore_ascii_case(req.host))
            }
            Test::Templates(templates) => {
                let text = match self.kind {
                    Kind::HostRegexp => req.host,
                    _ => req.path,
                };
                templates.iter().any(|t| t.matches(text))
            }
            Test::Methods(methods) => methods
                .iter()
                .any(|m| req.method.as_str().as_bytes() == m.as_slice()),
            Test::Headers(pairs) => pairs.iter().all(|(k, v)| {
                req.headers
                    .get_all(k)
                    .iter()
                    .any(|x| x.as_bytes() == v.as_slice())
            }),
            Test::HeadersRegexp(pairs) => pairs.iter().all(|(k, re)| {
                req.headers
                    .get_all(k)
                    .iter()
                    .any(|x| re.is_match(&String::from_utf8_lossy(x.as_bytes())))
            }),
            Test::Queries(queries) => queries.iter().all(|(key, template)| {
                // Mux matches `key=` and the first value, or nothing.
                let text = match query_values(req.query, key).next() {
                    Some(value) => {
                        let mut text = key.clone();
                        text.push(b'=');
                        text.extend_from_slice(&value);
                        String::from_utf8_lossy(&text).into_owned()
                    }
                    None => String::new(),
                };
                template.matches(&text)
            }),
            Test::ClientIps(ips) => ips.iter().any(|ip| ip.contains(req.client_ip)),
        }
    }
}

/// A value as text; Go's regexp refuses patterns that are not UTF-8.
fn utf8(arg: &Arg) -> Result<&str, Fault> {
    std::str::from_utf8(&arg.value)
        .map_err(|_| Fault::new(arg.pos, "error parsing regexp: invalid UTF-8"))
}

fn non_ascii(arg: &Arg, name: &str) -> Fault {
    Fault::new(
        arg.pos,
        format!(
            "invalid value {:?} for {name} matcher, non-ASCII characters are not allowed",
            String::from_utf8_lossy(&arg.value)
        ),
    )
}

/// Go's `%v` of a list of strings: `[a b c]`.
fn go_list(values: &[String]) -> String {
    format!("[{}]", values.join(" "))
}

/// Key/value pairs as mux reads them: an even count, or an error.
fn pairs(args: &[Arg], at: usize) -> Result<std::slice::ChunksExact<'_, Arg>, Fault> {
    if !args.len().is_multiple_of(2) {
        let values: Vec<String> = args
            .iter()
            .map(|a| String::from_utf8_lossy(&a.value).into_owned())
            .collect();
        return Err(odd_count(at, &values));
    }
    Ok(args.chunks_exact(2))
}

fn odd_count(at: usize, values: &[String]) -> Fault {
    Fault::new(
        at,
        format!(
            "mux: number of parameters must be multiple of 2, got {}",
            go_list(values)
        ),
    )
}

/// Header pairs as mux keeps them, in a map by the key as written: a key
/// given twice keeps its last value. None when a key is no header name a
/// request can carry.
fn by_header<T>(items: Vec<(&Arg, T)>) -> Option<Vec<(HeaderName, T)>> {
    let mut kept: Vec<(&Arg, T)> = Vec::with_capacity(items.len());
    for (k, v) in items {
        match kept.iter_mut().find(|(seen, _)| seen.value == k.value) {
            Some(slot) => slot.1 = v,
            None => kept.push((k, v)),
        }
    }
    kept.into_iter()
        .map(|(k, v)| header_name(&k.value).map(|name| (name, v)))
        .collect()
}

fn build(kind: Kind, args: &[Arg], name_pos: usize) -> Result<Test, Fault> {
    let template = |arg: &Arg, place: Place| {
        let text = utf8(arg)?;
        template::compile(text, place).map_err(|e| Fault::new(arg.pos, e))
    };
    Ok(match kind {
        Kind::Host | Kind::HostHeader => {
            let mut hosts = Vec::with_capacity(args.len());
            for arg in args {
                match std::str::from_utf8(&arg.value) {
                    // Traefik names `"Host"` for `HostHeader` too.
                    Ok(h) if h.is_ascii() => {
                        let h = h.to_ascii_lowercase();
                        hosts.push(h.strip_suffix('.').map(str::to_string).unwrap_or(h));
                    }
                    _ => return Err(non_ascii(arg, "\"Host\"")),
                }
            }
            Test::Hosts(hosts)
        }
        Kind::HostRegexp => {
            let mut out = Vec::with_capacity(args.len());
            for arg in args {
                if !arg.value.is_ascii() {
                    return Err(non_ascii(arg, "HostRegexp"));
                }
                out.push(template(arg, Place::Host)?.compiled);
            }
            Test::Templates(out)
        }
        Kind::Path | Kind::PathPrefix => {
            let place = if kind == Kind::Path {
                Place::Path
            } else {
                Place::PathPrefix
            };
            let mut out = Vec::with_capacity(args.len());
            for arg in args {
                if !arg.value.starts_with(b"/") {
                    return Err(Fault::new(
                        arg.pos,
                        format!(
                            "mux: path must start with a slash, got {:?}",
                            String::from_utf8_lossy(&arg.value)
                        ),
                    ));
                }
                out.push(template(arg, place)?.compiled);
            }
            Test::Templates(out)
        }
        Kind::Method => Test::Methods(args.iter().map(|a| go_upper(&a.value)).collect()),
        Kind::Headers => {
            let items = pairs(args, name_pos)?
                .map(|p| (&p[0], p[1].value.clone()))
                .collect();
            by_header(items).map_or(Test::Never, Test::Headers)
        }
        Kind::HeadersRegexp => {
            // Every pattern compiles, in order, before keys are looked at.
            let mut items = Vec::with_capacity(args.len() / 2);
            for p in pairs(args, name_pos)? {
                let re =
                    crate::goregex::compile(&p[1].value).map_err(|e| Fault::new(p[1].pos, e))?;
                items.push((&p[0], re));
            }
            by_header(items).map_or(Test::Never, Test::HeadersRegexp)
        }
        Kind::Query => queries(args, name_pos)?,
        Kind::ClientIp => {
            let mut out = Vec::with_capacity(args.len());
            for arg in args {
                let parsed = std::str::from_utf8(&arg.value)
                    .ok()
                    .and_then(IpMatcher::parse);
                let Some(ip) = parsed else {
                    return Err(Fault::new(
                        arg.pos,
                        format!(
                            "could not initialize IP Checker for \"ClientIP\" matcher: \
                             parsing CIDR trusted IPs <nil>: invalid CIDR address: {}",
                            String::from_utf8_lossy(&arg.value)
                        ),
                    ));
                };
                out.push(ip);
            }
            Test::ClientIps(out)
        }
    })
}

/// `Query`: each value split once at `=`, the pieces taken two by two as
/// key and value template (so `Query("a", "b")` means `a=b`, and
/// `Query("a")` is an odd count); variable names unique across them.
fn queries(args: &[Arg], name_pos: usize) -> Result<Test, Fault> {
    let mut pieces: Vec<(&[u8], usize)> = Vec::new();
    for arg in args {
        match arg.value.iter().position(|&b| b == b'=') {
            Some(i) => {
                pieces.push((&arg.value[..i], arg.pos));
                pieces.push((&arg.value[i + 1..], arg.pos));
            }
            None => pieces.push((&arg.value, arg.pos)),
        }
    }
    if !pieces.len().is_multiple_of(2) {
        let values: Vec<String> = pieces
            .iter()
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        return Err(odd_count(name_pos, &values));
    }
    let mut out = Vec::with_capacity(pieces.len() / 2);
    let mut seen: Vec<String> = Vec::new();
    for pair in pieces.chunks_exact(2) {
        let (key, pos) = pair[0];
        let mut text = key.to_vec();
        text.push(b'=');
        text.extend_from_slice(pair[1].0);
        let text = std::str::from_utf8(&text)
            .map_err(|_| Fault::new(pos, "error parsing regexp: invalid UTF-8"))?;
        let tpl = template::compile(text, Place::Query).map_err(|e| Fault::new(pos, e))?;
        if let Some(dup) = tpl.names.iter().find(|n| seen.contains(n)) {
            return Err(Fault::new(
                pos,
                format!("mux: duplicated route variable {dup:?}"),
            ));
        }
        seen.extend(tpl.names);
        out.push((key.to_vec(), tpl.compiled));
    }
    Ok(Test::Queries(out))
}
