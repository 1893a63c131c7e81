//! Request host and path preparation.

use crate::{normalize_host, normalize_path, routing_path, sanitize_path, RoutingPathError};

#[test]
fn normalize_host_table() {
    let cases = [
        ("plain", "example.com", "example.com"),
        ("lower-cased", "Example.COM", "example.com"),
        ("port", "example.com:8080", "example.com"),
        ("trailing dot", "example.com.", "example.com"),
        ("only one trailing dot", "example.com..", "example.com."),
        ("trailing dot and port", "example.com.:80", "example.com"),
        ("ipv6 with port", "[::1]:80", "::1"),
        ("ipv6 in brackets", "[::1]", "::1"),
        ("bare ipv6", "::1", "::1"),
        ("ipv6 with zone", "[fe80::1%25eth0]:80", "fe80::1%25eth0"),
        ("ipv4 with port", "127.0.0.1:9", "127.0.0.1"),
        ("empty", "", ""),
        ("port not numeric (as Go)", "a.test:abc", "a.test"),
        ("empty port", "a.test:", "a.test"),
        ("two colons", "a:b:c", "a:b:c"),
        ("text after brackets", "[::1]x", "[::1]x"),
        ("name in brackets", "[a]:80", "a"),
        ("stray bracket", "a]:80", "a]:80"),
        ("spaces trimmed", " a.test ", "a.test"),
    ];
    for (what, input, want) in cases {
        assert_eq!(
            normalize_host(input),
            want,
            "{what}: normalize_host({input:?})"
        );
    }
}

#[test]
fn sanitize_path_table() {
    let cases = [
        ("clean", "/a/b", "/a/b"),
        ("root", "/", "/"),
        ("dot-dot", "/a/../b", "/b"),
        ("dot", "/a/./b", "/a/b"),
        ("double slashes", "//a//b", "/a/b"),
        ("trailing slash kept", "/a/b/", "/a/b/"),
        ("trailing dot-dot", "/a/b/..", "/a"),
        ("trailing dot", "/a/b/.", "/a/b"),
        ("trailing dot and slash", "/a/b/./", "/a/b/"),
        ("above the root", "/../a", "/a"),
        ("far above the root", "/a/b/../../..", "/"),
        ("only dot-dot", "/..", "/"),
        ("only dot", "/.", "/"),
        ("double trailing slash", "/a//", "/a/"),
        ("three dots is a name", "/a/...", "/a/..."),
        (
            "escaped slashes are not separators",
            "/a%2F..%2Fb",
            "/a%2F..%2Fb",
        ),
        ("escaped dots are not dots", "/%2e%2e/a", "/%2e%2e/a"),
        ("asterisk", "*", "*"),
        ("empty becomes root (as Go)", "", "/"),
        ("relative", "a/../b", "b"),
    ];
    for (what, input, want) in cases {
        let got = sanitize_path(input);
        assert_eq!(got, want, "{what}: sanitize_path({input:?})");
        assert_eq!(sanitize_path(&got), got, "{what}: idempotent");
    }
    assert!(matches!(
        sanitize_path("/a/b"),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn normalize_path_table() {
    let cases: &[(&str, &str, Result<&str, RoutingPathError>)] = &[
        ("plain", "/plain", Ok("/plain")),
        ("unreserved decoded", "/%41%62", Ok("/Ab")),
        ("dots decoded", "/%2e%2e/x", Ok("/../x")),
        ("tilde lower hex", "/%7e", Ok("/~")),
        ("reserved upper-cased", "/a%2fb", Ok("/a%2Fb")),
        (
            "other escapes upper-cased",
            "/a%3f%c3%a9",
            Ok("/a%3F%C3%A9"),
        ),
        ("space stays escaped", "/a%20b", Ok("/a%20b")),
        ("sub-delims untouched", "/a(b)!*'", Ok("/a(b)!*'")),
        ("asterisk", "*", Ok("*")),
        ("braces re-escaped", "/a{b}", Ok("/a%7Bb%7D")),
        ("non-ASCII re-escaped", "/é", Ok("/%C3%A9")),
        ("quote re-escaped", "/\"x\"", Ok("/%22x%22")),
        ("caret and backslash", "/a^b\\c", Ok("/a%5Eb%5Cc")),
        ("pipe re-escapes sub-delims", "/x(y)|", Ok("/x%28y%29%7C")),
        ("re-escaping decodes %2F", "/a%2Fb|", Ok("/a/b%7C")),
        ("re-escaping keeps %25", "/a%25{", Ok("/a%25%7B")),
        ("re-escaping decodes unreserved", "/a%41{", Ok("/aA%7B")),
        ("percent at the end", "/bad%", Err(RoutingPathError)),
        ("one digit", "/bad%4", Err(RoutingPathError)),
        ("not hex", "/bad%zz", Err(RoutingPathError)),
        ("not hex with braces", "/{%zz", Err(RoutingPathError)),
    ];
    for (what, input, want) in cases {
        let got = normalize_path(input).map(|c| c.into_owned());
        assert_eq!(
            got,
            want.clone().map(String::from),
            "{what}: normalize_path({input:?})"
        );
        if let Ok(once) = &got {
            assert_eq!(
                normalize_path(once).map(|c| c.into_owned()),
                Ok(once.clone()),
                "{what}: idempotent"
            );
        }
    }
}

#[test]
fn routing_path_table() {
    let cases: &[(&str, &str, Result<&str, RoutingPathError>)] = &[
        ("no escapes", "/a/b", Ok("/a/b")),
        ("reserved kept", "/a%2Fb", Ok("/a%2Fb")),
        (
            "all reserved kept",
            "/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25",
            Ok("/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D%25"),
        ),
        ("space decoded", "/a%20b", Ok("/a b")),
        ("utf-8 decoded", "/caf%C3%A9", Ok("/café")),
        (
            "lower-case reserved decoded (as Traefik)",
            "/a%2f",
            Ok("/a/"),
        ),
        ("percent then letter", "/%25%41", Ok("/%25A")),
        ("invalid utf-8 kept escaped", "/%FF", Ok("/%FF")),
        (
            "truncated utf-8 kept escaped",
            "/%E2%82%AC%E2%82",
            Ok("/€%E2%82"),
        ),
        ("broken escape", "/a%2", Err(RoutingPathError)),
        ("not hex", "/a%zz", Err(RoutingPathError)),
    ];
    for (what, input, want) in cases {
        let got = routing_path(input).map(|c| c.into_owned());
        assert_eq!(
            got,
            want.clone().map(String::from),
            "{what}: routing_path({input:?})"
        );
    }
}
