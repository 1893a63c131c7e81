//! The eleven matchers of Traefik v3's HTTP rules: their names and
//! spellings, argument checks, compilation, and matching.

use http::HeaderName;
use regex::Regex;

use crate::lexer::Fault;
use crate::net::IpMatcher;
use crate::request::{query_values, RequestInfo};
use crate::{goregex, path};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Host,
    HostRegexp,
    Path,
    PathPrefix,
    PathRegexp,
    Method,
    Header,
    HeaderRegexp,
    Query,
    QueryRegexp,
    ClientIp,
}

impl Kind {
    pub(crate) const ALL: [Kind; 11] = [
        Kind::Host,
        Kind::HostRegexp,
        Kind::Path,
        Kind::PathPrefix,
        Kind::PathRegexp,
        Kind::Method,
        Kind::Header,
        Kind::HeaderRegexp,
        Kind::Query,
        Kind::QueryRegexp,
        Kind::ClientIp,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Host => "Host",
            Kind::HostRegexp => "HostRegexp",
            Kind::Path => "Path",
            Kind::PathPrefix => "PathPrefix",
            Kind::PathRegexp => "PathRegexp",
            Kind::Method => "Method",
            Kind::Header => "Header",
            Kind::HeaderRegexp => "HeaderRegexp",
            Kind::Query => "Query",
            Kind::QueryRegexp => "QueryRegexp",
            Kind::ClientIp => "ClientIP",
        }
    }

    /// How many arguments the matcher takes.
    fn arity(self) -> &'static [usize] {
        match self {
            Kind::Header | Kind::HeaderRegexp => &[2],
            Kind::Query | Kind::QueryRegexp => &[1, 2],
            _ => &[1],
        }
    }

    /// The matcher a name stands for, in the four spellings Traefik
    /// registers (`pkg/rules/parser.go`): as defined (`PathPrefix`),
    /// lower-case (`pathprefix`), upper-case (`PATHPREFIX`) and the
    /// lower-case name with its first letter raised (`Pathprefix`).
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

/// Whether `name` is one of the four spellings Traefik registers for the
/// matcher `canon` (`pkg/rules/parser.go`): as defined (`PathPrefix`),
/// lower-case (`pathprefix`), upper-case (`PATHPREFIX`) and the lower-case
/// name with its first letter raised (`Pathprefix`).
pub(crate) fn spelled_as(name: &str, canon: &str) -> bool {
    name.len() == canon.len()
        && (name == canon
            || name.bytes().all(|b| !b.is_ascii_uppercase())
            || name.bytes().all(|b| !b.is_ascii_lowercase())
            || name.bytes().enumerate().all(|(i, b)| {
                if i == 0 {
                    b.is_ascii_uppercase()
                } else {
                    !b.is_ascii_uppercase()
                }
            }))
        && name.eq_ignore_ascii_case(canon)
}

/// The four spellings of `canon`, for error hints: `Host, host or HOST`.
pub(crate) fn spellings(canon: &str) -> String {
    let lower = canon.to_lowercase();
    let mut title = lower.clone();
    title[..1].make_ascii_uppercase();
    let mut forms: Vec<String> = Vec::new();
    for form in [canon.to_string(), lower, canon.to_uppercase(), title] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    let last = forms.pop().unwrap_or_default();
    if forms.is_empty() {
        last
    } else {
        format!("{} or {last}", forms.join(", "))
    }
}

/// Traefik's `rules.CheckRule`, run before a matcher's own checks: at least
/// one argument, none empty.
pub(crate) fn check_args(name: &str, args: &[Arg], name_pos: usize) -> Result<(), Fault> {
    if args.is_empty() {
        return Err(Fault::new(name_pos, format!("no args for matcher {name}")));
    }
    if let Some(empty) = args.iter().find(|a| a.value.is_empty()) {
        return Err(Fault::new(
            empty.pos,
            format!("empty args for matcher {name}"),
        ));
    }
    Ok(())
}

/// A string argument as written, with where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub value: Vec<u8>,
    pub pos: usize,
}

