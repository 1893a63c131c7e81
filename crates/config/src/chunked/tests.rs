use super::*;

const BASE: &str = "\
# routes
http:
  routers:
    r1:
      rule: \"Host(`a.test`)\"
      service: s1
      middlewares: [m1]
    r2:
      # a comment inside
      rule: \"Host(`b.test`) && Path(`/x`)\"
      service: s2

    r3:
      rule: \"Host(`c.test`)\"
      service: s1
      priority: 7
  services:
    s1:
      loadBalancer:
        servers:
          - url: \"http://127.0.0.1:1\"
    s2:
      loadBalancer:
        serversTransport: t1
        servers:
          - url: \"http://127.0.0.1:2\"
  middlewares:
    m1:
      headers:
        customRequestHeaders:
          X-A: \"1\"
  serversTransports:
    t1:
      maxIdleConnsPerHost: 3
tls:
  options:
    strict:
      minVersion: VersionTLS12
";

fn path() -> &'static Path {
    Path::new("/conf/routes.yml")
}

/// `BASE` with `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    BASE.replacen(from, to, 1)
}

#[test]
fn reparsing_reuses_unchanged_elements_and_equals_a_whole_parse() {
    let r4 = "    r4:\n      rule: \"Host(`d.test`)\"\n      service: s2\n";
    // (what, new text, elements expected to be taken over)
    let cases: Vec<(&str, String, usize)> = vec![
        ("unchanged", BASE.to_string(), 7),
        (
            "a rule changed",
            edit("Host(`c.test`)", "Host(`z.test`)"),
            6,
        ),
        (
            "a router added",
            edit("  services:\n", &format!("{r4}  services:\n")),
            7,
        ),
        (
            "a router removed",
            edit(
                "    r3:\n      rule: \"Host(`c.test`)\"\n      service: s1\n      priority: 7\n",
                "",
            ),
            6,
        ),
        (
            "a service's server changed",
            edit("127.0.0.1:2", "127.0.0.1:9"),
            6,
        ),
        ("a middleware changed", edit("X-A: \"1\"", "X-A: \"2\""), 6),
        (
            "a comment added inside a block",
            edit("      priority: 7\n", "      priority: 7 # seven\n"),
            6,
        ),
        (
            "lines above moved everything down",
            format!("\n\n# more\n{BASE}"),
            7,
        ),
        (
            "the tls section changed",
            edit("VersionTLS12", "VersionTLS13"),
            7,
        ),
        (
            "a section before http",
            format!("tcp:\n  routers: {{}}\n{BASE}"),
            7,
        ),
    ];
    for (what, text, reused) in cases {
        let mut index = ElementIndex::default();
        let first =
            parse_dynamic_reusing(path(), BASE, &mut None, &mut index).expect("BASE parses");
        assert_eq!(
            first,
            parse_dynamic(path(), BASE).expect("BASE"),
            "{what}: first parse"
        );
        assert_eq!(index.len(), 7, "{what}: blocks known");
        let again = parse_dynamic_reusing(path(), &text, &mut Some(first.clone()), &mut index);
        let whole = parse_dynamic(path(), &text);
        assert_eq!(
            again.as_ref().ok(),
            whole.as_ref().ok(),
            "{what}: same as a whole parse"
        );
        assert!(again.is_ok(), "{what}: {again:?}");
        assert_eq!(index.reused(), reused, "{what}: elements taken over");
    }
}

#[test]
fn what_the_cut_cannot_be_sure_of_is_parsed_whole() {
    let cases: Vec<(&str, String)> = vec![
        (
            "an anchor and an alias",
            edit("      service: s2\n\n", "      service: &s s2\n\n")
                .replace("service: s1\n      priority", "service: *s\n      priority"),
        ),
        (
            "flow style for the routers",
            edit(
                "  routers:\n",
                "  routers: {r0: {rule: \"Host(`y`)\", service: s1}}\n  x:\n",
            ),
        ),
        ("a quoted name", edit("    r3:", "    \"r3\":")),
        (
            "models in http",
            edit(
                "  serversTransports:",
                "  models:\n    websecure:\n      tls: {}\n  serversTransports:",
            ),
        ),
        ("two documents", format!("---\n{BASE}")),
    ];
    for (what, text) in cases {
        let mut index = ElementIndex::default();
        let first =
            parse_dynamic_reusing(path(), BASE, &mut None, &mut index).expect("BASE parses");
        let again = parse_dynamic_reusing(path(), &text, &mut Some(first.clone()), &mut index);
        let whole = parse_dynamic(path(), &text);
        assert_eq!(
            again.as_ref().map_err(ToString::to_string),
            whole.as_ref().map_err(ToString::to_string),
            "{what}"
        );
        assert_eq!(index.reused(), 0, "{what}: nothing taken over");
    }
}

