//! Property tests: the parser never panics, canonical text round-trips,
//! path preparation is stable, the host index changes no answer.

use std::sync::Arc;

use proptest::prelude::*;

use super::req;
use crate::matcher::Kind;
use crate::{
    default_priority, normalize_path, parse, routing_path, sanitize_path, Entry, RouterTable,
};

/// A rule tree on the test side, rendered to text two different ways.
#[derive(Debug, Clone)]
enum T {
    M(Kind, Vec<Vec<u8>>),
    Not(Box<T>),
    And(Box<T>, Box<T>),
    Or(Box<T>, Box<T>),
}

fn text() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop::collection::vec(
        prop_oneof![
            4 => prop::char::range('a', 'z'),
            1 => prop::sample::select(vec!['`', '"', '\\', ' ', '\n', '\r', '\t', 'é', '€', '/', '\0']),
        ],
        1..8,
    )
    .prop_map(|cs| cs.into_iter().collect::<String>().into_bytes())
}

fn regexp() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        "^/a",
        "[a-z]+\\.com$",
        "(?i)x{2,3}",
        "\\d|\\w",
        "{v}",
        "a|b|c",
    ])
    .prop_map(|s| s.as_bytes().to_vec())
}

fn matcher() -> impl Strategy<Value = T> {
    let host = "[a-z]{1,6}(\\.[a-z]{1,4}){0,2}".prop_map(|h| h.into_bytes());
    let key = "[A-Za-z][A-Za-z0-9-]{0,6}".prop_map(|k| k.into_bytes());
    let path = text().prop_map(|mut t| {
        t.insert(0, b'/');
        t
    });
    let ip = prop::sample::select(vec!["10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])
        .prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        host.clone().prop_map(|h| T::M(Kind::Host, vec![h])),
        regexp().prop_map(|r| T::M(Kind::HostRegexp, vec![r])),
        path.clone().prop_map(|p| T::M(Kind::Path, vec![p])),
        path.prop_map(|p| T::M(Kind::PathPrefix, vec![p])),
        regexp().prop_map(|r| T::M(Kind::PathRegexp, vec![r])),
        "[A-Z]{1,7}".prop_map(|m| T::M(Kind::Method, vec![m.into_bytes()])),
        (key.clone(), text()).prop_map(|(k, v)| T::M(Kind::Header, vec![k, v])),
        (key.clone(), regexp()).prop_map(|(k, r)| T::M(Kind::HeaderRegexp, vec![k, r])),
        (text(), prop::option::of(text()))
            .prop_map(|(k, v)| T::M(Kind::Query, [Some(k), v].into_iter().flatten().collect())),
        (key, prop::option::of(regexp())).prop_map(|(k, r)| T::M(
            Kind::QueryRegexp,
            [Some(k), r].into_iter().flatten().collect()
        )),
        ip.prop_map(|i| T::M(Kind::ClientIp, vec![i])),
    ]
}

fn tree() -> impl Strategy<Value = T> {
    matcher().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|t| T::Not(Box::new(t))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| T::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| T::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// Plain: backticks where possible, names as defined, minimal spacing.
fn plain(t: &T) -> String {
    match t {
        T::M(kind, args) => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match std::str::from_utf8(a) {
                    Ok(s) if !s.contains(['`', '\r', '\0']) => format!("`{s}`"),
                    _ => escaped(a),
                })
                .collect();
            format!("{}({})", kind.name(), args.join(","))
        }
        T::Not(e) => format!("!({})", plain(e)),
        T::And(a, b) => format!("({})&&({})", plain(a), plain(b)),
        T::Or(a, b) => format!("({})||({})", plain(a), plain(b)),
    }
}

/// Fancy: double quotes with every byte escaped, upper-case names,
/// comments, line breaks where Go allows them, trailing commas.
fn fancy(t: &T) -> String {
    match t {
        T::M(kind, args) => {
            let args: Vec<String> = args.iter().map(|a| escaped(a)).collect();
            format!("{}( {},\n)", kind.name().to_uppercase(), args.join(" ,\n "))
        }
        T::Not(e) => format!("! /* not */ ( {} )", fancy(e)),
        T::And(a, b) => format!("( {} ) &&\n\t( {} )", fancy(a), fancy(b)),
        T::Or(a, b) => format!("(\n{}) || // or\n(\r\n{} )", fancy(a), fancy(b)),
    }
}

