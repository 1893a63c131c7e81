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
        assert!(r1.config_text().contains("Host(`a.test`)"), "{what}");
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
        .config_text()
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

/// A small deterministic generator (xorshift), so that a failing sequence
/// can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A random router's definition (YAML lines under its name): hosts and
/// services from small sets, so that routers share them and some name
/// what does not exist; now and then a TLS router, a bad entrypoint, a
/// missing middleware, a bad rule.
fn random_router(rng: &mut Rng) -> String {
    let rule = match rng.below(10) {
        0 => "PathPrefix(`/p`)".to_string(),
        1 => "Host(`h1.test`) && Path(`/x`)".to_string(),
        2 => "Host(`bad".to_string(),
        n => format!("Host(`h{n}.test`)"),
    };
    let mut r = format!("      rule: \"{rule}\"\n      service: s{}\n", rng.below(7));
    match rng.below(12) {
        0 => r.push_str("      middlewares: [m0]\n"),
        1 => r.push_str("      middlewares: [chain]\n"),
        2 => r.push_str("      middlewares: [missing]\n"),
        // From the random middlewares (some of which do not exist), one
        // or two, shared by several routers.
        7 | 8 => r.push_str(&format!("      middlewares: [x{}]\n", rng.below(6))),
        9 => r.push_str(&format!(
            "      middlewares: [x{}, x{}]\n",
            rng.below(6),
            rng.below(6)
        )),
        3 => r.push_str("      entryPoints: [other]\n"),
        4 => r.push_str("      entryPoints: [nope, web]\n"),
        5 => r.push_str("      tls: {}\n"),
        6 => r.push_str("      priority: 5\n"),
        _ => {}
    }
    r
}

/// A random service's definition: a load balancer, now and then a broken
/// one, and with `composite` now and then a weighted one.
fn random_service(rng: &mut Rng, composite: bool) -> String {
    match rng.below(8) {
        1 if !composite => "      loadBalancer: {}\n".into(),
        2 if composite => format!(
            "      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:9\"}}]\n      middlewares: [x{}]\n",
            rng.below(6)
        ),
        0 => "      loadBalancer:\n        strategy: bogus\n        servers: [{url: \"http://127.0.0.1:1\"}]\n".into(),
        1 => "      weighted:\n        services: [{name: s1, weight: 1}]\n".into(),
        n => format!(
            "      loadBalancer:\n        servers: [{{url: \"http://127.0.0.1:{}\"}}]\n",
            n + 100
        ),
    }
}

/// A random middleware's definition: a valid one of a few kinds, a chain
/// of others (which may not exist, or loop), an `errors` middleware
/// calling a service (which may not exist), one that does not compile.
fn random_middleware(rng: &mut Rng) -> String {
    match rng.below(7) {
        0 | 1 => format!(
            "      headers:\n        customRequestHeaders:\n          X-R: \"{}\"\n",
            rng.below(1000)
        ),
        2 => format!(
            "      chain:\n        middlewares: [x{}, x{}]\n",
            rng.below(6),
            rng.below(6)
        ),
        3 => format!(
            "      errors:\n        status: [\"500\"]\n        service: s{}\n",
            rng.below(8)
        ),
        4 => format!("      addPrefix:\n        prefix: /p{}\n", rng.below(3)),
        5 => "      redirectRegex:\n        regex: \"([\"\n        replacement: /\n".into(),
        _ => "      stripPrefix:\n        prefixes: [/a]\n".into(),
    }
}

fn yaml_with(
    routers: &BTreeMap<u64, String>,
    services: &BTreeMap<u64, String>,
    header: u64,
    middlewares: &BTreeMap<u64, String>,
) -> String {
    let mut y = String::from("http:\n  routers:\n");
    for (i, r) in routers {
        y.push_str(&format!("    r{i}:\n{r}"));
    }
    y.push_str("  services:\n");
    for (i, s) in services {
        y.push_str(&format!("    s{i}:\n{s}"));
    }
    y.push_str(&format!(
        "  middlewares:\n    m0:\n      headers:\n        customRequestHeaders:\n          X-N: \"{header}\"\n    chain:\n      chain:\n        middlewares: [m0]\n"
    ));
    for (i, m) in middlewares {
        y.push_str(&format!("    x{i}:\n{m}"));
    }
    y
}

/// What a runtime routes and shows, to compare two of them.
fn observable(rt: &Runtime) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, tables) in [("plain", &rt.entrypoints), ("tls", &rt.tls_entrypoints)] {
        let mut eps: Vec<_> = tables.iter().collect();
        eps.sort_by_key(|(ep, _)| ep.as_str());
        for (ep, table) in eps {
            for e in table.entries() {
                out.push(format!(
                    "{kind} {ep}: {} {} {}",
                    e.name, e.priority, e.value.router
                ));
            }
            for h in 0..10 {
                let host = format!("h{h}.test");
                out.push(format!("{kind} {ep} {host}: {:?}", table.candidates(&host)));
            }
        }
    }
    for (kind, elements) in [
        ("router", &rt.info.routers),
        ("service", &rt.info.services),
        ("middleware", &rt.info.middlewares),
    ] {
        for (name, e) in elements {
            out.push(format!(
                "{kind} {name}: {} {:?} {:?} {:?} {:?} {}",
                e.name,
                e.status,
                e.errors,
                e.links,
                e.kind,
                e.config_text()
            ));
        }
    }
    let mut balancers: Vec<&String> = rt.balancers.keys().collect();
    balancers.sort();
    out.push(format!("balancers {balancers:?}"));
    out
}