#[test]
fn errors_are_those_of_a_whole_parse_and_keep_the_index() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "a bad field in one block",
            edit("priority: 7", "priority: high"),
            "routes.yml:16",
        ),
        (
            "a name given twice, in another case",
            edit(
                "  services:\n",
                "    R1:\n      rule: \"Host(`e`)\"\n      service: s1\n  services:\n",
            ),
            "duplicate key",
        ),
        (
            "a syntax error",
            edit("      service: s2\n\n", "      service: [s2\n\n"),
            "routes.yml:",
        ),
    ];
    for (what, text, want) in cases {
        let mut index = ElementIndex::default();
        let first =
            parse_dynamic_reusing(path(), BASE, &mut None, &mut index).expect("BASE parses");
        let mut previous = Some(first.clone());
        let err = parse_dynamic_reusing(path(), &text, &mut previous, &mut index)
            .expect_err(what)
            .to_string();
        assert_eq!(previous.as_ref(), Some(&first), "{what}: previous kept");
        let whole = parse_dynamic(path(), &text).expect_err(what).to_string();
        assert_eq!(err, whole, "{what}");
        assert!(err.contains(want), "{what}: {err}");
        // The index still describes `first`: BASE again takes all over.
        let back = parse_dynamic_reusing(path(), BASE, &mut Some(first.clone()), &mut index)
            .expect("BASE");
        assert_eq!(back, first, "{what}");
        assert_eq!(index.reused(), 7, "{what}: index kept");
    }
}

#[test]
fn a_block_parsed_alone_keeps_its_line_numbers() {
    let mut index = ElementIndex::default();
    let first = parse_dynamic_reusing(path(), BASE, &mut None, &mut index).expect("BASE");
    let text = edit("X-A: \"1\"", "X-A: \"3\"");
    let again =
        parse_dynamic_reusing(path(), &text, &mut Some(first.clone()), &mut index).expect("parses");
    assert_eq!(index.reused(), 6);
    let whole = parse_dynamic(path(), &text).expect("parses");
    let line = |c: &Configuration| {
        let m = &c.http.as_ref().expect("http").middlewares["m1"];
        m.0.values().next().map(|n| n.location.line)
    };
    assert_eq!(line(&again), line(&whole));
    assert!(line(&again).is_some_and(|l| l > 27), "{:?}", line(&again));
}

#[test]
fn many_changes_are_parsed_whole_and_still_indexed() {
    let mut text = String::from("http:\n  routers:\n");
    for i in 0..100 {
        text += &format!("    r{i}:\n      rule: \"Host(`h{i}`)\"\n      service: s\n");
    }
    let mut index = ElementIndex::default();
    let first = parse_dynamic_reusing(path(), &text, &mut None, &mut index).expect("parses");
    assert_eq!((index.len(), index.reused()), (100, 0));
    let changed = text.replace("service: s\n", "service: t\n");
    let again = parse_dynamic_reusing(path(), &changed, &mut Some(first.clone()), &mut index)
        .expect("parses");
    assert_eq!(again, parse_dynamic(path(), &changed).expect("parses"));
    assert_eq!((index.len(), index.reused()), (100, 0));
    let one_more = format!("{changed}    r100:\n      rule: \"Host(`x`)\"\n      service: t\n");
    let third = parse_dynamic_reusing(path(), &one_more, &mut Some(again.clone()), &mut index)
        .expect("parses");
    assert_eq!(third, parse_dynamic(path(), &one_more).expect("parses"));
    assert_eq!(index.reused(), 100);
}

#[test]
fn a_known_block_whose_element_is_missing_sends_the_file_to_the_whole_parse() {
    let mut index = ElementIndex::default();
    let first = parse_dynamic_reusing(path(), BASE, &mut None, &mut index).expect("BASE");
    // A previous parse that lost r2 (the index still knows its block).
    let mut lacking = first.clone();
    if let Some(http) = lacking.http.as_mut() {
        http.routers.remove("r2");
    }
    let mut previous = Some(lacking.clone());
    let text = edit("X-A: \"1\"", "X-A: \"3\"");
    let again = parse_dynamic_reusing(path(), &text, &mut previous, &mut index).expect("parses");
    assert_eq!(again, parse_dynamic(path(), &text).expect("whole"));
    assert_eq!(index.reused(), 0, "nothing taken over");
    // Everything taken before r2 was found missing was put back.
    assert_eq!(previous, Some(lacking));
}
