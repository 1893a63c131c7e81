//! A dynamic file with every key Traefik v3.7 accepts
//! (`tests/diff/static/every_dynamic_key.yml`): it covers every key of the
//! dynamic schema, Switchyard accepts it, and the keys it does not act on
//! are recorded, exactly, on the elements that have them.

use std::path::Path;

use switchyard_config::decode::from_node;
use switchyard_config::dynamic::{
    decode_middleware, FailoverService, HighestRandomWeight, MiddlewareKind, Mirroring, Service,
    Unsupported, WeightedRoundRobin,
};
use switchyard_config::dynamic_schema::dynamic_keys;
use switchyard_config::loader::{parse_dynamic, parse_tree};
use switchyard_config::node::{Node, Value};
use switchyard_config::schema::Support;

/// Keys of the schema that are not Traefik 3.7's, so not in the file.
const NOT_TRAEFIK_37: [&str; 5] = [
    "http.routers.*.requesttimeout",
    "http.middlewares.*.ratelimit.redis.failopen",
    "http.serverstransports.*.peercertsans",
    "http.serverstransports.*.peercertsans[].type",
    "http.serverstransports.*.peercertsans[].value",
];

fn every_key_text() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/diff/static/every_dynamic_key.yml");
    let text = std::fs::read_to_string(&path).expect("every_dynamic_key.yml");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testkit/fixtures");
    text.replace("<<dead>>", "9")
        .replace("<<fixtures>>", &fixtures.display().to_string())
}

/// Every concrete key path of a tree (lower-cased, list items as `[]`).
fn paths(node: &Node, prefix: &str, out: &mut Vec<String>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                let p = if prefix.is_empty() {
                    k.to_ascii_lowercase()
                } else {
                    format!("{prefix}.{}", k.to_ascii_lowercase())
                };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        Value::List(items) => {
            for item in items {
                paths(item, &format!("{prefix}[]"), out);
            }
        }
        Value::Scalar(_) => {}
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        s.replace("[]", ".[]")
            .split('.')
            .map(str::to_string)
            .collect()
    };
    let (pat, got) = (split(pattern), split(path));
    pat.len() == got.len() && pat.iter().zip(&got).all(|(p, g)| p == "*" || p == g)
}

#[test]
fn the_file_covers_every_key_of_the_schema() {
    let text = every_key_text();
    let tree = parse_tree(Path::new("every_dynamic_key.yml"), &text).expect("parses");
    let mut found = Vec::new();
    paths(&tree, "", &mut found);
    let keys = dynamic_keys();
    let missing: Vec<&String> = keys
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !NOT_TRAEFIK_37.contains(&k.as_str()))
        .filter(|k| !found.iter().any(|p| matches(k, p)))
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from every_dynamic_key.yml: {missing:?}"
    );
    // And nothing in the file is outside the schema (a typo there would
    // make the test below fail with the key's location anyway).
    for extension in NOT_TRAEFIK_37 {
        assert!(
            keys.iter()
                .any(|(k, s)| k == extension && *s == Support::Implemented),
            "{extension}"
        );
    }
}

#[test]
fn every_key_is_accepted_and_what_is_not_acted_on_is_recorded() {
    let config = parse_dynamic(Path::new("every_dynamic_key.yml"), &every_key_text())
        .unwrap_or_else(|e| panic!("every key accepted: {e}"));
    let http = config.http.as_ref().expect("http");
    let mut got: Vec<String> = Vec::new();
    let mut record = |kind: &str, name: &str, u: &Unsupported| {
        got.extend(u.not_yet.iter().map(|k| format!("{kind} {name}: {k}")));
        got.extend(
            u.refused
                .iter()
                .map(|k| format!("{kind} {name}: {k} (refused)")),
        );
    };
    for (name, r) in &http.routers {
        record("router", name, &r.unsupported);
    }
    for (name, s) in &http.services {
        record("service", name, &s.unsupported);
    }
    for (name, m) in &http.middlewares {
        record("middleware", name, &m.1);
    }
    for (name, t) in &http.servers_transports {
        record("serversTransport", name, &t.unsupported);
    }
    let want = [
        "router child: parentRefs (refused)",
        "middleware forwardAuth: forwardAuth.headerField",
        "middleware forwardAuth: forwardAuth.maxResponseBodySize",
        "middleware plugin: plugin (refused)",
        "middleware rateLimit: rateLimit.redis.maxActiveConns",
        "middleware rateLimit: rateLimit.redis.minIdleConns",
        "serversTransport every: forwardingTimeouts.readTimeout",
        "serversTransport every: forwardingTimeouts.writeTimeout",
        "serversTransport spiffe: spiffe (refused)",
    ];
    assert_eq!(got, want);
    // What is implemented arrived in the typed configuration.
    let lb = http.services["lb"].load_balancer.as_ref().expect("lb");
    assert_eq!(lb.servers_transport.as_deref(), Some("every"));
    assert!(lb.health_check.is_some() && lb.passive_health_check.is_some());
    let t = &http.servers_transports["every"];
    assert_eq!(
        t.peer_cert_uri.as_deref(),
        Some("spiffe://switchyard.test/backend")
    );
    let tls = config.tls.as_ref().expect("tls");
    assert_eq!(
        tls.options["every"].client_auth.client_auth_type,
        "NoClientCert"
    );
    assert!(tls.stores["default"].default_generated_cert.is_some());
    // Every middleware of a type Switchyard implements decodes with every
    // key of it (the others are Traefik's file-ignored types, now without
    // a type, and the refused plugin).
    let typeless = [
        "appRoot",
        "authTLSPassCertificateToUpstream",
        "plugin",
        "requestHeaderModifier",
        "requestRedirect",
        "responseHeaderModifier",
        "rewriteTarget",
        "snippet",
        "upstreamVHost",
        "urlRewrite",
    ];
    for (name, m) in &http.middlewares {
        let decoded = decode_middleware(m);
        if typeless.contains(&name.as_str()) {
            assert!(m.0.is_empty(), "{name}: {:?}", m.0);
        } else {
            let kind = decoded.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!matches!(kind, MiddlewareKind::Other { .. }), "{name}");
        }
    }
    // Composite services, kept raw until the build, decode too.
    let node = |s: &str, f: fn(&Service) -> Option<&Node>| {
        f(&http.services[s])
            .cloned()
            .unwrap_or_else(|| panic!("{s}"))
    };
    from_node::<WeightedRoundRobin>(&node("wrr", |s| s.weighted.as_deref())).expect("weighted");
    from_node::<HighestRandomWeight>(&node("hrw", |s| s.highest_random_weight.as_deref()))
        .expect("highestRandomWeight");
    from_node::<Mirroring>(&node("mirror", |s| s.mirroring.as_deref())).expect("mirroring");
    from_node::<FailoverService>(&node("failover", |s| s.failover.as_deref())).expect("failover");
    // TCP is kept as written, for the builder to name; UDP decodes.
    let tcp = config.tcp.as_ref().expect("tcp");
    for section in ["routers", "services", "middlewares", "serversTransports"] {
        assert!(tcp.get(section).is_some(), "tcp.{section}");
    }
    let udp = config.udp.as_ref().expect("udp");
    let udp = switchyard_config::udp::decode(udp).expect("udp decodes");
    assert!(!udp.routers.is_empty() && !udp.services.is_empty());
}
