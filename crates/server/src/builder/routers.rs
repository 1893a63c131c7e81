//! Building routers: the rule, the entrypoints, the middleware chain (with
//! the entrypoint's own middlewares first) and the service, per entrypoint.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::dynamic::{HttpConfiguration, Router};
use switchyard_config::tls::RouterTls;
use switchyard_proxy::trace::{Traced, Verbosity};
use switchyard_proxy::BoxHandler;
use switchyard_rules::{default_priority, Entry, RouterTable, Rule, Syntax};

use super::middlewares::{CompiledMiddleware, Wrap};
use super::services::BuiltService;
use super::{Builder, TlsBuilt};
use crate::merge::{provider_of, qualify};
use crate::runtime::{ApiConfig, ElementInfo, Route, RuntimeInfo};

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// A router as the API shows it: Traefik's computed priority (also as
/// `priorityStr`), middleware names qualified, observability defaults.
/// The qualified name of the TLS options a router's `tls` names.
pub(super) fn option_name(tls: &RouterTls, provider: &str) -> String {
    if tls.options.is_empty() || tls.options == "default" {
        "default".to_string()
    } else {
        qualify(&tls.options, provider)
    }
}

/// Router `name` as the API shows it (`attached`: whether it was attached
/// to an entrypoint), with the TLS section it gets: its own or its first
/// entrypoint's.
pub(crate) fn router_api_view(
    name: &str,
    router: &Router,
    attached: bool,
    view: &super::StaticView,
) -> serde_json::Value {
    let entrypoints = if router.entry_points.is_empty() {
        &view.default_entrypoints
    } else {
        &router.entry_points
    };
    let shown_tls = router.tls.as_deref().cloned().or_else(|| {
        entrypoints
            .iter()
            .find_map(|ep| view.entrypoint_tls.get(ep).cloned())
    });
    api_view(name, router, attached, view, shown_tls.as_ref())
}

fn api_view(
    name: &str,
    router: &Router,
    attached: bool,
    view: &super::StaticView,
    tls: Option<&RouterTls>,
) -> serde_json::Value {
    let defaults = &view.default_entrypoints;
    let mut v = json(router);
    // Traefik gives the static default to routers without their own, and
    // shows no empty one.
    if let Some(o) = v.as_object_mut() {
        if router.rule_syntax.as_deref().unwrap_or("").is_empty() {
            match view.default_rule_syntax {
                Some(syntax) => o.insert("ruleSyntax".into(), serde_json::json!(syntax.name())),
                None => o.remove("ruleSyntax"),
            };
        }
    }
    if let (Some(t), Some(o)) = (tls, v.as_object_mut()) {
        // Traefik shows the options a router gets, `default` included.
        let mut t = t.clone();
        if t.options.is_empty() {
            t.options = "default".into();
        }
        o.insert("tls".into(), json(&t));
    }
    if router.entry_points.is_empty() {
        if let Some(o) = v.as_object_mut() {
            o.insert("entryPoints".into(), serde_json::json!(defaults));
        }
    }
    let provider = provider_of(name);
    let priority = match router.priority {
        Some(p) if p != 0 => p,
        _ if attached => default_priority(&router.rule),
        _ => 0,
    };
    if let Some(o) = v.as_object_mut() {
        if !router.middlewares.is_empty() {
            let qualified: Vec<String> = router
                .middlewares
                .iter()
                .map(|m| qualify(m, provider))
                .collect();
            o.insert("middlewares".into(), serde_json::json!(qualified));
        }
        if priority != 0 {
            o.insert("priority".into(), serde_json::json!(priority));
        } else {
            o.remove("priority");
        }
        o.insert(
            "priorityStr".into(),
            serde_json::json!(priority.to_string()),
        );
        // Traefik fills in what a router's `observability` leaves out.
        let defaults = [
            ("accessLogs", serde_json::json!(true)),
            ("metrics", serde_json::json!(true)),
            ("tracing", serde_json::json!(true)),
            ("traceVerbosity", serde_json::json!("minimal")),
        ];
        let observability = o
            .entry("observability")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(obs) = observability.as_object_mut() {
            for (k, v) in defaults {
                obs.entry(k).or_insert(v);
            }
        }
    }
    v
}

