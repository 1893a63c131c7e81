//! Table-driven tests of the parser, matchers, router table and paths.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::*;

/// A request for a case: `"METHOD host/path?query"`, headers, client IP.
struct Req {
    method: Method,
    host: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    ip: std::net::IpAddr,
}

fn req(line: &str) -> Req {
    let (method, rest) = line.split_once(' ').unwrap_or(("GET", line));
    let (hostpath, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q.to_string())),
        None => (rest, None),
    };
    let (host, path) = match hostpath.find('/') {
        Some(i) => (&hostpath[..i], &hostpath[i..]),
        None => (hostpath, "/"),
    };
    Req {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        host: normalize_host(host),
        path: routing_path(path).unwrap().into_owned(),
        query,
        headers: HeaderMap::new(),
        ip: "10.0.0.1".parse().unwrap(),
    }
}

impl Req {
    fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
        self
    }
    fn ip(mut self, ip: &str) -> Req {
        self.ip = ip.parse().unwrap();
        self
    }
    fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            client_ip: self.ip,
        }
    }
}

#[test]
fn matching_table() {
    // (description, rule, request, expected)
    let cases: Vec<(&str, &str, Req, bool)> = vec![
        // Host
        (
            "host exact",
            "Host(`example.com`)",
            req("example.com/"),
            true,
        ),
        (
            "host other",
            "Host(`example.com`)",
            req("other.com/"),
            false,
        ),
        (
            "host case-insensitive request",
            "Host(`example.com`)",
            req("EXAMPLE.com/"),
            true,
        ),
        (
            "host case-insensitive rule",
            "Host(`Example.COM`)",
            req("example.com/"),
            true,
        ),
        (
            "host port ignored",
            "Host(`example.com`)",
            req("example.com:8080/"),
            true,
        ),
        (
            "host trailing dot on request",
            "Host(`example.com`)",
            req("example.com./"),
            true,
        ),
        (
            "host trailing dot on rule",
            "Host(`example.com.`)",
            req("example.com/"),
            true,
        ),
        (
            "host subdomain is not the domain",
            "Host(`example.com`)",
            req("a.example.com/"),
            false,
        ),
        (
            "host wildcard one label",
            "Host(`*.example.com`)",
            req("a.example.com/"),
            true,
        ),
        (
            "host wildcard not two labels",
            "Host(`*.example.com`)",
            req("a.b.example.com/"),
            false,
        ),
        (
            "host wildcard not the apex",
            "Host(`*.example.com`)",
            req("example.com/"),
            false,
        ),
        (
            "host star matches all",
            "Host(`*`)",
            req("anything.test/"),
            true,
        ),
        ("host ipv4", "Host(`127.0.0.1`)", req("127.0.0.1:80/"), true),
        ("host ipv6", "Host(`::1`)", req("[::1]:80/"), true),
        (
            "host double-quoted",
            "Host(\"example.com\")",
            req("example.com/"),
            true,
        ),
        (
            "host lower-case name",
            "host(`example.com`)",
            req("example.com/"),
            true,
        ),
        (
            "host upper-case name",
            "HOST(`example.com`)",
            req("example.com/"),
            true,
        ),
        // HostRegexp
        (
            "hostregexp match",
            "HostRegexp(`^[a-z]+\\.example\\.com$`)",
            req("api.example.com/"),
            true,
        ),
        (
            "hostregexp no match",
            "HostRegexp(`^[a-z]+\\.example\\.com$`)",
            req("api.other.com/"),
            false,
        ),
        (
            "hostregexp unanchored",
            "HostRegexp(`example`)",
            req("my-example.org/"),
            true,
        ),
        (
            "hostregexp sees lower-cased host",
            "HostRegexp(`^api\\.`)",
            req("API.example.com/"),
            true,
        ),
        (
            "hostregexp ignores port",
            "HostRegexp(`^a\\.test$`)",
            req("a.test:9000/"),
            true,
        ),
        (
            "hostregexp spelled title-case",
            "Hostregexp(`^a`)",
            req("a.test/"),
            true,
        ),
        // Path
        ("path exact", "Path(`/a/b`)", req("x/a/b"), true),
        ("path not prefix", "Path(`/a`)", req("x/a/b"), false),
        (
            "path trailing slash differs",
            "Path(`/a`)",
            req("x/a/"),
            false,
        ),
        ("path ignores query", "Path(`/a`)", req("x/a?b=1"), true),
        (
            "path encoded slash stays encoded",
            "Path(`/a%2Fb`)",
            req("x/a%2Fb"),
            true,
        ),
        (
            "path encoded slash is not a slash",
            "Path(`/a/b`)",
            req("x/a%2Fb"),
            false,
        ),
        (
            "path unreserved escape decoded",
            "Path(`/a b`)",
            req("x/a%20b"),
            true,
        ),
        ("path case-sensitive", "Path(`/A`)", req("x/a"), false),
        // PathPrefix
        ("prefix", "PathPrefix(`/api`)", req("x/api/users"), true),
        (
            "prefix is a plain string prefix",
            "PathPrefix(`/api`)",
            req("x/apiv2"),
            true,
        ),
        ("prefix root", "PathPrefix(`/`)", req("x/anything"), true),
        ("prefix no", "PathPrefix(`/api`)", req("x/ap"), false),
        (
            "prefix lower name",
            "pathprefix(`/api`)",
            req("x/api"),
            true,
        ),
        (
            "prefix title name",
            "Pathprefix(`/api`)",
            req("x/api"),
            true,
        ),
        (
            "prefix upper name",
            "PATHPREFIX(`/api`)",
            req("x/api"),
            true,
        ),
        // PathRegexp
        (
            "pathregexp",
            "PathRegexp(`^/v[0-9]+/`)",
            req("x/v2/items"),
            true,
        ),
        (
            "pathregexp no",
            "PathRegexp(`^/v[0-9]+/`)",
            req("x/vx/items"),
            false,
        ),
        (
            "pathregexp unanchored",
            "PathRegexp(`items`)",
            req("x/v2/items"),
            true,
        ),
        (
            "pathregexp case flag",
            "PathRegexp(`(?i)^/API`)",
            req("x/api"),
            true,
        ),
        // Method
        ("method", "Method(`GET`)", req("GET x/"), true),
        ("method other", "Method(`GET`)", req("POST x/"), false),
        (
            "method rule lower-case",
            "Method(`post`)",
            req("POST x/"),
            true,
        ),
        ("method extension", "Method(`PURGE`)", req("PURGE x/"), true),
        // Header
        (
            "header",
            "Header(`X-Env`, `prod`)",
            req("x/").header("x-env", "prod"),
            true,
        ),
        (
            "header name case-insensitive",
            "Header(`x-env`, `prod`)",
            req("x/").header("X-ENV", "prod"),
            true,
        ),
        (
            "header value case-sensitive",
            "Header(`X-Env`, `prod`)",
            req("x/").header("x-env", "PROD"),
            false,
        ),
        (
            "header missing",
            "Header(`X-Env`, `prod`)",
            req("x/"),
            false,
        ),
        (
            "header any of repeated values",
            "Header(`X-Env`, `b`)",
            req("x/").header("x-env", "a").header("x-env", "b"),
            true,
        ),
        (
            "header comma list is one value",
            "Header(`X-Env`, `b`)",
            req("x/").header("x-env", "a, b"),
            false,
        ),
        (
            "header empty value",
            "Header(`X-Env`, ``)",
            req("x/").header("x-env", ""),
            true,
        ),
        // HeaderRegexp
        (
            "headerregexp",
            "HeaderRegexp(`User-Agent`, `curl/.*`)",
            req("x/").header("user-agent", "curl/8.0"),
            true,
        ),
        (
            "headerregexp no",
            "HeaderRegexp(`User-Agent`, `^curl`)",
            req("x/").header("user-agent", "wget"),
            false,
        ),
        (
            "headerregexp missing",
            "HeaderRegexp(`User-Agent`, `.*`)",
            req("x/"),
            false,
        ),
        // Query
        (
            "query key and value",
            "Query(`a`, `1`)",
            req("x/?a=1"),
            true,
        ),
        ("query other value", "Query(`a`, `1`)", req("x/?a=2"), false),
        (
            "query repeated key",
            "Query(`a`, `2`)",
            req("x/?a=1&a=2"),
            true,
        ),
        (
            "query key only means empty value",
            "Query(`a`)",
            req("x/?a"),
            true,
        ),
        (
            "query key only with a value",
            "Query(`a`)",
            req("x/?a=1"),
            false,
        ),
        (
            "query key only with empty value",
            "Query(`a`)",
            req("x/?a="),
            true,
        ),
        (
            "query decoded value",
            "Query(`q`, `a b`)",
            req("x/?q=a+b"),
            true,
        ),
        (
            "query percent value",
            "Query(`q`, `a/b`)",
            req("x/?q=a%2Fb"),
            true,
        ),
        (
            "query encoded key",
            "Query(`k y`, `1`)",
            req("x/?k%20y=1"),
            true,
        ),
        (
            "query semicolon pair skipped",
            "Query(`a`, `1`)",
            req("x/?a=1;b=2"),
            false,
        ),
        ("query no query", "Query(`a`)", req("x/"), false),
        (
            "query bad escape skipped",
            "Query(`a`, `1`)",
            req("x/?a=%zz&a=1"),
            true,
        ),
        // QueryRegexp
        (
            "queryregexp",
            "QueryRegexp(`id`, `^[0-9]+$`)",
            req("x/?id=42"),
            true,
        ),
        (
            "queryregexp no",
            "QueryRegexp(`id`, `^[0-9]+$`)",
            req("x/?id=x"),
            false,
        ),
        (
            "queryregexp one arg is Query",
            "QueryRegexp(`id`)",
            req("x/?id"),
            true,
        ),
        // ClientIP
        ("clientip exact v4", "ClientIP(`10.0.0.1`)", req("x/"), true),
        (
            "clientip other v4",
            "ClientIP(`10.0.0.2`)",
            req("x/"),
            false,
        ),
        (
            "clientip cidr v4",
            "ClientIP(`10.0.0.0/8`)",
            req("x/"),
            true,
        ),
        (
            "clientip cidr v4 outside",
            "ClientIP(`192.168.0.0/16`)",
            req("x/"),
            false,
        ),
        ("clientip v6", "ClientIP(`::1`)", req("x/").ip("::1"), true),
        (
            "clientip cidr v6",
            "ClientIP(`fd00::/8`)",
            req("x/").ip("fd12::1"),
            true,
        ),
        (
            "clientip v6 rule v4 client",
            "ClientIP(`fd00::/8`)",
            req("x/"),
            false,
        ),
        (
            "clientip looks at the peer not the header",
            "ClientIP(`1.2.3.4`)",
            req("x/").header("x-forwarded-for", "1.2.3.4"),
            false,
        ),
        // Operators
        ("and both", "Host(`a`) && Path(`/x`)", req("a/x"), true),
        ("and one", "Host(`a`) && Path(`/x`)", req("a/y"), false),
        ("or first", "Host(`a`) || Host(`b`)", req("a/"), true),
        ("or second", "Host(`a`) || Host(`b`)", req("b/"), true),
        ("or neither", "Host(`a`) || Host(`b`)", req("c/"), false),
        ("not", "!Host(`a`)", req("b/"), true),
        ("not negates", "!Host(`a`)", req("a/"), false),
        ("double not", "!!Host(`a`)", req("a/"), true),
        (
            "and binds tighter than or",
            "Host(`a`) || Host(`b`) && Path(`/x`)",
            req("a/y"),
            true,
        ),
        (
            "and binds tighter than or (2)",
            "Host(`a`) || Host(`b`) && Path(`/x`)",
            req("b/y"),
            false,
        ),
        (
            "parentheses change grouping",
            "(Host(`a`) || Host(`b`)) && Path(`/x`)",
            req("a/y"),
            false,
        ),
        (
            "parentheses change grouping (2)",
            "(Host(`a`) || Host(`b`)) && Path(`/x`)",
            req("b/x"),
            true,
        ),
        (
            "not binds tighter than and",
            "!Host(`a`) && Path(`/x`)",
            req("b/x"),
            true,
        ),
        ("not of group", "!(Host(`a`) || Host(`b`))", req("c/"), true),
        (
            "not of group (2)",
            "!(Host(`a`) || Host(`b`))",
            req("b/"),
            false,
        ),
        (
            "whitespace everywhere",
            "  Host ( `a` )&&Path(`/x`)  ",
            req("a/x"),
            true,
        ),
        ("newlines", "Host(`a`)\n  && Path(`/x`)", req("a/x"), true),
        ("nested groups", "((Host(`a`)))", req("a/"), true),
        (
            "three-way and",
            "Method(`GET`) && Host(`a`) && PathPrefix(`/p`)",
            req("GET a/p/q"),
            true,
        ),
        (
            "or of ands",
            "(Host(`a`) && Path(`/1`)) || (Host(`b`) && Path(`/2`))",
            req("b/2"),
            true,
        ),
        // Quoting
        (
            "go escapes in double quotes",
            "Header(`X`, \"a\\tb\")",
            req("x/").header("x", "a\tb"),
            true,
        ),
        (
            "escaped quote",
            "Header(`X`, \"a\\\"b\")",
            req("x/").header("x", "a\"b"),
            true,
        ),
        ("hex escape", "Path(\"/\\x41\")", req("x/A"), true),
        (
            "unicode escape",
            "Header(`X`, \"\\u00e9\")",
            req("x/").header("x", "é"),
            true,
        ),
        (
            "backslash is literal in backticks",
            "PathRegexp(`^/a\\.b$`)",
            req("x/a.b"),
            true,
        ),
        (
            "backslash regex does not match other char",
            "PathRegexp(`^/a\\.b$`)",
            req("x/aXb"),
            false,
        ),
    ];
    assert!(cases.len() > 100, "{} cases", cases.len());
    for (what, rule, r, want) in &cases {
        let compiled = parse(rule).unwrap_or_else(|e| panic!("{what}: {rule} should parse: {e}"));
        assert_eq!(compiled.matches(&r.info()), *want, "{what}: {rule}");
    }
}

