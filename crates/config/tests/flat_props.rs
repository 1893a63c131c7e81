//! Property tests of the flat-key decoders: no key or value makes them
//! panic, and the order labels or KV pairs arrive in changes nothing (a
//! container's labels and a KV listing come as unordered maps).

use std::collections::BTreeMap;

use proptest::prelude::*;
use switchyard_config::flat;
use switchyard_config::kv::decode_kv;
use switchyard_config::labels::{
    decode_labels, labels_from_tags, provider_labels, LabelProvider, TagStyle,
};
use switchyard_config::Location;

/// A key segment: the names the decoders know, indexes, and oddities.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "traefik", "Traefik", "http", "HTTP", "tcp", "udp", "tls", "stores", "default",
            "routers", "services", "middlewares", "r", "R", "s", "rule", "entrypoints",
            "loadbalancer", "server", "servers", "port", "scheme", "url", "weight", "sticky",
            "cookie", "headers", "customrequestheaders", "X-Foo", "x-foo", "domains",
            "[0]", "[1]", "[10]", "0", "1", "7", "main", "sans", "priority", "compress",
            "stripprefix", "prefixes", "enable", "docker", "swarm", "network", "weighted",
            "healthcheck", "interval", "", "tls", "certresolver", "options",
        ]).prop_map(String::from),
        1 => "[a-z\\[\\]0-9./=é ]{0,6}",
    ]
}

/// Mostly keys under a section the decoders read, so that they get past
/// the prefix and root checks; sometimes anything.
fn key(sep: &'static str) -> impl Strategy<Value = String> {
    let heads = prop::sample::select(vec![
        "traefik.http.routers.r",
        "traefik.http.services.s.loadbalancer",
        "traefik.http.middlewares.m",
        "traefik.tcp.services.t.loadbalancer",
        "traefik.tls.stores.default",
        "traefik.docker",
        "traefik.enable",
    ]);
    prop_oneof![
        3 => (heads, prop::collection::vec(segment(), 0..5)).prop_map(move |(h, tail)| {
            let mut parts: Vec<String> = h.split('.').map(String::from).collect();
            parts.extend(tail);
            // Labels write an index on its name: `domains[0]`.
            parts.join(sep).replace(".[", "[")
        }),
        1 => prop::collection::vec(segment(), 1..8).prop_map(move |s| s.join(sep)),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "true", "false", "", "TRUE", "1", "80", "-1", "abc", "a,b", " a , ,b ", "10s",
            "Host(`a`)", "{}", "http://127.0.0.1:80",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}

fn outcome<T: std::fmt::Debug, E: std::fmt::Display>(r: &Result<T, E>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn labels_never_panic_and_ignore_arrival_order(
        labels in prop::collection::btree_map(key("."), value(), 0..10),
        seed in any::<u64>(),
    ) {
        let forward: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut shuffled = forward.clone();
        // A cheap deterministic shuffle.
        let n = shuffled.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(i as u64 + 1).rotate_left(17) as usize) % n;
            shuffled.swap(i, j);
        }
        let a = decode_labels(forward.iter().copied());
        let b = decode_labels(shuffled.iter().copied());
        prop_assert_eq!(outcome(&a), outcome(&b));
        for provider in [
            LabelProvider::Docker,
            LabelProvider::Swarm,
            LabelProvider::ConsulCatalog,
            LabelProvider::Nomad,
            LabelProvider::Ecs,
        ] {
            let _ = provider_labels(forward.iter().copied(), provider);
        }
    }

    #[test]
    fn kv_never_panics_and_ignores_arrival_order(
        pairs in prop::collection::btree_map(key("/"), value(), 0..10),
        root in prop::sample::select(vec!["traefik", "edge", "a/b"]),
    ) {
        let forward: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let backward: Vec<(&str, &str)> = forward.iter().rev().copied().collect();
        prop_assert_eq!(outcome(&decode_kv(forward, root)), outcome(&decode_kv(backward, root)));
    }

    #[test]
    fn flags_env_and_tags_never_panic(
        pairs in prop::collection::vec((key("."), value()), 0..16),
        tags in prop::collection::vec("\\PC{0,24}", 0..8),
        prefix in prop::sample::select(vec!["traefik", "", "t", "traefik."]),
    ) {
        let _ = flat::build(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str(), Location::named(k))));
        let args: Vec<String> = pairs.iter().map(|(k, v)| format!("--{k}={v}")).collect();
        let _ = flat::parse_args(&args);
        let env: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (format!("TRAEFIK_{}", k.to_ascii_uppercase().replace('.', "_")), v.clone()))
            .collect();
        let _ = flat::env_pairs(&env, &["TRAEFIK_"]);
        for style in [TagStyle::ConsulCatalog, TagStyle::Nomad] {
            let labels: BTreeMap<String, String> = labels_from_tags(tags.iter().map(String::as_str), prefix, style);
            let _ = decode_labels(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
    }
}
