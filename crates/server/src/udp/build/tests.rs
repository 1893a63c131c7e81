use super::*;
use crate::runtime::Status;

fn section(yaml: &str) -> UdpConfiguration {
    let config = switchyard_config::loader::parse_dynamic(std::path::Path::new("d.yml"), yaml)
        .expect("parses");
    let mut configs = BTreeMap::new();
    configs.insert("file".to_string(), config);
    let merged = crate::udp::merge(&configs).expect("udp");
    switchyard_config::udp::decode(&merged).expect("decodes")
}

fn eps(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn status(els: &Elements, name: &str) -> (Status, Vec<String>) {
    let e = els.get(name).unwrap_or_else(|| panic!("{name} missing"));
    (e.status, e.errors.clone())
}

#[test]
fn routers_and_services_as_traefik_builds_them() {
    // (what, yaml, the entrypoints served, the router looked at, its
    // status, an error it must have)
    let lb =
        "  services:\n    s:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n";
    type Case<'a> = (&'a str, String, &'a [&'a str], &'a str, Status, &'a str);
    let cases: &[Case] = &[
        (
            "no entryPoints: every UDP entrypoint",
            format!("udp:\n  routers:\n    r:\n      service: s\n{lb}"),
            &["a", "b"],
            "r@file",
            Status::Enabled,
            "",
        ),
        (
            "one unknown entrypoint of two: warning",
            format!("udp:\n  routers:\n    r:\n      entryPoints: [a, web]\n      service: s\n{lb}"),
            &["a"],
            "r@file",
            Status::Warning,
            "entryPoint \"web\" doesn't exist",
        ),
        (
            "no valid entrypoint: disabled",
            format!("udp:\n  routers:\n    r:\n      entryPoints: [web]\n      service: s\n{lb}"),
            &[],
            "r@file",
            Status::Disabled,
            "no valid entryPoint for this router",
        ),
        (
            "no service",
            format!("udp:\n  routers:\n    r:\n      entryPoints: [a]\n{lb}"),
            &[],
            "r@file",
            Status::Disabled,
            "the service is missing on the udp router",
        ),
        (
            "unknown service",
            "udp:\n  routers:\n    r:\n      service: nope\n".to_string(),
            &[],
            "r@file",
            Status::Disabled,
            "the UDP service \"nope@file\" does not exist",
        ),
        (
            "service with both kinds",
            "udp:\n  routers:\n    r:\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n      weighted:\n        services: [{name: s}]\n".to_string(),
            &[],
            "r@file",
            Status::Disabled,
            "multi-types service not supported",
        ),
        (
            "weighted cycle refused",
            "udp:\n  routers:\n    r:\n      service: w\n  services:\n    w:\n      weighted:\n        services: [{name: w}]\n".to_string(),
            &[],
            "r@file",
            Status::Disabled,
            "refers to itself",
        ),
    ];
    for (what, yaml, served, router, want_status, want_error) in cases {
        let rt = build(&section(yaml), &eps(&["a", "b"]));
        let mut got: Vec<&str> = rt.entrypoints.keys().map(String::as_str).collect();
        got.sort_unstable();
        assert_eq!(got, *served, "{what}: entrypoints served");
        let (st, errors) = status(&rt.routers, router);
        assert_eq!(st, *want_status, "{what}: {errors:?}");
        if !want_error.is_empty() {
            assert!(
                errors.iter().any(|e| e.contains(want_error)),
                "{what}: {errors:?}"
            );
        }
    }
}

#[test]
fn two_routers_on_one_entrypoint_the_last_name_wins() {
    let rt = build(
        &section("udp:\n  routers:\n    alpha:\n      service: one\n    beta:\n      service: two\n  services:\n    one:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n    two:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:2'}]\n"),
        &eps(&["a"]),
    );
    let picked = rt.entrypoints["a"].pick().expect("a server");
    assert_eq!(&*picked.address, "127.0.0.1:2", "beta sorts after alpha");
    // When the last name does not build, the next one serves.
    let rt = build(
        &section("udp:\n  routers:\n    alpha:\n      service: one\n    beta:\n      service: missing\n  services:\n    one:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n"),
        &eps(&["a"]),
    );
    let picked = rt.entrypoints["a"].pick().expect("a server");
    assert_eq!(&*picked.address, "127.0.0.1:1");
    assert_eq!(status(&rt.routers, "beta@file").0, Status::Disabled);
}

#[test]
fn servers_without_a_port_are_left_out_and_services_show_their_users() {
    let rt = build(
        &section("udp:\n  routers:\n    r:\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: 'nohost'}, {address: '127.0.0.1:7'}, {address: '::1:7'}, {address: '[::1]:8'}]\n"),
        &eps(&["a"]),
    );
    let mut seen: Vec<String> = (0..4)
        .filter_map(|_| rt.entrypoints["a"].pick())
        .map(|b| b.address.to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["127.0.0.1:7", "[::1]:8"]);
    let s = &rt.services["s@file"];
    assert_eq!(s.links, ["r@file"]);
    assert_eq!(s.kind.as_deref(), Some("loadbalancer"));
}

#[test]
fn weighted_splits_sessions_by_weight() {
    let rt = build(
        &section("udp:\n  routers:\n    r:\n      service: w\n  services:\n    w:\n      weighted:\n        services:\n          - name: a\n            weight: 3\n          - name: b\n    a:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n    b:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:2'}]\n"),
        &eps(&["e"]),
    );
    let mut counts = HashMap::new();
    for _ in 0..40 {
        let b = rt.entrypoints["e"].pick().expect("server");
        *counts.entry(b.address.to_string()).or_insert(0) += 1;
    }
    assert_eq!(counts["127.0.0.1:1"], 30);
    assert_eq!(counts["127.0.0.1:2"], 10);
}
