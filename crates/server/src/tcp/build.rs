//! Building the TCP routers, services and middlewares of a merged
//! configuration into one [`TcpEntry`] per entrypoint. Errors belong to
//! the element that has them: it is left out (with its status in
//! [`crate::RuntimeInfo`]) and the others are built. Load balancers and
//! `inFlightConn` counters whose definition did not change are taken over
//! from the last build, so their state lives on across reloads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_config::tcp::{
    decode, TcpConfiguration, TcpMiddleware, TcpRouter, TcpServersTransport,
    TcpService as TcpServiceConf,
};
use switchyard_config::{ConfigError, Node};
use switchyard_rules::tcp::{parse_tcp, tcp_default_priority, SourceRange};
use switchyard_rules::{RouterTable, Syntax};

use super::health::TcpHealthCheck;
use super::service::{Balancer, ClientTls, Server, TcpService, Weighted};
use super::{Chain, Middleware, Target, TcpEntry, TcpRoute};
use crate::merge::{provider_of, qualify};
use crate::runtime::{ElementInfo, Elements, Route};
use crate::tls::TlsRuntime;

/// Traefik's highest priority a user may give a router.
const MAX_USER_PRIORITY: i64 = i64::MAX - 1000;

/// What a build keeps for the next one.
#[derive(Default)]
pub struct TcpCache {
    /// Load balancers by name, with the definition they were built from.
    balancers: HashMap<String, (String, Arc<TcpService>)>,
    middlewares: HashMap<String, (String, Arc<Middleware>)>,
}

/// What the TCP build needs from the rest of the build.
pub struct Inputs<'a> {
    pub entrypoints: &'a [String],
    pub default_entrypoints: &'a [String],
    pub default_rule_syntax: Syntax,
    /// The HTTP router tables for TLS connections, by entrypoint.
    pub https_tables: &'a HashMap<String, Arc<RouterTable<Route>>>,
    pub tls: &'a TlsRuntime,
    /// `providers.precedence`, lower-cased (Traefik's list when None).
    pub provider_precedence: Option<&'a [String]>,
    /// The static `tcpServersTransport`: the transport of services that
    /// name none.
    pub default_transport: &'a TcpServersTransport,
}

/// Where a router's provider comes in the precedence: routers of equal
/// priority from a provider earlier in the list are tried first; one not
/// listed comes after all listed ones.
fn rank(inputs: &Inputs<'_>, router: &str) -> usize {
    let provider = provider_of(router).to_ascii_lowercase();
    let found = match inputs.provider_precedence {
        Some(list) => list.iter().position(|p| *p == provider),
        None => switchyard_rules::DEFAULT_PROVIDER_PRECEDENCE
            .iter()
            .position(|p| *p == provider),
    };
    found.unwrap_or(usize::MAX)
}

/// The TCP elements as the API shows them.
#[derive(Default)]
pub struct TcpInfo {
    pub routers: Elements,
    pub services: Elements,
    pub middlewares: Elements,
    /// The services built, by name (for their servers' status).
    pub built: HashMap<String, Arc<TcpService>>,
}

