//! The TCP build through the whole builder: names qualified by the merge,
//! each element's errors on it, tables in Traefik's order, and state kept
//! across builds.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use switchyard_config::dynamic::Configuration;

use super::service::TcpService;
use super::Target;
use crate::builder::{Builder, StaticView};
use crate::runtime::{Runtime, Status};

fn merged(providers: &[(&str, &str)]) -> Arc<Configuration> {
    let configs: BTreeMap<String, Configuration> = providers
        .iter()
        .map(|(name, yaml)| {
            let c = switchyard_config::loader::parse_dynamic(Path::new("d.yml"), yaml)
                .unwrap_or_else(|e| panic!("fixture does not parse: {e}"));
            (name.to_string(), c)
        })
        .collect();
    Arc::new(crate::merge::merge(&configs))
}

fn builder() -> Builder {
    let view = StaticView {
        entrypoints: vec!["web".into(), "db".into()],
        default_entrypoints: vec!["web".into()],
        ..Default::default()
    };
    Builder::new(view, HashMap::new()).unwrap_or_else(|e| panic!("builder: {e}"))
}

fn build(providers: &[(&str, &str)]) -> Runtime {
    builder().build(merged(providers)).0
}

const GOOD: &str = r#"
tcp:
  routers:
    any:
      entryPoints: [db]
      rule: HostSNI(`*`)
      service: pool
    byip:
      entryPoints: [db]
      rule: ClientIP(`10.0.0.0/8`)
      service: pool
    sni:
      entryPoints: [db]
      rule: HostSNI(`a.test`)
      service: pool
      tls: {}
    pass:
      entryPoints: [db]
      rule: HostSNI(`b.test`)
      service: split
      middlewares: [local]
      tls:
        passthrough: true
  services:
    pool:
      loadBalancer:
        servers: [{address: "127.0.0.1:1"}]
    split:
      weighted:
        services: [{name: pool, weight: 2}]
  middlewares:
    local:
      ipAllowList:
        sourceRange: [127.0.0.1/32]
"#;

#[test]
fn tables_split_plain_and_tls_in_priority_order() {
    let rt = build(&[("file", GOOD)]);
    let db = &rt.tcp["db"];
    let plain: Vec<&str> = db.plain.iter().map(|r| &*r.name).collect();
    // ClientIP(`10.0.0.0/8`) is longer than HostSNI(`*`), whose default
    // priority is -1.
    assert_eq!(plain, ["byip@file", "any@file"]);
    let tls: Vec<&str> = db.tls.iter().map(|r| &*r.name).collect();
    assert_eq!(tls, ["pass@file", "sni@file"]);
    assert!(
        matches!(db.tls[1].target, Target::Terminate { ref options, .. } if options == "default")
    );
    assert!(matches!(db.tls[0].target, Target::Forward(ref c) if c.middlewares.len() == 1));
    assert!(!rt.tcp.contains_key("web"), "no router on web");
    for (name, el) in &rt.info.tcp_routers {
        assert_eq!(el.status, Status::Enabled, "{name}: {:?}", el.errors);
    }
    assert_eq!(rt.info.tcp_services["pool@file"].links.len(), 3);
    assert_eq!(rt.info.tcp_services["split@file"].links, ["pass@file"]);
    let any = &rt.info.tcp_routers["any@file"];
    assert_eq!(any.links, ["db"]);
    let shown = any.config_value();
    assert_eq!(shown["priority"], -1, "{shown}");
    let pass = rt.info.tcp_routers["pass@file"].config_value();
    assert_eq!(pass["middlewares"][0], "local@file", "{pass}");
    assert_eq!(
        rt.info.tcp_middlewares["local@file"].kind.as_deref(),
        Some("ipallowlist")
    );
}

