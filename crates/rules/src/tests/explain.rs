//! `Rule::explain`: each matcher with its own result, in the order written.

use super::req;
use crate::{parse, parse_with, Syntax};

#[test]
fn each_term_with_its_own_result() {
    // (rule, request, whole rule matches, [(term, matched)])
    type Case = (
        &'static str,
        &'static str,
        bool,
        &'static [(&'static str, bool)],
    );
    let cases: &[Case] = &[
        (
            "Host(`a.test`)",
            "a.test/",
            true,
            &[("Host(`a.test`)", true)],
        ),
        (
            "Host(`a.test`)",
            "b.test/",
            false,
            &[("Host(`a.test`)", false)],
        ),
        (
            "Host(`a.test`) && PathPrefix(`/api`)",
            "a.test/web",
            false,
            &[("Host(`a.test`)", true), ("PathPrefix(`/api`)", false)],
        ),
        (
            "Host(`a.test`) || Host(`b.test`)",
            "b.test/",
            true,
            &[("Host(`a.test`)", false), ("Host(`b.test`)", true)],
        ),
        // A negated term reports its own result; the rule decides.
        (
            "Host(`a.test`) && !Method(`POST`)",
            "POST a.test/",
            false,
            &[("Host(`a.test`)", true), ("Method(`POST`)", true)],
        ),
        (
            "(Path(`/a`) || Path(`/b`)) && Header(`X-Env`, `prod`)",
            "h/b",
            false,
            &[
                ("Path(`/a`)", false),
                ("Path(`/b`)", true),
                ("Header(`X-Env`, `prod`)", false),
            ],
        ),
        (
            "Query(`debug`, `1`)",
            "h/?debug=1",
            true,
            &[("Query(`debug`, `1`)", true)],
        ),
    ];
    for (rule, line, whole, terms) in cases {
        let r = parse(rule).unwrap();
        let q = req(line);
        assert_eq!(r.matches(&q.info()), *whole, "{rule} on {line}");
        let got: Vec<(String, bool)> = r
            .explain(&q.info())
            .into_iter()
            .map(|t| (t.text, t.matched))
            .collect();
        let want: Vec<(String, bool)> = terms.iter().map(|(t, m)| (t.to_string(), *m)).collect();
        assert_eq!(got, want, "{rule} on {line}");
    }
}

#[test]
fn v2_rules_are_explained_term_by_term_too() {
    let r = parse_with("Host(`a.test`, `b.test`) && Path(`/x`)", Syntax::V2).unwrap();
    let q = req("b.test/y");
    let got: Vec<(String, bool)> = r
        .explain(&q.info())
        .into_iter()
        .map(|t| (t.text, t.matched))
        .collect();
    assert_eq!(
        got,
        [
            ("Host(`a.test`, `b.test`)".to_string(), true),
            ("Path(`/x`)".to_string(), false)
        ]
    );
}