/// A router's `observability.<key>` (`accessLogs`, `metrics`) on an
/// entrypoint whose own `observability.<key>` is `default`: the router's
/// when it says, else the entrypoint's, else true.
fn observability_switch(router: &Router, key: &str, default: Option<bool>) -> bool {
    use switchyard_config::node::{Scalar, Value};
    let Some(node) = router.observability.as_ref().and_then(|o| o.get(key)) else {
        return default.unwrap_or(true);
    };
    match &node.value {
        Value::Scalar(Scalar::Bool(b)) => *b,
        Value::Scalar(Scalar::Str(s)) => !s.trim().eq_ignore_ascii_case("false"),
        _ => true,
    }
}

/// A router built without error or warning, taken over by the next build
/// while nothing it was built from changed: its definition, its service's
/// handler, the instances of the middlewares in its chains, its TLS options.
pub struct CachedRouter {
    info: Arc<ElementInfo>,
    /// Its table entries: entrypoint, whether on TLS connections, entry.
    pub(super) entries: Vec<(String, bool, Entry<Route>)>,
    /// The handler of its service when it was built.
    service: BoxHandler,
    /// Every middleware its chains expanded to (entrypoints' included),
    /// with the build that compiled it.
    pub(super) middlewares: Vec<(String, u64)>,
}

fn copy_entry((ep, tls, e): &(String, bool, Entry<Route>)) -> (String, bool, Entry<Route>) {
    let entry = Entry {
        name: e.name.clone(),
        rule: e.rule.clone(),
        priority: e.priority,
        value: e.value.clone(),
    };
    (ep.clone(), *tls, entry)
}

/// The highest priority a router from a provider other than the internal
/// one may have (Traefik's `maxUserPriority`).
pub const MAX_USER_PRIORITY: i64 = i64::MAX - 1000;

/// A router's table entries: entrypoint, whether on TLS connections, entry.
pub(super) type Placed = Vec<(String, bool, Entry<Route>)>;

/// Router tables by entrypoint.
pub(super) type Tables = HashMap<String, Arc<RouterTable<Route>>>;

impl Builder {
    /// The table of `entries`, in Traefik's order with the static
    /// `providers.precedence`.
    pub(super) fn table(&self, entries: Vec<Entry<Route>>) -> RouterTable<Route> {
        match self.view.provider_precedence.as_deref() {
            Some(order) => RouterTable::with_precedence(entries, order),
            None => RouterTable::new(entries),
        }
    }

    /// Forgets the compiled rules no router of `http` has.
    pub(super) fn forget_rules(&mut self, http: &HttpConfiguration) {
        let default_syntax = self.view.default_rule_syntax.unwrap_or_default();
        let in_use: std::collections::HashSet<(&str, Syntax)> = http
            .routers
            .values()
            .map(|r| {
                let syntax = Syntax::for_router(r.rule_syntax.as_deref(), default_syntax);
                (r.rule.as_str(), syntax)
            })
            .collect();
        self.rules
            .retain(|(text, syntax), _| in_use.contains(&(text.as_str(), *syntax)));
    }

    /// `table` without the entries of the routers `gone` names, with
    /// `added`: what [`Builder::table`] makes of those entries.
    pub(super) fn patched_table(
        &self,
        table: &RouterTable<Route>,
        gone: impl Fn(&str) -> bool,
        added: Vec<Entry<Route>>,
    ) -> RouterTable<Route> {
        let gone = |e: &Entry<Route>| gone(&e.name);
        match self.view.provider_precedence.as_deref() {
            Some(order) => table.patched(gone, added, order),
            None => table.patched(gone, added, &switchyard_rules::DEFAULT_PROVIDER_PRECEDENCE),
        }
    }

    /// The counters of the router `name` to `service`, and whether its
    /// requests are counted.
    fn route_metrics(
        &self,
        name: &str,
        service: &str,
        router: &Router,
        entrypoint_default: Option<bool>,
    ) -> crate::metrics::RouteMetrics {
        let Some(m) = &self.metrics else {
            return Default::default();
        };
        let internal = service.ends_with("@internal");
        let switch = observability_switch(router, "metrics", entrypoint_default);
        let metered = m.meters(internal, switch);
        crate::metrics::RouteMetrics {
            metered,
            router: metered.then(|| m.router_scope(name, service)).flatten(),
            semconv: m.records_semconv(internal, switch),
        }
    }

