//! IngressRouteTCP, IngressRouteUDP, MiddlewareTCP and ServersTransportTCP
//! to the configuration's `tcp` and `udp` sections, named and valued as
//! Traefik 3.7's CRD provider names and values them.
//!
//! The sections are built as JSON (the shape a file's `tcp:` has) and
//! handed over as [`Node`]s, which the builder decodes element by element
//! as it decodes a file's.
//!
//! Differences from Traefik, knowingly: a ServersTransportTCP whose `tls`
//! names CA or client certificates (Secrets, ConfigMaps) is left out with
//! an error (not translated yet), rather than built without them.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use switchyard_config::Node;

use super::names::{make_id, middleware_refs, normalize, resolve_reference, Port};
use super::services::service_port;
use super::{report, text, texts, tls, CrdOptions, Index, ObjectError, Walk, PROVIDER_NAME};

/// The `tcp` and `udp` sections made, as JSON maps.
#[derive(Debug, Default)]
pub(crate) struct Sections {
    pub tcp_routers: Map<String, Value>,
    pub tcp_services: Map<String, Value>,
    pub tcp_middlewares: Map<String, Value>,
    pub tcp_transports: Map<String, Value>,
    pub udp_routers: Map<String, Value>,
    pub udp_services: Map<String, Value>,
}

impl Sections {
    /// The `tcp` section, None when the objects made nothing.
    pub(crate) fn tcp(&mut self) -> Result<Option<Node>, String> {
        let parts = [
            ("routers", std::mem::take(&mut self.tcp_routers)),
            ("services", std::mem::take(&mut self.tcp_services)),
            ("middlewares", std::mem::take(&mut self.tcp_middlewares)),
            (
                "serversTransports",
                std::mem::take(&mut self.tcp_transports),
            ),
        ];
        section(parts)
    }

    /// The `udp` section, None when the objects made nothing.
    pub(crate) fn udp(&mut self) -> Result<Option<Node>, String> {
        let parts = [
            ("routers", std::mem::take(&mut self.udp_routers)),
            ("services", std::mem::take(&mut self.udp_services)),
        ];
        section(parts)
    }
}

fn section<const N: usize>(parts: [(&str, Map<String, Value>); N]) -> Result<Option<Node>, String> {
    if parts.iter().all(|(_, m)| m.is_empty()) {
        return Ok(None);
    }
    let mut out = Map::new();
    for (name, m) in parts {
        if !m.is_empty() {
            out.insert(name.to_string(), Value::Object(m));
        }
    }
    serde_json::from_value(Value::Object(out))
        .map(Some)
        .map_err(|e| format!("tcp/udp section: {e}"))
}

/// Whether an object of class `class` is for this provider.
fn wanted(object: &Value, options: &CrdOptions) -> bool {
    let class = super::ingress_class(object);
    class == options.ingress_class || (options.ingress_class.is_empty() && class == "traefik")
}

fn object_name(o: &Value) -> String {
    let name = text(o, "/metadata/name");
    if name.is_empty() {
        text(o, "/metadata/generateName")
    } else {
        name
    }
}