#[test]
fn error_table() {
    // (description, rule, expected position, text the message contains)
    let cases: &[(&str, &str, usize, &str)] = &[
        ("empty", "", 0, "empty rule"),
        ("blank", "   ", 0, "empty rule"),
        (
            "unknown matcher",
            "Hots(`a`)",
            0,
            "unsupported function: Hots",
        ),
        ("wrong spelling", "hOST(`a`)", 0, "unsupported function"),
        ("v2 multi-host", "Host(`a`, `b`)", 0, "number of parameters"),
        ("header one arg", "Header(`a`)", 0, "number of parameters"),
        (
            "query three args",
            "Query(`a`, `b`, `c`)",
            0,
            "number of parameters",
        ),
        ("no args", "Host()", 0, "number of parameters"),
        ("dangling and", "Host(`a`) &&", 12, "unexpected end"),
        ("dangling or", "Host(`a`) ||   ", 15, "unexpected end"),
        ("dangling not", "!", 1, "unexpected end"),
        ("unclosed paren", "(Host(`a`)", 0, "unclosed parenthesis"),
        ("extra paren", "Host(`a`))", 9, "unexpected"),
        ("trailing garbage", "Host(`a`) foo", 10, "unexpected"),
        (
            "single ampersand",
            "Host(`a`) & Path(`/`)",
            10,
            "unexpected",
        ),
        ("unterminated backtick", "Host(`a)", 5, "unterminated"),
        ("unterminated quote", "Host(\"a)", 5, "unterminated"),
        ("unquoted value", "Host(a)", 5, "expected a quoted value"),
        ("missing comma", "Header(`a` `b`)", 11, "expected ','"),
        ("no parenthesis", "Host `a`", 5, "expected '('"),
        ("bad regexp", "PathRegexp(`[`)", 0, "invalid regexp"),
        ("bad host regexp", "HostRegexp(`(`)", 0, "invalid regexp"),
        (
            "bad header regexp",
            "HeaderRegexp(`X`, `*`)",
            0,
            "invalid regexp",
        ),
        (
            "bad query regexp",
            "QueryRegexp(`k`, `(`)",
            0,
            "invalid regexp",
        ),
        (
            "path without slash",
            "Path(`a`)",
            0,
            "does not start with a '/'",
        ),
        (
            "prefix without slash",
            "PathPrefix(`api`)",
            0,
            "does not start with a '/'",
        ),
        (
            "bad cidr",
            "ClientIP(`10.0.0.0/33`)",
            0,
            "invalid IP or CIDR",
        ),
        (
            "not an ip",
            "ClientIP(`example.com`)",
            0,
            "invalid IP or CIDR",
        ),
        ("non-ascii host", "Host(`exämple.com`)", 0, "non-ASCII"),
        ("empty host", "Host(``)", 0, "empty value"),
        ("bad escape", "Host(\"a\\qb\")", 7, "unknown escape"),
        (
            "error in second operand",
            "Host(`a`) && Nope(`b`)",
            13,
            "unsupported function: Nope",
        ),
        (
            "bad header name",
            "Header(`a b`, `c`)",
            0,
            "invalid header name",
        ),
        ("operator first", "&& Host(`a`)", 0, "expected a matcher"),
    ];
    for (what, rule, pos, needle) in cases {
        let err = match parse(rule) {
            Ok(_) => panic!("{what}: {rule:?} should not parse"),
            Err(e) => e,
        };
        assert_eq!(err.position, *pos, "{what}: {rule:?}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{what}: {err} should contain {needle:?}"
        );
        assert!(err.to_string().contains("position"), "{what}: {err}");
    }
}