    /// The syntax of a router's rule: its `ruleSyntax`, else the static
    /// default (see [`Syntax::for_router`]).
    fn rule_syntax(&self, router: &Router) -> Syntax {
        Syntax::for_router(
            router.rule_syntax.as_deref(),
            self.view.default_rule_syntax.unwrap_or_default(),
        )
    }

    fn rule(&mut self, text: &str, syntax: Syntax) -> Result<Arc<Rule>, String> {
        let key = (text.to_string(), syntax);
        if let Some(r) = self.rules.get(&key) {
            return Ok(r.clone());
        }
        let rule = Arc::new(switchyard_rules::parse_with(text, syntax).map_err(|e| e.to_string())?);
        self.rules.insert(key, rule.clone());
        Ok(rule)
    }

    /// `wrap` (middleware `name`'s) with its span around the handler it
    /// makes.
    fn traced_middleware(&self, name: &str, wrap: Wrap) -> Wrap {
        let kind = self.middleware_kind(name).unwrap_or("").to_string();
        let name: Arc<str> = Arc::from(name);
        Arc::new(move |next| Traced::middleware(&name, &kind, wrap(next)))
    }

    /// Expands `name` (qualified) into the wrappers it stands for, following
    /// chains; `stack` holds the chain being expanded, to report cycles.
    fn expand(
        &self,
        name: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<Wrap>,
        used: &mut Vec<String>,
    ) -> Result<(), String> {
        if stack.iter().any(|s| s == name) {
            let mut path = stack.clone();
            path.push(name.to_string());
            return Err(format!(
                "could not instantiate middleware {name}: recursion detected in {}",
                path.join("->")
            ));
        }
        let Some(compiled) = self.middleware(name) else {
            return Err(format!("middleware \"{name}\" does not exist"));
        };
        used.push(name.to_string());
        match compiled {
            CompiledMiddleware::Wrap(w) if self.view.tracing => {
                out.push(self.traced_middleware(name, w.clone()));
            }
            CompiledMiddleware::Wrap(w) => out.push(w.clone()),
            CompiledMiddleware::Chain(names) => {
                stack.push(name.to_string());
                for n in names {
                    self.expand(&qualify(n, provider_of(name)), stack, out, used)?;
                }
                stack.pop();
            }
        }
        Ok(())
    }

