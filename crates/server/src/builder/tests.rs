//! What a build takes over from the one before.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use switchyard_config::dynamic::Configuration;

use super::{Builder, StaticView};
use crate::runtime::Runtime;

/// The merged configuration of one `file` provider holding `yaml`.
fn merged(yaml: &str) -> Arc<Configuration> {
    let config = switchyard_config::loader::parse_dynamic(Path::new("d.yml"), yaml)
        .unwrap_or_else(|e| panic!("fixture does not parse: {e}"));
    let providers = BTreeMap::from([("file".to_string(), config)]);
    Arc::new(crate::merge::merge(&providers))
}

fn builder() -> Builder {
    let view = StaticView {
        entrypoints: vec!["web".into()],
        default_entrypoints: vec!["web".into()],
        ..Default::default()
    };
    Builder::new(view, HashMap::new()).unwrap_or_else(|e| panic!("builder: {e}"))
}

/// The route of router `name` on entrypoint `web`.
fn route(rt: &Runtime, name: &str) -> crate::runtime::Route {
    let table = &rt.entrypoints["web"];
    let entry = table.entries().iter().find(|e| e.name == name);
    entry
        .unwrap_or_else(|| panic!("router {name} is not routed"))
        .value
        .clone()
}

/// Whether router `name` is the same instance in both runtimes (a build
/// gives each router it makes a name of its own).
fn kept(before: &Runtime, after: &Runtime, name: &str) -> bool {
    let (a, b) = (route(before, name), route(after, name));
    let same = Arc::ptr_eq(&a.router, &b.router);
    // A router kept keeps its chain.
    assert!(!same || Arc::ptr_eq(&a.handler, &b.handler), "{name}");
    same
}

fn used_by(rt: &Runtime, middleware: &str) -> Vec<String> {
    rt.info.middlewares[middleware].links.clone()
}

/// A configuration of routers r1 (with middleware m1) and r2, and
/// `extra` routers; `m1`'s header value and `s1`'s port are parameters.
fn yaml(header: &str, port: u16, r2_host: &str, extra: &str) -> String {
    format!(
        r#"http:
  routers:
    r1:
      rule: "Host(`a.test`)"
      service: s1
      middlewares: [m1]
    r2:
      rule: "Host(`{r2_host}`)"
      service: s2
{extra}  services:
    s1:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:{port}"}}]
    s2:
      loadBalancer:
        servers: [{{url: "http://127.0.0.1:2"}}]
  middlewares:
    m1:
      headers:
        customRequestHeaders:
          X-Test: "{header}"
"#
    )
}

#[test]
fn unchanged_routers_keep_their_chain_and_changed_ones_are_rebuilt() {
    let mut b = builder();
    let r3 = "    r3:\n      rule: \"Host(`c.test`)\"\n      service: s2\n";
    let steps = [
        // (what, configuration, r1 kept, r2 kept)
        ("first build", yaml("one", 1, "b.test", ""), false, false),
        (
            "r2's rule and a new r3",
            yaml("one", 1, "b2.test", r3),
            true,
            false,
        ),
        ("same again", yaml("one", 1, "b2.test", r3), true, true),
        ("m1 changed", yaml("two", 1, "b2.test", r3), false, true),
        ("s1 changed", yaml("two", 3, "b2.test", r3), false, true),
        ("r3 gone", yaml("two", 3, "b2.test", ""), true, true),
    ];
    let mut before: Option<Runtime> = None;
    for (what, text, r1_kept, r2_kept) in steps {
        let (rt, stats) = b.build(merged(&text));
        assert_eq!(stats.errors, 0, "{what}: {:?}", rt.info.routers);
        if let Some(prev) = &before {
            for (router, want) in [("r1@file", r1_kept), ("r2@file", r2_kept)] {
                assert_eq!(kept(prev, &rt, router), want, "{what}: {router} kept");
            }
        }
        // What the API shows does not depend on whether it was kept.
        assert_eq!(used_by(&rt, "m1@file"), ["r1@file"], "{what}");
        assert_eq!(
            rt.info.services["s2@file"].links.len(),
            rt.info.routers.len() - 1,
            "{what}: s2's routers"
        );
        let r1 = &rt.info.routers["r1@file"];
        assert_eq!(r1.links, ["web"], "{what}");
        assert!(r1.config.as_str().contains("Host(`a.test`)"), "{what}");
        let has_r3 = text.contains("r3:");
        assert_eq!(rt.info.routers.contains_key("r3@file"), has_r3, "{what}");
        let r3_routed = rt.entrypoints["web"]
            .entries()
            .iter()
            .any(|e| e.name == "r3@file");
        assert_eq!(r3_routed, has_r3, "{what}");
        before = Some(rt);
    }
}

#[test]
fn unchanged_services_are_taken_over_whole() {
    let mut b = builder();
    let (_, first) = b.build(merged(&yaml("one", 1, "b.test", "")));
    assert_eq!(first.reused_services, 0);
    let (rt, second) = b.build(merged(&yaml("one", 5, "b.test", "")));
    assert_eq!(second.reused_services, 1, "s2 kept, s1 rebuilt");
    assert_eq!(rt.info.services["s1@file"].links, ["r1@file"]);
    assert!(rt.info.services["s1@file"]
        .config
        .as_str()
        .contains("127.0.0.1:5"));
}

#[test]
fn a_router_that_fails_is_not_taken_over_once_fixed_elsewhere() {
    let mut b = builder();
    // r2's service is missing: r2 fails, and is built again each time.
    let broken = yaml("one", 1, "b.test", "").replace("    s2:\n", "    s9:\n");
    let (rt, _) = b.build(merged(&broken));
    assert!(!rt.info.routers["r2@file"].errors.is_empty());
    let (rt, stats) = b.build(merged(&yaml("one", 1, "b.test", "")));
    assert_eq!(stats.errors, 0);
    assert!(rt.info.routers["r2@file"].errors.is_empty());
    route(&rt, "r2@file");
}
