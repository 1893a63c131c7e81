//! The router table: order, ties, and the host index.

use std::sync::Arc;

use super::req;
use crate::{default_priority, parse, Entry, RouterTable};

/// Routers from (name, rule, priority); priority 0 means the default.
fn table(rules: &[(&str, &str, i64)]) -> RouterTable<String> {
    RouterTable::new(entries(rules))
}

fn entries(rules: &[(&str, &str, i64)]) -> Vec<Entry<String>> {
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
        .collect()
}

#[test]
fn router_table_lookups() {
    let t = table(&[
        ("catch-all", "PathPrefix(`/`)", 1),
        ("host", "Host(`a.com`)", 0),
        ("host-api", "Host(`a.com`) && PathPrefix(`/api`)", 0),
        ("api-anywhere", "PathPrefix(`/api`)", 0),
        ("b-or-c", "Host(`b.com`) || Host(`c.com`)", 0),
        ("not-d", "!Host(`d.com`) && Path(`/not`)", 0),
        ("wild", "Host(`*.w.com`)", 0),
        ("tie-b", "Host(`t.com`) && Path(`/t`)", 50),
        ("tie-a", "Host(`t.com`) && Path(`/t`)", 50),
        ("urgent", "Path(`/urgent`)", 1000),
        ("negative", "Path(`/neg`)", -5),
    ]);
    let cases: &[(&str, &str, Option<&str>)] = &[
        (
            "longer rule wins by default",
            "a.com/api/x",
            Some("host-api"),
        ),
        ("host router", "a.com/other", Some("host")),
        (
            "host index ignores port and case",
            "A.COM:8080/other",
            Some("host"),
        ),
        (
            "host index finds a trailing-dot host",
            "a.com./other",
            Some("host"),
        ),
        (
            "rule without host, any host",
            "z.com/api",
            Some("api-anywhere"),
        ),
        ("explicit low priority last", "z.com/zzz", Some("catch-all")),
        ("|| indexed under its first host", "b.com/", Some("b-or-c")),
        ("|| indexed under its second host", "c.com/", Some("b-or-c")),
        ("negation not indexed", "e.com/not", Some("not-d")),
        ("negation excludes its host", "d.com/not", Some("catch-all")),
        ("wildcard not indexed", "x.w.com/", Some("wild")),
        ("ties broken by name", "t.com/t", Some("tie-a")),
        (
            "high priority beats host routers",
            "a.com/urgent",
            Some("urgent"),
        ),
        (
            "negative priority after the catch-all",
            "z.com/neg",
            Some("catch-all"),
        ),
    ];
    for (what, line, want) in cases {
        let r = req(line);
        assert_eq!(t.find(&r.info()).map(String::as_str), *want, "{what}");
    }
    let order: Vec<&str> = t.entries().iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "urgent",
            "tie-a",
            "tie-b",
            "host-api",
            "b-or-c",
            "not-d",
            "api-anywhere",
            "wild",
            "host",
            "catch-all",
            "negative"
        ]
    );
    let empty = table(&[]);
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(empty.find(&req("a/").info()), None);
}

#[test]
fn index_holds_only_exact_host_rules() {
    let t = table(&[
        ("a", "Host(`a.com`) && Path(`/x`)", 0),
        ("ab", "Host(`a.com`) || Host(`b.com`)", 0),
        ("not", "!Host(`a.com`)", 0),
        ("path", "Path(`/x`)", 0),
        ("regexp", "HostRegexp(`^a`)", 0),
    ]);
    assert_eq!(t.candidates("a.com"), (2, 3));
    assert_eq!(t.candidates("b.com"), (1, 3));
    assert_eq!(t.candidates("z.com"), (0, 3));
}

#[test]
fn default_priority_is_the_rule_length_in_bytes() {
    assert_eq!(default_priority("Host(`a`)"), 9);
    assert_eq!(default_priority("Host(`é`)"), 10);
    assert_eq!(default_priority(""), 0);
    // Equal defaults: the longer rule wins, then the name.
    let t = table(&[
        ("b", "Path(`/a`)", 0),
        ("a", "Path(`/a`)", 0),
        ("long", "Path(`/a`) || Path(`/b`)", 0),
    ]);
    assert_eq!(t.find(&req("x/a").info()).map(String::as_str), Some("long"));
    let t = table(&[("b", "Path(`/a`)", 0), ("a", "Path(`/a`)", 0)]);
    assert_eq!(t.find(&req("x/a").info()).map(String::as_str), Some("a"));
}

#[test]
fn ties_follow_provider_precedence_then_name() {
    let rules = [
        ("r@kubernetes", "Host(`foo.bar`)", 10),
        ("r@kubernetescrd", "Host(`foo.bar`)", 10),
        ("r@file", "Host(`foo.bar`)", 10),
        ("a@internal", "Host(`foo.bar`)", 10),
        ("plain", "Host(`foo.bar`)", 10),
    ];
    let order = |t: &RouterTable<String>| -> Vec<String> {
        t.entries().iter().map(|e| e.name.clone()).collect()
    };
    // Traefik's default precedence: kubernetescrd before kubernetes before
    // file; unlisted providers last.
    let t = RouterTable::new(entries(&rules));
    assert_eq!(
        order(&t),
        [
            "r@kubernetescrd",
            "r@kubernetes",
            "r@file",
            "a@internal",
            "plain"
        ]
    );
    assert_eq!(
        t.find(&req("foo.bar/").info()).map(String::as_str),
        Some("r@kubernetescrd")
    );
    // A configured precedence: first listed wins (Traefik's TestProvidersPrecedence).
    let t = RouterTable::with_precedence(entries(&rules), &["kubernetes", "kubernetescrd"]);
    assert_eq!(
        order(&t),
        [
            "r@kubernetes",
            "r@kubernetescrd",
            "a@internal",
            "plain",
            "r@file"
        ]
    );
    // Priority still comes first.
    let mut more = entries(&rules);
    more.push(Entry {
        name: "z@file".into(),
        rule: Arc::new(parse("Host(`foo.bar`)").unwrap()),
        priority: 11,
        value: "z@file".into(),
    });
    let t = RouterTable::new(more);
    assert_eq!(
        t.find(&req("foo.bar/").info()).map(String::as_str),
        Some("z@file")
    );
}

#[test]
fn lookup_among_ten_thousand_host_routers() {
    let rules: Vec<(String, String)> = (0..10_000)
        .map(|i| {
            (
                format!("r{i}"),
                format!("Host(`h{i}.test`) && PathPrefix(`/`)"),
            )
        })
        .collect();
    let mut entries: Vec<Entry<String>> = rules
        .iter()
        .map(|(n, r)| Entry {
            name: n.clone(),
            rule: Arc::new(parse(r).unwrap()),
            priority: default_priority(r),
            value: n.clone(),
        })
        .collect();
    entries.push(Entry {
        name: "fallback".into(),
        rule: Arc::new(parse("PathPrefix(`/`)").unwrap()),
        priority: 1,
        value: "fallback".into(),
    });
    let t = RouterTable::new(entries);
    assert_eq!(t.len(), 10_001);
    for (host, want) in [
        ("h9999.test/x", "r9999"),
        ("h0.test/", "r0"),
        ("h5000.test/", "r5000"),
        ("nope.test/", "fallback"),
    ] {
        assert_eq!(
            t.find(&req(host).info()).map(String::as_str),
            Some(want),
            "{host}"
        );
    }
    // At most one indexed router and the one any-host router are tried.
    assert_eq!(t.candidates("h42.test"), (1, 1));
    assert_eq!(t.candidates("nope.test"), (0, 1));
}
