//! Merging providers: every element name becomes `name@provider`.
//! References inside an element (a router's service and middlewares, a
//! chain's middlewares) stay as written and are resolved against the
//! referring element's provider by [`qualify`].

use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_config::dynamic::{Configuration, HttpConfiguration};
use switchyard_config::tls::TlsConfiguration;

/// `name` as seen from an element of `provider`: kept when already
/// qualified, else `name@provider`.
pub fn qualify(name: &str, provider: &str) -> String {
    if name.contains('@') {
        name.to_string()
    } else {
        // Written out: `format!` costs several times this, and a merge of
        // 10,000 elements qualifies each.
        let mut q = String::with_capacity(name.len() + 1 + provider.len());
        q.push_str(name);
        q.push('@');
        q.push_str(provider);
        q
    }
}

/// The provider part of a qualified name.
pub fn provider_of(qualified: &str) -> &str {
    qualified.rsplit_once('@').map(|(_, p)| p).unwrap_or("")
}

/// Merges the latest configuration of each provider.
pub fn merge(configs: &BTreeMap<String, Configuration>) -> Configuration {
    let mut http = HttpConfiguration::default();
    // Collected first and built in one go (a sort, then a bulk build), which
    // at 10,000 elements costs a fraction of inserting them one by one. A
    // name given twice keeps the last provider's element, as inserting did.
    let mut routers = Vec::new();
    let mut services = Vec::new();
    let mut middlewares = Vec::new();
    let mut transports = Vec::new();
    for (provider, config) in configs {
        if let Some(h) = &config.http {
            let rename = |name: &String| qualify(name, provider);
            routers.extend(h.routers.iter().map(|(k, v)| (rename(k), v.clone())));
            services.extend(h.services.iter().map(|(k, v)| (rename(k), v.clone())));
            middlewares.extend(h.middlewares.iter().map(|(k, v)| (rename(k), v.clone())));
            transports.extend(
                h.servers_transports
                    .iter()
                    .map(|(k, v)| (rename(k), v.clone())),
            );
        }
    }
    http.routers = routers.into_iter().collect();
    http.services = services.into_iter().collect();
    http.middlewares = middlewares.into_iter().collect();
    http.servers_transports = transports.into_iter().collect();
    let mut merged = merge_others(configs);
    merged.http = Some(http);
    merged
}

/// What changed in one provider: its name and its configuration before.
pub type Change = (String, Option<Configuration>);

/// [`merge`] of `configs`, made from `base` (the merge of the same
/// providers before `changes`) by applying what changed in each provider's
/// HTTP elements: those that did not change are not qualified, sorted or
/// copied again (the maps are, with their keys). None when the shortcut
/// cannot be sure: a provider new to the merge, or a name that holds `@`
/// already (it could meet another provider's).
pub fn merge_changed(
    base: &Configuration,
    configs: &BTreeMap<String, Configuration>,
    changes: &[Change],
) -> Option<Configuration> {
    let base_http = base.http.as_ref()?;
    let qualified = |c: &Configuration| c.http.as_ref().is_some_and(names_qualified);
    if configs.values().any(qualified) {
        return None;
    }
    let empty = HttpConfiguration::default();
    let mut http = base_http.clone();
    for (provider, old) in changes {
        let old = old.as_ref()?;
        if qualified(old) {
            return None;
        }
        let new = configs.get(provider)?;
        let (o, n) = (
            old.http.as_ref().unwrap_or(&empty),
            new.http.as_ref().unwrap_or(&empty),
        );
        let shared = |a: &Arc<_>, b: &Arc<_>| Arc::ptr_eq(a, b) || a == b;
        patch_map(&mut http.routers, &o.routers, &n.routers, provider, shared);
        let shared = |a: &Arc<_>, b: &Arc<_>| Arc::ptr_eq(a, b) || a == b;
        patch_map(
            &mut http.services,
            &o.services,
            &n.services,
            provider,
            shared,
        );
        let shared = |a: &Arc<_>, b: &Arc<_>| Arc::ptr_eq(a, b) || a == b;
        patch_map(
            &mut http.middlewares,
            &o.middlewares,
            &n.middlewares,
            provider,
            shared,
        );
        patch_map(
            &mut http.servers_transports,
            &o.servers_transports,
            &n.servers_transports,
            provider,
            PartialEq::eq,
        );
    }
    let mut merged = merge_others(configs);
    merged.http = Some(http);
    Some(merged)
}

