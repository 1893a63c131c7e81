use super::*;
use crate::loader::{parse_dynamic, parse_tree};
use std::path::Path;

fn check_yaml(text: &str) -> Result<Checked, ConfigError> {
    let tree = parse_tree(Path::new("dynamic.yml"), text)?;
    check_dynamic(&tree)
}

#[test]
fn schema_has_every_section() {
    let keys = dynamic_keys();
    assert!(keys.len() > 500, "{} keys", keys.len());
    for needle in [
        "http.routers.*.rule",
        "http.services.*.loadbalancer.servers[].url",
        "http.middlewares.*.forwardauth.maxresponsebodysize",
        "http.serverstransports.*.spiffe",
        "tcp.routers.*.tls.passthrough",
        "udp.services.*.loadbalancer.servers[].address",
        "tls.options.*.clientauth.clientauthtype",
        "tls.stores.*.defaultgeneratedcert.domain.sans",
    ] {
        assert!(keys.iter().any(|(k, _)| k == needle), "{needle}");
    }
}

/// Every key Switchyard does not act on belongs to an HTTP element (where
/// its note is recorded) or to `tcp`/`udp` (named element by element).
#[test]
fn every_unsupported_key_has_an_element() {
    for (key, support) in dynamic_keys() {
        if matches!(support, Support::Implemented | Support::IgnoredAsTraefik) {
            continue;
        }
        let parts: Vec<&str> = key.split('.').collect();
        let in_element = parts.len() > 3
            && parts[0] == "http"
            && ElementKind::of_section(parts[1]).is_some()
            && parts[2] == "*";
        let in_l4 = parts[0] == "tcp" || parts[0] == "udp";
        assert!(in_element || in_l4, "{key} ({support:?}) has no element");
    }
}

#[test]
fn unknown_keys_are_errors_with_location() {
    // (configuration, field named, line)
    let cases: &[(&str, &str, u32)] = &[
        ("htp: {}\n", "htp", 1),
        (
            "http:\n  routers:\n    r:\n      rule: Path(`/`)\n      servce: s\n",
            "http.routers.r.servce",
            5,
        ),
        (
            "http:\n  middlewares:\n    m:\n      forwardAuth:\n        address: http://a\n        maxResponseBodySise: 1\n",
            "http.middlewares.m.forwardAuth.maxResponseBodySise",
            6,
        ),
        (
            "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://a\n            wieght: 2\n",
            "http.services.s.loadBalancer.servers[0].wieght",
            7,
        ),
        (
            "tcp:\n  routers:\n    t:\n      rule: HostSNI(`*`)\n      sevice: s\n",
            "tcp.routers.t.sevice",
            5,
        ),
        ("udp:\n  routers:\n    u:\n      rule: x\n", "udp.routers.u.rule", 4),
        (
            "tls:\n  options:\n    o:\n      minVersoin: VersionTLS12\n",
            "tls.options.o.minVersoin",
            4,
        ),
        (
            "http:\n  serversTransports:\n    t:\n      spiffe:\n        id: [x]\n",
            "",
            0,
        ),
        // Below a key Traefik ignores in files, its fields are still checked.
        (
            "http:\n  services:\n    s:\n      loadBalancer:\n        sticky:\n          cookie:\n            expires: 3\n        servers:\n          - url: http://a\n            port: 80\n            portt: 80\n",
            "http.services.s.loadBalancer.servers[0].portt",
            11,
        ),
    ];
    // An unknown middleware type is kept for the builder, which makes it
    // that middleware's error (the rest of the file applies).
    let kept = check_yaml("http:\n  middlewares:\n    m:\n      noSuchType: {}\n")
        .expect("an unknown middleware type is not the file's error");
    let m = kept
        .tree
        .get("http")
        .and_then(|h| h.get("middlewares"))
        .and_then(|m| m.get("m"));
    assert!(m.and_then(|m| m.get("noSuchType")).is_some());
    for (text, field, line) in cases {
        let result = check_yaml(text);
        if field.is_empty() {
            // Refused keys are not walked below: a typo there does not matter.
            assert!(result.is_ok(), "{text}: {result:?}");
            continue;
        }
        let e = result.err().unwrap_or_else(|| panic!("{text}: accepted"));
        assert_eq!(e.field(), *field, "{text}");
        assert_eq!(e.location.as_ref().map(|l| l.line), Some(*line), "{text}");
        assert!(
            e.message
                .contains("not a Traefik dynamic configuration option"),
            "{e}"
        );
    }
}