#[test]
fn each_bad_element_carries_its_error_and_the_rest_builds() {
    // (router or service, its definition, part of its error)
    let cases: &[(&str, &str, &str)] = &[
        ("router", "rule: HostSNI(`a.test`)\n      service: pool", "has HostSNI matcher, but no TLS on router"),
        ("router", "rule: HostSNI(`*`)", "the service is missing on the router"),
        ("router", "service: pool", "router has no rule"),
        ("router", "rule: Host(`a`)\n      service: pool", "unsupported function: Host"),
        ("router", "rule: HostSNI(`*`)\n      service: nothere", "\"nothere@file\" does not exist"),
        ("router", "rule: HostSNI(`*`)\n      service: pool\n      middlewares: [nothere]", "middleware \"nothere@file\" does not exist"),
        ("router", "rule: HostSNI(`*`)\n      service: pool\n      entryPoints: [nowhere]", "entryPoint \"nowhere\" doesn't exist"),
        ("router", "rule: HostSNI(`a.test`)\n      service: pool\n      tls:\n        options: nothere", "unknown TLS options: nothere@file"),
        ("service", "loadBalancer:\n        serversTransport: t\n        servers: [{address: 'a:1', tls: true}]", "tls.spiffe is not supported"),
        ("service", "loadBalancer:\n        serversTransport: nothere\n        servers: [{address: 'a:1'}]", "serversTransport \"nothere@file\" not found"),
        ("service", "loadBalancer:\n        proxyProtocol: {version: 3}\n        servers: [{address: 'a:1'}]", "unknown proxyProtocol version: 3"),
        ("service", "weighted:\n        services: [{name: bad}]", "cycle of weighted services"),
        ("service", "{}", "the service has no type"),
        ("service", "loadBalancer:\n        serversTransport: slow\n        servers: [{address: 'a:1'}]", "dialKeepAlive: "),
    ];
    for (kind, def, want) in cases {
        let yaml = match *kind {
            "router" => format!(
                "tcp:\n  routers:\n    bad:\n      {def}\n  services:\n    pool:\n      loadBalancer:\n        servers: [{{address: '127.0.0.1:1'}}]\n"
            ),
            _ => format!("tcp:\n  services:\n    bad:\n      {def}\n  serversTransports:\n    t:\n      tls:\n        spiffe: {{}}\n    slow:\n      dialKeepAlive: soon\n"),
        };
        let rt = build(&[("file", &yaml)]);
        let elements = match *kind {
            "router" => &rt.info.tcp_routers,
            _ => &rt.info.tcp_services,
        };
        let el = elements
            .get("bad@file")
            .unwrap_or_else(|| panic!("{def}: no element"));
        assert_eq!(el.status, Status::Disabled, "{def}");
        assert!(
            el.errors.iter().any(|e| e.contains(want)),
            "{def}: {:?}",
            el.errors
        );
    }
}

#[test]
fn providers_are_merged_with_qualified_names() {
    let a = "tcp:\n  routers:\n    r:\n      entryPoints: [db]\n      rule: HostSNI(`*`)\n      priority: 5\n      service: s\n  services:\n    s:\n      loadBalancer:\n        servers: [{address: '127.0.0.1:1'}]\n";
    let b = "tcp:\n  routers:\n    r:\n      entryPoints: [db]\n      rule: ClientIP(`::2`)\n      priority: 5\n      service: s@file\n";
    let rt = build(&[("file", a), ("http", b)]);
    let names: Vec<&str> = rt.tcp["db"].plain.iter().map(|r| &*r.name).collect();
    // Equal priorities: `file` comes before `http`
    // in Traefik's provider precedence.
    assert_eq!(names, ["r@file", "r@http"]);
    assert_eq!(rt.info.tcp_routers["r@http"].status, Status::Enabled);
}

#[test]
fn balancers_and_counters_survive_a_rebuild_that_keeps_them() {
    let mut b = builder();
    let first = b.build(merged(&[("file", GOOD)])).0;
    let changed = GOOD.replace("ClientIP(`10.0.0.0/8`)", "ClientIP(`10.0.0.0/16`)");
    let second = b.build(merged(&[("file", &changed)])).0;
    let service = |rt: &Runtime| match &rt.tcp["db"].plain[0].target {
        Target::Forward(chain) => chain.service.clone(),
        _ => panic!("forward"),
    };
    assert!(Arc::ptr_eq(&service(&first), &service(&second)));
    assert!(matches!(&*service(&second), TcpService::Balancer(_)));
    let moved = changed.replace("127.0.0.1:1", "127.0.0.1:2");
    let third = b.build(merged(&[("file", &moved)])).0;
    assert!(!Arc::ptr_eq(&service(&second), &service(&third)));
}
