//! The forwarded-headers step, table by table.

use super::*;

fn hdrs(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

#[test]
fn forwarded_headers_table() {
    struct Case {
        what: &'static str,
        insecure: bool,
        trusted: &'static [&'static str],
        peer: &'static str,
        tls: bool,
        host: &'static str,
        given: &'static [(&'static str, &'static str)],
        want: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            what: "plain request gets every header",
            insecure: false,
            trusted: &[],
            peer: "10.0.0.1",
            tls: false,
            host: "example.com",
            given: &[],
            want: &[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "example.com"),
                ("x-forwarded-port", "80"),
                ("x-forwarded-server", "proxy"),
                ("x-real-ip", "10.0.0.1"),
            ],
        },
        Case {
            what: "untrusted peer cannot set X-Forwarded-*",
            insecure: false,
            trusted: &["192.168.0.0/16"],
            peer: "10.0.0.1",
            tls: false,
            host: "example.com:8000",
            given: &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-for", "1.1.1.1"),
                ("x-real-ip", "1.1.1.1"),
            ],
            want: &[
                ("x-forwarded-proto", "http"),
                ("x-forwarded-port", "8000"),
                ("x-real-ip", "10.0.0.1"),
                ("x-forwarded-for", ""),
            ],
        },
        Case {
            what: "untrusted peer cannot set them with `_` for `-` either",
            insecure: false,
            trusted: &[],
            peer: "10.0.0.1",
            tls: false,
            host: "example.com",
            given: &[
                ("x_forwarded_for", "1.1.1.1"),
                ("x_forwarded_host", "evil.test"),
                ("x-forwarded_proto", "https"),
                ("x_forwarded_port", "444"),
                ("x_forwarded_server", "s"),
                ("x_forwarded_uri", "/u"),
                ("x_forwarded_method", "PUT"),
                ("x_forwarded_prefix", "/p"),
                ("x_forwarded_tls_client_cert", "c"),
                ("x_forwarded_tls_client_cert_info", "i"),
                ("x_real_ip", "2.2.2.2"),
                ("x_auth_user", "kept: not managed"),
                ("x.forwarded.for", "kept: only `_` is read as `-`"),
                ("x-scheme", "kept: not managed in 3.7"),
            ],
            want: &[
                ("x_forwarded_for", ""),
                ("x_forwarded_host", ""),
                ("x-forwarded_proto", ""),
                ("x_forwarded_port", ""),
                ("x_forwarded_server", ""),
                ("x_forwarded_uri", ""),
                ("x_forwarded_method", ""),
                ("x_forwarded_prefix", ""),
                ("x_forwarded_tls_client_cert", ""),
                ("x_forwarded_tls_client_cert_info", ""),
                ("x_real_ip", ""),
                ("x_auth_user", "kept: not managed"),
                ("x.forwarded.for", "kept: only `_` is read as `-`"),
                ("x-scheme", "kept: not managed in 3.7"),
                ("x-forwarded-proto", "http"),
                ("x-forwarded-host", "example.com"),
                ("x-forwarded-port", "80"),
                ("x-real-ip", "10.0.0.1"),
            ],
        },
        Case {
            what: "trusted peer keeps its `_` headers beside the real ones",
            insecure: false,
            trusted: &["10.0.0.0/8"],
            peer: "10.0.0.1",
            tls: false,
            host: "example.com",
            given: &[("x_forwarded_for", "1.1.1.1"), ("x_real_ip", "2.2.2.2")],
            want: &[
                ("x_forwarded_for", "1.1.1.1"),
                ("x_real_ip", "2.2.2.2"),
                ("x-real-ip", "10.0.0.1"),
            ],
        },
        Case {
            what: "trusted peer keeps its headers",
            insecure: false,
            trusted: &["10.0.0.0/8"],
            peer: "10.0.0.1",
            tls: false,
            host: "example.com",
            given: &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "a.com:444"),
                ("x-real-ip", "1.1.1.1"),
            ],
            want: &[
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "a.com:444"),
                ("x-forwarded-port", "443"),
                ("x-real-ip", "1.1.1.1"),
            ],
        },
        Case {
            what: "insecure trusts everyone",
            insecure: true,
            trusted: &[],
            peer: "10.0.0.1",
            tls: true,
            host: "example.com",
            given: &[("x-forwarded-for", "1.1.1.1")],
            want: &[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-port", "443"),
            ],
        },
        Case {
            what: "websocket is ws",
            insecure: false,
            trusted: &[],
            peer: "::1",
            tls: false,
            host: "[::1]:9000",
            given: &[("upgrade", "websocket")],
            want: &[
                ("x-forwarded-proto", "ws"),
                ("x-forwarded-port", "9000"),
                ("x-real-ip", "::1"),
            ],
        },
    ];
    for c in cases {
        let trusted: Vec<String> = c.trusted.iter().map(|s| s.to_string()).collect();
        let fh = ForwardedHeaders::new(c.insecure, &trusted, "proxy").unwrap();
        let mut h = hdrs(c.given);
        fh.apply(&mut h, c.peer.parse().unwrap(), c.tls, 8000, Some(c.host))
            .unwrap();
        for (k, v) in c.want {
            let got = h
                .get(*k)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert_eq!(&got, v, "{}: header {k}", c.what);
        }
    }
}