/// What a compiled matcher tests.
#[derive(Debug, Clone)]
enum Test {
    /// `Host(`*`)`: every request.
    Any,
    /// Can never match (`Header(`Host`, ..)`, an invalid header name, ...).
    Never,
    /// Lower-cased, one trailing dot removed; may start with `*`.
    Host(String),
    HostRegexp(Regex),
    Path(String),
    PathPrefix(String),
    PathRegexp(Regex),
    Method(Vec<u8>),
    Header(HeaderName, Vec<u8>),
    HeaderRegexp(HeaderName, Regex),
    Query(Vec<u8>, Vec<u8>),
    QueryRegexp(Vec<u8>, Regex),
    ClientIp(IpMatcher),
}

/// One compiled matcher, with the arguments it was written with.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    kind: Kind,
    args: Vec<Vec<u8>>,
    test: Test,
}

impl PartialEq for Matcher {
    /// Same matcher, same arguments (the compiled form follows from them).
    fn eq(&self, other: &Matcher) -> bool {
        self.kind == other.kind && self.args == other.args
    }
}

impl Matcher {
    /// Checks and compiles `kind(args)`; `name_pos` is where the name
    /// starts and `close_pos` where its `)` is, for error positions.
    ///
    /// The checks run in Traefik's order: no arguments, then an empty
    /// argument (`pkg/rules/parser.go` `CheckRule`), then the argument
    /// count, then the matcher's own checks.
    pub(crate) fn compile(
        kind: Kind,
        args: Vec<Arg>,
        name_pos: usize,
        close_pos: usize,
    ) -> Result<Matcher, Fault> {
        let name = kind.name();
        check_args(name, &args, name_pos)?;
        let want = kind.arity();
        if !want.contains(&args.len()) {
            let pos = args.get(want[want.len() - 1]).map_or(close_pos, |a| a.pos);
            let want: Vec<String> = want.iter().map(usize::to_string).collect();
            return Err(Fault::new(
                pos,
                format!(
                    "unexpected number of parameters for {name}; got {}, expected {}",
                    args.len(),
                    want.join(" or ")
                ),
            ));
        }
        let test = build(kind, &args)?;
        let mut args: Vec<Vec<u8>> = args.into_iter().map(|a| a.value).collect();
        // Collected in place into the parser's larger buffer: thousands
        // of rules keep it, so it is trimmed.
        args.shrink_to_fit();
        Ok(Matcher { kind, args, test })
    }

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    pub(crate) fn args(&self) -> &[Vec<u8>] {
        &self.args
    }

    /// The one host a non-wildcard `Host` matcher accepts.
    pub(crate) fn exact_host(&self) -> Option<&str> {
        match &self.test {
            Test::Host(h) if !h.starts_with('*') => Some(h),
            _ => None,
        }
    }

    pub(crate) fn matches(&self, req: &RequestInfo<'_>) -> bool {
        match &self.test {
            Test::Any => true,
            Test::Never => false,
            Test::Host(h) => host_matches(req.host, h),
            Test::HostRegexp(re) => re.is_match(req.host),
            Test::Path(p) => req.path == p,
            Test::PathPrefix(p) => req.path.starts_with(p.as_str()),
            Test::PathRegexp(re) => re.is_match(req.path),
            Test::Method(m) => req.method.as_str().as_bytes() == m.as_slice(),
            Test::Header(k, v) => req.headers.get_all(k).iter().any(|x| x.as_bytes() == v),
            Test::HeaderRegexp(k, re) => req
                .headers
                .get_all(k)
                .iter()
                .any(|x| re.is_match(&String::from_utf8_lossy(x.as_bytes()))),
            Test::Query(k, v) => query_values(req.query, k).any(|x| *x == **v),
            Test::QueryRegexp(k, re) => {
                query_values(req.query, k).any(|x| re.is_match(&String::from_utf8_lossy(&x)))
            }
            Test::ClientIp(ip) => ip.contains(req.client_ip),
        }
    }
}

