//! Table-driven tests of the static translation, on configurations read
//! from YAML files the way the binary reads them.

use std::sync::atomic::{AtomicUsize, Ordering};

use switchyard_config::loader::{load_static_from, Loaded};
use switchyard_config::static_config::StaticConfiguration;
use switchyard_rules::Syntax;

use super::*;

/// Loads `yaml` as a static configuration file (through `--configFile`).
fn load(yaml: &str) -> Loaded {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("sy-static-translation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("static-{}.yml", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, yaml).expect("write the static file");
    let args = [format!("--configFile={}", path.display())];
    let loaded = load_static_from(&args, &[], &[]);
    let _ = std::fs::remove_file(&path);
    match loaded {
        Ok(l) => l,
        Err(e) => panic!("the test configuration does not load: {e}\n{yaml}"),
    }
}

/// (description, YAML, what is expected: a value or the start of the error).
type Case<T> = (&'static str, &'static str, Result<T, &'static str>);

fn config(yaml: &str) -> StaticConfiguration {
    load(yaml).config
}

/// One entrypoint `web` on `:8000` with `extra` (indented 4) below it.
fn web(extra: &str) -> String {
    format!("entryPoints:\n  web:\n    address: \":8000\"\n{extra}")
}

fn settings(yaml: &str) -> Result<Vec<EntryPointSettings>, StaticError> {
    entrypoint_settings(&config(yaml), "host", &None)
}

#[test]
fn entrypoint_errors_name_the_key() {
    let cases: &[(&str, String, &str)] = &[
        (
            "proxyProtocol trustedIPs not an IP",
            web("    proxyProtocol:\n      trustedIPs: [\"10.0.0.0/8\", \"not-an-ip\"]\n"),
            "entryPoints.web.proxyProtocol.trustedIPs: ",
        ),
        (
            "forwardedHeaders trustedIPs not an IP",
            web("    forwardedHeaders:\n      trustedIPs: [\"1.2.3.4/40\"]\n"),
            "entryPoints.web.forwardedHeaders.trustedIPs: invalid trusted IP \"1.2.3.4/40\"",
        ),
        (
            "forwardedHeaders connection not a header name",
            web("    forwardedHeaders:\n      connection: [\"bad header\"]\n"),
            "entryPoints.web.forwardedHeaders.connection: invalid header name \"bad header\"",
        ),
        (
            "keepAliveMaxRequests negative",
            web("    transport:\n      keepAliveMaxRequests: -1\n"),
            "entryPoints.web.transport.keepAliveMaxRequests: -1 is negative",
        ),
        (
            "http2 maxConcurrentStreams negative",
            web("    http2:\n      maxConcurrentStreams: -5\n"),
            "entryPoints.web.http2: max concurrent streams value must be greater than or equal to zero",
        ),
        (
            "http2 maxDecoderHeaderTableSize negative",
            web("    http2:\n      maxDecoderHeaderTableSize: -1\n"),
            "entryPoints.web.http2: max decoder header table size value",
        ),
        (
            "http3 advertisedPort beyond 65535",
            web("    http3:\n      advertisedPort: 70000\n"),
            "entryPoints.web.http3.advertisedPort: 70000 is not a port (0-65535)",
        ),
        (
            "unknown underscoreHeadersStrategy",
            web("    http:\n      underscoreHeadersStrategy: explode\n"),
            "entryPoints.web.http: ",
        ),
    ];
    for (what, yaml, want) in cases {
        match settings(yaml) {
            Ok(_) => panic!("{what}: accepted"),
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(want),
                    "{what}: {text:?} does not start with {want:?}"
                );
            }
        }
    }
}

