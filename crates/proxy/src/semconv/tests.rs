//! The semantic-convention histograms' unit tests: attribute values as
//! Traefik gives them, buckets, the cardinality limit, and when a server
//! or client call is recorded.

use super::*;

fn attrs(address: &str, status: u16) -> Attributes<'_> {
    Attributes {
        method: "GET",
        status,
        protocol: protocol(Version::HTTP_11),
        address,
        port: None,
        scheme: "http",
    }
}

/// The attribute sets of `h` with their counts, the overflow set as
/// `None`, sorted.
fn series(h: &Histogram) -> Vec<(Option<(String, u16)>, u64)> {
    let mut out: Vec<_> = h
        .snapshot()
        .into_iter()
        .map(|(a, s)| {
            let a = a.map(|a| (a.get().address.to_string(), a.get().status));
            (a, s.count)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn protocol_table() {
    let cases = [
        ("HTTP/1.0", Version::HTTP_10, ("http/1.0", "1.0")),
        ("HTTP/1.1", Version::HTTP_11, ("http/1.1", "1.1")),
        (
            "HTTP/2: Go's Proto is HTTP/2.0",
            Version::HTTP_2,
            ("http/2.0", "HTTP/2.0"),
        ),
        (
            "HTTP/3: Go's Proto is HTTP/3.0",
            Version::HTTP_3,
            ("http/3.0", "HTTP/3.0"),
        ),
    ];
    for (what, version, want) in cases {
        assert_eq!(protocol(version), want, "{what}");
    }
}

#[test]
fn server_port_table() {
    // (what, URL names a port, https, h2c, server.port)
    let cases = [
        ("http://h:81: Traefik loses the port", true, false, false, 0),
        ("https://h:8443", true, true, false, 0),
        ("http://h", false, false, false, 80),
        ("https://h", false, true, false, 443),
        ("h2c://h: neither http nor https", false, false, true, 0),
    ];
    for (what, explicit, https, h2c, want) in cases {
        assert_eq!(server_port(explicit, https, h2c), want, "{what}");
    }
}

#[test]
fn observations_fill_buckets_min_max_and_sum() {
    let h = Histogram::new(Arc::new(Buckets::new(&[0.1, 1.0])));
    let a = attrs("app.test", 200);
    for ms in [50, 100, 700, 3000] {
        h.record(a, Duration::from_millis(ms));
    }
    h.record(attrs("app.test", 404), Duration::from_millis(1));
    let got = h.snapshot();
    assert_eq!(got.len(), 2);
    let (_, s) = got
        .iter()
        .find(|(attributes, _)| attributes.as_ref().map(|x| x.get()) == Some(a))
        .expect("the 200 series");
    assert_eq!(s.count, 4);
    assert_eq!(s.buckets, [2, 1, 1], "bounds are inclusive, +Inf last");
    assert!((s.sum - 3.85).abs() < 1e-9, "{}", s.sum);
    assert!((s.min - 0.05).abs() < 1e-9 && (s.max - 3.0).abs() < 1e-9);
}

#[test]
fn sets_beyond_the_limit_go_to_the_overflow_set() {
    let h = Histogram::new(Arc::new(Buckets::new(&[1.0])));
    let hosts: Vec<String> = (0..CARDINALITY_LIMIT + 100)
        .map(|i| format!("h{i}.test"))
        .collect();
    for host in &hosts {
        h.record(attrs(host, 404), Duration::ZERO);
    }
    // A set seen before the limit keeps its own series.
    h.record(attrs(&hosts[0], 404), Duration::ZERO);
    let got = series(&h);
    assert_eq!(got.len(), CARDINALITY_LIMIT, "the overflow set included");
    let overflow: Vec<_> = got.iter().filter(|(a, _)| a.is_none()).collect();
    assert_eq!(overflow, [&(None, 101)]);
    assert!(got.contains(&(Some((hosts[0].clone(), 404)), 2)));
}

#[test]
fn server_call_reads_host_scheme_method_and_version() {
    let semconv = Arc::new(SemConv::new(&[1.0]));
    // (what, request, server.address, url.scheme, method, protocol)
    type Case = (
        &'static str,
        http::Request<()>,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );
    let build = |method: &str, uri: &str, headers: &[(&str, &str)], v: Version| {
        let mut b = http::Request::builder().method(method).uri(uri).version(v);
        for (k, val) in headers {
            b = b.header(*k, *val);
        }
        b.body(()).unwrap_or_default()
    };
    let cases: Vec<Case> = vec![
        (
            "Host header with its port, forwarded scheme",
            build(
                "GET",
                "/",
                &[("host", "App.test:81"), ("x-forwarded-proto", "http")],
                Version::HTTP_11,
            ),
            "App.test:81",
            "http",
            "GET",
            "http/1.1",
        ),
        (
            "HTTP/2 authority",
            build(
                "POST",
                "https://app.test/x",
                &[("x-forwarded-proto", "https")],
                Version::HTTP_2,
            ),
            "app.test",
            "https",
            "POST",
            "http/2.0",
        ),
        (
            "unknown method as sent, no forwarded scheme",
            build("PURGE", "/", &[("host", "a.test")], Version::HTTP_10),
            "a.test",
            "",
            "PURGE",
            "http/1.0",
        ),
    ];
    for (what, req, address, scheme, method, proto) in cases {
        let s = Arc::new(SemConv::new(&[1.0]));
        ServerCall::begin(&s, &req).record(503, Duration::ZERO);
        // Dropped unrecorded: the client went away.
        drop(ServerCall::begin(&s, &req));
        let mut got = s.server.snapshot();
        got.sort_by_key(|(a, _)| a.as_ref().map(|a| a.get().status));
        assert_eq!(got.len(), 2, "{what}");
        assert_eq!(
            got[0].0.as_ref().map(|a| a.get().status),
            Some(499),
            "{what}: gone"
        );
        let a = got[1].0.clone().expect(what);
        let a = a.get();
        assert_eq!(
            (
                a.address,
                a.scheme,
                a.method,
                a.protocol.0,
                a.status,
                a.port
            ),
            (address, scheme, method, proto, 503, None),
            "{what}"
        );
    }
    assert!(semconv.server.snapshot().is_empty());
}

#[test]
fn client_call_records_status_error_or_client_gone() {
    let semconv = Arc::new(SemConv::new(&[1.0]));
    let authority: http::uri::Authority = "127.0.0.1:9".parse().unwrap_or_else(|_| unreachable!());
    let mut req = Request::new(crate::body::empty());
    assert!(
        ClientCall::start(&req, &authority, 0).is_none(),
        "not recorded without ClientMetrics"
    );
    req.extensions_mut().insert(ClientMetrics(semconv.clone()));
    req.headers_mut()
        .insert("x-forwarded-proto", HeaderValue::from_static("https"));

    let ok: Result<http::Response<()>, crate::ProxyError> = Ok(http::Response::new(()));
    ClientCall::start(&req, &authority, 0)
        .expect("recorded")
        .finish(&ok);
    let refused: Result<http::Response<()>, crate::ProxyError> =
        Err(crate::ProxyError::NoAvailableServer);
    ClientCall::start(&req, &authority, 0)
        .expect("recorded")
        .finish(&refused);
    drop(ClientCall::start(&req, &authority, 0));

    let mut got: Vec<(u16, Option<u16>, String, String, u64)> = semconv
        .client
        .snapshot()
        .into_iter()
        .filter_map(|(a, s)| {
            let a = a?;
            let a = a.get();
            Some((
                a.status,
                a.port,
                a.address.to_string(),
                format!("{} {} {}", a.method, a.scheme, a.protocol.1),
                s.count,
            ))
        })
        .collect();
    got.sort();
    let row = |status| {
        (
            status,
            Some(0),
            "127.0.0.1:9".to_string(),
            "GET https 1.1".to_string(),
            1,
        )
    };
    assert_eq!(got, [row(200), row(499), row(503)]);
}

#[test]
fn attribute_hashers_are_seeded_at_random() {
    // Each histogram's hasher has a random seed: the same set hashes
    // differently in each, so a client cannot precompute colliding sets.
    let a = attrs("app.test", 200);
    let hashes: std::collections::HashSet<u64> =
        (0..8).map(|_| attribute_hasher().hash_one(a)).collect();
    assert_eq!(hashes.len(), 8, "{hashes:?}");
    // One hasher is stable: a set finds its series again.
    let h = attribute_hasher();
    assert_eq!(h.hash_one(a), h.hash_one(a));
    assert_ne!(h.hash_one(a), h.hash_one(attrs("app.test", 404)));
}
