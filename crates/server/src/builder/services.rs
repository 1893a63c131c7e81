//! Building services: load balancers with their transports and health
//! checks, reused whole when their definition is unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderName, HeaderValue, Method};
use switchyard_config::dynamic::{
    FailoverService, HighestRandomWeight, HttpConfiguration, LoadBalancerService, Mirroring,
    ServersTransport, Service, Sticky, WeightedRoundRobin,
};
use switchyard_proxy::service::failover::{Failover, OnErrors};
use switchyard_proxy::service::fixed_status::FixedStatus;
use switchyard_proxy::service::health::HealthCheck;
use switchyard_proxy::service::load_balancer::Passive;
use switchyard_proxy::service::mirroring::{self, Mirror};
use switchyard_proxy::service::sticky::{cookie_name, CookieSpec, SameSite};
use switchyard_proxy::service::strategy::Kind;
use switchyard_proxy::service::weighted::{Child, UpFn, Weighted};
use switchyard_proxy::service::{LoadBalancer, Options, ServerSpec};
use switchyard_proxy::tls_names::PeerSan;
use switchyard_proxy::upstream::{TransportSettings, Upstream};
use switchyard_proxy::{BoxHandler, Late};

use super::{BuildStats, Builder};
use crate::merge::{provider_of, qualify};
use crate::runtime::{ApiConfig, ElementInfo, RuntimeInfo};

/// A service as the routers see it.
#[derive(Clone)]
pub struct BuiltService {
    pub handler: BoxHandler,
    pub balancer: Option<LoadBalancer>,
    /// Whether it has a server up, when it checks health (for the
    /// propagation to a `weighted` parent).
    pub up: Option<UpFn>,
    /// With service-level `middlewares`: `handler` is a late-bound slot,
    /// completed with the chain around this inner handler once the
    /// middlewares are compiled.
    pub pending: Option<(Arc<Late>, BoxHandler)>,
}

/// Hands out a late-bound handler for a service with its own middlewares.
fn defer_middlewares(service: Option<&Service>, b: BuiltService) -> BuiltService {
    if service.is_none_or(|s| s.middlewares.is_empty()) {
        return b;
    }
    let late = Arc::new(Late::new());
    BuiltService {
        handler: late.clone(),
        pending: Some((late, b.handler)),
        ..b
    }
}

