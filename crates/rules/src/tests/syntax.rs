//! Spellings, canonical text, and what a rule says about hosts.

use crate::matcher::Kind;
use crate::parse;

#[test]
fn spellings_table() {
    // (spelling, accepted): Traefik registers exactly four per matcher.
    let cases = [
        ("Host", true),
        ("host", true),
        ("HOST", true),
        ("hOST", false),
        ("HoSt", false),
        ("HostRegexp", true),
        ("hostregexp", true),
        ("HOSTREGEXP", true),
        ("Hostregexp", true),
        ("HostRegExp", false),
        ("hostRegexp", false),
        ("PathPrefix", true),
        ("pathprefix", true),
        ("PATHPREFIX", true),
        ("Pathprefix", true),
        ("pathPrefix", false),
        ("ClientIP", true),
        ("clientip", true),
        ("CLIENTIP", true),
        ("Clientip", true),
        ("ClientIp", false),
        ("clientIP", false),
        ("HeaderRegexp", true),
        ("Headerregexp", true),
        ("QueryRegexp", true),
        ("QUERYREGEXP", true),
        ("Method", true),
        ("METHOD", true),
        ("Query", true),
        ("query", true),
        ("Header", true),
        ("Path", true),
        ("PathRegexp", true),
        ("Pathregexp", true),
        ("Hosts", false),
        ("HostSNI", false),
        ("", false),
    ];
    for (spelling, ok) in cases {
        assert_eq!(Kind::from_spelling(spelling).is_some(), ok, "{spelling:?}");
    }
    for kind in Kind::ALL {
        assert_eq!(Kind::from_spelling(kind.name()), Some(kind));
    }
}

#[test]
fn display_table() {
    // (description, rule, canonical text)
    let cases = [
        ("simple", "Host(`a`)", "Host(`a`)"),
        (
            "spelling made canonical",
            "host(`a`) && PATHPREFIX(`/b`)",
            "Host(`a`) && PathPrefix(`/b`)",
        ),
        ("double quotes to backticks", "Host(\"a\")", "Host(`a`)"),
        (
            "escapes kept when needed",
            "Header(`X`, \"a`b\")",
            "Header(`X`, \"a`b\")",
        ),
        (
            "control characters",
            "Header(`X`, \"a\\tb\\x01\")",
            "Header(`X`, `a\tb\u{1}`)",
        ),
        (
            "carriage return",
            "Header(`X`, \"a\\rb\")",
            "Header(`X`, \"a\\rb\")",
        ),
        (
            "non-UTF-8 byte",
            "Query(`a`, \"\\xff\")",
            "Query(`a`, \"\\xff\")",
        ),
        (
            "whitespace normalised",
            "  Host(`a`)&&Path(`/`)  ",
            "Host(`a`) && Path(`/`)",
        ),
        (
            "redundant parentheses dropped",
            "((Host(`a`)))",
            "Host(`a`)",
        ),
        (
            "needed parentheses kept",
            "(Host(`a`) || Host(`b`)) && Path(`/`)",
            "(Host(`a`) || Host(`b`)) && Path(`/`)",
        ),
        (
            "&& chain flattened",
            "Host(`a`) && (Path(`/`) && Method(`GET`))",
            "Host(`a`) && Path(`/`) && Method(`GET`)",
        ),
        (
            "|| inside &&",
            "Host(`a`) && (Path(`/`) || Method(`GET`))",
            "Host(`a`) && (Path(`/`) || Method(`GET`))",
        ),
        (
            "&& inside || needs none",
            "Host(`a`) || (Path(`/`) && Method(`GET`))",
            "Host(`a`) || Path(`/`) && Method(`GET`)",
        ),
        (
            "not of a group",
            "!(Host(`a`) && Path(`/`))",
            "!(Host(`a`) && Path(`/`))",
        ),
        ("double not", "!!Host(`a`)", "!!Host(`a`)"),
        (
            "comments dropped",
            "Host(`a`) /* x */ && // y\nPath(`/`)",
            "Host(`a`) && Path(`/`)",
        ),
        (
            "trailing comma and ellipsis",
            "Header(`a`, `b`...,)",
            "Header(`a`, `b`)",
        ),
        ("one-argument query", "QueryRegexp(`q`)", "QueryRegexp(`q`)"),
    ];
    for (what, rule, want) in cases {
        let parsed = parse(rule).unwrap_or_else(|e| panic!("{what}: {e}"));
        let text = parsed.to_string();
        assert_eq!(text, want, "{what}");
        let again = parse(&text).unwrap_or_else(|e| panic!("{what}: canonical text {text:?}: {e}"));
        assert_eq!(again, parsed, "{what}: round trip");
        assert_eq!(again.to_string(), text, "{what}: canonical text is stable");
        assert_eq!(parsed.source(), rule, "{what}: source kept");
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
            "two hosts",
            "Host(`b.com`) || Host(`a.com`)",
            Some(&["a.com", "b.com"]),
        ),
        (
            "same host twice",
            "Host(`a.com`) || Host(`A.com.`)",
            Some(&["a.com"]),
        ),
        (
            "or with a non-host branch",
            "Host(`a.com`) || Path(`/x`)",
            None,
        ),
        ("negated host", "!Host(`a.com`)", None),
        (
            "negated host and a host",
            "Host(`b.com`) && !Host(`a.com`)",
            Some(&["b.com"]),
        ),
        ("double negation", "!!Host(`a.com`)", Some(&["a.com"])),
        (
            "negated or of negations",
            "!(!Host(`a.com`) || !Path(`/`))",
            Some(&["a.com"]),
        ),
        (
            "negated and of negations",
            "!(!Host(`a.com`) && !Host(`b.com`))",
            Some(&["a.com", "b.com"]),
        ),
        ("wildcard", "Host(`*.a.com`)", None),
        ("star", "Host(`*`)", None),
        ("regexp", "HostRegexp(`^a\\.com$`)", None),
        ("no host", "PathPrefix(`/`)", None),
        ("trailing dot", "Host(`a.com.`)", Some(&["a.com"])),
        ("contradiction", "Host(`a.com`) && Host(`b.com`)", Some(&[])),
        (
            "grouped",
            "(Host(`a.com`) || Host(`b.com`)) && Method(`GET`)",
            Some(&["a.com", "b.com"]),
        ),
        (
            "narrowed",
            "(Host(`a.com`) || Host(`b.com`)) && Host(`b.com`)",
            Some(&["b.com"]),
        ),
        ("header named host", "Header(`Host`, `a.com`)", None),
        ("ipv6", "Host(`::1`)", Some(&["::1"])),
    ];
    for (what, rule, want) in cases {
        let got = parse(rule).unwrap().exact_hosts();
        let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
        assert_eq!(got, want, "{what}: {rule}");
    }
}

#[test]
fn host_values_lists_every_host_literal() {
    let r = parse(
        "Host(`A.com`) || (!Host(`b.com`) && host(`*.c.com`)) || HostRegexp(`d`) || Host(`*`)",
    )
    .unwrap();
    assert_eq!(r.host_values(), vec!["a.com", "b.com", "*.c.com", "*"]);
    assert!(parse("Path(`/`)").unwrap().host_values().is_empty());
}

#[test]
fn rules_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<crate::Rule>();
    check::<crate::RouterTable<String>>();
}
