//! Matching a program's own `http::Request` ([`crate::PreparedRequest`],
//! [`crate::Rule::matches_request`]): the request is prepared as a Traefik
//! entrypoint prepares it before the routers see it.

use std::net::IpAddr;

use crate::{parse, PreparedRequest};

/// A request from `(method, uri, host header)`.
fn request(method: &str, uri: &str, host: Option<&str>) -> http::Request<()> {
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(h) = host {
        b = b.header("host", h);
    }
    b.header("x-tenant", "blue").body(()).unwrap()
}

/// (description, rule, method, uri, host header, client, expected)
type Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    IpAddr,
    bool,
);

#[test]
#[rustfmt::skip]
fn http_request_table() {
    let local: IpAddr = [127, 0, 0, 1].into();
    let private: IpAddr = [10, 1, 2, 3].into();
    // (description, rule, method, uri, host header, client, expected)
    let cases: Vec<Case> = vec![
        ("host header, port and case ignored", "Host(`a.test`)", "GET", "/", Some("A.Test:8080"), local, true),
        ("host from the authority without a header", "Host(`a.test`)", "GET", "http://a.test/x", None, local, true),
        ("the header wins over the authority", "Host(`b.test`)", "GET", "http://a.test/x", Some("b.test"), local, true),
        ("no host at all", "Host(`a.test`)", "GET", "/", None, local, false),
        ("path prefix", "PathPrefix(`/api`)", "GET", "/api/users", None, local, true),
        ("dot segments cleaned before matching", "PathPrefix(`/api`)", "GET", "/static/../api/x", None, local, true),
        ("double slashes cleaned", "Path(`/a/b`)", "GET", "//a//b", None, local, true),
        ("unreserved escapes decoded", "Path(`/~me`)", "GET", "/%7eme", None, local, true),
        ("escaped slash kept", "Path(`/a/b`)", "GET", "/a%2Fb", None, local, false),
        ("method", "Method(`POST`)", "POST", "/", None, local, true),
        ("other method", "Method(`POST`)", "GET", "/", None, local, false),
        ("header", "Header(`X-Tenant`, `blue`)", "GET", "/", None, local, true),
        ("query", "Query(`a`, `1`)", "GET", "/?a=1", None, local, true),
        ("semicolon separates like &", "Query(`b`, `2`)", "GET", "/?a=1;b=2", None, local, true),
        ("client ip in range", "ClientIP(`10.0.0.0/8`)", "GET", "/", None, private, true),
        ("client ip out of range", "ClientIP(`10.0.0.0/8`)", "GET", "/", None, local, false),
        ("broken escape matches nothing", "PathPrefix(`/`)", "GET", "/a%zz", None, local, false),
    ];
    for (what, rule, method, uri, host, client, expected) in cases {
        let rule = parse(rule).unwrap_or_else(|e| panic!("{what}: {e}"));
        let req = request(method, uri, host);
        assert_eq!(rule.matches_request(&req, client), expected, "{what}");
        let (parts, ()) = req.into_parts();
        assert_eq!(rule.matches_parts(&parts, client), expected, "{what} (parts)");
    }
}

#[test]
fn prepared_request_is_what_the_matchers_see() {
    let req = request("GET", "/x/./y/../z?q=1;r=2", Some("WWW.Example.com."));
    let prepared = PreparedRequest::new(&req, [127, 0, 0, 1].into()).unwrap();
    let info = prepared.info();
    assert_eq!(info.host, "www.example.com");
    assert_eq!(info.path, "/x/z");
    assert_eq!(info.query, Some("q=1&r=2"));
    let broken = request("GET", "/%", None);
    assert!(matches!(
        PreparedRequest::new(&broken, [127, 0, 0, 1].into()),
        Err(crate::RoutingPathError)
    ));
}
