//! TLSRoutes and TCPRoutes (the latter with `experimentalChannel`), as
//! Traefik translates them: each rule with backendRefs becomes a TCP
//! router on the listener's entry point (a TLSRoute's ruled by
//! `HostSNI`/`HostSNIRegexp` of its hostnames, a TCPRoute's by
//! `HostSNI("*")`; TLS passed through or terminated as the listener's
//! mode says) and a weighted TCP service over the backends' Services; a
//! backend that cannot be loaded keeps its share with a load balancer of
//! no server (`<router>-err-lb`). Once a TLSRoute gave a router, the
//! `deny-unknown-host` router closes TLS connections no route takes.

use serde_json::{json, Map, Value};

use super::attach::{self, OnListener};
use super::backends::{
    addresses, cross_provider_allowed, join_host_port, reference_granted, BackendRefName,
};
use super::rules::{go_quote, quote_meta, router_name};
use super::{condition, generation, text, Gateway, GatewayOptions, Listener, Objects, Translation};
use crate::kubernetes::crd::normalize;

/// TLSRoutes or TCPRoutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tls,
    Tcp,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tls => "TLSRoute",
            Kind::Tcp => "TCPRoute",
        }
    }
}

/// The TCP routers and services routes give.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpPart {
    pub routers: Map<String, Value>,
    pub services: Map<String, Value>,
}

struct TcpRoutes<'a> {
    objects: &'a Objects,
    options: &'a GatewayOptions,
    kind: Kind,
    tcp: &'a mut TcpPart,
}

/// A TLSRoute's rule and priority: `HostSNI` of each hostname (once),
/// `HostSNIRegexp` of a wildcard, `HostSNI("*")` without any; the longest
/// hostname's length, its `*` not counted.
pub(crate) fn host_sni_rule(hostnames: &[String]) -> (String, i64) {
    let mut rules = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut priority = 0;
    for host in hostnames.iter().filter(|h| !h.is_empty()) {
        let wildcards = host.matches('*').count();
        priority = priority.max((host.len() - wildcards) as i64);
        if seen.contains(&host.as_str()) {
            continue;
        }
        seen.push(host);
        if wildcards == 0 {
            rules.push(format!("HostSNI({})", go_quote(host)));
            continue;
        }
        let quoted = quote_meta(host).replacen("\\*\\.", "[a-z0-9-]+\\.", 1);
        rules.push(format!(
            "HostSNIRegexp({})",
            go_quote(&format!("^{quoted}$"))
        ));
    }
    if rules.is_empty() {
        return ("HostSNI(\"*\")".to_string(), 0);
    }
    (rules.join(" || "), priority)
}

