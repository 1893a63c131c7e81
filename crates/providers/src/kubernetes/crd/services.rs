//! Services: a reference to a Kubernetes Service (by name and port) becomes
//! a load balancer over its endpoints; TraefikServices become weighted,
//! mirroring, highest-random-weight or failover services over others.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};
use switchyard_config::dynamic::{
    Cookie, HealthCheck, LoadBalancerService, PassiveHealthCheck, Server, Service, Sticky,
};
use switchyard_config::{Duration, Node};

use super::names::{full_service_name, make_id, middleware_refs, normalize, Port};
use super::{text, CrdOptions, Index, Walk, PROVIDER_NAME};
use crate::kubernetes::endpoints::serving_endpoints;

/// The services a translation adds, by name.
pub(crate) type Services = BTreeMap<String, Arc<Service>>;

pub(crate) struct Builder<'a> {
    pub objects: &'a Index<'a>,
    pub options: &'a CrdOptions,
    /// `nativeLBByDefault` as this builder applies it: Traefik applies it
    /// to IngressRoutes only, not to TraefikServices nor error pages.
    pub native_lb_by_default: bool,
}

fn node(v: Value) -> Result<Node, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn duration(v: &Value, what: &str) -> Result<Duration, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{what}: {e}"))
}

/// `http`, `https` or `h2c`: as written, else `https` for port 443 or a
/// port name starting with `https`.
pub(crate) fn protocol(scheme: &str, port_name: &str, port: i64) -> Result<&'static str, String> {
    match scheme {
        "http" => Ok("http"),
        "https" => Ok("https"),
        "h2c" => Ok("h2c"),
        "" if port == 443 || port_name.starts_with("https") => Ok("https"),
        "" => Ok("http"),
        other => Err(format!("invalid scheme {other:?} specified")),
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The cookie of a `sticky` section, with Traefik's default path.
fn sticky(spec: &Value) -> Result<Option<Sticky>, String> {
    let Some(c) = spec.at("/cookie").filter(|c| !c.is_null()) else {
        return Ok(None);
    };
    let mut cookie = Cookie {
        name: text(c, "/name"),
        secure: c.get("secure").and_then(Value::as_bool).unwrap_or(false),
        http_only: c.get("httpOnly").and_then(Value::as_bool).unwrap_or(false),
        same_site: text(c, "/sameSite"),
        max_age: c.get("maxAge").and_then(Value::as_i64).unwrap_or(0),
        domain: text(c, "/domain"),
        ..Cookie::default()
    };
    if let Some(p) = c.get("path").and_then(Value::as_str) {
        cookie.path = Some(p.to_string());
    }
    Ok(Some(Sticky {
        cookie: Some(cookie),
    }))
}

/// A service port of `service` matching `port`.
pub(crate) struct ServicePort {
    pub(crate) name: String,
    pub(crate) port: i64,
    pub(crate) node_port: i64,
}

pub(crate) fn service_port(service: &Value, port: &Port) -> Result<ServicePort, String> {
    if !port.is_set() {
        return Err("ingressRoute service port not defined".into());
    }
    let external = text(service, "/spec/type") == "ExternalName";
    for p in service
        .at("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let number = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        let name = text(p, "/name");
        let hit = match port {
            Port::Number(n) => *n == number,
            Port::Name(s) => *s == name,
        };
        if hit {
            return Ok(ServicePort {
                name,
                port: number,
                node_port: p.get("nodePort").and_then(Value::as_i64).unwrap_or(0),
            });
        }
    }
    match port {
        // An ExternalName service takes any port number.
        Port::Number(n) if external => Ok(ServicePort {
            name: String::new(),
            port: *n,
            node_port: 0,
        }),
        _ => Err(format!("service port not found: {port}")),
    }
}

impl Builder<'_> {
    /// The name under which `spec` (a service reference of a route or a
    /// TraefikService) is known, and, for a Kubernetes Service, its load
    /// balancer (the caller decides the name it is stored under).
    pub(crate) fn name_and_service(
        &self,
        parent_namespace: &str,
        spec: &Value,
    ) -> Result<(String, Option<Service>), String> {
        let name = text(spec, "/name");
        let mut namespace = text(spec, "/namespace");
        let cross_provider = name.contains('@');
        if !cross_provider {
            if namespace.is_empty() {
                namespace = parent_namespace.to_string();
            }
            if !self.options.allow_cross_namespace && namespace != parent_namespace {
                return Err(format!(
                    "service {namespace}/{name} not in the parent resource namespace {parent_namespace}"
                ));
            }
        } else if let Some(allowed) = &self.options.cross_provider_namespaces {
            if !allowed.iter().any(|n| n == parent_namespace) {
                return Err(format!(
                    "service {name:?} reference is not allowed: namespace {parent_namespace:?} is not in crossProviderNamespaces"
                ));
            }
        }
        match text(spec, "/kind").as_str() {
            "" | "Service" => {
                let port = Port::of(spec.get("port"));
                let lb = self.servers_lb(&namespace, &name, spec)?;
                Ok((full_service_name(&namespace, &name, &port), Some(lb)))
            }
            "TraefikService" => Ok((full_service_name(&namespace, &name, &Port::Number(0)), None)),
            other => Err(format!("unsupported service kind {other}")),
        }
    }

    /// The load balancer of a reference to the Kubernetes Service
    /// `namespace/name`.
    fn servers_lb(&self, namespace: &str, name: &str, spec: &Value) -> Result<Service, String> {
        let mut lb = LoadBalancerService::default();
        let strategy = text(spec, "/strategy");
        match strategy.as_str() {
            "" | "RoundRobin" => {}
            "wrr" | "p2c" | "hrw" | "leasttime" => lb.strategy = Some(strategy),
            other => return Err(format!("load-balancer strategy {other} is not supported")),
        }
        lb.servers = self.servers(namespace, name, spec)?;

        if let Some(hc) = spec.get("healthCheck").filter(|h| !h.is_null()) {
            let mut check = HealthCheck {
                scheme: Some(text(hc, "/scheme")).filter(|s| !s.is_empty()),
                path: text(hc, "/path"),
                status: hc.get("status").and_then(Value::as_i64).unwrap_or(0),
                port: hc.get("port").and_then(Value::as_i64).unwrap_or(0),
                hostname: Some(text(hc, "/hostname")).filter(|s| !s.is_empty()),
                headers: hc
                    .get("headers")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                            .collect()
                    })
                    .unwrap_or_default(),
                ..HealthCheck::default()
            };
            let method = text(hc, "/method");
            if !method.is_empty() {
                check.method = method;
            }
            if let Some(f) = hc.get("followRedirects").and_then(Value::as_bool) {
                check.follow_redirects = f;
            }
            let mode = text(hc, "/mode");
            if mode != "http" && !mode.is_empty() {
                check.mode = Some(mode);
            }
            if let Some(i) = hc.get("interval").filter(|v| !v.is_null()) {
                check.interval = duration(i, "healthCheck.interval")?;
            }
            check.unhealthy_interval = Some(match hc.get("unhealthyInterval") {
                Some(i) if !i.is_null() => duration(i, "healthCheck.unhealthyInterval")?,
                _ => check.interval,
            });
            if let Some(t) = hc.get("timeout").filter(|v| !v.is_null()) {
                check.timeout = duration(t, "healthCheck.timeout")?;
            }
            lb.health_check = Some(Box::new(check));
        }

        if let Some(p) = spec.get("passiveHealthCheck").filter(|p| !p.is_null()) {
            let mut passive = PassiveHealthCheck::default();
            if let Some(n) = p.get("maxFailedAttempts").and_then(Value::as_i64) {
                passive.max_failed_attempts = n;
            }
            if let Some(w) = p.get("failureWindow").filter(|v| !v.is_null()) {
                passive.failure_window = duration(w, "passiveHealthCheck.failureWindow")?;
            }
            lb.passive_health_check = Some(passive);
        }

        if let Some(p) = spec.get("passHostHeader").and_then(Value::as_bool) {
            lb.pass_host_header = Some(p);
        }
        let flush = text(spec, "/responseForwarding/flushInterval");
        if !flush.is_empty() {
            lb.response_forwarding.flush_interval =
                duration(&Value::String(flush), "unable to parse flushInterval")?;
        }
        if let Some(s) = spec.get("sticky").filter(|s| !s.is_null()) {
            lb.sticky = sticky(s)?.map(Box::new);
        }
        let transport = text(spec, "/serversTransport");
        if !transport.is_empty() {
            lb.servers_transport = Some(self.servers_transport_key(namespace, &transport)?);
        }

        let mut service = Service {
            load_balancer: Some(lb),
            ..Service::default()
        };
        if spec
            .get("middlewares")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
        {
            service.middlewares = middleware_refs(spec.get("middlewares"), namespace, self.options)
                .map_err(|e| format!("could not create middleware keys: {e}"))?;
        }
        Ok(service)
    }

    fn servers_transport_key(&self, namespace: &str, name: &str) -> Result<String, String> {
        if name.contains('@') {
            if !self.options.allow_cross_namespace && name.ends_with(&format!("@{PROVIDER_NAME}")) {
                return Err(format!(
                    "invalid reference to serversTransport {name}: namespace-name@kubernetescrd format is not allowed when crossnamespace is disallowed"
                ));
            }
            if let Some(allowed) = &self.options.cross_provider_namespaces {
                if !allowed.iter().any(|n| n == namespace) {
                    return Err(format!(
                        "serversTransport {name:?} reference is not allowed: namespace {namespace:?} is not in crossProviderNamespaces"
                    ));
                }
            }
            return Ok(name.to_string());
        }
        Ok(normalize(&make_id(namespace, name)))
    }

    /// The servers of the Kubernetes Service `namespace/name` at the port
    /// `spec` names.
    fn servers(&self, namespace: &str, name: &str, spec: &Value) -> Result<Vec<Server>, String> {
        let Some(service) = self.objects.service(namespace, name) else {
            return Err(format!("kubernetes service not found: {namespace}/{name}"));
        };
        let port = service_port(service, &Port::of(spec.get("port")))?;
        let kind = text(service, "/spec/type");
        let scheme = text(spec, "/scheme");
        if kind != "ExternalName" && spec.get("healthCheck").is_some_and(|h| !h.is_null()) {
            return Err(format!(
                "healthCheck allowed only for ExternalName services: {namespace}/{name}"
            ));
        }
        let server = |url: String| Server {
            url,
            ..Server::default()
        };

        if kind == "ExternalName" {
            if !self.options.allow_external_name_services {
                return Err(format!(
                    "externalName services not allowed: {namespace}/{name}"
                ));
            }
            let protocol = protocol(&scheme, &port.name, port.port)?;
            let host = text(service, "/spec/externalName");
            return Ok(vec![server(format!(
                "{protocol}://{}",
                join_host_port(&host, port.port)
            ))]);
        }

        let native = spec
            .get("nativeLB")
            .and_then(Value::as_bool)
            .unwrap_or(self.native_lb_by_default);
        if native {
            let ip = text(service, "/spec/clusterIP");
            if ip == "None" {
                return Err(format!(
                    "getting native Kubernetes Service address: no clusterIP on headless service: {namespace}/{name}"
                ));
            }
            if ip.is_empty() {
                return Err(format!(
                    "getting native Kubernetes Service address: no clusterIP found for service: {namespace}/{name}"
                ));
            }
            let protocol = protocol(&scheme, &port.name, port.port)?;
            return Ok(vec![server(format!(
                "{protocol}://{}",
                join_host_port(&ip, port.port)
            ))]);
        }

        let node_port_lb = spec.get("nodePortLB").and_then(Value::as_bool) == Some(true);
        if kind == "NodePort" && node_port_lb {
            if self.options.disable_cluster_scope_resources {
                return Err("nodes lookup is disabled".into());
            }
            let nodes = self.objects.nodes();
            if nodes.is_empty() {
                return Err(format!(
                    "nodes not found for NodePort service {namespace}/{name}"
                ));
            }
            let protocol = protocol(&scheme, &port.name, port.port)?;
            let mut out = Vec::new();
            for n in nodes {
                for a in n
                    .at("/status/addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if text(a, "/type") == "InternalIP" {
                        out.push(server(format!(
                            "{protocol}://{}",
                            join_host_port(&text(a, "/address"), port.node_port)
                        )));
                    }
                }
            }
            if out.is_empty() {
                return Err(format!(
                    "no servers were generated for service {name} in namespace"
                ));
            }
            return Ok(out);
        }

        let mut out = Vec::new();
        let found = serving_endpoints(self.objects.slices_of(namespace, name), &port.name);
        if found.port_found {
            let protocol = protocol(&scheme, &port.name, port.port)?;
            for (address, target) in found.addresses {
                out.push(server(format!(
                    "{protocol}://{}",
                    join_host_port(address, target)
                )));
            }
        }
        if out.is_empty() && !self.options.allow_empty_services {
            return Err(format!("no servers found for {namespace}/{name}"));
        }
        Ok(out)
    }

    /// A weighted service named `id` over `refs`, with the Kubernetes
    /// services it names added to `out` under their own names.
    pub(crate) fn weighted(
        &self,
        namespace: &str,
        refs: &[Value],
        sticky_spec: Option<&Value>,
        id: &str,
        out: &mut Services,
    ) -> Result<(), String> {
        let mut services = Vec::new();
        for r in refs {
            let (full, lb) = self.name_and_service(namespace, r)?;
            if let Some(s) = lb {
                out.insert(full.clone(), Arc::new(s));
            }
            let weight = r.get("weight").and_then(Value::as_i64).unwrap_or(1);
            services.push(json!({"name": full, "weight": weight}));
        }
        let mut weighted = json!({ "services": services });
        if let Some(s) = sticky_spec.map(sticky).transpose()?.flatten() {
            weighted["sticky"] = serde_json::to_value(s).map_err(|e| e.to_string())?;
        }
        out.insert(
            id.to_string(),
            Arc::new(Service {
                weighted: Some(Box::new(node(weighted)?)),
                ..Service::default()
            }),
        );
        Ok(())
    }

    /// A TraefikService (and the Kubernetes services it names) into `out`.
    pub(crate) fn traefik_service(&self, ts: &Value, out: &mut Services) -> Result<(), String> {
        let namespace = text(ts, "/metadata/namespace");
        let id = normalize(&make_id(&namespace, &text(ts, "/metadata/name")));
        let spec = ts.get("spec").cloned().unwrap_or(Value::Null);
        let present = |k: &str| spec.get(k).is_some_and(|v| !v.is_null());
        if present("weighted") {
            let refs = spec
                .at("/weighted/services")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let sticky_spec = spec.at("/weighted/sticky").filter(|s| !s.is_null());
            return self.weighted(&namespace, &refs, sticky_spec, &id, out);
        }
        if present("mirroring") {
            let m = &spec["mirroring"];
            let (main, lb) = self.name_and_service(&namespace, m)?;
            if let Some(s) = lb {
                out.insert(main.clone(), Arc::new(s));
            }
            let mut mirrors = Vec::new();
            for mirror in m
                .get("mirrors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (name, lb) = self.name_and_service(&namespace, mirror)?;
                if let Some(s) = lb {
                    out.insert(name.clone(), Arc::new(s));
                }
                let percent = mirror.get("percent").and_then(Value::as_i64).unwrap_or(0);
                mirrors.push(json!({"name": name, "percent": percent}));
            }
            let mut mirroring = json!({"service": main});
            if !mirrors.is_empty() {
                mirroring["mirrors"] = Value::Array(mirrors);
            }
            if let Some(b) = m.get("mirrorBody").and_then(Value::as_bool) {
                mirroring["mirrorBody"] = Value::Bool(b);
            }
            if let Some(n) = m.get("maxBodySize").and_then(Value::as_i64) {
                mirroring["maxBodySize"] = Value::from(n);
            }
            out.insert(
                id,
                Arc::new(Service {
                    mirroring: Some(Box::new(node(mirroring)?)),
                    ..Service::default()
                }),
            );
            return Ok(());
        }
        if present("highestRandomWeight") {
            let mut services = Vec::new();
            for r in spec
                .at("/highestRandomWeight/services")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (name, lb) = self.name_and_service(&namespace, r)?;
                if let Some(s) = lb {
                    out.insert(name.clone(), Arc::new(s));
                }
                let weight = r.get("weight").and_then(Value::as_i64).unwrap_or(1);
                services.push(json!({"name": name, "weight": weight}));
            }
            out.insert(
                id,
                Arc::new(Service {
                    highest_random_weight: Some(Box::new(node(json!({"services": services}))?)),
                    ..Service::default()
                }),
            );
            return Ok(());
        }
        if present("failover") {
            let f = &spec["failover"];
            let main_spec = f.get("service").cloned().unwrap_or(Value::Null);
            let fallback_spec = f.get("fallback").cloned().unwrap_or(Value::Null);
            let (main, lb) = self
                .name_and_service(&namespace, &main_spec)
                .map_err(|e| format!("getting service: {e}"))?;
            let (fallback, fallback_lb) = self
                .name_and_service(&namespace, &fallback_spec)
                .map_err(|e| format!("getting fallback service: {e}"))?;
            let mut errors = json!({});
            if let Some(s) = f.at("/errors/status").filter(|v| !v.is_null()) {
                errors["status"] = s.clone();
            }
            if let Some(n) = f.at("/errors/maxRequestBodyBytes").and_then(Value::as_i64) {
                errors["maxRequestBodyBytes"] = Value::from(n);
            }
            let failover = json!({"service": main, "fallback": fallback, "errors": errors});
            out.insert(
                id,
                Arc::new(Service {
                    failover: Some(Box::new(node(failover)?)),
                    ..Service::default()
                }),
            );
            if let Some(s) = lb {
                out.insert(main, Arc::new(s));
            }
            if let Some(s) = fallback_lb {
                out.insert(fallback, Arc::new(s));
            }
            return Ok(());
        }
        Err("unspecified service type".into())
    }
}