/// An IngressRouteTCP route's name: `<namespace>-<name>-<first 10 bytes
/// of the SHA-256 of the match, hex>`, not normalized (Traefik does not
/// normalize TCP router names).
pub(crate) fn tcp_router_key(namespace: &str, ingress_name: &str, rule: &str) -> String {
    let digest = Sha256::digest(rule.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    make_id(namespace, &format!("{ingress_name}-{hex}"))
}

/// `host:port`, with brackets around an IPv6 address.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `ip:port` addresses of the Kubernetes Service `namespace/name` at
/// the port `spec` names: the ready endpoints of its EndpointSlices, its
/// cluster IP (`nativeLB`), its nodes (`nodePortLB`) or its external name.
fn addresses(
    objects: &Index<'_>,
    options: &CrdOptions,
    namespace: &str,
    spec: &Value,
) -> Result<Vec<String>, String> {
    let name = text(spec, "/name");
    let Some(service) = objects.service(namespace, &name) else {
        return Err("service not found".into());
    };
    let kind = text(service, "/spec/type");
    if kind == "ExternalName" && !options.allow_external_name_services {
        return Err(format!(
            "externalName services not allowed: {namespace}/{name}"
        ));
    }
    let port = service_port(service, &Port::of(spec.get("port")))?;
    if kind == "NodePort" && spec.get("nodePortLB").and_then(Value::as_bool) == Some(true) {
        if options.disable_cluster_scope_resources {
            return Err("nodes lookup is disabled".into());
        }
        let nodes = objects.nodes();
        if nodes.is_empty() {
            return Err(format!(
                "nodes not found for NodePort service {namespace}/{name}"
            ));
        }
        let mut out = Vec::new();
        for n in nodes {
            for a in n
                .at("/status/addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if text(a, "/type") == "InternalIP" {
                    out.push(join_host_port(&text(a, "/address"), port.node_port));
                }
            }
        }
        if out.is_empty() {
            return Err(format!(
                "no servers were generated for service {namespace}/{name}"
            ));
        }
        return Ok(out);
    }
    if kind == "ExternalName" {
        return Ok(vec![join_host_port(
            &text(service, "/spec/externalName"),
            port.port,
        )]);
    }
    let native = spec
        .get("nativeLB")
        .and_then(Value::as_bool)
        .unwrap_or(options.native_lb_by_default);
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
        return Ok(vec![join_host_port(&ip, port.port)]);
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for slice in objects.slices_of(namespace, &name) {
        let target = slice
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(port.name.as_str()))
            .and_then(|p| p.get("port").and_then(Value::as_i64))
            .unwrap_or(0);
        if target == 0 {
            continue;
        }
        for endpoint in slice
            .get("endpoints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // TCP and UDP read `ready` (absent: not ready), not `serving`.
            if endpoint.at("/conditions/ready").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            for address in endpoint
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if seen.insert(address.to_string()) {
                    out.push(join_host_port(address, target));
                }
            }
        }
    }
    if out.is_empty() && !options.allow_empty_services {
        return Err(format!("no servers found for {namespace}/{name}"));
    }
    Ok(out)
}

/// The namespace a service reference points to, checked against
/// `allowCrossNamespace`.
fn service_namespace(
    spec: &Value,
    parent: &str,
    options: &CrdOptions,
    what: &str,
) -> Result<String, String> {
    let ns = text(spec, "/namespace");
    if ns.is_empty() || ns == parent {
        return Ok(parent.to_string());
    }
    if !options.allow_cross_namespace {
        return Err(format!(
            "{what} service {ns}/{} is not in the parent resource namespace {parent}",
            text(spec, "/name")
        ));
    }
    Ok(ns)
}

/// The reference to a ServersTransportTCP as a TCP service names it.
fn transport_key(parent: &str, name: &str, options: &CrdOptions) -> Result<String, String> {
    if name.contains('@') {
        if !options.allow_cross_namespace && name.ends_with(&format!("@{PROVIDER_NAME}")) {
            return Err(format!(
                "invalid reference to serversTransport {name}: namespace-name@kubernetescrd format is not allowed when crossnamespace is disallowed"
            ));
        }
        if let Some(allowed) = &options.cross_provider_namespaces {
            if !allowed.iter().any(|n| n == parent) {
                return Err(format!(
                    "serversTransport {name:?} reference is not allowed: namespace {parent:?} is not in crossProviderNamespaces"
                ));
            }
        }
        return Ok(name.to_string());
    }
    Ok(normalize(&make_id(parent, name)))
}