/// Whether an element name of `http` holds `@`.
fn names_qualified(http: &HttpConfiguration) -> bool {
    let at = |k: &String| k.contains('@');
    http.routers.keys().any(at)
        || http.services.keys().any(at)
        || http.middlewares.keys().any(at)
        || http.servers_transports.keys().any(at)
}

/// Makes `into` (merged, names qualified) hold `new`'s elements of
/// `provider` instead of `old`'s: a walk of both in name order.
fn patch_map<T: Clone>(
    into: &mut BTreeMap<String, T>,
    old: &BTreeMap<String, T>,
    new: &BTreeMap<String, T>,
    provider: &str,
    same: impl Fn(&T, &T) -> bool,
) {
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return,
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                if !same(va, vb) {
                    into.insert(qualify(kb, provider), (*vb).clone());
                }
                a.next();
                b.next();
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => {
                into.remove(&qualify(ka, provider));
                a.next();
            }
            (Some((ka, _)), None) => {
                into.remove(&qualify(ka, provider));
                a.next();
            }
            (_, Some((kb, vb))) => {
                into.insert(qualify(kb, provider), (*vb).clone());
                b.next();
            }
        }
    }
}

/// Adds the TCP elements of `provider` to `into`, their names qualified
/// (references inside them are resolved by the builder, as for HTTP).
fn merge_tcp(
    into: &mut Option<switchyard_config::Node>,
    provider: &str,
    tcp: &switchyard_config::Node,
) {
    use switchyard_config::Node;
    let merged = into.get_or_insert_with(|| Node::empty_map(tcp.location.clone()));
    for (section, elements) in tcp.entries() {
        let mut target = merged
            .get(section)
            .cloned()
            .unwrap_or_else(|| Node::empty_map(elements.location.clone()));
        for (name, element) in elements.entries() {
            target.insert(&qualify(name, provider), element.clone());
        }
        merged.insert(section, target);
    }
}