impl TcpRoutes<'_> {
    /// One backendRef: the TCP service's name (and the service, for a
    /// Kubernetes Service), or the name of its place and the condition
    /// saying why it cannot be loaded.
    fn backend(
        &self,
        route: &Value,
        router: &str,
        index: usize,
        r: &Value,
    ) -> Result<(String, Option<Value>), (String, Value)> {
        let route_ns = text(route, "/metadata/namespace");
        let label = format!("{} BackendRef", self.kind.name());
        let refused = |reason: &str, message: String| {
            condition("ResolvedRefs", false, generation(route), reason, &message)
        };
        let BackendRefName {
            kind,
            group,
            name,
            namespace,
            namespace_written,
        } = BackendRefName::read(r, &route_ns);
        let service_name = format!("{router}-svc-{namespace}-{name}-{index}");
        if namespace_written && name.contains('@') {
            return Err((
                normalize(&service_name),
                refused(
                    "RefNotPermitted",
                    format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: namespace is not allowed with a cross-provider reference"),
                ),
            ));
        }
        let fail =
            |reason: &str, message: String| Err((service_name.clone(), refused(reason, message)));
        if let Err(e) = reference_granted(
            self.objects,
            self.kind.name(),
            &route_ns,
            &group,
            &kind,
            &name,
            &namespace,
        ) {
            return fail(
                "RefNotPermitted",
                format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: {e}"),
            );
        }
        if group != "core" || kind != "Service" {
            if kind == "TraefikService" && name.contains('@') {
                if !cross_provider_allowed(self.options, &route_ns) {
                    return fail(
                        "InvalidKind",
                        format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: TraefikService {name:?} reference is not allowed: route namespace {route_ns:?} is not in crossProviderNamespaces"),
                    );
                }
                return Ok((name, None));
            }
            return fail(
                "InvalidKind",
                format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: unsupported BackendRef {}/{kind}/{name}", text(r, "/group")),
            );
        }
        let port = r.get("port").and_then(Value::as_i64).unwrap_or(0);
        if port == 0 {
            return fail(
                "UnsupportedProtocol",
                format!("Cannot load {label} {group}/{kind}/{namespace}/{name} port is required"),
            );
        }
        let (found, svc_port) = match addresses(self.objects, self.options, &namespace, &name, port)
        {
            Ok(a) => a,
            Err(e) => {
                return fail(
                    "BackendNotFound",
                    format!("Cannot load {label} {namespace}/{name}: {e}"),
                )
            }
        };
        let protocol = svc_port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP");
        if protocol != "TCP" {
            return fail(
                "UnsupportedProtocol",
                format!("Cannot load {label} {namespace}/{name}: only TCP protocol is supported"),
            );
        }
        let servers: Vec<Value> = found
            .iter()
            .map(|(host, port)| json!({"address": join_host_port(host, *port)}))
            .collect();
        let mut lb = json!({});
        if !servers.is_empty() {
            lb["servers"] = Value::from(servers);
        }
        Ok((service_name, Some(json!({ "loadBalancer": lb }))))
    }
}

impl OnListener for TcpRoutes<'_> {
    type Part = TcpPart;

    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    fn resource(&self) -> &'static str {
        match self.kind {
            Kind::Tls => "tlsroutes",
            Kind::Tcp => "tcproutes",
        }
    }

    fn has_hostnames(&self) -> bool {
        self.kind == Kind::Tls
    }

    fn translate(
        &self,
        route: &Value,
        gateway: &Gateway,
        listener: &Listener,
        hostnames: &[String],
    ) -> (TcpPart, Vec<String>, Value) {
        let namespace = text(route, "/metadata/namespace");
        let name = text(route, "/metadata/name");
        let gen = generation(route);
        let mut resolved = condition("ResolvedRefs", true, gen, "ResolvedRefs", "");
        let mut part = TcpPart::default();
        let mut problems = Vec::new();
        let rules: &[Value] = route
            .pointer("/spec/rules")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        for (ri, rule) in rules.iter().enumerate() {
            let refs: &[Value] = match rule.get("backendRefs").and_then(Value::as_array) {
                Some(refs) if !refs.is_empty() => refs,
                _ => continue,
            };
            let key = normalize(&format!(
                "{}-{namespace}-{name}-gw-{}-{}-ep-{}-{ri}",
                self.kind.name().to_lowercase(),
                gateway.namespace,
                gateway.name,
                listener.entry_point
            ));
            let index = ri.to_string();
            let place = [
                namespace.as_str(),
                name.as_str(),
                gateway.namespace.as_str(),
                gateway.name.as_str(),
                listener.entry_point.as_str(),
                index.as_str(),
            ];
            let mut router = json!({
                "entryPoints": [listener.entry_point],
                "ruleSyntax": "default",
            });
            // A TLSRoute's router is named after its rule, a TCPRoute's
            // (whose rule is always the same) after its place only.
            let (rule, priority) = host_sni_rule(hostnames);
            let router_name = match self.kind {
                Kind::Tls => router_name(&key, &place, &rule),
                Kind::Tcp => router_name(&key, &place, ""),
            };
            match self.kind {
                Kind::Tls => {
                    router["rule"] = Value::from(rule);
                    if priority != 0 {
                        router["priority"] = Value::from(priority);
                    }
                    router["tls"] =
                        json!({"passthrough": listener.tls_passthrough.unwrap_or(false)});
                }
                Kind::Tcp => {
                    router["rule"] = Value::from("HostSNI(\"*\")");
                    if listener.protocol == "TLS" {
                        if let Some(passthrough) = listener.tls_passthrough {
                            router["tls"] = json!({ "passthrough": passthrough });
                        }
                    }
                }
            }
            let only = refs.first().filter(|_| refs.len() == 1);
            if let Some(r) = only.filter(|r| {
                text(r, "/group") == "traefik.io"
                    && text(r, "/kind") == "TraefikService"
                    && text(r, "/name").ends_with("@internal")
            }) {
                let target = text(r, "/name");
                if !cross_provider_allowed(self.options, &namespace) {
                    let message = format!(
                        "Cannot load {} BackendRef {target}: internal service reference is not allowed: {} namespace {namespace:?} is not in crossProviderNamespaces",
                        self.kind.name(),
                        self.kind.name()
                    );
                    problems.push(format!("rule {ri}: {message}"));
                    resolved = condition("ResolvedRefs", false, gen, "RefNotPermitted", &message);
                    continue;
                }
                router["service"] = Value::from(target);
                part.routers.insert(router_name, router);
                continue;
            }
            let mut children = Vec::new();
            for (i, r) in refs.iter().enumerate() {
                let weight = r.get("weight").and_then(Value::as_i64).unwrap_or(1);
                match self.backend(route, &router_name, i, r) {
                    Ok((service, definition)) => {
                        if let Some(d) = definition {
                            part.services.insert(service.clone(), d);
                        }
                        children.push(json!({"name": service, "weight": weight}));
                    }
                    Err((_, c)) => {
                        problems.push(format!("rule {ri}: {}", text(&c, "/message")));
                        resolved = c;
                        let error = format!("{router_name}-err-lb");
                        part.services
                            .insert(error.clone(), json!({"loadBalancer": {}}));
                        children.push(json!({"name": error, "weight": weight}));
                    }
                }
            }
            let wrr = format!("{router_name}-wrr");
            part.services
                .insert(wrr.clone(), json!({"weighted": {"services": children}}));
            router["service"] = Value::from(wrr);
            part.routers.insert(router_name, router);
        }
        (part, problems, resolved)
    }

    fn join(&mut self, part: TcpPart) {
        self.tcp.routers.extend(part.routers);
        self.tcp.services.extend(part.services);
    }
}