fn two_entrypoints() -> Builder {
    let view = StaticView {
        entrypoints: vec!["web".into(), "other".into()],
        default_entrypoints: vec!["web".into()],
        ..Default::default()
    };
    Builder::new(view, HashMap::new()).unwrap_or_else(|e| panic!("builder: {e}"))
}

/// Whether every router the builder keeps was built over the middleware
/// instances it has now (a router kept over a middleware compiled again
/// would run the old one).
fn chains_current(b: &Builder) -> Result<(), String> {
    for (name, cached) in &b.routers {
        for (m, generation) in &cached.middlewares {
            if b.middleware_generation(m) != Some(*generation) {
                return Err(format!("router {name} kept over an old {m}"));
            }
        }
    }
    Ok(())
}

/// Random changes (with `middlewares`, of random middlewares too), each
/// applied by one builder (patched when it can) and by a new one (built
/// from scratch): the two runtimes route and show the same. Returns how
/// many were patched, and of those how many changed a middleware.
fn patched_equals_built(seed: u64, middlewares: bool) -> (usize, usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut routers = BTreeMap::new();
    let mut services = BTreeMap::new();
    let mut mws = BTreeMap::new();
    for i in 0..12 {
        routers.insert(i, random_router(&mut rng));
    }
    for i in 0..6 {
        services.insert(i, random_service(&mut rng, seed.is_multiple_of(4)));
    }
    if middlewares {
        for i in 0..4 {
            mws.insert(i, random_middleware(&mut rng));
        }
    }
    let mut header = 0;
    let mut patched_builder = two_entrypoints();
    let (mut patched, mut patched_middlewares) = (0, 0);
    let choices = if middlewares { 13 } else { 10 };
    for step in 0..40 {
        let mut middleware_changed = false;
        match rng.below(choices) {
            0 | 1 => {
                routers.insert(rng.below(20), random_router(&mut rng));
            }
            2 => {
                routers.remove(&rng.below(20));
            }
            3 => {
                let i = rng.below(20);
                routers.insert(i, random_router(&mut rng));
                routers.insert(i + 1, random_router(&mut rng));
            }
            4 | 5 => {
                services.insert(
                    rng.below(8),
                    random_service(&mut rng, seed.is_multiple_of(4)),
                );
            }
            6 => {
                services.remove(&rng.below(8));
            }
            7 => {
                header += 1;
                middleware_changed = true;
            }
            10 | 11 => {
                mws.insert(rng.below(6), random_middleware(&mut rng));
                middleware_changed = true;
            }
            12 => {
                middleware_changed = mws.remove(&rng.below(6)).is_some();
            }
            _ => {
                // Nothing changed but the text: the same elements.
            }
        }
        let config = merged(&yaml_with(&routers, &services, header, &mws));
        let (rt, stats) = patched_builder.build(config.clone());
        let (want, want_stats) = two_entrypoints().build(config);
        patched += usize::from(stats.patched);
        patched_middlewares += usize::from(stats.patched && middleware_changed);
        if let Err(e) = chains_current(&patched_builder) {
            panic!("seed {seed}, step {step}: {e}");
        }
        let (got, want) = (observable(&rt), observable(&want));
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "seed {seed}, step {step}");
        }
        assert_eq!(got.len(), want.len(), "seed {seed}, step {step}");
        assert_eq!(
            (
                stats.routers,
                stats.services,
                stats.middlewares,
                stats.errors
            ),
            (
                want_stats.routers,
                want_stats.services,
                want_stats.middlewares,
                want_stats.errors
            ),
            "seed {seed}, step {step}"
        );
    }
    (patched, patched_middlewares)
}

#[test]
fn a_patched_runtime_equals_one_built_from_scratch() {
    for seed in 1..=12u64 {
        let (patched, _) = patched_equals_built(seed, false);
        assert!(patched > 0, "seed {seed}: nothing was patched");
    }
}

#[test]
fn a_new_view_moves_routers_to_the_new_entrypoints() {
    let mut b = builder();
    let config = merged(&yaml("v", 1, "b.test", ""));
    let (before, _) = b.build(config.clone());
    assert!(!before.entrypoints.contains_key("other"));
    b.set_view(StaticView {
        entrypoints: vec!["web".into(), "other".into()],
        default_entrypoints: vec!["other".into()],
        ..Default::default()
    });
    // The same configuration, built again for the new entrypoints.
    let (after, _) = b.build(config);
    let names: Vec<&str> = after.entrypoints["other"]
        .entries()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert!(names.contains(&"r1@file"), "{names:?}");
    assert!(after
        .entrypoints
        .get("web")
        .is_none_or(|t| t.entries().is_empty()));
}

#[test]
fn a_runtime_patched_with_middleware_changes_equals_one_built_from_scratch() {
    let mut with_middlewares = 0;
    for seed in 1..=24u64 {
        let (patched, middlewares) = patched_equals_built(seed, true);
        assert!(patched > 0, "seed {seed}: nothing was patched");
        with_middlewares += middlewares;
    }
    // Most middleware changes are patched, not built whole.
    assert!(with_middlewares > 24, "{with_middlewares} patched");
}