#[test]
fn connection_cannot_name_managed_headers_away() {
    type Headers = &'static [(&'static str, &'static str)];
    let cases: [(&str, Headers, Headers); 4] = [
        (
            "named headers go, managed ones stay",
            &[
                ("connection", "X-Forwarded-Host, x-real-ip, X-Drop"),
                ("x-drop", "1"),
                ("x-keep", "1"),
            ],
            &[
                ("connection", ""),
                ("x-drop", ""),
                ("x-keep", "1"),
                ("x-forwarded-host", "example.com"),
                ("x-real-ip", "10.0.0.1"),
            ],
        ),
        (
            "an upgrade keeps Connection: Upgrade",
            &[
                ("connection", "keep-alive, Upgrade"),
                ("upgrade", "websocket"),
            ],
            &[("connection", "Upgrade"), ("upgrade", "websocket")],
        ),
        (
            "Upgrade named away without the token",
            &[("connection", "close, upgrade-x"), ("upgrade", "h2c")],
            &[("connection", ""), ("upgrade", "h2c")],
        ),
        (
            "no Connection: nothing changes",
            &[("x-drop", "1")],
            &[("x-drop", "1")],
        ),
    ];
    let fh = ForwardedHeaders::new(false, &[], "proxy").unwrap();
    for (what, given, want) in cases {
        let mut h = hdrs(given);
        fh.apply(
            &mut h,
            "10.0.0.1".parse().unwrap(),
            false,
            80,
            Some("example.com"),
        )
        .unwrap();
        for (k, v) in want {
            let got = h
                .get(*k)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert_eq!(&got, v, "{what}: header {k}");
        }
    }
}

#[test]
fn managed_names() {
    let cases = [
        ("x-forwarded-for", true),
        ("x_forwarded_for", true),
        ("x-forwarded_host", true),
        ("x_forwarded_tls_client_cert_info", true),
        ("x_real_ip", true),
        ("x-forwarded-fo", false),
        ("x_forwarded_forx", false),
        ("x.forwarded.for", false),
        ("x-scheme", false),
        ("x_auth_user", false),
        ("forwarded", false),
    ];
    for (name, want) in cases {
        assert_eq!(is_managed(name), want, "{name}");
    }
}

#[test]
fn alias_strategy_from_config() {
    use AliasAction::*;
    /// The action, and whether only underscores count.
    type Parsed = Option<(AliasAction, bool)>;
    let cases: [(&str, &str, Parsed); 10] = [
        ("", "", Some((Keep, true))),
        ("keep", "", Some((Keep, true))),
        ("delete", "", Some((Delete, true))),
        ("reject", "", Some((Reject, true))),
        ("", "delete", Some((Delete, false))),
        ("", "reject", Some((Reject, false))),
        ("delete", "delete", Some((Delete, false))),
        ("delete", "keep", None),
        ("", "Delete", None),
        ("drop", "", None),
    ];
    for (underscore, alias, want) in cases {
        let got = AliasHeaders::from_config(underscore, alias)
            .ok()
            .map(|a| (a.action, a.underscores_only));
        assert_eq!(got, want, "underscore {underscore:?}, alias {alias:?}");
    }
}

#[test]
fn alias_strategy_applies_before_the_forwarded_headers() {
    let given: &[(&str, &str)] = &[
        ("x_forwarded_for", "1.1.1.1"),
        ("x.forwarded.proto", "https"),
        ("a!b", "1"),
        ("x-plain-9", "kept"),
    ];
    let run = |underscore: &str, alias: &str| {
        let fh = ForwardedHeaders::new(true, &[], "proxy")
            .unwrap()
            .with_alias_headers(AliasHeaders::from_config(underscore, alias).unwrap());
        let mut h = hdrs(given);
        let peer = "10.0.0.1".parse().unwrap();
        fh.apply(&mut h, peer, false, 80, Some("example.com"))
            .map(|()| {
                let mut names: Vec<String> = h
                    .keys()
                    .map(|k| k.as_str().to_string())
                    .filter(|k| !k.starts_with("x-forwarded-") && k != "x-real-ip")
                    .collect();
                names.sort();
                names
            })
            .map_err(|e| e.0.as_str().to_string())
    };
    let names = |list: &[&str]| -> Result<Vec<String>, String> {
        Ok(list.iter().map(|s| s.to_string()).collect())
    };
    assert_eq!(
        run("", ""),
        names(&["a!b", "x-plain-9", "x.forwarded.proto", "x_forwarded_for"]),
        "keep: a trusted peer's aliases go on"
    );
    assert_eq!(
        run("delete", ""),
        names(&["a!b", "x-plain-9", "x.forwarded.proto"]),
        "underscores only"
    );
    assert_eq!(run("", "delete"), names(&["x-plain-9"]), "every alias");
    assert!(run("", "reject").is_err(), "any alias refuses the request");
    assert_eq!(
        run("reject", ""),
        Err("x_forwarded_for".to_string()),
        "an underscore refuses the request"
    );
    let resp = AliasRejected(HeaderName::from_static("a_b")).into_response();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
}