fn escaped(a: &[u8]) -> String {
    let body: String = a.iter().map(|b| format!("\\x{b:02x}")).collect();
    format!("\"{body}\"")
}

proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,64}") {
        if let Err(e) = parse(&s) {
            prop_assert!(e.position <= s.len() && s.is_char_boundary(e.position), "{e}");
        }
    }

    #[test]
    fn parse_never_panics_on_rule_like_input(
        s in "[HostPathQueryRegexpClientIP!()&|`\" \n\\\\,.a-z/*{}\\[\\]^$?+]{0,64}"
    ) {
        if let Err(e) = parse(&s) {
            prop_assert!(e.position <= s.len() && s.is_char_boundary(e.position), "{e}");
        }
    }

    #[test]
    fn canonical_text_round_trips(t in tree()) {
        let (p, f) = (plain(&t), fancy(&t));
        let a = parse(&p).map_err(|e| TestCaseError::fail(format!("{p:?}: {e}")))?;
        let b = parse(&f).map_err(|e| TestCaseError::fail(format!("{f:?}: {e}")))?;
        prop_assert_eq!(&a, &b, "the same rule written two ways");
        let canonical = a.to_string();
        let c = parse(&canonical).map_err(|e| TestCaseError::fail(format!("{canonical:?}: {e}")))?;
        prop_assert_eq!(&c, &a, "canonical text {:?}", canonical);
        prop_assert_eq!(c.to_string(), canonical);
    }

    #[test]
    fn negation_negates(t in tree(), line in prop::sample::select(vec![
        "GET a.com/", "POST b.org/x?a=1", "PUT a.b.c/aa/%2F?q=x&q=", "GET [::1]:80/v"
    ])) {
        let rule = parse(&plain(&t)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let not = parse(&format!("!({})", plain(&t))).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let r = req(line).header("x-a", "b");
        prop_assert_eq!(rule.matches(&r.info()), !not.matches(&r.info()));
    }

    #[test]
    fn paths_are_stable(s in "/[/%.a-fA-F0-9{}|é]{0,40}") {
        if let Ok(n) = normalize_path(&s) {
            prop_assert!(n.bytes().all(|b| b.is_ascii_graphic()), "{n:?}");
            prop_assert_eq!(normalize_path(&n).map(|c| c.into_owned()), Ok(n.clone().into_owned()));
            let clean = sanitize_path(&n).into_owned();
            prop_assert_eq!(sanitize_path(&clean).into_owned(), clean.clone());
            prop_assert!(routing_path(&clean).is_ok());
        }
        let _ = routing_path(&s);
    }

    #[test]
    fn host_index_gives_the_linear_answer(
        rules in prop::collection::vec((0usize..6, 0usize..4, 0i64..4), 0..24),
        host in 0usize..5,
        path in 0usize..3,
    ) {
        let hosts = ["a.com", "b.com", "c.com", "*.a.com", "x.a.com"];
        let paths = ["/", "/p", "/q"];
        let shapes = |h: &str, p: &str, shape: usize| match shape {
            0 => format!("Host(`{h}`)"),
            1 => format!("Host(`{h}`) && PathPrefix(`{p}`)"),
            2 => format!("!Host(`{h}`) && Path(`{p}`)"),
            3 => format!("Host(`{h}`) || Path(`{p}`)"),
            4 => format!("Host(`{h}`) || Host(`b.com`)"),
            _ => format!("PathPrefix(`{p}`)"),
        };
        let entries: Vec<Entry<usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, (shape, h, prio))| {
                let text = shapes(hosts[*h], paths[i % 3], *shape);
                Entry {
                    name: format!("r{i}"),
                    rule: Arc::new(parse(&text).unwrap()),
                    priority: if *prio == 0 { default_priority(&text) } else { *prio },
                    value: i,
                }
            })
            .collect();
        let table = RouterTable::new(entries);
        let r = req(&format!("{}{}", hosts[host].replace('*', "z"), paths[path]));
        let linear = table.entries().iter().find(|e| e.rule.matches(&r.info())).map(|e| e.value);
        prop_assert_eq!(table.find(&r.info()).copied(), linear);
    }
}