    /// Completes the services that have their own `middlewares`: their
    /// late-bound handler becomes the chain around the service. A chain
    /// that cannot be built is the service's error, and the service is
    /// then unavailable to routers.
    pub(super) fn apply_service_middlewares(
        &self,
        http: &HttpConfiguration,
        built: &mut HashMap<String, BuiltService>,
        info: &mut RuntimeInfo,
    ) -> Vec<(String, switchyard_proxy::service::LoadBalancer)> {
        let mut failed_balancers = Vec::new();
        let pending: Vec<String> = built
            .iter()
            .filter(|(_, b)| b.pending.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        for name in pending {
            let Some(service) = http.services.get(&name) else {
                continue;
            };
            let provider = provider_of(&name).to_string();
            let mut wraps: Vec<Wrap> = Vec::new();
            let mut used = Vec::new();
            let mut failed = None;
            for m in &service.middlewares {
                let qualified = qualify(m, &provider);
                if let Err(e) = self.expand(&qualified, &mut Vec::new(), &mut wraps, &mut used) {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                if let Some(el) = info.services.get_mut(&name) {
                    Arc::make_mut(el).fail(e);
                }
                // Its servers still show in the API, as in Traefik.
                if let Some(b) = built.remove(&name).and_then(|b| b.balancer) {
                    failed_balancers.push((name.clone(), b));
                }
                continue;
            }
            if let Some((late, inner)) = built.get(&name).and_then(|b| b.pending.clone()) {
                late.set(wraps.iter().rev().fold(inner, |next, wrap| wrap(next)));
            }
            // As in Traefik, a middleware's `usedBy` lists routers only.
            drop(used);
        }
        failed_balancers
    }

    /// Resolves an entrypoint middleware reference; an unqualified name
    /// matches the one provider that has it.
    fn entrypoint_middleware_name(&self, name: &str) -> String {
        if name.contains('@') {
            return name.to_string();
        }
        let prefix = format!("{name}@");
        let mut found = self.middlewares.keys().filter(|k| k.starts_with(&prefix));
        match (found.next(), found.next()) {
            (Some(only), None) => only.clone(),
            _ => name.to_string(),
        }
    }

    /// The TLS settings a router has on entrypoint `ep`: its own, else the
    /// entrypoint's `http.tls`.
    pub(super) fn effective_tls(&self, router: &Router, ep: &str) -> Option<RouterTls> {
        router
            .tls
            .as_deref()
            .cloned()
            .or_else(|| self.view.entrypoint_tls.get(ep).cloned())
    }

    /// The routers' entrypoints (theirs or the defaults).
    pub(super) fn router_entrypoints<'a>(&'a self, router: &'a Router) -> &'a [String] {
        if router.entry_points.is_empty() {
            &self.view.default_entrypoints
        } else {
            &router.entry_points
        }
    }

    /// Router `name` as the last build made it, when nothing it was built
    /// from changed since (`last`: the configuration built last;
    /// `names_stable`: whether entrypoints' middleware names still resolve
    /// as they did).
    #[allow(clippy::too_many_arguments)]
    fn reusable<'c>(
        &self,
        cached: Option<&'c CachedRouter>,
        name: &str,
        router: &Router,
        service_name: &str,
        last: Option<&HttpConfiguration>,
        names_stable: bool,
        services: &HashMap<String, BuiltService>,
        tls: &TlsBuilt,
    ) -> Option<&'c CachedRouter> {
        let c = cached?;
        let unchanged = names_stable
            && last
                .and_then(|l| l.routers.get(name))
                .is_some_and(|r| std::ptr::eq(&**r, router) || **r == *router)
            && services
                .get(service_name)
                .is_some_and(|s| Arc::ptr_eq(&s.handler, &c.service))
            && c.middlewares
                .iter()
                .all(|(m, g)| self.middleware_generation(m) == Some(*g))
            && tls
                .conflicted
                .binary_search_by(|n| n.as_str().cmp(name))
                .is_err();
        if !unchanged {
            return None;
        }
        let provider = provider_of(name);
        for ep in &c.info.links {
            if let Some(t) = self.effective_tls(router, ep) {
                let option = option_name(&t, provider);
                if tls.option_errors.contains_key(&option) || !tls.runtime.has_option(&option) {
                    return None;
                }
            }
        }
        Some(c)
    }

    /// Which TLS options each host gets, from the `Host` values of the TLS
    /// routers' rules (Traefik's choice by SNI); a host two routers give
    /// different options gets the default ones, and those routers a
    /// warning.
    pub(super) fn tls_hosts(
        &mut self,
        http: &HttpConfiguration,
    ) -> (HashMap<String, String>, Vec<String>) {
        let mut by_host: HashMap<String, String> = HashMap::new();
        let mut owners: HashMap<String, Vec<String>> = HashMap::new();
        let mut conflicted: Vec<String> = Vec::new();
        let mut clashing_hosts = Vec::new();
        for (name, router) in &http.routers {
            let eps = self.router_entrypoints(router);
            let Some(tls) = eps.iter().find_map(|ep| self.effective_tls(router, ep)) else {
                continue;
            };
            let option = option_name(&tls, provider_of(name));
            let Ok(rule) = self.rule(&router.rule, self.rule_syntax(router)) else {
                continue;
            };
            for host in rule.host_values() {
                owners.entry(host.clone()).or_default().push(name.clone());
                match by_host.get(&host) {
                    Some(existing) if *existing != option => clashing_hosts.push(host.clone()),
                    Some(_) => {}
                    None => {
                        by_host.insert(host, option.clone());
                    }
                }
            }
        }
        for host in clashing_hosts {
            by_host.insert(host.clone(), "default".into());
            conflicted.extend(owners.remove(&host).unwrap_or_default());
        }
        conflicted.sort();
        conflicted.dedup();
        (by_host, conflicted)
    }