/// One service reference of an IngressRouteTCP route: its load balancer.
fn tcp_load_balancer(
    objects: &Index<'_>,
    options: &CrdOptions,
    parent: &str,
    spec: &Value,
) -> Result<Value, String> {
    let ns = service_namespace(spec, parent, options, "tcp")?;
    let tls = spec.get("tls").and_then(Value::as_bool).unwrap_or(false);
    let servers: Vec<Value> = addresses(objects, options, &ns, spec)?
        .into_iter()
        .map(|a| {
            if tls {
                json!({"address": a, "tls": true})
            } else {
                json!({"address": a})
            }
        })
        .collect();
    let mut lb = Map::new();
    lb.insert("servers".into(), Value::Array(servers));
    if let Some(pp) = spec.get("proxyProtocol").filter(|p| !p.is_null()) {
        let version = pp.get("version").and_then(Value::as_i64).unwrap_or(0);
        let version = if version == 0 { 2 } else { version };
        lb.insert("proxyProtocol".into(), json!({ "version": version }));
    }
    let transport = text(spec, "/serversTransport");
    if transport.is_empty() {
        if let Some(d) = spec.get("terminationDelay").filter(|d| !d.is_null()) {
            lb.insert("terminationDelay".into(), d.clone());
        }
    } else {
        lb.insert(
            "serversTransport".into(),
            Value::String(transport_key(parent, &transport, options)?),
        );
    }
    Ok(json!({ "loadBalancer": lb }))
}

/// One service reference of an IngressRouteUDP route: its load balancer.
fn udp_load_balancer(
    objects: &Index<'_>,
    options: &CrdOptions,
    parent: &str,
    spec: &Value,
) -> Result<Value, String> {
    let ns = service_namespace(spec, parent, options, "udp")?;
    let servers: Vec<Value> = addresses(objects, options, &ns, spec)?
        .into_iter()
        .map(|a| json!({ "address": a }))
        .collect();
    Ok(json!({"loadBalancer": {"servers": servers}}))
}

/// The services of a route into `services`: one reference is the route's
/// service itself; several make a weighted service over
/// `<service>-<name>-<port>`. A reference that fails is reported and left
/// out, the others kept (as Traefik does).
fn route_services(
    refs: &[Value],
    service_name: &str,
    services: &mut Map<String, Value>,
    mut load_balancer: impl FnMut(&Value) -> Result<Value, String>,
    mut failed: impl FnMut(&Value, String),
) {
    let mut weighted: Vec<Value> = Vec::new();
    for spec in refs {
        let lb = match load_balancer(spec) {
            Ok(lb) => lb,
            Err(e) => {
                failed(spec, e);
                continue;
            }
        };
        if refs.len() == 1 {
            services.insert(service_name.to_string(), lb);
            break;
        }
        let key = format!(
            "{service_name}-{}-{}",
            text(spec, "/name"),
            Port::of(spec.get("port"))
        );
        services.insert(key.clone(), lb);
        let weight = spec.get("weight").and_then(Value::as_i64).unwrap_or(1);
        weighted.push(json!({"name": key, "weight": weight}));
    }
    if !weighted.is_empty() {
        services.insert(
            service_name.to_string(),
            json!({"weighted": {"services": weighted}}),
        );
    }
}