#[test]
fn exact_hosts_table() {
    let cases: &[(&str, &str, Option<&[&str]>)] = &[
        ("single host", "Host(`A.com`)", Some(&["a.com"])),
        (
            "host and path",
            "Host(`a.com`) && PathPrefix(`/x`)",
            Some(&["a.com"]),
        ),
        (
            "path and host",
            "PathPrefix(`/x`) && Host(`a.com`)",
            Some(&["a.com"]),
        ),
        (
            "two hosts or",
            "Host(`b.com`) || Host(`a.com`)",
            Some(&["a.com", "b.com"]),
        ),
        ("or with non-host", "Host(`a.com`) || Path(`/x`)", None),
        ("negated host", "!Host(`a.com`)", None),
        ("wildcard", "Host(`*.a.com`)", None),
        ("regexp", "HostRegexp(`a`)", None),
        ("no host", "PathPrefix(`/`)", None),
        ("trailing dot", "Host(`a.com.`)", Some(&["a.com"])),
        ("contradiction", "Host(`a.com`) && Host(`b.com`)", Some(&[])),
        (
            "grouped",
            "(Host(`a.com`) || Host(`b.com`)) && Method(`GET`)",
            Some(&["a.com", "b.com"]),
        ),
    ];
    for (what, rule, want) in cases {
        let got = parse(rule).unwrap().exact_hosts();
        let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
        assert_eq!(got, want, "{what}: {rule}");
    }
    let r = parse("Host(`a.com`) || (!Host(`b.com`) && Host(`*.c.com`))").unwrap();
    assert_eq!(r.host_values(), vec!["a.com", "b.com", "*.c.com"]);
}

