//! The v2 syntax: which requests its matchers match, its errors, and how
//! it meets the v3 syntax, the host index and the builder's choices.

use std::sync::Arc;

use proptest::prelude::*;

use super::{req, Req};
use crate::{default_priority, host_values, parse, parse_with, Entry, RouterTable, Syntax};

fn v2(rule: &str) -> Result<crate::Rule, crate::RuleError> {
    parse_with(rule, Syntax::V2)
}

#[test]
#[rustfmt::skip]
fn v2_matching_table() {
    // (description, rule, request, expected)
    let cases: Vec<(&str, &str, Req, bool)> = vec![
        // Host and HostHeader
        ("host one of two (traefik)", "Host(`a.test`, `b.test`)", req("b.test/"), true),
        ("host first of two (traefik)", "Host(`a.test`, `b.test`)", req("a.test/"), true),
        ("host none of two (traefik)", "Host(`a.test`, `b.test`)", req("c.test/"), false),
        ("host ignores case", "Host(`A.Test`)", req("a.TEST/"), true),
        ("host port ignored", "Host(`a.test`)", req("a.test:8080/"), true),
        ("host request trailing dot", "Host(`a.test`)", req("a.test./"), true),
        ("host rule trailing dot", "Host(`a.test.`)", req("a.test/"), true),
        ("host no wildcard (traefik)", "Host(`*.w.test`)", req("a.w.test/"), false),
        ("host star is literal (traefik)", "Host(`*.w.test`)", req("*.w.test/"), true),
        ("host star alone is literal", "Host(`*`)", req("a.test/"), false),
        ("host never without host", "Host(`a`)", req("/"), false),
        ("host dot never without host", "Host(`.`)", req("/"), false),
        ("host subdomain differs", "Host(`a.test`)", req("x.a.test/"), false),
        ("hostheader (traefik)", "HostHeader(`hh.test`)", req("hh.test/"), true),
        ("hostheader case and dot (traefik)", "HostHeader(`hh.test`)", req("HH.test./"), true),
        ("hostheader port (traefik)", "HostHeader(`hh.test`)", req("hh.test:99/"), true),
        ("hostheader several", "HostHeader(`x`, `hh.test`)", req("hh.test/"), true),
        ("host lower-case name", "host(`a.test`)", req("a.test/"), true),
        ("hostheader title-case name", "Hostheader(`a.test`)", req("a.test/"), true),
        // HostRegexp templates
        ("hostregexp variable (traefik)", "HostRegexp(`{sub:[a-z]+}.x.test`)", req("foo.x.test/"), true),
        ("hostregexp ignores case (traefik)", "HostRegexp(`{sub:[a-z]+}.x.test`)", req("FOO.X.test/"), true),
        ("hostregexp anchored (traefik)", "HostRegexp(`{sub:[a-z]+}.x.test`)", req("foo.bar.x.test/"), false),
        ("hostregexp default one label (traefik)", "HostRegexp(`{a}.{b}.r2.test`)", req("x.y.r2.test/"), true),
        ("hostregexp default not two labels (traefik)", "HostRegexp(`{a}.{b}.r2.test`)", req("x.r2.test/"), false),
        ("hostregexp literal (traefik)", "HostRegexp(`r.test`, `{a}.{b}.r2.test`)", req("r.test/"), true),
        ("hostregexp literal with port (traefik)", "HostRegexp(`r.test`)", req("r.test:80/"), true),
        ("hostregexp literal upper (traefik)", "HostRegexp(`X.TEST`)", req("x.test/"), true),
        ("hostregexp dot is literal", "HostRegexp(`a.test`)", req("aXtest/"), false),
        ("hostregexp anything (traefik)", "HostRegexp(`{h:.*}`)", req("anything.example/"), true),
        ("hostregexp nested braces", "HostRegexp(`{h:[a-z]{3}}.test`)", req("abc.test/"), true),
        ("hostregexp nested braces count", "HostRegexp(`{h:[a-z]{3}}.test`)", req("abcd.test/"), false),
        ("hostregexp alternation in variable", "HostRegexp(`{h:a|b}.test`)", req("b.test/"), true),
        ("hostregexp alternation stays inside", "HostRegexp(`{h:a|b}.test`)", req("b.other/"), false),
        // Path templates: whole path
        ("path literal (traefik)", "Path(`/p`)", req("x/p"), true),
        ("path trailing slash (traefik)", "Path(`/p`)", req("x/p/"), false),
        ("path longer (traefik)", "Path(`/p`)", req("x/px"), false),
        ("path second value (traefik)", "Path(`/p`, `/q/{id:[0-9]+}`)", req("x/q/12"), true),
        ("path variable anchored (traefik)", "Path(`/p`, `/q/{id:[0-9]+}`)", req("x/q/12x"), false),
        ("path default variable one segment", "Path(`/u/{name}`)", req("x/u/bob"), true),
        ("path default variable not two", "Path(`/u/{name}`)", req("x/u/bob/x"), false),
        ("path same name twice (traefik)", "Path(`/{a}/{a}`)", req("x/api/abc"), true),
        ("path nested braces (traefik)", "Path(`/n/{a:[0-9]{2}}`)", req("x/n/12"), true),
        ("path nested braces count (traefik)", "Path(`/n/{a:[0-9]{2}}`)", req("x/n/123"), false),
        ("path dot literal", "Path(`/a.b`)", req("x/aXb"), false),
        ("path regexp chars literal", "Path(`/a+b(c)`)", req("x/a+b(c)"), true),
        ("path case-sensitive", "Path(`/A`)", req("x/a"), false),
        ("path space decoded (traefik)", "Path(`/a b`, `/a%2Fb`)", req("x/a%20b"), true),
        ("path encoded slash kept (traefik)", "Path(`/a b`, `/a%2Fb`)", req("x/a%2Fb"), true),
        ("path encoded slash no slash (traefik)", "Path(`/a b`, `/a%2Fb`)", req("x/a/b"), false),
        ("path dot segments cleaned", "Path(`/a`)", req("x/b/../a"), true),
        ("path variable sees decoded text", "Path(`/{w:[a-z ]+}`)", req("x/a%20b"), true),
        ("path variable unanchored group", "Path(`/{v:a|ab}`)", req("x/ab"), true),
        // PathPrefix templates: anchored at the start only
        ("prefix literal (traefik)", "PathPrefix(`/pre`)", req("x/prefix"), true),
        ("prefix not a segment rule", "PathPrefix(`/api`)", req("x/apiv2"), true),
        ("prefix other", "PathPrefix(`/api`)", req("x/ap"), false),
        ("prefix second value (traefik)", "PathPrefix(`/pre`, `/u/{name}/`)", req("x/u/bob/x"), true),
        ("prefix template needs the slash (traefik)", "PathPrefix(`/pre`, `/u/{name}/`)", req("x/u/bob"), false),
        ("prefix empty segment (traefik)", "PathPrefix(`/pre`, `/u/{name}/`)", req("x/u//x"), false),
        ("prefix variable then text (traefik)", "PathPrefix(`/api/{id:[0-9]+}`)", req("x/api/12abc"), true),
        ("prefix variable must match (traefik)", "PathPrefix(`/api/{id:[0-9]+}`)", req("x/api/abc"), false),
        ("prefix template middle (traefik)", "PathPrefix(`/e/{x}/y`)", req("x/e/1/yz"), true),
        ("prefix template one segment (traefik)", "PathPrefix(`/e/{x}/y`)", req("x/e/1/2/y"), false),
        ("prefix root", "PathPrefix(`/`)", req("x/anything"), true),
        ("prefix lower-case name (traefik)", "pathprefix(`/lower`)", req("x/lower/x"), true),
        // Method
        ("method lower-case value (traefik)", "Method(`get`, `Post`)", req("GET x/"), true),
        ("method second (traefik)", "Method(`get`, `Post`)", req("POST x/"), true),
        ("method none (traefik)", "Method(`get`, `Post`)", req("PUT x/"), false),
        ("method extension (traefik)", "Method(`PURGE`)", req("PURGE x/"), true),
        // Headers
        ("headers (traefik)", "Headers(`x-env`, `prod`)", req("x/").header("X-Env", "prod"), true),
        ("headers value case (traefik)", "Headers(`x-env`, `prod`)", req("x/").header("X-Env", "Prod"), false),
        ("headers absent", "Headers(`x-env`, `prod`)", req("x/"), false),
        ("headers two pairs (traefik)", "Headers(`X-A`, `1`, `X-B`, `2`)", req("x/").header("x-a", "1").header("x-b", "2"), true),
        ("headers two pairs one missing (traefik)", "Headers(`X-A`, `1`, `X-B`, `2`)", req("x/").header("x-a", "1"), false),
        ("headers one of the values", "Headers(`X-A`, `2`)", req("x/").header("x-a", "1").header("x-a", "2"), true),
        ("headers whole value", "Headers(`X-A`, `1`)", req("x/").header("x-a", "1, 2"), false),
        ("headers key twice keeps last (traefik)", "Headers(`X-D`, `1`, `X-D`, `2`)", req("x/").header("x-d", "2"), true),
        ("headers key twice not first (traefik)", "Headers(`X-D`, `1`, `X-D`, `2`)", req("x/").header("x-d", "1"), false),
        ("headers keys differing in case both count", "Headers(`X-D`, `1`, `x-d`, `2`)", req("x/").header("x-d", "2"), false),
        ("headers Host never (traefik)", "Headers(`Host`, `h.test`)", req("h.test/").header("host", "h.test"), false),
        ("headers invalid name never", "Headers(`a b`, `1`)", req("x/"), false),
        ("headers upper-case name", "HEADERS(`X-L`, `1`)", req("x/").header("x-l", "1"), true),
        // HeadersRegexp
        ("headersregexp unanchored (traefik)", "HeadersRegexp(`X-Env`, `^pr`)", req("x/").header("x-env", "prod"), true),
        ("headersregexp anchored no (traefik)", "HeadersRegexp(`X-Env`, `^pr`)", req("x/").header("x-env", "xprod"), false),
        ("headersregexp two pairs (traefik)", "HeadersRegexp(`X-A`, `^a`, `x-a`, `b$`)", req("x/").header("x-a", "ab"), true),
        ("headersregexp two pairs one fails (traefik)", "HeadersRegexp(`X-A`, `^a`, `x-a`, `b$`)", req("x/").header("x-a", "a"), false),
        ("headersregexp absent", "HeadersRegexp(`X-A`, `.*`)", req("x/"), false),
        ("headersregexp empty value", "HeadersRegexp(`X-A`, `.*`)", req("x/").header("x-a", ""), true),
        // Query
        ("query (traefik)", "Query(`tag=x`)", req("x/?tag=x"), true),
        ("query first value counts (traefik)", "Query(`tag=x`)", req("x/?tag=x&tag=y"), true),
        ("query later value ignored (traefik)", "Query(`tag=x`)", req("x/?tag=y&tag=x"), false),
        ("query whole value", "Query(`tag=x`)", req("x/?tag=xy"), false),
        ("query absent", "Query(`tag=x`)", req("x/"), false),
        ("query decoded (traefik)", "Query(`q=a b`)", req("x/?q=a+b"), true),
        ("query decoded escape (traefik)", "Query(`q=a b`)", req("x/?q=a%20b"), true),
        ("query empty value is any (traefik)", "Query(`a=`)", req("x/?a=1"), true),
        ("query empty value bare key (traefik)", "Query(`a=`)", req("x/?a"), true),
        ("query empty value absent (traefik)", "Query(`a=`)", req("x/?b=1"), false),
        ("query empty value no query (traefik)", "Query(`a=`)", req("x/"), false),
        ("query variable (traefik)", "Query(`id={id:[0-9]+}`, `k=`)", req("x/?id=12&k"), true),
        ("query variable other key any (traefik)", "Query(`id={id:[0-9]+}`, `k=`)", req("x/?id=12&k=zz"), true),
        ("query variable needs both (traefik)", "Query(`id={id:[0-9]+}`, `k=`)", req("x/?id=12"), false),
        ("query variable anchored (traefik)", "Query(`id={id:[0-9]+}`, `k=`)", req("x/?id=1a&k="), false),
        ("query pieces pair up (traefik)", "Query(`a`, `b`)", req("x/?a=b"), true),
        ("query pieces pair up no", "Query(`a`, `b`)", req("x/?a=c"), false),
        ("query all pairs (traefik)", "Query(`a=1`, `b=2`)", req("x/?b=2&a=1"), true),
        ("query all pairs one missing (traefik)", "Query(`a=1`, `b=2`)", req("x/?a=1"), false),
        ("query value holding =", "Query(`a=b=c`)", req("x/?a=b%3Dc"), true),
        ("query template with PathPrefix (traefik)", "PathPrefix(`/pq`) && Query(`x={v:[a-z]+}`)", req("x/pq?x=abc"), true),
        ("query template no (traefik)", "PathPrefix(`/pq`) && Query(`x={v:[a-z]+}`)", req("x/pq?x=ab1"), false),
        ("query semicolon pair skipped", "Query(`a=1`)", req("x/?a=1;b=2"), false),
        ("query variable key", "Query(`{k}=v`)", req("x/?{k}=v"), true),
        // ClientIP
        ("clientip list (traefik)", "ClientIP(`10.0.0.1`, `127.0.0.0/8`)", req("x/").ip("127.0.0.1"), true),
        ("clientip list other (traefik)", "ClientIP(`10.0.0.0/8`)", req("x/").ip("127.0.0.1"), false),
        ("clientip ipv6 (traefik)", "ClientIP(`::1`, `127.0.0.1/32`)", req("x/").ip("127.0.0.1"), true),
        ("clientip ipv6 peer", "ClientIP(`::1`)", req("x/").ip("::1"), true),
        ("clientip mapped peer", "ClientIP(`10.0.0.0/8`)", req("x/").ip("::ffff:10.1.2.3"), true),
        // Operators: the v3 grammar
        ("not and (traefik)", "!Path(`/n`) && PathPrefix(`/n`)", req("x/nn"), true),
        ("not and no (traefik)", "!Path(`/n`) && PathPrefix(`/n`)", req("x/n"), false),
        ("or in parentheses (traefik)", "(Host(`m1.test`) || HostHeader(`m2.test`)) && !Method(`POST`)", req("m2.test/"), true),
        ("or in parentheses not (traefik)", "(Host(`m1.test`) || HostHeader(`m2.test`)) && !Method(`POST`)", req("POST m2.test/"), false),
        ("and binds tighter", "Host(`a`) || Host(`b`) && Path(`/x`)", req("a/y"), true),
        ("and binds tighter no", "Host(`a`) || Host(`b`) && Path(`/x`)", req("b/y"), false),
        ("not of or", "!(Host(`a`) || Host(`b`))", req("c/"), true),
        ("double quotes", "Host(\"a.test\")", req("a.test/"), true),
        ("trailing comma", "Host(`a`, `b`,)", req("b/"), true),
        ("ellipsis", "Method(`GET`, `PUT`...)", req("PUT x/"), true),
    ];
    assert!(cases.len() > 100, "{} cases", cases.len());
    let mut failed = Vec::new();
    for (what, rule, r, want) in &cases {
        match v2(rule) {
            Ok(compiled) if compiled.matches(&r.info()) == *want => {}
            Ok(_) => failed.push(format!(
                "{what}: {rule:?} should {}match",
                if *want { "" } else { "not " }
            )),
            Err(e) => failed.push(format!("{what}: {rule:?} should parse: {e}")),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
#[rustfmt::skip]
fn v2_error_table() {
    // (description, rule, byte position, text the message contains)
    let cases: &[(&str, &str, usize, &str)] = &[
        // Names: the v3 ones that v2 lacks
        ("v3 Header (traefik)", "Header(`X-A`, `1`)", 0, "unsupported function: Header (a v3 matcher: the v2 syntax has Headers)"),
        ("v3 PathRegexp (traefik)", "PathRegexp(`/x`)", 0, "unsupported function: PathRegexp (a v3 matcher"),
        ("v3 HeaderRegexp", "HeaderRegexp(`X`, `a`)", 0, "the v2 syntax has HeadersRegexp"),
        ("v3 QueryRegexp", "QueryRegexp(`a`, `b`)", 0, "the v2 syntax has Query with a {name:regexp} template"),
        ("other case", "hOSTHEADER(`a`)", 0, "unsupported function: hOSTHEADER (write HostHeader, hostheader, HOSTHEADER or Hostheader)"),
        ("unknown", "Hots(`a`)", 0, "unsupported function: Hots"),
        // CheckRule
        ("no args (traefik)", "Host()", 0, "no args for matcher Host"),
        ("empty arg (traefik)", "Host(`a`, ``)", 10, "empty args for matcher Host"),
        ("empty query (traefik)", "Query(``)", 6, "empty args for matcher Query"),
        // Host
        ("host non-ASCII (traefik)", "Host(`é.test`)", 5, "invalid value \"é.test\" for \"Host\" matcher, non-ASCII characters are not allowed"),
        ("hostheader non-ASCII", "HostHeader(`a`, `é`)", 16, "for \"Host\" matcher"),
        ("hostregexp non-ASCII", "HostRegexp(`é`)", 11, "invalid value \"é\" for HostRegexp matcher"),
        // Templates
        ("unbalanced open (traefik)", "Path(`/x{`)", 5, "mux: unbalanced braces in \"/x{\""),
        ("unbalanced close", "PathPrefix(`/x}`)", 11, "mux: unbalanced braces in \"/x}\""),
        ("unbalanced host", "HostRegexp(`{a.test`)", 11, "mux: unbalanced braces"),
        ("missing name (traefik)", "Path(`/{:x}`)", 5, "mux: missing name or pattern in \"{:x}\""),
        ("missing pattern", "Path(`/{x:}`)", 5, "mux: missing name or pattern in \"{x:}\""),
        ("empty braces", "Path(`/{}`)", 5, "mux: missing name or pattern in \"{}\""),
        ("bad variable pattern (traefik)", "Path(`/{a:(}`)", 5, "error parsing regexp: "),
        ("variable pattern alone", "Path(`/{a:x)(y}`)", 5, "error parsing regexp: "),
        ("no leading slash (traefik)", "Path(`x`)", 5, "mux: path must start with a slash, got \"x\""),
        ("prefix no leading slash", "PathPrefix(`/a`, `b`)", 17, "mux: path must start with a slash, got \"b\""),
        ("not UTF-8", "Path(\"/\\xff\")", 5, "invalid UTF-8"),
        // Pairs
        ("headers odd (traefik)", "Headers(`X-A`)", 0, "mux: number of parameters must be multiple of 2, got [X-A]"),
        ("headers three", "Headers(`a`, `b`, `c`)", 0, "got [a b c]"),
        ("headersregexp odd", "HeadersRegexp(`a`, `b`, `c`)", 0, "must be multiple of 2"),
        ("headersregexp bad (traefik)", "HeadersRegexp(`X-A`, `(`)", 21, "error parsing regexp: "),
        ("headersregexp bad before overwritten", "HeadersRegexp(`X`, `(`, `X`, `a`)", 19, "error parsing regexp: "),
        ("query odd (traefik)", "Query(`a`, `b=c`)", 0, "mux: number of parameters must be multiple of 2, got [a b c]"),
        ("query key alone", "Query(`foo`)", 0, "got [foo]"),
        ("query duplicated variable (traefik)", "Query(`a={x}`, `b={x}`)", 15, "mux: duplicated route variable \"x\""),
        ("query bad template", "Query(`a={x`)", 6, "mux: unbalanced braces in \"a={x\""),
        // ClientIP
        ("clientip bad (traefik)", "ClientIP(`foo`)", 9, "could not initialize IP Checker for \"ClientIP\" matcher: parsing CIDR trusted IPs <nil>: invalid CIDR address: foo"),
        ("clientip second bad", "ClientIP(`10.0.0.1`, `10.0.0.0/33`)", 21, "invalid CIDR address: 10.0.0.0/33"),
        // The grammar's own errors
        ("dangling &&", "Host(`a`) &&", 12, "unexpected end of rule"),
        ("empty", "", 0, "empty rule"),
    ];
    let mut failed = Vec::new();
    for (what, rule, pos, needle) in cases {
        match v2(rule) {
            Ok(_) => failed.push(format!("{what}: {rule:?} should not parse")),
            Err(e) if e.position != *pos || !e.to_string().contains(needle) => failed.push(format!(
                "{what}: {rule:?}: got position {} {:?}, want {pos} and {needle:?}",
                e.position, e.message
            )),
            Err(_) => {}
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
#[rustfmt::skip]
fn v3_refuses_v2_matchers_with_a_hint() {
    let cases: &[(&str, &str)] = &[
        ("Headers(`X-A`, `1`)", "unsupported function: Headers (a v2 matcher: write Header, or set ruleSyntax: v2)"),
        ("HeadersRegexp(`X-A`, `1`)", "unsupported function: HeadersRegexp (a v2 matcher: write HeaderRegexp"),
        ("HostHeader(`a`)", "unsupported function: HostHeader (a v2 matcher: write Host"),
        ("Host(`a`, `b`)", "unexpected number of parameters for Host; got 2, expected 1"),
    ];
    for (rule, needle) in cases {
        let e = parse(rule).expect_err(rule);
        assert!(e.message.contains(needle), "{rule}: {}", e.message);
        assert!(v2(rule).is_ok(), "{rule} is v2");
    }
}

#[test]
fn same_text_different_syntax() {
    // A v2 PathPrefix template is a pattern; in v3 it is literal text.
    let rule = "PathPrefix(`/u/{id}`)";
    let r = req("x/u/42");
    assert!(v2(rule).unwrap().matches(&r.info()));
    assert!(!parse(rule).unwrap().matches(&r.info()));
    assert!(parse(rule).unwrap().matches(&req("x/u/{id}/x").info()));
    assert!(!v2(rule).unwrap().matches(&req("x/u/").info()));
    assert!(parse("PathPrefix(`/u/`)")
        .unwrap()
        .matches(&req("x/u/").info()));
    // A v3 Host wildcard; a v2 literal.
    let rule = "Host(`*.w.test`)";
    assert!(parse(rule).unwrap().matches(&req("a.w.test/").info()));
    assert!(!v2(rule).unwrap().matches(&req("a.w.test/").info()));
    // Equal text, unequal rules.
    assert_ne!(v2("Path(`/a`)").unwrap(), parse("Path(`/a`)").unwrap());
    assert_eq!(v2("Path(`/a`)").unwrap(), v2("path(\"/a\")").unwrap());
    assert_eq!(v2("Path(`/a`)").unwrap().syntax(), Syntax::V2);
    assert_eq!(parse("Path(`/a`)").unwrap().syntax(), Syntax::V3);
}

#[test]
#[rustfmt::skip]
fn v2_hosts_for_the_index_and_certificates() {
    // (rule, exact hosts, Host values)
    type Case<'a> = (&'a str, Option<&'a [&'a str]>, &'a [&'a str]);
    let cases: &[Case] = &[
        ("Host(`B.test`, `a.test.`)", Some(&["a.test", "b.test"]), &["b.test", "a.test."]),
        ("HostHeader(`a.test`)", Some(&["a.test"]), &[]),
        ("Host(`*.w.test`)", Some(&["*.w.test"]), &["*.w.test"]),
        ("Host(`a`, `b`) && Host(`b`, `c`)", Some(&["b"]), &["a", "b", "b", "c"]),
        ("Host(`a`) || HostHeader(`b`)", Some(&["a", "b"]), &["a"]),
        ("Host(`a`) || Path(`/`)", None, &["a"]),
        ("!Host(`a`)", None, &["a"]),
        ("HostRegexp(`a.test`)", None, &[]),
    ];
    for (rule, exact, values) in cases {
        let r = v2(rule).unwrap();
        let want = exact.map(|hs| hs.iter().map(|h| h.to_string()).collect::<Vec<_>>());
        assert_eq!(r.exact_hosts(), want, "{rule}");
        assert_eq!(r.host_values(), *values, "{rule}");
        // The syntax-blind reading finds the same Host values.
        assert_eq!(host_values(rule).unwrap(), *values, "{rule}");
    }
    assert_eq!(host_values("Host(`a`) && Header(`X`, `1`)").unwrap(), ["a"]);
    assert!(host_values("Host(`a`) &&").is_err());
}

#[test]
fn v2_rules_in_the_host_index() {
    let rules = [
        ("multi", "Host(`a.test`, `b.test`)"),
        ("templated", "HostRegexp(`{s}.c.test`)"),
    ];
    let entries = rules
        .iter()
        .map(|(name, rule)| Entry {
            name: name.to_string(),
            rule: Arc::new(v2(rule).unwrap()),
            priority: 0,
            value: name.to_string(),
        })
        .collect();
    let table = RouterTable::new(entries);
    assert_eq!(table.candidates("a.test"), (1, 1));
    assert_eq!(table.candidates("b.test"), (1, 1));
    assert_eq!(table.find(&req("B.test/").info()).unwrap(), "multi");
    assert_eq!(table.find(&req("x.c.test/").info()).unwrap(), "templated");
    assert!(table.find(&req("c.test/").info()).is_none());
}

#[test]
fn v2_display_parses_back_with_v2() {
    for rule in [
        "host(`a`, \"b\") && (Path(`/x/{id:[0-9]+}`) || !HEADERS(`X`, `1`))",
        "Query(`a=`, `b={v}`) || ClientIP(`10.0.0.0/8`, `::1`) && Method(`get`)",
        "HostHeader(`a`) && HeadersRegexp(`X`, `^a`) && PathPrefix(`/p`, `/q`)",
    ] {
        let parsed = v2(rule).unwrap();
        let text = parsed.to_string();
        assert_eq!(v2(&text).unwrap(), parsed, "{rule} -> {text}");
    }
    assert_eq!(
        v2("host(`a`, \"b\") && method(`get`)").unwrap().to_string(),
        "Host(`a`, `b`) && Method(`get`)"
    );
}

#[test]
#[rustfmt::skip]
fn router_syntax_choice() {
    // (ruleSyntax as written, default, chosen): Traefik falls back to v3
    // for any name it does not know (traefik: `V2` and `v4` routers run v3).
    let cases: &[(Option<&str>, Syntax, Syntax)] = &[
        (None, Syntax::V3, Syntax::V3),
        (None, Syntax::V2, Syntax::V2),
        (Some(""), Syntax::V2, Syntax::V2),
        (Some("v2"), Syntax::V3, Syntax::V2),
        (Some("v3"), Syntax::V2, Syntax::V3),
        (Some("V2"), Syntax::V2, Syntax::V3),
        (Some("v4"), Syntax::V2, Syntax::V3),
        (Some("default"), Syntax::V2, Syntax::V3),
    ];
    for (written, default, want) in cases {
        assert_eq!(Syntax::for_router(*written, *default), *want, "{written:?} {default:?}");
    }
    assert_eq!(Syntax::from_name("v2"), Some(Syntax::V2));
    assert_eq!(Syntax::from_name("V2"), None);
    assert_eq!(Syntax::V2.name(), "v2");
    assert_eq!(Syntax::default(), Syntax::V3);
}

proptest! {
    #[test]
    fn v2_parse_never_panics(
        s in "[HostHeadersPathPrefixQueryRegexpClientIPMethod!()&|`\" ,.a-z/*{}:=\\[\\]^$?+]{0,64}"
    ) {
        if let Err(e) = v2(&s) {
            prop_assert!(e.position <= s.len() && s.is_char_boundary(e.position), "{e}");
        }
    }

    #[test]
    fn v2_templates_never_panic(t in "[/{}:a-z0-9.=*+?()\\[\\]|^$\\\\]{1,24}") {
        for rule in [
            format!("Path(`/{t}`)"),
            format!("PathPrefix(`/{t}`)"),
            format!("HostRegexp(`{t}`)"),
            format!("Query(`k={t}`)"),
        ] {
            if let Ok(r) = v2(&rule) {
                let _ = r.matches(&req("a.b/x/y?k=z").info());
            }
        }
    }

    #[test]
    fn v2_host_index_gives_the_linear_answer(
        rules in prop::collection::vec((0usize..6, 0usize..4, 0i64..4), 0..24),
        host in 0usize..5,
        path in 0usize..3,
    ) {
        let hosts = ["a.com", "b.com", "c.com", "*.a.com", "x.a.com"];
        let paths = ["/", "/p", "/q"];
        let shapes = |h: &str, p: &str, shape: usize| match shape {
            0 => format!("Host(`{h}`, `b.com`)"),
            1 => format!("HostHeader(`{h}`) && PathPrefix(`{p}`)"),
            2 => format!("!Host(`{h}`) && Path(`{p}`)"),
            3 => format!("Host(`{h}`) || Path(`{p}`)"),
            4 => format!("HostRegexp(`{{s}}.a.com`) || Host(`{h}`)"),
            _ => format!("PathPrefix(`{p}`)"),
        };
        let entries: Vec<Entry<usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, (shape, h, prio))| {
                let text = shapes(hosts[*h], paths[i % 3], *shape);
                Entry {
                    name: format!("r{i}"),
                    rule: Arc::new(v2(&text).unwrap()),
                    priority: if *prio == 0 { default_priority(&text) } else { *prio },
                    value: i,
                }
            })
            .collect();
        let table = RouterTable::new(entries);
        let r = req(&format!("{}{}", hosts[host], paths[path]));
        let linear = table.entries().iter().find(|e| e.rule.matches(&r.info())).map(|e| e.value);
        prop_assert_eq!(table.find(&r.info()).copied(), linear);
    }
}