/// Builds the TCP tables of `tcp` (the merged section, names qualified).
pub fn build(
    tcp: Option<&Node>,
    inputs: &Inputs<'_>,
    cache: &mut TcpCache,
) -> (HashMap<String, Arc<TcpEntry>>, TcpInfo) {
    let mut info = TcpInfo::default();
    let Some(node) = tcp else {
        *cache = TcpCache::default();
        return (HashMap::new(), info);
    };
    let config = decode(node);
    let mut state = State {
        config: &config,
        services: HashMap::new(),
        info: BTreeMap::new(),
        old: std::mem::take(cache),
        cache,
        default_transport: inputs.default_transport,
    };
    for name in config.services.keys() {
        let _ = state.service(name, &mut Vec::new());
    }
    info.services = state
        .info
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v)))
        .collect();
    let services = state.services;
    info.built = services
        .iter()
        .filter_map(|(name, s)| Some((name.clone(), s.clone().ok()?)))
        .collect();
    let mut middlewares = HashMap::new();
    for (name, m) in &config.middlewares {
        let mut el = ElementInfo::new(name, &json_of(m));
        match middleware(name, m, &state.old, state.cache) {
            Ok((kind, built)) => {
                el.kind = Some(kind.to_string());
                middlewares.insert(name.clone(), built);
            }
            Err(e) => el.fail(e),
        }
        info.middlewares.insert(name.clone(), Arc::new(el));
    }
    let mut tables: HashMap<String, TcpEntry> = HashMap::new();
    for (name, r) in &config.routers {
        let mut el = ElementInfo::new(name, &router_view(name, r, inputs));
        if let Ok(r) = r {
            el.links = wanted_entrypoints(r, inputs);
        }
        match router(name, r, inputs, &services, &middlewares, &mut el) {
            Ok((eps, route)) => {
                for ep in eps {
                    let entry = tables.entry(ep).or_default();
                    if r.as_ref().is_ok_and(|r| r.tls.is_some()) {
                        entry.tls.push(route.clone());
                    } else {
                        entry.plain.push(route.clone());
                    }
                }
                link(&mut info, name, r, &el);
            }
            Err(e) => el.fail(e),
        }
        info.routers.insert(name.clone(), Arc::new(el));
    }
    let entries = tables
        .into_iter()
        .map(|(ep, mut entry)| {
            for routes in [&mut entry.plain, &mut entry.tls] {
                routes.sort_by(|a, b| {
                    b.priority
                        .cmp(&a.priority)
                        .then(rank(inputs, &a.name).cmp(&rank(inputs, &b.name)))
                        .then(a.name.cmp(&b.name))
                });
            }
            if let Some(table) = inputs.https_tables.get(&ep) {
                let mut hosts = HashSet::new();
                for e in table.entries() {
                    let values = e.rule.host_values();
                    if values.is_empty() {
                        entry.https_catch_all = true;
                    }
                    hosts.extend(values);
                }
                entry.https_hosts = hosts.into_iter().collect();
            }
            (ep, Arc::new(entry))
        })
        .collect();
    (entries, info)
}

/// Records a router's name on the service it uses (Traefik's API names
/// no users of TCP middlewares).
fn link(info: &mut TcpInfo, name: &str, r: &Result<TcpRouter, ConfigError>, el: &ElementInfo) {
    let Ok(r) = r else { return };
    if el.status == crate::runtime::Status::Disabled {
        return;
    }
    let service = qualify(&r.service, provider_of(name));
    if let Some(s) = info.services.get_mut(&service) {
        Arc::make_mut(s).links.push(name.to_string());
    }
}

/// The entrypoints a router asks for (the default ones when it names
/// none).
fn wanted_entrypoints(r: &TcpRouter, inputs: &Inputs<'_>) -> Vec<String> {
    if r.entry_points.is_empty() {
        inputs.default_entrypoints.to_vec()
    } else {
        r.entry_points.clone()
    }
}

/// A router as Traefik's API shows it: its entrypoints and priority as
/// used, its middlewares qualified.
fn router_view(
    name: &str,
    r: &Result<TcpRouter, ConfigError>,
    inputs: &Inputs<'_>,
) -> serde_json::Value {
    let Ok(r) = r else {
        return serde_json::Value::Object(Default::default());
    };
    let provider = provider_of(name);
    let mut shown = r.clone();
    shown.entry_points = wanted_entrypoints(r, inputs);
    shown.middlewares = r.middlewares.iter().map(|m| qualify(m, provider)).collect();
    shown.priority = Some(match r.priority.unwrap_or(0) {
        0 => tcp_default_priority(&r.rule),
        p => p,
    });
    serde_json::to_value(&shown).unwrap_or_default()
}

fn json_of<T: serde::Serialize>(r: &Result<T, ConfigError>) -> serde_json::Value {
    match r {
        Ok(v) => serde_json::to_value(v).unwrap_or_default(),
        Err(_) => serde_json::Value::Object(Default::default()),
    }
}

fn error_text(e: &ConfigError) -> String {
    e.to_string()
}