/// The TLSRoutes, then (with `experimentalChannel`) the TCPRoutes on our
/// Gateways' listeners, into `tcp`.
pub(crate) fn all(
    objects: &Objects,
    options: &GatewayOptions,
    gateways: &mut [Gateway],
    tcp: &mut TcpPart,
    out: &mut Translation,
) {
    let kind_of = |k: &'static str| move |o: &&Value| text(o, "/kind") == k;
    let tls: Vec<Value> = objects
        .tcp_tls
        .iter()
        .filter(kind_of("TLSRoute"))
        .cloned()
        .collect();
    for route in &tls {
        let mut t = TcpRoutes {
            objects,
            options,
            kind: Kind::Tls,
            tcp: &mut *tcp,
        };
        attach::routes(&mut t, std::slice::from_ref(route), gateways, out);
        // As Traefik: once there is a TCP router, TLS connections no route
        // takes (neither HTTP/1.1 nor h2 offered) are closed.
        if !tcp.routers.is_empty() {
            tcp.routers.insert(
                "deny-unknown-host".into(),
                json!({
                    "rule": "HostSNI(`*`) && !ALPN(`h2`) && !ALPN(`http/1.1`)",
                    "priority": 1,
                    "service": "deny-unknown-host",
                    "tls": {"passthrough": false},
                }),
            );
            tcp.services
                .insert("deny-unknown-host".into(), json!({"loadBalancer": {}}));
        }
    }
    if options.experimental_channel {
        let tcp_routes: Vec<Value> = objects
            .tcp_tls
            .iter()
            .filter(kind_of("TCPRoute"))
            .cloned()
            .collect();
        let mut t = TcpRoutes {
            objects,
            options,
            kind: Kind::Tcp,
            tcp,
        };
        attach::routes(&mut t, &tcp_routes, gateways, out);
    }
}