/// What a rebuild compares to decide whether a load balancer can be kept:
/// its definition, and the client it was built with (one per transport, the
/// same while the transport's settings are).
pub struct CachedService {
    /// The service's definition, shared with the configuration it came
    /// from (not a copy): an unchanged one is recognised by it.
    config: Arc<Service>,
    upstream: Arc<Upstream>,
    /// The service as routers saw it: the same handler while it is kept,
    /// so that their chains can be kept too.
    built: BuiltService,
    /// Its API view, when it built without error or warning and has no
    /// middlewares of its own: taken over as it is while the service's
    /// definition and the transports are unchanged.
    info: Option<Arc<ElementInfo>>,
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// The client settings of a `serversTransport`; an error for names it
/// cannot check (`peerCertSANs`).
pub fn transport_settings(t: &ServersTransport) -> Result<TransportSettings, String> {
    let non_zero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
    let ft = t.forwarding_timeouts.clone().unwrap_or_default();
    let mut peer_cert_sans = t
        .peer_cert_sans
        .iter()
        .enumerate()
        .map(|(i, san)| {
            PeerSan::parse(&san.kind, &san.value).map_err(|e| format!("peerCertSANs[{i}]: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // As Traefik: the older peerCertURI is one more URI name.
    if let Some(uri) = t.peer_cert_uri.as_deref().filter(|u| !u.is_empty()) {
        peer_cert_sans.push(PeerSan::Uri(uri.to_string()));
    }
    Ok(TransportSettings {
        max_idle_conns_per_host: crate::static_translation::idle_per_host(
            t.max_idle_conns_per_host,
        ),
        dial_timeout: non_zero(ft.dial_timeout.into()),
        response_header_timeout: non_zero(ft.response_header_timeout.into()),
        idle_conn_timeout: non_zero(ft.idle_conn_timeout.into()),
        read_idle_timeout: non_zero(ft.read_idle_timeout.into()),
        ping_timeout: non_zero(ft.ping_timeout.into())
            .unwrap_or(std::time::Duration::from_secs(15)),
        insecure_skip_verify: t.insecure_skip_verify,
        root_cas: t.root_cas.clone(),
        system_roots_too: false,
        server_name: t.server_name.clone().filter(|s| !s.is_empty()),
        disable_http2: t.disable_http2,
        certificates: t
            .certificates
            .iter()
            .map(|c| (c.cert_file.clone(), c.key_file.clone()))
            .collect(),
        min_version: t.min_version.clone(),
        max_version: t.max_version.clone(),
        cipher_suites: t.cipher_suites.clone(),
        peer_cert_sans,
    })
}

/// Warnings of the serversTransport a load balancer uses, about keys
/// Switchyard does not act on yet (a transport has no element of its own
/// in the API: its services show them).
fn transport_warnings(name: &str, service: &Service, http: &HttpConfiguration) -> Vec<String> {
    let Some(transport) = service
        .load_balancer
        .as_ref()
        .and_then(|lb| lb.servers_transport.as_deref())
        .filter(|t| !t.is_empty())
    else {
        return Vec::new();
    };
    let qualified = qualify(transport, provider_of(name));
    http.servers_transports
        .get(&qualified)
        .map(|t| {
            t.unsupported
                .warnings()
                .into_iter()
                .map(|w| format!("serversTransport {qualified:?}: {w}"))
                .collect()
        })
        .unwrap_or_default()
}

fn health_check(hc: &switchyard_config::dynamic::HealthCheck) -> Result<HealthCheck, String> {
    let method =
        Method::from_bytes(hc.method.as_bytes()).map_err(|e| format!("healthCheck.method: {e}"))?;
    let headers = hc
        .headers
        .iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("healthCheck.headers: {k}: {e}"))?;
            let value =
                HeaderValue::from_str(v).map_err(|e| format!("healthCheck.headers: {k}: {e}"))?;
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let grpc = match hc.mode.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("http") => false,
        Some("grpc") => true,
        Some(other) => return Err(format!("healthCheck.mode {other:?}: expected http or grpc")),
    };
    let interval: std::time::Duration = hc.interval.into();
    if interval.is_zero() {
        return Err("healthCheck.interval must be greater than 0".into());
    }
    Ok(HealthCheck {
        scheme: hc.scheme.clone().filter(|s| !s.is_empty()),
        path: hc.path.clone(),
        method,
        port: u16::try_from(hc.port).ok().filter(|p| *p != 0),
        hostname: hc.hostname.clone().filter(|h| !h.is_empty()),
        headers,
        status: u16::try_from(hc.status).ok().filter(|s| *s != 0),
        interval,
        unhealthy_interval: hc.unhealthy_interval.map(Into::into).unwrap_or(interval),
        timeout: hc.timeout.into(),
        follow_redirects: hc.follow_redirects,
        grpc,
    })
}

/// A composite service (one that is not a load balancer); with
/// `propagate`, parents see its health through `is_up`.
fn composite<T: switchyard_proxy::Handler>(
    service: T,
    propagate: bool,
    is_up: fn(&T) -> bool,
) -> BuiltService {
    let service = Arc::new(service);
    let up = propagate.then(|| {
        let s = service.clone();
        Arc::new(move || is_up(&s)) as UpFn
    });
    BuiltService {
        handler: service,
        balancer: None,
        up,
        pending: None,
    }
}

fn lb_service(balancer: LoadBalancer, checks_health: bool) -> BuiltService {
    let up: Option<UpFn> = checks_health.then(|| {
        let b = balancer.clone();
        Arc::new(move || b.is_up()) as UpFn
    });
    BuiltService {
        handler: Arc::new(balancer.clone()),
        balancer: Some(balancer),
        up,
        pending: None,
    }
}

pub(super) fn kind_count(service: &Service) -> usize {
    [
        service.load_balancer.is_some(),
        service.weighted.is_some(),
        service.mirroring.is_some(),
        service.failover.is_some(),
        service.highest_random_weight.is_some(),
    ]
    .iter()
    .filter(|k| **k)
    .count()
}

fn is_composite(service: &Service) -> bool {
    service.load_balancer.is_none() && kind_count(service) == 1
}

/// The services a composite service names (qualified from its own
/// provider), as far as its section decodes: those whose change may
/// change it.
pub(super) fn children_of(name: &str, service: &Service) -> Vec<String> {
    fn decoded<T: serde::de::DeserializeOwned>(
        node: &Option<Box<switchyard_config::Node>>,
    ) -> Option<T> {
        switchyard_config::decode::from_node(node.as_ref()?).ok()
    }
    let mut named: Vec<String> = Vec::new();
    if let Some(c) = decoded::<WeightedRoundRobin>(&service.weighted) {
        named.extend(c.services.into_iter().map(|s| s.name));
    }
    if let Some(c) = decoded::<HighestRandomWeight>(&service.highest_random_weight) {
        named.extend(c.services.into_iter().map(|s| s.name));
    }
    if let Some(c) = decoded::<Mirroring>(&service.mirroring) {
        named.push(c.service);
        named.extend(c.mirrors.into_iter().map(|m| m.name));
    }
    if let Some(c) = decoded::<FailoverService>(&service.failover) {
        named.push(c.service);
        named.push(c.fallback);
    }
    let provider = provider_of(name);
    named.iter().map(|n| qualify(n, provider)).collect()
}

/// The API's name for a service's type.
fn kind_name(service: &Service) -> &'static str {
    if service.weighted.is_some() {
        "weighted"
    } else if service.failover.is_some() {
        "failover"
    } else if service.mirroring.is_some() {
        "mirroring"
    } else if service.highest_random_weight.is_some() {
        "highestrandomweight"
    } else {
        "loadbalancer"
    }
}

/// The service as the API shows it: like Traefik, with the sticky cookie's
/// name filled in when it is generated, and the cookie's default path.
pub(crate) fn service_api_view(name: &str, service: &Service) -> serde_json::Value {
    let mut value = json(service);
    // Composite sections are kept raw; show them with their defaults.
    fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(
        node: &Option<Box<switchyard_config::Node>>,
    ) -> Option<serde_json::Value> {
        let node = node.as_ref()?;
        let config: T = switchyard_config::decode::from_node(node).ok()?;
        Some(json(&config))
    }
    let sections = [
        ("weighted", typed::<WeightedRoundRobin>(&service.weighted)),
        (
            "highestRandomWeight",
            typed::<HighestRandomWeight>(&service.highest_random_weight),
        ),
        ("mirroring", typed::<Mirroring>(&service.mirroring)),
        ("failover", typed::<FailoverService>(&service.failover)),
    ];
    for (key, typed) in sections {
        if let (Some(typed), Some(obj)) = (typed, value.as_object_mut()) {
            obj.insert(key.into(), typed);
        }
    }
    for kind in ["loadBalancer", "weighted"] {
        let Some(cookie) = value
            .get_mut(kind)
            .and_then(|v| v.get_mut("sticky"))
            .and_then(|v| v.get_mut("cookie"))
            .and_then(|v| v.as_object_mut())
        else {
            continue;
        };
        let configured = cookie
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or_default()
            .to_string();
        cookie.insert("name".into(), cookie_name(&configured, name).into());
        cookie.entry("path").or_insert_with(|| "/".into());
    }
    value
}

/// The cookie a `sticky` section describes, for the service `service`.
fn cookie_spec(sticky: Option<&Sticky>, service: &str) -> Option<CookieSpec> {
    let cookie = sticky?.cookie.as_ref()?;
    Some(CookieSpec {
        name: cookie_name(&cookie.name, service),
        secure: cookie.secure,
        http_only: cookie.http_only,
        same_site: SameSite::parse(&cookie.same_site),
        max_age: cookie.max_age,
        expires: None,
        path: cookie.path.clone().unwrap_or_default(),
        domain: cookie.domain.clone(),
    })
}

/// The handler and health of the service `reference` names (from `parent`'s
/// provider), building it first when it is itself composite.
fn child(
    reference: &str,
    parent: &str,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<(BoxHandler, Option<UpFn>), String> {
    let name = qualify(reference, provider_of(parent));
    if http.services.get(&name).is_some_and(|s| is_composite(s)) {
        build_composite(&name, http, built, stack)?;
    }
    let b = built
        .get(&name)
        .ok_or_else(|| format!("the service \"{name}\" does not exist"))?;
    Ok((b.handler.clone(), b.up.clone()))
}

/// Builds the composite (`weighted`, `failover`) service `name`, first
/// building the composite services it names; `stack` holds those being
/// built, to report cycles.
fn build_composite(
    name: &str,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<(), String> {
    if built.contains_key(name) {
        return Ok(());
    }
    if stack.iter().any(|s| s == name) {
        return Err(format!(
            "recursion detected in {}->{name}",
            stack.join("->")
        ));
    }
    let service = http
        .services
        .get(name)
        .ok_or_else(|| format!("the service \"{name}\" does not exist"))?;
    stack.push(name.to_string());
    let result = if let Some(node) = &service.weighted {
        weighted(name, node, http, built, stack)
    } else if let Some(node) = &service.failover {
        failover(name, node, http, built, stack)
    } else if let Some(node) = &service.highest_random_weight {
        highest_random_weight(name, node, http, built, stack)
    } else if let Some(node) = &service.mirroring {
        mirroring(name, node, http, built, stack)
    } else {
        Err(format!("the service \"{name}\" is not composite"))
    };
    stack.pop();
    built.insert(
        name.to_string(),
        defer_middlewares(http.services.get(name).map(|s| &**s), result?),
    );
    Ok(())
}

fn weighted(
    name: &str,
    node: &switchyard_config::Node,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<BuiltService, String> {
    let config: WeightedRoundRobin =
        switchyard_config::decode::from_node(node).map_err(|e| format!("weighted: {e}"))?;
    let children = children(&config.services, name, http, built, stack)?;
    let propagate = config.health_check.is_some();
    let sticky = cookie_spec(config.sticky.as_ref(), name);
    Ok(composite(
        Weighted::new(children, Kind::Wrr, sticky, propagate),
        propagate,
        Weighted::is_up,
    ))
}

fn children(
    services: &[switchyard_config::dynamic::WeightedService],
    parent: &str,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<Vec<Child>, String> {
    services
        .iter()
        .map(|c| {
            // A child with a status answers it; its name names nothing.
            let (handler, up) = match (c.status, &c.grpc_status) {
                (Some(status), _) => (Arc::new(FixedStatus::new(status)?) as BoxHandler, None),
                (None, Some(g)) => (
                    Arc::new(FixedStatus::grpc(g.code, &g.msg)) as BoxHandler,
                    None,
                ),
                (None, None) => child(&c.name, parent, http, built, stack)?,
            };
            Ok(Child {
                name: c.name.clone(),
                handler,
                weight: c.weight.unwrap_or(1),
                up,
            })
        })
        .collect()
}

fn highest_random_weight(
    name: &str,
    node: &switchyard_config::Node,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<BuiltService, String> {
    let config: HighestRandomWeight = switchyard_config::decode::from_node(node)
        .map_err(|e| format!("highestRandomWeight: {e}"))?;
    let children = children(&config.services, name, http, built, stack)?;
    let propagate = config.health_check.is_some();
    Ok(composite(
        Weighted::new(children, Kind::Hrw, None, propagate),
        propagate,
        Weighted::is_up,
    ))
}

fn mirroring(
    name: &str,
    node: &switchyard_config::Node,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<BuiltService, String> {
    let config: Mirroring =
        switchyard_config::decode::from_node(node).map_err(|e| format!("mirroring: {e}"))?;
    if config.service.is_empty() {
        return Err("mirroring: service is required".into());
    }
    let (main, main_up) = child(&config.service, name, http, built, stack)?;
    let propagate = config.health_check.is_some();
    if propagate && main_up.is_none() {
        return Err(format!(
            "cannot register service of mirroring as updater: healthCheck not enabled in config for {}",
            config.service
        ));
    }
    let mut mirrors = Vec::new();
    for m in &config.mirrors {
        let (handler, _) = child(&m.name, name, http, built, stack)?;
        let percent = u64::try_from(m.percent)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or("mirroring: percent must be between 0 and 100")?;
        mirrors.push(Mirror { handler, percent });
    }
    let max_body = usize::try_from(config.max_body_size).ok();
    let service = mirroring::Mirroring::new(main, main_up, mirrors, config.mirror_body, max_body)?;
    Ok(composite(service, propagate, mirroring::Mirroring::is_up))
}

fn failover(
    name: &str,
    node: &switchyard_config::Node,
    http: &HttpConfiguration,
    built: &mut HashMap<String, BuiltService>,
    stack: &mut Vec<String>,
) -> Result<BuiltService, String> {
    let config: FailoverService =
        switchyard_config::decode::from_node(node).map_err(|e| format!("failover: {e}"))?;
    if config.service.is_empty() || config.fallback.is_empty() {
        return Err("failover: service and fallback are required".into());
    }
    let main = child(&config.service, name, http, built, stack)?;
    let errors = config.errors.unwrap_or_default();
    // As Traefik: a main service without a health check is accepted when
    // errors.status says when to fall back.
    if main.1.is_none() && errors.status.is_empty() {
        return Err(format!(
            "cannot register {} as updater for {name}: healthCheck not enabled in config for this WRR service",
            config.service
        ));
    }
    let (fallback, fallback_up) = child(&config.fallback, name, http, built, stack)?;
    let status = switchyard_proxy::middlewares::retry::parse_status_ranges(&errors.status)
        .map_err(|e| format!("failover.errors: {e}"))?;
    // Negative (the default): no limit.
    let max_request_body_bytes = errors
        .max_request_body_bytes
        .and_then(|n| usize::try_from(n).ok());
    let checks_health = config.health_check.is_some();
    if checks_health && fallback_up.is_none() {
        return Err(format!(
            "cannot register {} as updater for {name}: healthCheck not enabled in config for this WRR service",
            config.fallback
        ));
    }
    // The fallback's health counts only for a failover that checks health.
    let fallback_up = fallback_up.filter(|_| checks_health);
    let on_errors = OnErrors {
        status,
        max_request_body_bytes,
    };
    Ok(composite(
        Failover::new(main, (fallback, fallback_up), on_errors),
        checks_health,
        Failover::is_up,
    ))
}

impl Builder {
    fn upstream_for(
        &mut self,
        service: &str,
        lb: &LoadBalancerService,
        http: &HttpConfiguration,
    ) -> Result<Arc<Upstream>, String> {
        let Some(name) = lb.servers_transport.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(self.default_upstream.clone());
        };
        let qualified = qualify(name, provider_of(service));
        let Some(t) = http.servers_transports.get(&qualified) else {
            return Err(format!("serversTransport {qualified:?} does not exist"));
        };
        if let Some(e) = t.unsupported.error() {
            return Err(format!("serversTransport {qualified:?}: {e}"));
        }
        let settings =
            transport_settings(t).map_err(|e| format!("serversTransport {qualified:?}: {e}"))?;
        if let Some((s, up)) = self.transports.get(&qualified) {
            if *s == settings {
                return Ok(up.clone());
            }
        }
        let up = Arc::new(
            Upstream::new(settings.clone())
                .map_err(|e| format!("serversTransport {qualified:?}: {e}"))?,
        );
        self.transports.insert(qualified, (settings, up.clone()));
        Ok(up)
    }

    /// Builds the services of `http`; `last` is the configuration built
    /// last, whose unchanged services are taken over whole.
    pub(super) fn build_services(
        &mut self,
        http: &HttpConfiguration,
        last: Option<&HttpConfiguration>,
        info: &mut RuntimeInfo,
        stats: &mut BuildStats,
    ) -> HashMap<String, BuiltService> {
        let mut built = HashMap::with_capacity(http.services.len());
        let mut cache = std::mem::take(&mut self.services);
        let mut composite = Vec::new();
        let mut infos = Vec::with_capacity(http.services.len());
        // A transport change may change any service's client or warnings.
        let last = last.filter(|l| l.servers_transports == http.servers_transports);
        for (name, service) in &http.services {
            if last
                .and_then(|l| l.services.get(name))
                .is_some_and(|s| Arc::ptr_eq(s, service) || s == service)
            {
                if let Some(prev) = cache.remove(name) {
                    if let Some(el) = &prev.info {
                        stats.reused_services += 1;
                        infos.push((name.clone(), el.clone()));
                        built.insert(name.clone(), prev.built.clone());
                        self.services.insert(name.clone(), prev);
                        continue;
                    }
                    cache.insert(name.clone(), prev);
                }
            }
            let (el, b) =
                self.fresh_service(name, service, http, &mut cache, stats, &mut composite);
            if let Some(b) = b {
                built.insert(name.clone(), b);
            }
            infos.push((name.clone(), el));
        }
        for (name, handler) in &self.internal {
            if !built.contains_key(name) {
                built.insert(
                    name.clone(),
                    BuiltService {
                        handler: handler.clone(),
                        balancer: None,
                        up: None,
                        pending: None,
                    },
                );
                let el = ElementInfo::new(name, &serde_json::json!({}));
                infos.push((name.clone(), Arc::new(el)));
            }
        }
        // Built in one go from sorted entries (a later one of the same name
        // wins, as inserting did): packed nodes, no search per element.
        info.services = infos.into_iter().collect();
        for name in composite {
            if let Err(e) = build_composite(&name, http, &mut built, &mut Vec::new()) {
                if let Some(el) = info.services.get_mut(&name) {
                    Arc::make_mut(el).fail(e);
                }
            }
        }
        // A transport has no element of its own in the API: what it asks
        // for that Switchyard does not do is said here, used or not (its
        // services show it too).
        for (name, t) in &http.servers_transports {
            if let Some(e) = t.unsupported.error() {
                tracing::error!(servers_transport = %name, "{e}");
            }
            for w in t.unsupported.warnings() {
                tracing::warn!(servers_transport = %name, "{w}");
            }
        }
        // Transports no service uses any more are dropped with their pools.
        self.transports
            .retain(|name, _| http.servers_transports.contains_key(name));
        built
    }

    /// Builds service `name` anew (a composite one is only named in
    /// `composite`, to be built once the others are): its API view, and
    /// what routers use when it built.
    pub(super) fn fresh_service(
        &mut self,
        name: &str,
        service: &Arc<Service>,
        http: &HttpConfiguration,
        cache: &mut HashMap<String, CachedService>,
        stats: &mut BuildStats,
        composite: &mut Vec<String>,
    ) -> (Arc<ElementInfo>, Option<BuiltService>) {
        let mut el = ElementInfo::new(name, &serde_json::Value::Null);
        el.config = ApiConfig::service(service.clone());
        for w in service.unsupported.warnings() {
            tracing::warn!(service = %name, "{w}");
            el.warn(w);
        }
        if let Some(e) = service.unsupported.error() {
            tracing::error!(service = %name, "{e}");
            el.fail(e);
            return (Arc::new(el), None);
        }
        if is_composite(service) {
            // Built once the services it names are.
            el.kind = Some(kind_name(service).into());
            composite.push(name.to_string());
            return (Arc::new(el), None);
        }
        if kind_count(service) > 0 {
            el.kind = Some(kind_name(service).into());
        }
        for w in transport_warnings(name, service, http) {
            tracing::warn!(service = %name, "{w}");
            el.warn(w);
        }
        match self.build_service(name, service, http, cache, stats) {
            Ok(b) => {
                let el = Arc::new(el);
                let clean = el.errors.is_empty() && service.middlewares.is_empty();
                if let Some(c) = self.services.get_mut(name).filter(|_| clean) {
                    c.info = Some(el.clone());
                }
                (el, Some(defer_middlewares(Some(service), b)))
            }
            Err(e) => {
                el.fail(e);
                (Arc::new(el), None)
            }
        }
    }

    fn build_service(
        &mut self,
        name: &str,
        service: &Service,
        http: &HttpConfiguration,
        cache: &mut HashMap<String, CachedService>,
        stats: &mut BuildStats,
    ) -> Result<BuiltService, String> {
        match kind_count(service) {
            0 => return Err("service has no type: expected one of loadBalancer, weighted, mirroring, failover".into()),
            1 => {}
            _ => return Err("cannot create service: multi-types service not supported, consider declaring two different pieces of service instead".into()),
        }
        let Some(lb) = &service.load_balancer else {
            return Err("not a loadBalancer service".into());
        };
        let strategy_name = lb.strategy.as_deref().unwrap_or("");
        let strategy = Kind::parse(strategy_name)
            .ok_or_else(|| format!("unsupported load-balancer strategy \"{strategy_name}\""))?;
        let passive = lb.passive_health_check.as_ref().map(|p| Passive {
            max_failed: usize::try_from(p.max_failed_attempts).unwrap_or(0).max(1),
            window: p.failure_window.into(),
        });
        let options = Options {
            strategy,
            sticky: cookie_spec(lb.sticky.as_deref(), name),
            pass_host_header: lb.pass_host_header.unwrap_or(true),
            passive,
            metrics: self
                .metrics
                .as_ref()
                .and_then(|m| m.service_scope(name))
                .map(switchyard_proxy::service::load_balancer::ServiceMetrics),
        };
        let upstream = self.upstream_for(name, lb, http)?;
        let definition = http
            .services
            .get(name)
            .filter(|s| std::ptr::eq(Arc::as_ptr(s), service))
            .cloned()
            .unwrap_or_else(|| Arc::new(service.clone()));
        if let Some(prev) = cache.remove(name) {
            let same = Arc::ptr_eq(&prev.config, &definition)
                || prev.config.load_balancer.as_ref() == Some(lb);
            if same && Arc::ptr_eq(&prev.upstream, &upstream) {
                stats.reused_services += 1;
                let built = prev.built.clone();
                self.services
                    .insert(name.to_string(), CachedService { info: None, ..prev });
                return Ok(built);
            }
        }
        let specs: Vec<ServerSpec> = lb
            .servers
            .iter()
            .map(|s| ServerSpec {
                url: s.url.clone(),
                weight: s.weight.unwrap_or(1),
                preserve_path: s.preserve_path,
            })
            .collect();
        let health = lb.health_check.as_deref().map(health_check).transpose()?;
        let balancer = LoadBalancer::new(name, &specs, options, upstream.clone(), health)
            .map_err(|e| e.to_string())?;
        let built = lb_service(balancer, lb.health_check.is_some());
        self.services.insert(
            name.to_string(),
            CachedService {
                config: definition,
                upstream,
                built: built.clone(),
                info: None,
            },
        );
        Ok(built)
    }
}