#[test]
fn keys_not_implemented_are_noted_on_their_element() {
    use ElementKind::*;
    type Want = &'static [(ElementKind, &'static str, &'static str, bool)];
    // (configuration, the notes: element kind, name, key, refused)
    let cases: &[(&str, Want)] = &[
        (
            "http:\n  routers:\n    r:\n      rule: Path(`/`)\n      service: s\n",
            &[],
        ),
        (
            "http:\n  middlewares:\n    auth:\n      forwardAuth:\n        address: http://a\n        maxResponseBodySize: 10\n        headerField: X-User\n",
            &[
                (Middleware, "auth", "forwardAuth.maxResponseBodySize", false),
                (Middleware, "auth", "forwardAuth.headerField", false),
            ],
        ),
        (
            "http:\n  routers:\n    r:\n      rule: Path(`/`)\n      observability:\n        accessLogs: false\n        tracing: false\n        metrics: false\n",
            &[],
        ),
        (
            "http:\n  routers:\n    child:\n      rule: Path(`/`)\n      parentRefs: [parent]\n",
            &[(Router, "child", "parentRefs", true)],
        ),
        (
            "http:\n  serversTransports:\n    t:\n      serverName: a\n      spiffe:\n        ids: [spiffe://a/b]\n      forwardingTimeouts:\n        dialTimeout: 1s\n        readTimeout: 2s\n",
            &[
                (ServersTransport, "t", "forwardingTimeouts.readTimeout", false),
                (ServersTransport, "t", "spiffe", true),
            ],
        ),
        (
            "http:\n  middlewares:\n    rl:\n      rateLimit:\n        redis:\n          endpoints: [a:1]\n          minIdleConns: 1\n          tls:\n            insecureSkipVerify: true\n",
            &[
                (Middleware, "rl", "rateLimit.redis.minIdleConns", false),
            ],
        ),
        (
            "http:\n  middlewares:\n    p:\n      plugin:\n        anything:\n          at: [all, 1]\n",
            &[(Middleware, "p", "plugin", true)],
        ),
        // Sections and keys Traefik ignores in files: no note.
        (
            "http:\n  models:\n    m:\n      middlewares: [a]\n  routers:\n    r:\n      rule: Path(`/`)\n      defaultRule: true\n",
            &[],
        ),
        // tcp and udp: checked, kept whole, reported element by element
        // by the builder.
        (
            "tcp:\n  routers:\n    t:\n      rule: HostSNI(`*`)\n      service: s\nudp:\n  services:\n    u:\n      loadBalancer:\n        servers: [{address: 'a:1'}]\n",
            &[],
        ),
    ];
    for (text, want) in cases {
        let checked = check_yaml(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got: Vec<(ElementKind, &str, &str, bool)> = checked
            .notes
            .iter()
            .map(|n| (n.kind, n.name.as_str(), n.key.as_str(), n.refused))
            .collect();
        assert_eq!(got, *want, "{text}");
    }
}

#[test]
fn pruned_tree_decodes_and_elements_carry_their_notes() {
    let text = r#"
http:
  routers:
    r:
      rule: Path(`/`)
      service: s
      observability:
        accessLogs: false
        metrics: false
  services:
    s:
      loadBalancer:
        servers:
          - url: http://127.0.0.1:1
            port: "80"
        serversTransport: t
  middlewares:
    auth:
      forwardAuth:
        address: http://127.0.0.1:2
        maxResponseBodySize: 10
  serversTransports:
    t:
      spiffe: {}
      peerCertSANs:
        - type: DNSName
          value: backend.test
tcp:
  routers:
    t:
      rule: HostSNI(`*`)
"#;
    let c = parse_dynamic(Path::new("dynamic.yml"), text).expect("accepted");
    let http = c.http.as_ref().expect("http");
    let r = &http.routers["r"];
    assert!(r.unsupported.not_yet.is_empty());
    assert!(
        r.observability
            .as_ref()
            .and_then(|o| o.get("accessLogs"))
            .is_some(),
        "what is implemented of observability is kept"
    );
    assert!(http.services["s"].unsupported.is_empty());
    let m = &http.middlewares["auth"];
    assert_eq!(m.1.not_yet, ["forwardAuth.maxResponseBodySize"]);
    let maxed =
        m.0.values()
            .next()
            .and_then(|n| n.get("maxResponseBodySize"));
    assert!(maxed.is_none(), "the key is taken out before the decode");
    let t = &http.servers_transports["t"];
    assert_eq!(t.unsupported.refused, ["spiffe"]);
    assert_eq!(t.peer_cert_sans.len(), 1);
    assert_eq!(t.peer_cert_sans[0].kind, "DNSName");
    let tcp = c.tcp.as_ref().expect("tcp kept");
    assert!(tcp.get("routers").and_then(|r| r.get("t")).is_some());
    let error = t.unsupported.error().expect("refused");
    assert!(
        error.contains("spiffe") && error.contains("refused"),
        "{error}"
    );
    let warnings = m.1.warnings();
    assert_eq!(
        warnings,
        ["forwardAuth.maxResponseBodySize is not implemented by Switchyard yet and is ignored"]
    );
}

#[test]
fn keys_match_case_insensitively() {
    let checked = check_yaml(
        "HTTP:\n  Middlewares:\n    R:\n      ForwardAuth:\n        Address: http://a\n        MaxResponseBodySize: 10\n",
    )
    .expect("accepted");
    assert_eq!(checked.notes.len(), 1);
    assert_eq!(checked.notes[0].name, "R");
    assert_eq!(checked.notes[0].key, "ForwardAuth.MaxResponseBodySize");
}
