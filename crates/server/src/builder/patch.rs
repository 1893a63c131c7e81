//! Patching the last build when a few routers, services and middlewares
//! changed: only those are built (with the routers naming a changed
//! service, and those whose chains reach a changed middleware), and only
//! the router tables they are on are made again; everything else (tables,
//! API views, services, compiled middlewares) is the last build's, shared.
//! A change the patch cannot be sure of (transports, TLS, TCP/UDP, a
//! composite service or one with middlewares changed or naming a changed
//! service, a middleware change where services have middlewares, a TLS
//! router, many elements at once) is built whole instead; both ways give
//! the same runtime (see the tests: random changes patched, compared with
//! builds from scratch).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use switchyard_config::dynamic::{Configuration, HttpConfiguration, Router, Service};
use switchyard_proxy::service::LoadBalancer;
use switchyard_rules::Entry;

use super::routers::{link_router, Tables};
use super::services::BuiltService;
use super::{BuildStats, Builder, TlsBuilt};
use crate::merge::{provider_of, qualify};
use crate::runtime::{ElementInfo, Route, Runtime, RuntimeInfo};

/// The most elements a patch builds; beyond, a whole build costs about
/// the same.
const MOST: usize = 256;

/// What the last build left for the next one to patch.
pub(super) struct Patchable {
    pub entrypoints: Tables,
    pub tls_entrypoints: Tables,
    pub tls: TlsBuilt,
    pub info: Arc<RuntimeInfo>,
    /// Every service routers can use (the internal ones too).
    pub services: HashMap<String, BuiltService>,
    pub balancers: HashMap<String, LoadBalancer>,
    /// How many elements have errors.
    pub errors: usize,
    /// The services that are not plain load balancers (composite, or with
    /// middlewares of their own): a patch never builds them, so the set
    /// stays what the whole build found.
    pub not_plain: Vec<String>,
}

/// The services of `http` a patch does not build (see
/// [`Patchable::not_plain`]).
pub(super) fn not_plain(http: &HttpConfiguration) -> Vec<String> {
    http.services
        .iter()
        .filter(|(_, s)| !plain(s))
        .map(|(n, _)| n.clone())
        .collect()
}

fn plain(service: &Service) -> bool {
    service.load_balancer.is_some() && service.middlewares.is_empty()
        || super::services::kind_count(service) == 0
}

/// The names whose element differs between `old` and `new` (added, gone
/// or changed, as `same` tells), in order; None when more than [`MOST`]
/// do.
fn changed<'a, T>(
    old: &'a BTreeMap<String, T>,
    new: &'a BTreeMap<String, T>,
    same: impl Fn(&T, &T) -> bool,
) -> Option<Vec<&'a str>> {
    let mut out = Vec::new();
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        let name = match (a.peek(), b.peek()) {
            (None, None) => return Some(out),
            (Some((ka, va)), Some((kb, vb))) if ka == kb => {
                let same = same(va, vb);
                let name = ka.as_str();
                a.next();
                b.next();
                if same {
                    continue;
                }
                name
            }
            (Some((ka, _)), Some((kb, _))) if ka < kb => a.next().map(|(k, _)| k.as_str())?,
            (Some(_), None) => a.next().map(|(k, _)| k.as_str())?,
            (_, Some(_)) => b.next().map(|(k, _)| k.as_str())?,
        };
        out.push(name);
        if out.len() > MOST {
            return None;
        }
    }
}

/// Elements shared with the last configuration are recognised by their
/// pointer.
fn shared<T: PartialEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// `link` kept sorted, once each: adds `name`.
fn add_link(links: &mut Vec<String>, name: String) {
    if let Err(at) = links.binary_search(&name) {
        links.insert(at, name);
    }
}

fn remove_link(links: &mut Vec<String>, name: String) {
    links.retain(|l| *l != name);
}