#[test]
fn entrypoint_settings_carry_the_values() {
    type Check = fn(&EntryPointSettings) -> bool;
    let cases: &[(&str, String, Check)] = &[
        ("keepAliveMaxRequests unset is no limit", web(""), |s| {
            s.keep_alive_max_requests == 0
        }),
        (
            "keepAliveMaxRequests kept",
            web("    transport:\n      keepAliveMaxRequests: 7\n"),
            |s| s.keep_alive_max_requests == 7,
        ),
        ("http2 unset is Go's defaults", web(""), |s| {
            s.http2 == Http2Limits::default()
        }),
        (
            "http2 0 is Go's default, others kept",
            web("    http2:\n      maxConcurrentStreams: 0\n      maxDecoderHeaderTableSize: 8192\n"),
            |s| {
                s.http2.max_concurrent_streams == Http2Limits::default().max_concurrent_streams
                    && s.http2.max_decoder_header_table_size == 8192
            },
        ),
        ("no proxyProtocol", web(""), |s| s.proxy_protocol.is_none()),
        (
            "proxyProtocol with CIDRs",
            web("    proxyProtocol:\n      trustedIPs: [\"127.0.0.1/32\", \"::1\"]\n"),
            |s| s.proxy_protocol.is_some(),
        ),
        ("no http3", web(""), |s| s.http3.is_none()),
        (
            "http3 advertisedPort",
            web("    http3:\n      advertisedPort: 443\n"),
            |s| s.http3 == Some(443),
        ),
        (
            "readTimeout 0 is no timeout",
            web("    transport:\n      respondingTimeouts:\n        readTimeout: 0s\n"),
            |s| s.read_timeout.is_none(),
        ),
        (
            "idleTimeout kept",
            web("    transport:\n      respondingTimeouts:\n        idleTimeout: 42s\n"),
            |s| s.idle_timeout == Some(Duration::from_secs(42)),
        ),
        (
            "keepAliveMaxTime kept",
            web("    transport:\n      keepAliveMaxTime: 3s\n"),
            |s| s.keep_alive_max_time == Some(Duration::from_secs(3)),
        ),
    ];
    for (what, yaml, check) in cases {
        let all = settings(yaml).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(all.len(), 1, "{what}");
        assert_eq!(all[0].name, "web", "{what}");
        assert_eq!(all[0].address, ":8000", "{what}");
        assert!(check(&all[0]), "{what}: {:?}", all[0]);
    }
}

#[test]
fn redirection_targets() {
    let base = "entryPoints:\n  websecure:\n    address: \":8443\"\n  odd:\n    address: \"nohost:abc\"\n  web:\n    address: \":8000\"\n    http:\n      redirections:\n        entryPoint:\n";
    // (description, lines below `entryPoint:`, expected port and priority or error)
    let cases: &[Case<(u16, i64)>] = &[
        ("a port", "          to: \":443\"\n", Ok((443, MAX_PRIORITY - 1))),
        (
            "an entrypoint: its port",
            "          to: websecure\n",
            Ok((8443, MAX_PRIORITY - 1)),
        ),
        (
            "priority 0 is the default",
            "          to: websecure\n          priority: 0\n",
            Ok((8443, MAX_PRIORITY - 1)),
        ),
        (
            "an explicit priority",
            "          to: websecure\n          priority: 10\n",
            Ok((8443, 10)),
        ),
        (
            "a port too large",
            "          to: \":70000\"\n",
            Err("entryPoints.web.http.redirections.entryPoint.to: \":70000\" is not a port (0-65535)"),
        ),
        (
            "an entrypoint whose address has no port",
            "          to: odd\n",
            Err("entryPoints.web.http.redirections.entryPoint.to: entryPoint \"odd\": invalid address \"nohost:abc\""),
        ),
        (
            "an unknown entrypoint",
            "          to: nowhere\n",
            Err("entryPoints.web.http.redirections.entryPoint.to: \"nowhere\" is neither a port"),
        ),
    ];
    for (what, lines, want) in cases {
        let got = internal_settings(&config(&format!("{base}{lines}")));
        match (got, want) {
            (Ok(s), Ok((port, priority))) => {
                assert_eq!(s.redirections.len(), 1, "{what}");
                let r = &s.redirections[0];
                assert_eq!(
                    (r.from.as_str(), r.port, r.priority),
                    ("web", *port, *priority),
                    "{what}"
                );
            }
            (Err(e), Err(prefix)) => {
                let text = e.to_string();
                assert!(text.starts_with(prefix), "{what}: {text:?}");
            }
            (Ok(s), Err(_)) => panic!("{what}: accepted: {s:?}"),
            (Err(e), Ok(_)) => panic!("{what}: {e}"),
        }
    }
}