fn table(rules: &[(&str, &str, i64)]) -> RouterTable<String> {
    RouterTable::new(
        rules
            .iter()
            .map(|(name, rule, prio)| Entry {
                name: name.to_string(),
                rule: Arc::new(parse(rule).unwrap()),
                priority: if *prio == 0 {
                    default_priority(rule)
                } else {
                    *prio
                },
                value: name.to_string(),
            })
            .collect(),
    )
}

#[test]
fn router_table_priorities_and_index() {
    let t = table(&[
        ("catch-all", "PathPrefix(`/`)", 1),
        ("host", "Host(`a.com`)", 0),
        ("host-api", "Host(`a.com`) && PathPrefix(`/api`)", 0),
        ("api-anywhere", "PathPrefix(`/api`)", 0),
        ("b-or-c", "Host(`b.com`) || Host(`c.com`)", 0),
        ("not-d", "!Host(`d.com`) && Path(`/not`)", 0),
        ("tie-b", "Host(`t.com`) && Path(`/t`)", 50),
        ("tie-a", "Host(`t.com`) && Path(`/t`)", 50),
        ("urgent", "Path(`/urgent`)", 1000),
    ]);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "longer rule wins by default",
            "a.com/api/x",
            Some("host-api"),
        ),
        ("host router", "a.com/other", Some("host")),
        (
            "non-host rule is found for any host",
            "z.com/api",
            Some("api-anywhere"),
        ),
        (
            "explicit low priority catch-all",
            "z.com/zzz",
            Some("catch-all"),
        ),
        ("or indexed under both", "c.com/", Some("b-or-c")),
        ("or indexed under both (b)", "b.com/", Some("b-or-c")),
        ("negation is not indexed", "e.com/not", Some("not-d")),
        ("negation excludes", "d.com/not", Some("catch-all")),
        ("ties broken by name", "t.com/t", Some("tie-a")),
        (
            "explicit high priority beats host routers",
            "a.com/urgent",
            Some("urgent"),
        ),
    ];
    for (what, line, want) in cases {
        let r = req(line);
        assert_eq!(t.find(&r.info()).map(String::as_str), *want, "{what}");
    }
    let empty = table(&[]);
    assert!(empty.is_empty());
    assert_eq!(empty.find(&req("a/").info()), None);
}