/// What changed, for [`Builder::apply_patch`].
struct Changes<'a> {
    /// The routers to build again.
    rebuild: BTreeSet<&'a str>,
    services: Vec<&'a str>,
    middlewares: Vec<&'a str>,
    /// The routers naming each changed service.
    naming: HashMap<&'a str, Vec<String>>,
}

impl Builder {
    /// Whether `router` is a TLS router on one of its entrypoints.
    fn on_tls(&self, router: &Router) -> bool {
        self.router_entrypoints(router)
            .iter()
            .any(|ep| self.effective_tls(router, ep).is_some())
    }

    /// The last build patched into the runtime of `config`, when only
    /// routers, services and middlewares it can patch changed; None
    /// otherwise (the caller then builds whole).
    pub(super) fn patch(&mut self, config: &Arc<Configuration>) -> Option<(Runtime, BuildStats)> {
        let last = self.last.clone()?;
        let (old, new) = (last.http.as_ref()?, config.http.as_ref()?);
        let same_rest = last.tcp == config.tcp
            && last.udp == config.udp
            && last.tls == config.tls
            && last.file_stamps == config.file_stamps
            && old.servers_transports == new.servers_transports;
        let prev = self.patchable.as_ref()?;
        if !same_rest {
            return None;
        }
        let routers = changed(&old.routers, &new.routers, shared)?;
        let services = changed(&old.services, &new.services, shared)?;
        let middlewares = changed(&old.middlewares, &new.middlewares, shared)?;
        let service_set: HashSet<&str> = services.iter().copied().collect();
        for name in &services {
            let not_plain =
                |c: &HttpConfiguration| c.services.get(*name).is_some_and(|s| !plain(s));
            if self.internal.contains_key(*name) || not_plain(old) || not_plain(new) {
                return None;
            }
        }
        // The services a patch does not build must not name a changed one
        // (nor, with middlewares of their own, reach a changed middleware).
        for name in &prev.not_plain {
            let Some(service) = new.services.get(name) else {
                continue;
            };
            if !middlewares.is_empty() && !service.middlewares.is_empty() {
                return None;
            }
            if !services.is_empty()
                && super::services::children_of(name, service)
                    .iter()
                    .any(|c| service_set.contains(c.as_str()))
            {
                return None;
            }
        }
        // An `errors` middleware holds its service's instance.
        if !services.is_empty() {
            for (name, m) in &new.middlewares {
                if super::middlewares::errors_service(m, name)
                    .is_some_and(|s| service_set.contains(s.as_str()))
                {
                    return None;
                }
            }
        }
        // The routers to build again: those changed, and those naming a
        // changed service (which may now exist, or fail, or be another).
        let mut rebuild: BTreeSet<&str> = routers.iter().copied().collect();
        let mut naming: HashMap<&str, Vec<String>> = HashMap::new();
        if !services.is_empty() {
            for (name, r) in &new.routers {
                let target = qualify(&r.service, provider_of(name));
                if let Some(s) = service_set.get(target.as_str()) {
                    rebuild.insert(name);
                    naming.entry(s).or_default().push(name.clone());
                }
            }
        }
        if !middlewares.is_empty() && !self.middleware_routers(&middlewares, old, new, &mut rebuild)
        {
            return None;
        }
        if rebuild.len() > MOST {
            return None;
        }
        // TLS routers decide the options of their hosts: built whole.
        for name in &rebuild {
            let defs = [old.routers.get(*name), new.routers.get(*name)];
            if defs.into_iter().flatten().any(|r| self.on_tls(r)) {
                return None;
            }
        }
        let prev = self.patchable.take()?;
        let changes = Changes {
            rebuild,
            services,
            middlewares,
            naming,
        };
        Some(self.apply_patch(config, prev, changes))
    }