#[test]
fn internal_features() {
    let s = internal_settings(&config(
        "entryPoints:\n  web:\n    address: \":8000\"\napi:\n  insecure: true\n  dashboard: true\nping:\n  entryPoint: web\n",
    ))
    .expect("valid");
    assert!(s.api_insecure && s.dashboard);
    assert_eq!(s.ping_entrypoint.as_deref(), Some("web"));
    let s = internal_settings(&config(
        "entryPoints:\n  web:\n    address: \":8000\"\nping:\n  manualRouting: true\n",
    ))
    .expect("valid");
    assert!(!s.api_insecure && !s.dashboard);
    assert_eq!(s.ping_entrypoint, None, "manual routing: no ping router");
    assert!(s.redirections.is_empty());
}

#[test]
fn provider_precedence_names() {
    let cases: &[Case<Option<&[&str]>>] = &[
        ("none given", "", Ok(None)),
        (
            "Traefik's providers",
            "providers:\n  precedence: [docker, file]\n",
            Ok(Some(&["docker", "file"])),
        ),
        (
            "an unknown provider",
            "providers:\n  precedence: [file, nomad2]\n",
            Err("providers.precedence: provider \"nomad2\" is not a valid provider name (one of kubernetesgateway, "),
        ),
    ];
    for (what, yaml, want) in cases {
        let c = config(&format!(
            "entryPoints:\n  web:\n    address: \":8000\"\n{yaml}"
        ));
        match (check_precedence(&c), want) {
            (Ok(()), Ok(names)) => {
                let got = static_view(&c).provider_precedence;
                let want = names.map(|n| n.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                assert_eq!(got, want, "{what}");
            }
            (Err(e), Err(prefix)) => {
                let text = e.to_string();
                assert!(text.starts_with(prefix), "{what}: {text:?}");
                assert!(check(&c).is_err(), "{what}: check() stops the start too");
            }
            (Ok(()), Err(_)) => panic!("{what}: accepted"),
            (Err(e), Ok(_)) => panic!("{what}: {e}"),
        }
    }
}

#[test]
fn default_rule_syntax_values() {
    let cases: &[Case<Option<Syntax>>] = &[
        ("not given", "", Ok(None)),
        (
            "v2",
            "core:\n  defaultRuleSyntax: v2\n",
            Ok(Some(Syntax::V2)),
        ),
        (
            "v3",
            "core:\n  defaultRuleSyntax: v3\n",
            Ok(Some(Syntax::V3)),
        ),
        (
            "v4",
            "core:\n  defaultRuleSyntax: v4\n",
            Err("core.defaultRuleSyntax: unsupported default rule syntax configuration: \"v4\""),
        ),
    ];
    for (what, yaml, want) in cases {
        let c = config(&format!(
            "entryPoints:\n  web:\n    address: \":8000\"\n{yaml}"
        ));
        match (default_rule_syntax(&c), want) {
            (Ok(got), Ok(want)) => {
                assert_eq!(got, *want, "{what}");
                assert_eq!(static_view(&c).default_rule_syntax, *want, "{what}");
            }
            (Err(e), Err(part)) => {
                let text = e.to_string();
                // Located: the file and line come first.
                assert!(
                    e.location.as_deref().is_some_and(|l| l.contains(".yml")),
                    "{what}: {e:?}"
                );
                assert!(text.contains(part), "{what}: {text:?}");
                assert!(check(&c).is_err(), "{what}: check() stops the start too");
            }
            (Ok(got), Err(_)) => panic!("{what}: accepted as {got:?}"),
            (Err(e), Ok(_)) => panic!("{what}: {e}"),
        }
    }
}

#[test]
fn default_entrypoints() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "all but traefik",
            "entryPoints:\n  traefik:\n    address: \":8080\"\n  web:\n    address: \":8000\"\n  websecure:\n    address: \":8443\"\n",
            &["web", "websecure"],
        ),
        (
            "traefik when alone",
            "entryPoints:\n  traefik:\n    address: \":8080\"\n",
            &["traefik"],
        ),
        (
            "asDefault ones only",
            "entryPoints:\n  web:\n    address: \":8000\"\n  websecure:\n    address: \":8443\"\n    asDefault: true\n",
            &["websecure"],
        ),
    ];
    for (what, yaml, want) in cases {
        let view = static_view(&config(yaml));
        assert_eq!(view.default_entrypoints, *want, "{what}");
    }
}