/// A router's entrypoints and its route; Err: the router is left out.
fn router(
    name: &str,
    r: &Result<TcpRouter, ConfigError>,
    inputs: &Inputs<'_>,
    services: &HashMap<String, Result<Arc<TcpService>, String>>,
    middlewares: &HashMap<String, Arc<Middleware>>,
    el: &mut ElementInfo,
) -> Result<(Vec<String>, TcpRoute), String> {
    let r = r.as_ref().map_err(error_text)?;
    let provider = provider_of(name);
    if r.service.is_empty() {
        return Err("the service is missing on the router".into());
    }
    if r.rule.is_empty() {
        return Err("router has no rule".into());
    }
    let syntax = Syntax::for_router(r.rule_syntax.as_deref(), inputs.default_rule_syntax);
    let rule = parse_tcp(&r.rule, syntax).map_err(|e| format!("invalid rule: {e}"))?;
    let hosts = rule.host_sni_values();
    if r.tls.is_none() && !hosts.is_empty() {
        return Err(format!(
            "invalid rule: {:?} , has HostSNI matcher, but no TLS on router",
            r.rule
        ));
    }
    let priority = match r.priority.unwrap_or(0) {
        0 => tcp_default_priority(&r.rule),
        p => p,
    };
    if priority > MAX_USER_PRIORITY && provider != "internal" {
        return Err(format!(
            "the router priority {priority} exceeds the max user-defined priority {MAX_USER_PRIORITY}"
        ));
    }
    let service_name = qualify(&r.service, provider);
    let service = match services.get(&service_name) {
        Some(Ok(s)) => s.clone(),
        Some(Err(e)) => return Err(format!("the service {service_name:?} does not work: {e}")),
        None => return Err(format!("the service {service_name:?} does not exist")),
    };
    let mut chain = Vec::new();
    for m in &r.middlewares {
        let q = qualify(m, provider);
        match middlewares.get(&q) {
            Some(m) => chain.push(m.clone()),
            None => return Err(format!("middleware {q:?} does not exist")),
        }
    }
    let chain = Arc::new(Chain {
        middlewares: chain,
        service,
    });
    let target = match &r.tls {
        None => Target::Forward(chain),
        Some(t) if t.passthrough => Target::Forward(chain),
        Some(t) => {
            let options = match t.options.as_str() {
                "" | "default" => "default".to_string(),
                o => qualify(o, provider),
            };
            if inputs.tls.config_named(&options).is_some() {
                Target::Terminate { options, chain }
            } else {
                el.fail(format!("unknown TLS options: {options}"));
                Target::Broken
            }
        }
    };
    let mut eps = Vec::new();
    for ep in wanted_entrypoints(r, inputs) {
        if inputs.entrypoints.contains(&ep) {
            eps.push(ep);
        } else {
            el.fail(format!("entryPoint {ep:?} doesn't exist"));
        }
    }
    if eps.is_empty() {
        return Err("no valid entryPoint for this router".into());
    }
    let route = TcpRoute {
        name: Arc::from(name),
        rule,
        priority,
        target,
    };
    Ok((eps, route))
}