/// The IngressRouteTCPs and IngressRouteUDPs, MiddlewareTCPs and
/// ServersTransportTCPs into `out`; certificates of `tls.secretName` into
/// `certificates` (those already there win).
pub(crate) fn translate(
    objects: &Index<'_>,
    options: &CrdOptions,
    certificates: &mut BTreeMap<String, switchyard_config::tls::CertificateEntry>,
    out: &mut Sections,
    errors: &mut Vec<ObjectError>,
) {
    for o in &objects.tcp_udp {
        match text(o, "/kind").as_str() {
            "IngressRouteTCP" if wanted(o, options) => {
                ingress_route_tcp(objects, options, o, certificates, out, errors)
            }
            "IngressRouteUDP" if wanted(o, options) => {
                ingress_route_udp(objects, options, o, out, errors)
            }
            "MiddlewareTCP" => {
                let id = normalize(&make_id(
                    &text(o, "/metadata/namespace"),
                    &text(o, "/metadata/name"),
                ));
                let mut m = Map::new();
                for key in ["inFlightConn", "ipWhiteList", "ipAllowList"] {
                    if let Some(v) = o.at(&format!("/spec/{key}")).filter(|v| !v.is_null()) {
                        m.insert(key.to_string(), v.clone());
                    }
                }
                out.tcp_middlewares.insert(id, Value::Object(m));
            }
            "ServersTransportTCP" => {
                let mut r = report(errors, "ServersTransportTCP", o);
                match servers_transport(o) {
                    Ok((id, t)) => {
                        out.tcp_transports.insert(id, t);
                    }
                    Err(e) => r.error(e),
                }
            }
            _ => {}
        }
    }
}

fn ingress_route_tcp(
    objects: &Index<'_>,
    options: &CrdOptions,
    ir: &Value,
    certificates: &mut BTreeMap<String, switchyard_config::tls::CertificateEntry>,
    out: &mut Sections,
    errors: &mut Vec<ObjectError>,
) {
    let namespace = text(ir, "/metadata/namespace");
    let tls = ir.at("/spec/tls").filter(|t| !t.is_null());
    if let Some(t) = tls {
        let passthrough = t.get("passthrough").and_then(Value::as_bool) == Some(true);
        let secret = text(t, "/secretName");
        if !passthrough && !secret.is_empty() {
            let key = format!("{namespace}/{secret}");
            if let std::collections::btree_map::Entry::Vacant(slot) = certificates.entry(key) {
                match tls::certificate(objects, &namespace, &secret) {
                    Ok(c) => {
                        slot.insert(c);
                    }
                    Err(e) => report(errors, "IngressRouteTCP", ir).error(format!("TLS: {e}")),
                }
            }
        }
    }
    let name = object_name(ir);
    let routes = ir
        .at("/spec/routes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for route in routes {
        let rule = text(route, "/match");
        let mut r = report(errors, "IngressRouteTCP", ir);
        if rule.is_empty() {
            r.error("empty match rule");
            continue;
        }
        let key = tcp_router_key(&namespace, &name, &rule);
        let middlewares = match middleware_refs(route.get("middlewares"), &namespace, options) {
            Ok(m) => m,
            Err(e) => {
                r.error(format!("route {rule:?}: {e}"));
                continue;
            }
        };
        let refs = route
            .get("services")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        route_services(
            refs,
            &key,
            &mut out.tcp_services,
            |spec| tcp_load_balancer(objects, options, &namespace, spec),
            |spec, e| {
                r.error(format!(
                    "route {rule:?}: service {}:{}: {e}",
                    text(spec, "/name"),
                    Port::of(spec.get("port"))
                ))
            },
        );
        let mut router = Map::new();
        let entry_points = texts(ir, "/spec/entryPoints");
        if !entry_points.is_empty() {
            router.insert("entryPoints".into(), json!(entry_points));
        }
        if !middlewares.is_empty() {
            router.insert("middlewares".into(), json!(middlewares));
        }
        router.insert("service".into(), Value::String(key.clone()));
        router.insert("rule".into(), Value::String(rule.clone()));
        let syntax = text(route, "/syntax");
        if !syntax.is_empty() {
            router.insert("ruleSyntax".into(), Value::String(syntax));
        }
        if let Some(p) = route
            .get("priority")
            .and_then(Value::as_i64)
            .filter(|p| *p != 0)
        {
            router.insert("priority".into(), json!(p));
        }
        if let Some(t) = tls {
            // `passthrough` always written, so that `tls` is never an
            // empty map, and as Traefik shows it.
            let mut rt = Map::new();
            let passthrough = t.get("passthrough").and_then(Value::as_bool) == Some(true);
            rt.insert("passthrough".into(), Value::Bool(passthrough));
            let resolver = text(t, "/certResolver");
            if !resolver.is_empty() {
                rt.insert("certResolver".into(), Value::String(resolver));
            }
            if let Some(d) = t.get("domains").filter(|d| !d.is_null()) {
                rt.insert("domains".into(), d.clone());
            }
            let option = text(t, "/options/name");
            if !option.is_empty() {
                match resolve_reference(
                    &namespace,
                    &text(t, "/options/namespace"),
                    &option,
                    options,
                ) {
                    Ok(o) => {
                        rt.insert("options".into(), Value::String(o));
                    }
                    Err(e) => {
                        r.error(format!(
                            "route {rule:?}: invalid reference to TLSOption {option:?}: {e}"
                        ));
                        continue;
                    }
                }
            }
            router.insert("tls".into(), Value::Object(rt));
        }
        out.tcp_routers.insert(key, Value::Object(router));
    }
}