#[test]
fn udp_entrypoints_are_apart_from_tcp_ones() {
    let loaded = load(
        "entryPoints:\n  web:\n    address: \":8000/tcp\"\n  dns:\n    address: \"127.0.0.1:5353/udp\"\n    udp:\n      timeout: 10s\n  syslog:\n    address: \":5514/UDP\"\n",
    );
    let (c, keys) = not_implemented(loaded.config, vec!["earlier.key".into()]);
    assert_eq!(keys, ["earlier.key"], "UDP entrypoints are served");
    let view = static_view(&c);
    assert_eq!(view.entrypoints, ["web"]);
    assert_eq!(
        view.default_entrypoints,
        ["web"],
        "HTTP routers stay off UDP"
    );
    assert_eq!(view.udp_entrypoints, ["dns", "syslog"]);
    let tcp = entrypoint_settings(&c, "h", &None).expect("tcp settings");
    assert_eq!(
        tcp.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["web"]
    );
    let udp = udp_entrypoint_settings(&c).expect("udp settings");
    let got: Vec<(&str, &str, Duration)> = udp
        .iter()
        .map(|s| (s.name.as_str(), s.address.as_str(), s.timeout))
        .collect();
    assert_eq!(
        got,
        [
            ("dns", "127.0.0.1:5353", Duration::from_secs(10)),
            ("syslog", ":5514", Duration::from_secs(3)),
        ]
    );
    let zero =
        load("entryPoints:\n  dns:\n    address: \":53/udp\"\n    udp:\n      timeout: 0s\n");
    let e = udp_entrypoint_settings(&zero.config).expect_err("0 refused");
    assert_eq!(e.key, "entryPoints.dns.udp.timeout");
}

#[test]
fn servers_transport_defaults() {
    let t = default_transport(&config("entryPoints:\n  web:\n    address: \":8000\"\n"));
    assert_eq!(t.dial_timeout, Some(Duration::from_secs(30)));
    assert!(!t.insecure_skip_verify);
    let t = default_transport(&config(
        "entryPoints:\n  web:\n    address: \":8000\"\nserversTransport:\n  insecureSkipVerify: true\n  maxIdleConnsPerHost: 7\n  forwardingTimeouts:\n    dialTimeout: 0s\n    responseHeaderTimeout: 5s\n",
    ));
    assert!(t.insecure_skip_verify);
    assert_eq!(t.max_idle_conns_per_host, 7);
    assert_eq!(t.dial_timeout, None, "0 is no timeout");
    assert_eq!(t.response_header_timeout, Some(Duration::from_secs(5)));
}

#[test]
fn throttle() {
    let c = config("entryPoints:\n  web:\n    address: \":8000\"\nproviders:\n  providersThrottleDuration: 500ms\n");
    assert_eq!(providers_throttle(&c), Duration::from_millis(500));
    let c = config("entryPoints:\n  web:\n    address: \":8000\"\n");
    assert_eq!(providers_throttle(&c), Duration::ZERO);
    let c = config(
        "entryPoints:\n  web:\n    address: \":8000\"\nproviders:\n  file:\n    filename: x.yml\n",
    );
    assert_eq!(providers_throttle(&c), Duration::ZERO);
}

#[test]
fn max_idle_conns_per_host_as_go_reads_it() {
    // (written, kept per server): Traefik's default, Go's meaning of 0
    // (its default of 2), a negative value (none kept), any other as is.
    for (written, kept) in [
        (None, 200),
        (Some(0), 2),
        (Some(-1), 0),
        (Some(-5), 0),
        (Some(1), 1),
        (Some(7), 7),
    ] {
        let extra = written.map_or(String::new(), |n| {
            format!("serversTransport:\n  maxIdleConnsPerHost: {n}\n")
        });
        let t = default_transport(&config(&format!(
            "entryPoints:\n  web:\n    address: \":8000\"\n{extra}"
        )));
        assert_eq!(
            t.max_idle_conns_per_host, kept,
            "maxIdleConnsPerHost {written:?}"
        );
    }
}
