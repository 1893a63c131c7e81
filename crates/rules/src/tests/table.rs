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

/// A table of routers where exact-host rules, host-less rules and rules
/// the index cannot hold are mixed, with priorities that interleave them.
fn mixed_table() -> RouterTable<String> {
    let v3: &[(&str, &str, i64)] = &[
        ("a-plain", "Host(`a.com`)", 0),
        ("a-api", "Host(`a.com`) && PathPrefix(`/api`)", 0),
        ("a-exact", "Host(`a.com`) && Path(`/api/v1`)", 0),
        ("a-low", "Host(`a.com`) && Path(`/low`)", 2),
        ("a-v2", "Host(`a.com`) && Path(`/api/v2`)", 90),
        ("b-or-c", "Host(`b.com`) || Host(`C.com`)", 0),
        ("both", "Host(`a.com`) && Host(`b.com`)", 0),
        ("upper", "Host(`UPPER.com`)", 0),
        ("dot", "Host(`dot.com.`)", 0),
        ("regexp", "HostRegexp(`^r[0-9]+\\.com$`)", 0),
        ("wild", "Host(`*.w.com`)", 0),
        ("get-m", "Method(`GET`) && Host(`m.com`)", 0),
        ("not-a", "!Host(`a.com`) && Path(`/low`)", 0),
        ("mid", "PathPrefix(`/api`)", 25),
        ("star", "Host(`*`) && Path(`/star`)", 0),
        ("tie-b", "Host(`t.com`)", 7),
        ("tie-a", "Host(`t.com`)", 7),
        ("tie-0any", "Path(`/`)", 7),
        ("catch-all", "PathPrefix(`/`)", 1),
    ];
    let mut all = entries(v3);
    let rule = "Host(`x.com`, `Y.com`)";
    all.push(Entry {
        name: "v2-hosts".into(),
        rule: Arc::new(crate::parse_with(rule, crate::Syntax::V2).unwrap()),
        priority: default_priority(rule),
        value: "v2-hosts".into(),
    });
    RouterTable::new(all)
}

#[test]
fn host_index_picks_the_router_traefik_picks() {
    let t = mixed_table();
    let cases: &[(&str, &str, &str)] = &[
        (
            "the longer rule wins, not the more precise (Traefik)",
            "a.com/api/v1",
            "a-api",
        ),
        ("the host's rule that matches", "a.com/api/x", "a-api"),
        (
            "an any-host router of higher priority beats the host's",
            "upper.com/api",
            "mid",
        ),
        ("host with a port", "a.com:8443/api/v1", "a-api"),
        ("explicit priority over length", "a.com/api/v2", "a-v2"),
        ("host in capitals", "A.COM/zzz", "a-plain"),
        (
            "explicit low priority under the any-host rules",
            "a.com/low",
            "a-plain",
        ),
        (
            "a negated host does not index its router",
            "q.com/low",
            "not-a",
        ),
        ("first host of ||", "b.com/", "b-or-c"),
        ("second host of ||, written in capitals", "c.com/", "b-or-c"),
        ("a rule's capitals match lower-case", "upper.com/", "upper"),
        ("trailing dot in the rule", "dot.com/", "dot"),
        ("trailing dot in the request", "dot.com./", "dot"),
        ("HostRegexp is tried for every host", "r12.com/", "regexp"),
        ("wildcard host", "x.w.com/", "wild"),
        ("wildcard does not match its base", "w.com/x", "catch-all"),
        ("Host(`*`)", "anything.org/star", "star"),
        (
            "indexed host, other test fails",
            "POST m.com/x",
            "catch-all",
        ),
        ("indexed host, other test holds", "GET m.com/", "get-m"),
        ("equal priority: host tie by name", "t.com/x", "tie-a"),
        (
            "equal priority: an any-host router's name sorts first",
            "t.com/",
            "tie-0any",
        ),
        ("v2 Host with two values, first", "x.com/", "v2-hosts"),
        ("v2 Host with two values, second", "y.com:80/", "v2-hosts"),
        ("unknown host", "nowhere.com/x", "catch-all"),
        ("IPv6 host with port", "[::1]:8080/x", "catch-all"),
        ("a host no request can have", "a.com/", "a-plain"),
    ];
    for (what, line, want) in cases {
        let r = req(line);
        assert_eq!(
            t.find(&r.info()).map(String::as_str),
            Some(*want),
            "{what}: {line}"
        );
    }
    // What the index holds: the host's own routers, and those that can
    // match any host (HostRegexp, wildcards, negations, no Host at all).
    assert_eq!(t.candidates("a.com"), (5, 7));
    assert_eq!(t.candidates("c.com"), (1, 7));
    assert_eq!(t.candidates("y.com"), (1, 7));
    assert_eq!(t.candidates("nowhere.com"), (0, 7));
}