    /// Builds the routers of `http` into tables per entrypoint; `last` is
    /// the configuration built last, whose unchanged routers are taken over.
    pub(super) fn build_routers(
        &mut self,
        http: &HttpConfiguration,
        last: Option<&HttpConfiguration>,
        services: &HashMap<String, BuiltService>,
        tls: &TlsBuilt,
        info: &mut RuntimeInfo,
    ) -> (Tables, Tables) {
        let mut per_entrypoint: HashMap<String, Vec<Entry<Route>>> = HashMap::new();
        let mut per_tls_entrypoint: HashMap<String, Vec<Entry<Route>>> = HashMap::new();
        let mut previous = std::mem::take(&mut self.routers);
        let mut infos = Vec::with_capacity(http.routers.len());
        // An unqualified entrypoint middleware names the one provider that
        // has it: the names decide.
        let names_stable = self.view.entrypoint_middlewares.values().all(Vec::is_empty)
            || last.is_some_and(|l| l.middlewares.keys().eq(http.middlewares.keys()));
        for (name, router) in &http.routers {
            let provider = provider_of(name).to_string();
            let service_name = qualify(&router.service, &provider);
            link_router(name, router, &service_name, info, |links, n| links.push(n));
            let cached = previous.remove(name);
            let reused = self.reusable(
                cached.as_ref(),
                name,
                router,
                &service_name,
                last,
                names_stable,
                services,
                tls,
            );
            if let Some(c) = reused {
                self.link_chain_middlewares(
                    name,
                    router,
                    c.middlewares.iter().map(|(m, _)| m),
                    info,
                );
                for (entrypoint, is_tls, entry) in c.entries.iter().map(copy_entry) {
                    let target = if is_tls {
                        &mut per_tls_entrypoint
                    } else {
                        &mut per_entrypoint
                    };
                    target.entry(entrypoint).or_default().push(entry);
                }
                infos.push((name.clone(), c.info.clone()));
                if let Some(c) = cached {
                    self.routers.insert(name.clone(), c);
                }
                continue;
            }
            let (el, built) = self.fresh_router(name, router, &service_name, services, tls, info);
            for (entrypoint, is_tls, entry) in built {
                let target = if is_tls {
                    &mut per_tls_entrypoint
                } else {
                    &mut per_entrypoint
                };
                target.entry(entrypoint).or_default().push(entry);
            }
            infos.push((name.clone(), el));
        }
        // What `previous` still holds are routers gone or failing now: freed
        // with it. The map is built in one go from sorted entries.
        info.routers = infos.into_iter().collect();
        self.forget_rules(http);
        let tables = |per: HashMap<String, Vec<Entry<Route>>>| {
            let mut tables: Tables = per
                .into_iter()
                .map(|(ep, entries)| (ep, Arc::new(self.table(entries))))
                .collect();
            for ep in &self.view.entrypoints {
                tables
                    .entry(ep.clone())
                    .or_insert_with(|| Arc::new(RouterTable::new(Vec::new())));
            }
            tables
        };
        (tables(per_entrypoint), tables(per_tls_entrypoint))
    }

    /// Builds router `name` anew: its API view and its table entries
    /// (entrypoint, whether on TLS connections, entry); remembered for the
    /// next build when it built cleanly.
    pub(super) fn fresh_router(
        &mut self,
        name: &str,
        router: &Arc<Router>,
        service_name: &str,
        services: &HashMap<String, BuiltService>,
        tls: &TlsBuilt,
        info: &mut RuntimeInfo,
    ) -> (Arc<ElementInfo>, Placed) {
        // Its API view is written once the router is built.
        let mut el = ElementInfo::new(name, &serde_json::Value::Null);
        if tls.conflicted.iter().any(|c| c == name) {
            el.warn("router's TLSOptions configuration is conflicting with other routers on the same entrypoint and host, default TLS options will be used instead");
        }
        for w in router.unsupported.warnings() {
            tracing::warn!(router = %name, "{w}");
            el.warn(w);
        }
        let mut expanded = Vec::new();
        let built = match router.unsupported.error() {
            Some(e) => {
                tracing::error!(router = %name, "{e}");
                el.fail(e);
                Vec::new()
            }
            None => self.build_router(name, router, services, tls, &mut el, info, &mut expanded),
        };
        el.config = ApiConfig::router(router.clone(), self.view.clone(), !el.links.is_empty());
        let el = Arc::new(el);
        let service = services.get(service_name).map(|s| s.handler.clone());
        if let Some(service) = service.filter(|_| el.errors.is_empty() && !built.is_empty()) {
            let middlewares = expanded
                .into_iter()
                .map(|m| {
                    let generation = self.middleware_generation(&m).unwrap_or(u64::MAX);
                    (m, generation)
                })
                .collect();
            let cache = CachedRouter {
                info: el.clone(),
                entries: built.iter().map(copy_entry).collect(),
                service,
                middlewares,
            };
            self.routers.insert(name.to_string(), cache);
        }
        (el, built)
    }