/// Everything but the HTTP elements: TLS, as Traefik aggregates it (every
/// certificate; option names qualified except `default`; stores other than
/// `default` ignored; a `default` defined by two providers dropped, with an
/// error), every provider's TCP elements (names qualified), every UDP
/// section (names qualified, [`crate::udp::merge`]), the files' stamps.
fn merge_others(configs: &BTreeMap<String, Configuration>) -> Configuration {
    let mut merged = Configuration::default();
    let mut tls = TlsConfiguration::default();
    let mut default_store_from = Vec::new();
    let mut default_options_from = Vec::new();
    for (provider, config) in configs {
        merged
            .file_stamps
            .extend(config.file_stamps.iter().cloned());
        if let Some(t) = &config.tls {
            tls.certificates.extend(t.certificates.iter().cloned());
            for (name, store) in &t.stores {
                if name == "default" {
                    default_store_from.push(provider.clone());
                    tls.stores.insert(name.clone(), store.clone());
                } else {
                    tracing::error!(provider = %provider, store = %name, "TLS store ignored: only the default store is supported");
                }
            }
            for (name, options) in &t.options {
                let key = if name == "default" {
                    default_options_from.push(provider.clone());
                    name.clone()
                } else {
                    qualify(name, provider)
                };
                tls.options.insert(key, options.clone());
            }
        }
        if let Some(tcp) = &config.tcp {
            merge_tcp(&mut merged.tcp, provider, tcp);
        }
    }
    if default_store_from.len() > 1 {
        tracing::error!(providers = ?default_store_from, "Default TLS Store defined in multiple providers");
        tls.stores.remove("default");
    }
    if default_options_from.len() > 1 {
        tracing::error!(providers = ?default_options_from, "Default TLS Options defined in multiple providers");
        tls.options.remove("default");
    }
    merged.tls = Some(tls);
    merged.udp = crate::udp::merge(configs);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualify_table() {
        let cases = [
            ("plain name gets the provider", "svc", "file", "svc@file"),
            ("qualified name is kept", "svc@docker", "file", "svc@docker"),
            ("internal service", "api@internal", "file", "api@internal"),
        ];
        for (what, name, provider, want) in cases {
            assert_eq!(qualify(name, provider), want, "{what}");
        }
        assert_eq!(provider_of("a@file"), "file");
        assert_eq!(provider_of("a"), "");
    }

    #[test]
    fn merge_qualifies_names_and_a_name_given_twice_keeps_the_last_provider() {
        use switchyard_config::dynamic::Router;
        let router = |rule: &str| Router {
            rule: rule.to_string(),
            ..Default::default()
        };
        let provider = |routers: &[(&str, &str)]| Configuration {
            http: Some(HttpConfiguration {
                routers: routers
                    .iter()
                    .map(|(n, r)| (n.to_string(), std::sync::Arc::new(router(r))))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let configs = BTreeMap::from([
            (
                "docker".to_string(),
                provider(&[("a", "Host(`d`)"), ("x@file", "Host(`from-docker`)")]),
            ),
            (
                "file".to_string(),
                provider(&[
                    ("a1", "Host(`f1`)"),
                    ("a", "Host(`f`)"),
                    ("x", "Host(`from-file`)"),
                ]),
            ),
        ]);
        let merged = merge(&configs);
        let routers = &merged.http.as_ref().expect("http").routers;
        let got: Vec<(&str, &str)> = routers
            .iter()
            .map(|(k, v)| (k.as_str(), v.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a1@file", "Host(`f1`)"),
                ("a@docker", "Host(`d`)"),
                ("a@file", "Host(`f`)"),
                ("x@file", "Host(`from-file`)"),
            ]
        );
    }

    #[test]
    fn a_merge_of_what_changed_equals_a_whole_merge() {
        use switchyard_config::dynamic::{Router, Service};
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut below = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let providers = ["docker", "file", "internal"];
        let mut configs: BTreeMap<String, Configuration> = providers
            .iter()
            .map(|p| (p.to_string(), Configuration::default()))
            .collect();
        let mut base = merge(&configs);
        for step in 0..300 {
            let mut changes = Vec::new();
            for p in providers {
                if below(2) == 0 {
                    continue;
                }
                let config = configs.get(p).cloned().unwrap_or_default();
                let mut next = config.clone();
                let http = next.http.get_or_insert_with(Default::default);
                for _ in 0..below(4) {
                    let name = format!("e{}", below(8));
                    match below(5) {
                        0 => {
                            http.routers.remove(&name);
                        }
                        1 => {
                            http.services.remove(&name);
                        }
                        2 => {
                            let service = Service {
                                middlewares: vec![format!("m{}", below(3))],
                                ..Default::default()
                            };
                            http.services.insert(name, Arc::new(service));
                        }
                        _ => {
                            let router = Router {
                                rule: format!("Host(`h{}`)", below(4)),
                                ..Default::default()
                            };
                            http.routers.insert(name, Arc::new(router));
                        }
                    }
                }
                // Now and then a name holding `@`: merged whole.
                if below(40) == 0 {
                    http.routers
                        .insert("x@docker".into(), Arc::new(Router::default()));
                } else if below(10) == 0 {
                    http.routers.remove("x@docker");
                }
                configs.insert(p.to_string(), next);
                changes.push((p.to_string(), Some(config)));
            }
            let whole = merge(&configs);
            let before = changes.iter().filter_map(|(_, c)| c.as_ref());
            let qualified = configs
                .values()
                .chain(before)
                .any(|c| c.http.as_ref().is_some_and(names_qualified));
            match merge_changed(&base, &configs, &changes) {
                Some(patched) => {
                    assert!(!qualified, "step {step}: merged despite a qualified name");
                    assert_eq!(patched, whole, "step {step}");
                }
                None => assert!(qualified, "step {step}: not merged"),
            }
            base = whole;
        }
    }
}