/// Builds one middleware; its kind's name and the instance.
fn middleware(
    name: &str,
    m: &Result<TcpMiddleware, ConfigError>,
    old: &TcpCache,
    cache: &mut TcpCache,
) -> Result<(&'static str, Arc<Middleware>), String> {
    let m = m.as_ref().map_err(error_text)?;
    let key = serde_json::to_string(m).unwrap_or_default();
    let kinds = [
        m.ip_allow_list.is_some(),
        m.ip_white_list.is_some(),
        m.in_flight_conn.is_some(),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    if kinds != 1 {
        return Err(format!(
            "a TCP middleware has exactly one type, {name:?} has {kinds}"
        ));
    }
    let kind = if m.in_flight_conn.is_some() {
        "inflightconn"
    } else if m.ip_white_list.is_some() {
        "ipwhitelist"
    } else {
        "ipallowlist"
    };
    if let Some((k, built)) = old.middlewares.get(name) {
        if *k == key {
            cache
                .middlewares
                .insert(name.to_string(), (key, built.clone()));
            return Ok((kind, built.clone()));
        }
    }
    let built = if let Some(list) = m.ip_allow_list.as_ref().or(m.ip_white_list.as_ref()) {
        if list.source_range.is_empty() {
            return Err("sourceRange is empty, IPAllowLister not created".into());
        }
        Middleware::AllowList(SourceRange::parse(&list.source_range)?)
    } else {
        let amount = m.in_flight_conn.as_ref().map_or(0, |c| c.amount);
        Middleware::InFlight {
            amount,
            open: Mutex::new(HashMap::new()),
        }
    };
    let built = Arc::new(built);
    cache
        .middlewares
        .insert(name.to_string(), (key, built.clone()));
    Ok((kind, built))
}

/// A `healthCheck` section compiled; non-positive durations take
/// Traefik's defaults (30 s interval, 5 s timeout).
fn health_check(h: &switchyard_config::tcp::TcpHealthCheck) -> Result<TcpHealthCheck, String> {
    let or = |d: switchyard_config::Duration, default: u64| {
        let d: Duration = d.into();
        if d.is_zero() {
            Duration::from_secs(default)
        } else {
            d
        }
    };
    let interval = or(h.interval, 30);
    let port = match h.port {
        0 => None,
        p => Some(u16::try_from(p).map_err(|_| format!("healthCheck.port {p} is not a port"))?),
    };
    Ok(TcpHealthCheck {
        port,
        send: h.send.as_bytes().to_vec(),
        expect: h.expect.as_bytes().to_vec(),
        interval,
        unhealthy_interval: h.unhealthy_interval.map_or(interval, |d| or(d, 30)),
        timeout: or(h.timeout, 5),
    })
}

/// The interval of TCP keep-alive probes to the servers: `dialKeepAlive`,
/// 15 s when not given or zero, none when negative (Go's dialer).
fn keep_alive(written: Option<&Node>) -> Result<Option<Duration>, String> {
    let Some(node) = written else {
        return Ok(Some(Duration::from_secs(15)));
    };
    let text = match &node.value {
        switchyard_config::node::Value::Scalar(s) => s.as_text(),
        _ => return Err("expected a duration".into()),
    };
    let text = text.trim();
    if text.starts_with('-') {
        return Ok(None);
    }
    let d: Duration = switchyard_config::duration::parse(text)?.into();
    Ok(Some(if d.is_zero() {
        Duration::from_secs(15)
    } else {
        d
    }))
}

/// The TLS client of a serversTransport's `tls` (none: the system's roots,
/// the server's host as name).
fn client_tls(tls: Option<&Node>) -> Result<ClientTls, String> {
    if tls.is_some_and(|t| t.get("spiffe").is_some()) {
        return Err("serversTransport tls.spiffe is not supported by Switchyard yet: it asks for SPIFFE verification of the servers, which would be skipped, so the service is refused".into());
    }
    let transport: switchyard_config::dynamic::ServersTransport = match tls {
        Some(node) => switchyard_config::decode::from_node(node)
            .map_err(|e| format!("serversTransport tls: {e}"))?,
        None => Default::default(),
    };
    let settings = crate::builder::transport_settings(&transport)?;
    let config = switchyard_proxy::upstream::tls_config(&settings)
        .map_err(|e| format!("serversTransport tls: {e}"))?;
    Ok(ClientTls {
        config: Arc::new(config),
        server_name: settings.server_name,
    })
}

struct State<'a> {
    config: &'a TcpConfiguration,
    services: HashMap<String, Result<Arc<TcpService>, String>>,
    info: BTreeMap<String, ElementInfo>,
    old: TcpCache,
    cache: &'a mut TcpCache,
    default_transport: &'a TcpServersTransport,
}