    /// Adds router `name` to the `usedBy` of the middlewares its chains
    /// reach other than those it names itself (`expanded`: all of them).
    fn link_chain_middlewares<'a>(
        &self,
        name: &str,
        router: &Router,
        expanded: impl Iterator<Item = &'a String>,
        info: &mut RuntimeInfo,
    ) {
        let provider = provider_of(name);
        for m in expanded {
            let named = router
                .middlewares
                .iter()
                .any(|d| qualify(d, provider) == *m);
            if !named {
                if let Some(mi) = info.middlewares.get_mut(m) {
                    Arc::make_mut(mi).links.push(name.to_string());
                }
            }
        }
    }

    /// Builds one router's entries; `expanded` receives every middleware
    /// its chains expanded to (sorted, once each).
    #[allow(clippy::too_many_arguments)]
    fn build_router(
        &mut self,
        name: &str,
        router: &Router,
        services: &HashMap<String, BuiltService>,
        tls: &TlsBuilt,
        el: &mut ElementInfo,
        info: &mut RuntimeInfo,
        expanded: &mut Vec<String>,
    ) -> Vec<(String, bool, Entry<Route>)> {
        let provider = provider_of(name).to_string();
        let wanted = if router.entry_points.is_empty() {
            self.view.default_entrypoints.clone()
        } else {
            router.entry_points.clone()
        };
        let mut entrypoints = Vec::new();
        for ep in wanted {
            if self.view.entrypoints.contains(&ep) {
                entrypoints.push(ep);
            } else {
                el.warn(format!("entryPoint \"{ep}\" doesn't exist"));
            }
        }
        if entrypoints.is_empty() {
            el.fail("no valid entryPoint for this router");
            return Vec::new();
        }
        el.links.clone_from(&entrypoints);
        // TLS options must exist and build, on every entrypoint where the
        // router is a TLS one.
        for ep in &entrypoints {
            if let Some(t) = self.effective_tls(router, ep) {
                let option = option_name(&t, &provider);
                if let Some(e) = tls.option_errors.get(&option) {
                    el.fail(format!("building router handler: building TLS config: {e}"));
                    return Vec::new();
                }
                if !tls.runtime.has_option(&option) {
                    el.fail(format!(
                        "building router handler: unknown TLS options: {option}"
                    ));
                    return Vec::new();
                }
            }
        }
        if router.rule.trim().is_empty() {
            el.fail("empty rule");
            return Vec::new();
        }
        // The priorities above Traefik's user maximum are its internal
        // routers' (api, dashboard, ping, redirections, ACME).
        if let Some(p) = router.priority.filter(|p| *p > MAX_USER_PRIORITY) {
            if provider != "internal" {
                el.fail(format!(
                    "the router priority {p} exceeds the max user-defined priority {MAX_USER_PRIORITY}"
                ));
                return Vec::new();
            }
        }
        let syntax = self.rule_syntax(router);
        if let Some(written) = router.rule_syntax.as_deref() {
            let known = written.is_empty() || written == "default";
            if !known && Syntax::from_name(written).is_none() {
                // Traefik reads such a rule as v3 without a word.
                tracing::warn!(
                    router = name,
                    "ruleSyntax {written:?} is neither v2 nor v3: the rule is read as v3, as Traefik does"
                );
            }
        }
        let rule = match self.rule(&router.rule, syntax) {
            Ok(r) => r,
            Err(e) => {
                el.fail(e);
                return Vec::new();
            }
        };
        let service_name = qualify(&router.service, &provider);
        let Some(service) = services.get(&service_name) else {
            let err = if let Some(s) = info.services.get(&service_name) {
                // As Traefik, the router shows why its service is missing.
                s.errors
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("the service \"{service_name}\" is not available"))
            } else {
                format!("the service \"{service_name}\" does not exist")
            };
            el.fail(err);
            return Vec::new();
        };
        let mut wraps = Vec::new();
        let mut used = Vec::new();
        for m in &router.middlewares {
            if let Err(e) = self.expand(
                &qualify(m, &provider),
                &mut Vec::new(),
                &mut wraps,
                &mut used,
            ) {
                el.fail(e);
                return Vec::new();
            }
        }
        let priority = match router.priority {
            Some(p) if p != 0 => p,
            _ => default_priority(&router.rule),
        };
        let mut out = Vec::new();
        for ep in &entrypoints {
            let ep_observability = self.view.entrypoint_observability.get(ep);
            let mut chain: Vec<Wrap> = Vec::new();
            for m in self
                .view
                .entrypoint_middlewares
                .get(ep)
                .into_iter()
                .flatten()
            {
                let qualified = self.entrypoint_middleware_name(m);
                if let Err(e) = self.expand(&qualified, &mut Vec::new(), &mut chain, &mut used) {
                    el.fail(e);
                    return Vec::new();
                }
            }
            chain.extend(wraps.iter().cloned());
            let mut handler = chain
                .iter()
                .rev()
                .fold(service.handler.clone(), |next, wrap| wrap(next));
            if self.view.tracing {
                handler = Traced::router(name, &router.rule, &service_name, handler);
            }
            if router.default_rule {
                handler = Arc::new(switchyard_proxy::middlewares::DenyRouterRecursion::new(
                    name, handler,
                ));
            }
            // The router's own deadline covers its whole chain (retries,
            // authentication calls) up to the first byte of the answer.
            if let Some(limit) = router.request_timeout.map(std::time::Duration::from) {
                if !limit.is_zero() {
                    handler = Arc::new(
                        switchyard_proxy::middlewares::timeout::RequestTimeout::new(limit, handler),
                    );
                }
            }
            if let Some(allowed) = self.view.entrypoint_encoded.get(ep) {
                handler = Arc::new(switchyard_proxy::middlewares::EncodedCharacters::new(
                    *allowed, handler,
                ));
            }
            out.push((
                ep.clone(),
                self.effective_tls(router, ep).is_some(),
                Entry {
                    name: name.to_string(),
                    rule: rule.clone(),
                    priority,
                    value: Route {
                        router: Arc::from(name),
                        handler,
                        access_logs: observability_switch(
                            router,
                            "accessLogs",
                            ep_observability.and_then(|o| o.access_logs),
                        ),
                        internal: service_name.ends_with("@internal"),
                        tracing: Verbosity::of_router_on(
                            router.observability.as_deref(),
                            ep_observability,
                        ),
                        metrics: self.route_metrics(
                            name,
                            &service_name,
                            router,
                            ep_observability.and_then(|o| o.metrics),
                        ),
                    },
                },
            ));
        }
        used.sort();
        used.dedup();
        *expanded = used;
        self.link_chain_middlewares(name, router, expanded.iter(), info);
        out
    }
}

/// Like Traefik, a service or middleware lists every router that names
/// it, whether that router built or not: `edit` adds router `name` to (or
/// takes it from) the `usedBy` of the service and middlewares it names.
pub(super) fn link_router(
    name: &str,
    router: &Router,
    service_name: &str,
    info: &mut RuntimeInfo,
    edit: impl Fn(&mut Vec<String>, String),
) {
    let provider = provider_of(name);
    if let Some(s) = info.services.get_mut(service_name) {
        edit(&mut Arc::make_mut(s).links, name.to_string());
    }
    for m in &router.middlewares {
        if let Some(mi) = info.middlewares.get_mut(&qualify(m, provider)) {
            edit(&mut Arc::make_mut(mi).links, name.to_string());
        }
    }
}