#[test]
fn host_index_agrees_with_trying_every_router_in_order() {
    let t = mixed_table();
    let hosts = [
        "a.com",
        "A.com:80",
        "b.com",
        "C.COM",
        "upper.com",
        "dot.com.",
        "r7.com",
        "r.com",
        "x.w.com",
        "m.com",
        "t.com",
        "x.com",
        "Y.com",
        "zz.org",
        "[::1]:1",
        "",
    ];
    let paths = ["/", "/api", "/api/v1", "/low", "/star", "/other"];
    for host in hosts {
        for path in paths {
            for method in ["GET", "POST"] {
                let r = req(&format!("{method} {host}{path}"));
                let info = r.info();
                let every = t.entries().iter().find(|e| e.rule.matches(&info));
                assert_eq!(
                    t.find_entry(&info).map(|e| e.name.as_str()),
                    every.map(|e| e.name.as_str()),
                    "{method} {host}{path}"
                );
            }
        }
    }
}

#[test]
fn many_routers_on_one_host_stay_in_order() {
    let mut rules: Vec<(String, String, i64)> = (0..1000)
        .map(|i| {
            (
                format!("p{i:04}"),
                format!("Host(`same.com`) && Path(`/p{i}`)"),
                0,
            )
        })
        .collect();
    // Same rule, same priority: the name decides.
    rules.push(("dup-b".into(), "Host(`same.com`) && Path(`/p7`)".into(), 0));
    rules.push(("dup-a".into(), "Host(`same.com`) && Path(`/p7`)".into(), 0));
    rules.push(("host-only".into(), "Host(`same.com`)".into(), 0));
    let borrowed: Vec<(&str, &str, i64)> = rules
        .iter()
        .map(|(n, r, p)| (n.as_str(), r.as_str(), *p))
        .collect();
    let t = table(&borrowed);
    assert_eq!(t.candidates("same.com"), (1003, 0));
    for (line, want) in [
        ("same.com/p999", "p0999"),
        ("same.com/p0", "p0000"),
        ("same.com/p7", "dup-a"),
        ("same.com/p1000", "host-only"),
    ] {
        assert_eq!(
            t.find(&req(line).info()).map(String::as_str),
            Some(want),
            "{line}"
        );
    }
    assert_eq!(t.find(&req("other.com/p1").info()), None);
}

/// What a table does: its order, and for each host its candidates and the
/// router a request picks.
fn behaviour(t: &RouterTable<String>, hosts: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = t
        .entries()
        .iter()
        .map(|e| format!("{} {}", e.name, e.priority))
        .collect();
    for host in hosts {
        for path in ["/", "/api/x"] {
            let r = req(&format!("{host}{path}"));
            out.push(format!(
                "{host}{path}: {:?} -> {:?}",
                t.candidates(host),
                t.find(&r.info())
            ));
        }
    }
    out
}

#[test]
fn a_patched_table_equals_one_made_from_scratch() {
    // Rules sharing hosts, rules for any host, rules of two hosts; names
    // from several providers; priorities that tie.
    let rules = [
        "Host(`a.com`)",
        "Host(`b.com`)",
        "Host(`a.com`) && PathPrefix(`/api`)",
        "PathPrefix(`/api`)",
        "Host(`a.com`) || Host(`c.com`)",
        "Host(`c.com`) || Host(`c.com`)",
        "!Host(`d.com`)",
        "Host(`d.com`)",
    ];
    let providers = ["file", "docker", "kubernetes", "internal"];
    let hosts = ["a.com", "b.com", "c.com", "d.com", "e.com"];
    let precedence = ["docker", "file", "kubernetes"];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut below = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed % n as u64).unwrap_or(0)
    };
    for round in 0..30 {
        let mut live: std::collections::BTreeMap<String, (usize, i64)> = Default::default();
        let mut table = RouterTable::with_precedence(Vec::new(), &precedence);
        for step in 0..25 {
            // Some routers go, some come (a changed router is both).
            let mut gone = std::collections::HashSet::new();
            for _ in 0..below(3) {
                if let Some(name) = live.keys().nth(below(live.len().max(1))).cloned() {
                    live.remove(&name);
                    gone.insert(name);
                }
            }
            let mut added = std::collections::BTreeMap::new();
            for _ in 0..below(4) {
                let name = format!("r{}@{}", below(12), providers[below(providers.len())]);
                let (rule, priority) = (below(rules.len()), [0, 0, 5, 40][below(4)]);
                if live.insert(name.clone(), (rule, priority)).is_some() {
                    gone.insert(name.clone());
                }
                added.insert(name, (rule, priority));
            }
            let make = |(name, rule, priority): (&str, usize, i64)| {
                entries(&[(name, rules[rule], priority)]).remove(0)
            };
            let patched = table.patched(
                |e| gone.contains(&e.name),
                added.iter().map(|(n, (r, p))| make((n, *r, *p))).collect(),
                &precedence,
            );
            let scratch = RouterTable::with_precedence(
                live.iter().map(|(n, (r, p))| make((n, *r, *p))).collect(),
                &precedence,
            );
            assert_eq!(
                behaviour(&patched, &hosts),
                behaviour(&scratch, &hosts),
                "round {round}, step {step}"
            );
            table = patched;
        }
    }
}