impl State<'_> {
    /// Builds (once) the service `name`; `path`: the weighted services
    /// being built above it, to refuse a cycle.
    fn service(&mut self, name: &str, path: &mut Vec<String>) -> Result<Arc<TcpService>, String> {
        if let Some(done) = self.services.get(name) {
            return done.clone();
        }
        if path.iter().any(|p| p == name) {
            return Err(format!("cycle of weighted services through {name:?}"));
        }
        let Some(conf) = self.config.services.get(name) else {
            return Err(format!("the service {name:?} does not exist"));
        };
        let mut el = ElementInfo::new(name, &json_of(conf));
        path.push(name.to_string());
        let built = self.build_service(name, conf, path, &mut el);
        path.pop();
        if let Err(e) = &built {
            el.fail(e.clone());
        }
        self.info.insert(name.to_string(), el);
        self.services.insert(name.to_string(), built.clone());
        built
    }

    fn build_service(
        &mut self,
        name: &str,
        conf: &Result<TcpServiceConf, ConfigError>,
        path: &mut Vec<String>,
        el: &mut ElementInfo,
    ) -> Result<Arc<TcpService>, String> {
        let conf = conf.as_ref().map_err(error_text)?;
        let provider = provider_of(name).to_string();
        match (&conf.load_balancer, &conf.weighted) {
            (Some(lb), None) => {
                el.kind = Some("loadbalancer".into());
                let health = lb.health_check.as_ref().map(health_check).transpose()?;
                let transport = match &lb.servers_transport {
                    None => self.default_transport.clone(),
                    Some(t) => {
                        let q = qualify(t, &provider);
                        match self.config.servers_transports.get(&q) {
                            Some(Ok(t)) => t.clone(),
                            Some(Err(e)) => return Err(error_text(e)),
                            None => return Err(format!("TCP serversTransport {q:?} not found")),
                        }
                    }
                };
                let keep_alive = match keep_alive(transport.dial_keep_alive.as_ref()) {
                    Ok(k) => k,
                    Err(e) => return Err(format!("serversTransport dialKeepAlive: {e}")),
                };
                let tls = if lb.servers.iter().any(|s| s.tls) {
                    Some(client_tls(transport.tls.as_ref())?)
                } else {
                    None
                };
                // As Traefik: a transport the service names replaces the
                // load balancer's deprecated `terminationDelay` and
                // `proxyProtocol`, which apply otherwise.
                let named = lb.servers_transport.is_some();
                let termination_delay = match lb.termination_delay.filter(|_| !named) {
                    Some(ms) if ms < 0 => None,
                    Some(ms) => Some(Duration::from_millis(ms.unsigned_abs())),
                    None => Some(transport.termination_delay.into()),
                };
                let proxy_protocol = if named {
                    transport.proxy_protocol.as_ref()
                } else {
                    lb.proxy_protocol.as_ref()
                };
                let proxy_protocol = match proxy_protocol {
                    None => None,
                    Some(p) if p.version == 1 || p.version == 2 => Some(p.version as u8),
                    Some(p) => return Err(format!("unknown proxyProtocol version: {}", p.version)),
                };
                let servers: Vec<Server> = lb
                    .servers
                    .iter()
                    .map(|s| Server {
                        address: s.address.clone(),
                        tls: s.tls,
                    })
                    .collect();
                if let Some(bad) = servers
                    .iter()
                    .map(|s| &s.address)
                    .find(|a| !a.contains(':'))
                {
                    return Err(format!("invalid server address {bad:?}: missing port"));
                }
                let dial_timeout = match Duration::from(transport.dial_timeout) {
                    d if d.is_zero() => Duration::from_secs(24 * 3600),
                    d => d,
                };
                let key = format!(
                    "{servers:?} {dial_timeout:?} {termination_delay:?} {proxy_protocol:?} {keep_alive:?} {health:?} {:?}",
                    transport.tls
                );
                if let Some((k, built)) = self.old.balancers.get(name) {
                    if *k == key {
                        self.cache
                            .balancers
                            .insert(name.to_string(), (key, built.clone()));
                        return Ok(built.clone());
                    }
                }
                let mut balancer =
                    Balancer::new(servers, dial_timeout, termination_delay, proxy_protocol);
                balancer.tls = tls;
                balancer.keep_alive = keep_alive;
                if let Some(check) = &health {
                    balancer.health_checked = true;
                    balancer.health =
                        check.spawn(name, &balancer.servers, balancer.tls.as_ref(), &balancer.up);
                }
                let built = Arc::new(TcpService::Balancer(balancer));
                self.cache
                    .balancers
                    .insert(name.to_string(), (key, built.clone()));
                Ok(built)
            }
            (None, Some(w)) => {
                el.kind = Some("weighted".into());
                let health_checked = w.health_check.is_some();
                let mut children = Vec::new();
                for child in &w.services {
                    let q = qualify(&child.name, &provider);
                    let built = self.service(&q, path)?;
                    if health_checked && !built.health_checked() {
                        // Traefik's words (names as written) when a child
                        // cannot tell its status.
                        let own = name.rsplit_once('@').map_or(name, |(n, _)| n);
                        return Err(format!("cannot register {} as updater for {own}: healthCheck not enabled in config for this weighted service", child.name));
                    }
                    children.push((built, i64::from(child.weight.unwrap_or(1))));
                }
                Ok(Arc::new(TcpService::Weighted(Weighted::new(
                    children,
                    health_checked,
                ))))
            }
            (None, None) => Err("the service has no type (loadBalancer or weighted)".into()),
            (Some(_), Some(_)) => {
                Err("a TCP service has exactly one type: loadBalancer or weighted".into())
            }
        }
    }
}