#[test]
fn forwarded_for_appends() {
    let mut h = hdrs(&[("x-forwarded-for", "1.1.1.1")]);
    append_forwarded_for(&mut h, "10.0.0.2".parse().unwrap());
    assert_eq!(h.get("x-forwarded-for").unwrap(), "1.1.1.1, 10.0.0.2");
    let mut h = HeaderMap::new();
    append_forwarded_for(&mut h, "::1".parse().unwrap());
    assert_eq!(h.get("x-forwarded-for").unwrap(), "::1");
}

#[test]
fn bad_trusted_ip_is_an_error() {
    assert!(ForwardedHeaders::new(false, &["nope".into()], "h").is_err());
    assert!(ForwardedHeaders::new(false, &["10.0.0.0/8".into(), "::1".into()], "h").is_ok());
}

#[test]
fn connection_list_keeps_named_headers_for_the_middlewares() {
    type Headers = &'static [(&'static str, &'static str)];
    let cases: [(&str, Headers, Headers); 4] = [
        (
            "a kept name stays and Connection names it, canonical",
            &[
                ("connection", "x-keep-me, X-Drop"),
                ("x-keep-me", "1"),
                ("x-drop", "1"),
            ],
            &[
                ("connection", "X-Keep-Me"),
                ("x-keep-me", "1"),
                ("x-drop", ""),
            ],
        ),
        (
            "kept names and an upgrade",
            &[
                ("connection", "Upgrade, X-Keep-Me"),
                ("upgrade", "websocket"),
                ("x-keep-me", "1"),
            ],
            &[
                ("connection", "X-Keep-Me,Upgrade"),
                ("upgrade", "websocket"),
                ("x-keep-me", "1"),
            ],
        ),
        (
            "a kept name not in Connection changes nothing",
            &[
                ("connection", "x-drop"),
                ("x-drop", "1"),
                ("x-keep-me", "2"),
            ],
            &[("connection", ""), ("x-drop", ""), ("x-keep-me", "2")],
        ),
        (
            "managed names stay unnamed even when listed",
            &[("connection", "x-real-ip")],
            &[("connection", ""), ("x-real-ip", "10.0.0.1")],
        ),
    ];
    let fh = ForwardedHeaders::new(false, &[], "proxy")
        .unwrap()
        .with_connection(&["X-Keep-Me".into(), "x-real-ip".into()])
        .unwrap();
    for (what, given, want) in cases {
        let mut h = hdrs(given);
        fh.apply(
            &mut h,
            "10.0.0.1".parse().unwrap(),
            false,
            80,
            Some("example.com"),
        )
        .unwrap();
        for (k, v) in want {
            let got = h
                .get(*k)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            assert_eq!(&got, v, "{what}: header {k}");
        }
    }
    assert!(ForwardedHeaders::new(false, &[], "proxy")
        .unwrap()
        .with_connection(&["bad name".into()])
        .is_err());
}

/// The hand-written IPv4 digits read as `Display` writes them, for every
/// octet width; IPv6 (mapped IPv4 too) as `Display` writes it.
#[test]
fn ip_values_are_written_as_display_writes_them() {
    let mut ips: Vec<IpAddr> = [
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.255",
        "10.9.99.100",
        "1.20.199.250",
        "::1",
        "::ffff:10.0.0.1",
        "2001:db8::8a2e:370:7334",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    for octet in 0..=255u8 {
        ips.push(IpAddr::from([octet, 255 - octet, octet / 3, 7]));
    }
    for ip in ips {
        assert_eq!(ip_value(ip).to_str().unwrap(), ip.to_string(), "{ip}");
        let mut h = hdrs(&[("x-forwarded-for", "1.1.1.1")]);
        append_forwarded_for(&mut h, ip);
        assert_eq!(h["x-forwarded-for"], format!("1.1.1.1, {ip}"), "{ip}");
    }
}