    /// Adds to `rebuild` the routers a change of `middlewares` may change:
    /// those whose chains reached one of them (its `usedBy`: every router
    /// naming it or built through it), and every router that failed (its
    /// chain may now build). False when the patch cannot be sure: with
    /// entrypoint middlewares, whose names resolve against every
    /// middleware's, a middleware added or gone.
    fn middleware_routers<'a>(
        &self,
        middlewares: &[&str],
        old: &'a HttpConfiguration,
        new: &'a HttpConfiguration,
        rebuild: &mut BTreeSet<&'a str>,
    ) -> bool {
        let Some(prev) = self.patchable.as_ref() else {
            return false;
        };
        let entrypoint_middlewares = !self.view.entrypoint_middlewares.values().all(Vec::is_empty);
        for m in middlewares {
            let both = old.middlewares.contains_key(*m) && new.middlewares.contains_key(*m);
            if entrypoint_middlewares && !both {
                return false;
            }
            for r in prev
                .info
                .middlewares
                .get(*m)
                .into_iter()
                .flat_map(|el| &el.links)
            {
                // The names of the configuration's (the API's are copies).
                match new
                    .routers
                    .get_key_value(r)
                    .or(old.routers.get_key_value(r))
                {
                    Some((name, _)) => rebuild.insert(name.as_str()),
                    None => return false,
                };
            }
            if rebuild.len() > MOST {
                return false;
            }
        }
        for (name, el) in &prev.info.routers {
            if el.errors.is_empty() {
                continue;
            }
            match new.routers.get_key_value(name) {
                Some((name, _)) => rebuild.insert(name.as_str()),
                // Gone: already in `rebuild`.
                None => false,
            };
            if rebuild.len() > MOST {
                return false;
            }
        }
        true
    }

    fn apply_patch(
        &mut self,
        config: &Arc<Configuration>,
        prev: Patchable,
        changes: Changes<'_>,
    ) -> (Runtime, BuildStats) {
        let Changes {
            rebuild,
            services: changed_services,
            middlewares: changed_middlewares,
            mut naming,
        } = changes;
        self.generation += 1;
        let empty = HttpConfiguration::default();
        let last = self.last.take();
        let old = last
            .as_deref()
            .and_then(|c| c.http.as_ref())
            .unwrap_or(&empty);
        let new = config.http.as_ref().unwrap_or(&empty);
        let Patchable {
            entrypoints,
            tls_entrypoints,
            tls,
            info,
            mut services,
            mut balancers,
            mut errors,
            not_plain,
        } = prev;
        let failed = |el: &ElementInfo| usize::from(!el.errors.is_empty());
        let mut info = (*info).clone();
        info.generation = self.generation;
        let mut stats = BuildStats {
            patched: true,
            ..BuildStats::default()
        };

        // The routers built again leave the views of what they named, and
        // their entries leave the tables.
        let mut gone: HashSet<&str> = HashSet::new();
        let mut eps: BTreeSet<(bool, String)> = BTreeSet::new();
        for name in &rebuild {
            // A router is on the tables of the entrypoints it links to (not
            // TLS ones: a patch builds no TLS router).
            if let Some(el) = info.routers.remove(*name) {
                errors -= failed(&el);
                for ep in &el.links {
                    eps.insert((false, ep.clone()));
                }
            }
            if let Some(r) = old.routers.get(*name) {
                let service = qualify(&r.service, provider_of(name));
                link_router(name, r, &service, &mut info, remove_link);
            }
            if let Some(c) = self.routers.remove(*name) {
                for (m, _) in &c.middlewares {
                    if let Some(mi) = info.middlewares.get_mut(m) {
                        remove_link(&mut Arc::make_mut(mi).links, name.to_string());
                    }
                }
            }
            gone.insert(name);
        }

        // The services that changed, built again; the others are taken
        // over as they are.
        let rebuilt = changed_services
            .iter()
            .filter(|n| new.services.contains_key(**n))
            .count();
        stats.reused_services = new.services.len() - rebuilt;
        for name in &changed_services {
            services.remove(*name);
            balancers.remove(*name);
            if let Some(el) = info.services.remove(*name) {
                errors -= failed(&el);
            }
            let Some(service) = new.services.get(*name) else {
                self.services.remove(*name);
                continue;
            };
            let mut cache = HashMap::new();
            if let Some(c) = self.services.remove(*name) {
                cache.insert(name.to_string(), c);
            }
            let (mut el, built) =
                self.fresh_service(name, service, new, &mut cache, &mut stats, &mut Vec::new());
            if let Some(b) = built {
                if let Some(lb) = &b.balancer {
                    balancers.insert(name.to_string(), lb.clone());
                }
                services.insert(name.to_string(), b);
            }
            let mut links = naming.remove(*name).unwrap_or_default();
            links.sort();
            links.dedup();
            if !links.is_empty() {
                Arc::make_mut(&mut el).links = links;
            }
            errors += failed(&el);
            info.services.insert(name.to_string(), el);
        }

        // The middlewares that changed, compiled again (the services they
        // call are built); the others keep their compilation. Their
        // `usedBy` is what routers not built again gave them.
        for name in &changed_middlewares {
            let previous = self.take_middleware(name);
            let links = match info.middlewares.remove(*name) {
                Some(el) => {
                    errors -= failed(&el);
                    el.links.clone()
                }
                None => Vec::new(),
            };
            let Some(m) = new.middlewares.get(*name) else {
                continue;
            };
            let mut el = self.compile_middleware(name, m, previous, &services);
            el.links = links;
            errors += failed(&el);
            info.middlewares.insert(name.to_string(), Arc::new(el));
        }

        // The routers, built again.
        let mut added: HashMap<(bool, String), Vec<Entry<Route>>> = HashMap::new();
        for name in &rebuild {
            let Some(router) = new.routers.get(*name) else {
                continue;
            };
            let service = qualify(&router.service, provider_of(name));
            link_router(name, router, &service, &mut info, add_link);
            let (el, built) = self.fresh_router(name, router, &service, &services, &tls, &mut info);
            for (ep, is_tls, entry) in built {
                eps.insert((is_tls, ep.clone()));
                added.entry((is_tls, ep)).or_default().push(entry);
            }
            errors += failed(&el);
            info.routers.insert(name.to_string(), el);
            // What its chains reach was pushed unsorted.
            if let Some(c) = self.routers.get(*name) {
                for (m, _) in &c.middlewares {
                    if let Some(mi) = info.middlewares.get_mut(m) {
                        let links = &mut Arc::make_mut(mi).links;
                        links.sort();
                        links.dedup();
                    }
                }
            }
        }

        // The tables the routers built again were or are on.
        let (mut plain_tables, mut tls_tables) = (entrypoints, tls_entrypoints);
        for (is_tls, ep) in eps {
            let tables = if is_tls {
                &mut tls_tables
            } else {
                &mut plain_tables
            };
            let new_entries = added.remove(&(is_tls, ep.clone())).unwrap_or_default();
            let table = match tables.get(&ep) {
                Some(t) => self.patched_table(t, |n| gone.contains(n), new_entries),
                None => self.table(new_entries),
            };
            tables.insert(ep, Arc::new(table));
        }

        // Rules no router uses any more go once they are many.
        if self.rules.len() > 2 * new.routers.len() + 64 {
            self.forget_rules(new);
        }
        stats.routers = info.routers.len();
        stats.services = info.services.len();
        stats.middlewares = info.middlewares.len();
        stats.errors = errors;
        if let Some(m) = &self.metrics {
            m.applied(new);
        }
        let info = Arc::new(info);
        let runtime = Runtime {
            entrypoints: plain_tables.clone(),
            tls_entrypoints: tls_tables.clone(),
            tls: tls.runtime.clone(),
            tcp: self.tcp_tables.clone(),
            tcp_services: self.tcp_services.clone(),
            balancers: balancers.clone(),
            info: info.clone(),
            udp: self.udp.clone(),
        };
        self.patchable = Some(Patchable {
            entrypoints: plain_tables,
            tls_entrypoints: tls_tables,
            tls,
            info,
            services,
            balancers,
            errors,
            not_plain,
        });
        drop(last);
        self.last = Some(config.clone());
        (runtime, stats)
    }
}