#[test]
fn router_table_scales_by_host() {
    let rules: Vec<(String, String)> = (0..10_000)
        .map(|i| {
            (
                format!("r{i}"),
                format!("Host(`h{i}.test`) && PathPrefix(`/`)"),
            )
        })
        .collect();
    let t = RouterTable::new(
        rules
            .iter()
            .map(|(n, r)| Entry {
                name: n.clone(),
                rule: Arc::new(parse(r).unwrap()),
                priority: 1,
                value: n.clone(),
            })
            .collect(),
    );
    assert_eq!(t.len(), 10_000);
    assert_eq!(
        t.find(&req("h9999.test/x").info()).map(String::as_str),
        Some("r9999")
    );
    assert_eq!(
        t.find(&req("h0.test/").info()).map(String::as_str),
        Some("r0")
    );
    assert_eq!(t.find(&req("nope.test/").info()), None);
    // Every entry is indexed: no rule would be tried for an unknown host.
    assert!(t.any_host_is_empty());
}

#[test]
fn default_priority_is_rule_length() {
    assert_eq!(default_priority("Host(`a`)"), 9);
    assert_eq!(default_priority(""), 0);
}

#[test]
fn normalize_host_table() {
    let cases = [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com:8080", "example.com"),
        ("example.com.", "example.com"),
        ("example.com.:80", "example.com"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("127.0.0.1:9", "127.0.0.1"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(normalize_host(input), want, "normalize_host({input:?})");
    }
}

#[test]
fn path_tables() {
    let sanitize = [
        ("/a/b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/./b", "/a/b"),
        ("//a//b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("/a/b/..", "/a"),
        ("/../a", "/a"),
        ("/..", "/"),
        ("/a%2F..%2Fb", "/a%2F..%2Fb"),
        ("/", "/"),
        ("*", "*"),
    ];
    for (input, want) in sanitize {
        assert_eq!(sanitize_path(input), want, "sanitize_path({input:?})");
    }
    let normalize = [
        ("/plain", Ok("/plain")),
        ("/%41%62", Ok("/Ab")),
        ("/%2e%2e/x", Ok("/../x")),
        ("/a%2fb", Ok("/a%2Fb")),
        ("/a%20b", Ok("/a%20b")),
        ("/%7e", Ok("/~")),
        ("/bad%", Err(RoutingPathError)),
        ("/bad%zz", Err(RoutingPathError)),
    ];
    for (input, want) in normalize {
        assert_eq!(
            normalize_path(input).map(|c| c.into_owned()),
            want.map(String::from),
            "normalize_path({input:?})"
        );
    }
    let routing = [
        ("/a%2Fb", Ok("/a%2Fb")),
        ("/a%20b", Ok("/a b")),
        ("/%3A%40", Ok("/%3A%40")),
        ("/caf%C3%A9", Ok("/café")),
        ("/a%2", Err(RoutingPathError)),
    ];
    for (input, want) in routing {
        assert_eq!(
            routing_path(input).map(|c| c.into_owned()),
            want.map(String::from),
            "routing_path({input:?})"
        );
    }
}

mod properties {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,64}") {
            let _ = crate::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_rule_like_input(s in "[HostPathQuery!()&|` \"\\\\,a-z/.*]{0,48}") {
            let _ = crate::parse(&s);
        }

        #[test]
        fn errors_point_inside_the_rule(s in "[Host()`&|! a-z]{0,40}") {
            if let Err(e) = crate::parse(&s) {
                prop_assert!(e.position <= s.len());
            }
        }

        #[test]
        fn paths_never_panic(s in "[/%.a-f0-9]{0,40}") {
            let _ = crate::normalize_path(&s);
            let _ = crate::routing_path(&s);
            let clean = crate::sanitize_path(&s).into_owned();
            prop_assert_eq!(crate::sanitize_path(&clean).into_owned(), clean.clone(), "sanitize is idempotent");
        }
    }
}