fn ingress_route_udp(
    objects: &Index<'_>,
    options: &CrdOptions,
    ir: &Value,
    out: &mut Sections,
    errors: &mut Vec<ObjectError>,
) {
    let namespace = text(ir, "/metadata/namespace");
    let name = object_name(ir);
    let routes = ir
        .at("/spec/routes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, route) in routes.iter().enumerate() {
        let key = make_id(&namespace, &format!("{name}-{i}"));
        let mut r = report(errors, "IngressRouteUDP", ir);
        let refs = route
            .get("services")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        route_services(
            refs,
            &key,
            &mut out.udp_services,
            |spec| udp_load_balancer(objects, options, &namespace, spec),
            |spec, e| {
                r.error(format!(
                    "route {i}: service {}:{}: {e}",
                    text(spec, "/name"),
                    Port::of(spec.get("port"))
                ))
            },
        );
        let mut router = Map::new();
        let entry_points = texts(ir, "/spec/entryPoints");
        if !entry_points.is_empty() {
            router.insert("entryPoints".into(), json!(entry_points));
        }
        router.insert("service".into(), Value::String(key.clone()));
        out.udp_routers.insert(key, Value::Object(router));
    }
}

/// A ServersTransportTCP: its name and its value, with Traefik's defaults
/// (dial timeout 30s, keep-alive 15s, termination delay 100ms).
fn servers_transport(o: &Value) -> Result<(String, Value), String> {
    let id = normalize(&make_id(
        &text(o, "/metadata/namespace"),
        &text(o, "/metadata/name"),
    ));
    let spec = o.get("spec").cloned().unwrap_or(Value::Null);
    let mut t = Map::new();
    let defaults = [
        ("dialTimeout", "30s"),
        ("dialKeepAlive", "15s"),
        ("terminationDelay", "100ms"),
    ];
    for (key, default) in defaults {
        let v = spec
            .get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or_else(|| Value::String(default.into()));
        t.insert(key.to_string(), v);
    }
    if let Some(pp) = spec.get("proxyProtocol").filter(|p| !p.is_null()) {
        t.insert("proxyProtocol".into(), pp.clone());
    }
    if let Some(tls) = spec.get("tls").filter(|t| !t.is_null()) {
        for refused in ["rootCAsSecrets", "rootCAs", "certificatesSecrets"] {
            if tls
                .get(refused)
                .and_then(Value::as_array)
                .is_some_and(|l| !l.is_empty())
            {
                return Err(format!(
                    "tls.{refused} is not translated by Switchyard yet: transport left out"
                ));
            }
        }
        let mut c = Map::new();
        for key in ["serverName", "insecureSkipVerify", "peerCertURI", "spiffe"] {
            if let Some(v) = tls.get(key).filter(|v| !v.is_null()) {
                c.insert(key.to_string(), v.clone());
            }
        }
        t.insert("tls".into(), Value::Object(c));
    }
    Ok((id, Value::Object(t)))
}