fn build(kind: Kind, args: &[Arg]) -> Result<Test, Fault> {
    let first = &args[0];
    let a = first.value.as_slice();
    let at = first.pos;
    let regex = |arg: &Arg| {
        goregex::compile(&arg.value)
            .map_err(|e| Fault::new(arg.pos, format!("compiling {} matcher: {e}", kind.name())))
    };
    Ok(match kind {
        Kind::Host => {
            if a == b"*" {
                return Ok(Test::Any);
            }
            let host = ascii(kind, a, at)?.to_ascii_lowercase();
            let host = host.strip_suffix('.').map(str::to_string).unwrap_or(host);
            Test::Host(host)
        }
        Kind::HostRegexp => {
            ascii(kind, a, at)?;
            Test::HostRegexp(regex(first)?)
        }
        Kind::Path | Kind::PathPrefix => {
            if !a.starts_with(b"/") {
                return Err(Fault::new(
                    at,
                    format!(
                        "path {:?} does not start with a '/'",
                        String::from_utf8_lossy(a)
                    ),
                ));
            }
            let p = path::bytes_as_routing_path(a);
            if kind == Kind::Path {
                Test::Path(p)
            } else {
                Test::PathPrefix(p)
            }
        }
        Kind::PathRegexp => Test::PathRegexp(regex(first)?),
        Kind::Method => Test::Method(go_upper(a)),
        Kind::Header | Kind::HeaderRegexp => {
            let Some(name) = header_name(a) else {
                return Ok(Test::Never);
            };
            if kind == Kind::Header {
                Test::Header(name, args[1].value.clone())
            } else {
                Test::HeaderRegexp(name, regex(&args[1])?)
            }
        }
        Kind::Query | Kind::QueryRegexp => match args.get(1) {
            Some(re) if kind == Kind::QueryRegexp => Test::QueryRegexp(a.to_vec(), regex(re)?),
            Some(v) => Test::Query(a.to_vec(), v.value.clone()),
            None => Test::Query(a.to_vec(), Vec::new()),
        },
        Kind::ClientIp => {
            let text = std::str::from_utf8(a).map_err(|_| bad_ip(at, a))?;
            Test::ClientIp(IpMatcher::parse(text).ok_or_else(|| bad_ip(at, a))?)
        }
    })
}

fn ascii(kind: Kind, a: &[u8], at: usize) -> Result<&str, Fault> {
    match std::str::from_utf8(a) {
        Ok(s) if s.is_ascii() => Ok(s),
        _ => Err(Fault::new(
            at,
            format!(
                "invalid value {:?} for {} matcher, non-ASCII characters are not allowed",
                String::from_utf8_lossy(a),
                kind.name()
            ),
        )),
    }
}

fn bad_ip(at: usize, a: &[u8]) -> Fault {
    Fault::new(
        at,
        format!(
            "initializing IP checker for ClientIP matcher: invalid IP or CIDR address {:?}",
            String::from_utf8_lossy(a)
        ),
    )
}

/// Go's `strings.ToUpper` as far as a method can need it.
pub(crate) fn go_upper(a: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(a) {
        Ok(s) => s.to_uppercase().into_bytes(),
        Err(_) => a.to_ascii_uppercase(),
    }
}

/// The header a `Header`/`HeaderRegexp` key names, or None when no request
/// header can ever match it in Traefik: an invalid name, or a header Go's
/// server moves out of the header map before routing (`Host` into
/// `req.Host`, `Transfer-Encoding` into `req.TransferEncoding`).
pub(crate) fn header_name(a: &[u8]) -> Option<HeaderName> {
    let name = HeaderName::from_bytes(a).ok()?;
    if name == http::header::HOST || name == http::header::TRANSFER_ENCODING {
        return None;
    }
    Some(name)
}

/// Traefik's `Host` test (`pkg/muxer/http/matcher.go`,
/// `muxer.DomainMatchHostExpression`), for a request host already
/// lower-cased with its trailing dot removed and a pattern likewise: equal
/// ignoring ASCII case; a pattern starting with `*` replaces the host's
/// first label (`*.example.com` matches `a.example.com`, not
/// `a.b.example.com` nor `example.com`).
pub(crate) fn host_matches(host: &str, pattern: &str) -> bool {
    if host.is_empty() {
        return false;
    }
    match pattern.strip_prefix('*') {
        Some(rest) => {
            let tail = host.find('.').map_or("", |i| &host[i..]);
            rest.eq_ignore_ascii_case(tail)
        }
        None => host.eq_ignore_ascii_case(pattern),
    }
}
