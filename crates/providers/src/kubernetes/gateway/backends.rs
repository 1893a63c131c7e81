//! A route rule's backendRefs: Kubernetes Services (by port, to their ready
//! EndpointSlice addresses, or their cluster IP with native load
//! balancing), cross-namespace only where a ReferenceGrant allows it;
//! `TraefikService`s of the CRD provider and other providers; all under
//! one weighted service per router.

use std::sync::Arc;

use serde_json::{json, Value};
use switchyard_config::dynamic::{LoadBalancerService, Server, Service};

use super::filters::filters;
use super::routes::RouteKind;
use super::{condition, generation, text, GatewayOptions, Objects, GROUP};
use crate::kubernetes::crd::normalize;

/// What a backend is resolved for.
pub(crate) struct Context<'a> {
    pub objects: &'a Objects,
    pub options: &'a GatewayOptions,
    pub kind: RouteKind,
    pub route: &'a Value,
    /// The path match of the router (redirects replace its prefix).
    pub path_match: Option<&'a Value>,
}

/// `""` is the core group.
pub(crate) fn group_or_core(group: &str) -> &str {
    if group.is_empty() {
        "core"
    } else {
        group
    }
}

/// What a backendRef names, as Traefik reads it: its kind (`Service`
/// when not written), API group (`core` for the empty one), name, and
/// namespace (the route's when not written).
pub(crate) struct BackendRefName {
    pub kind: String,
    pub group: String,
    pub name: String,
    pub namespace: String,
    /// Whether the namespace was written (a cross-provider name may not
    /// have one).
    pub namespace_written: bool,
}

impl BackendRefName {
    /// Reads backendRef `r` of a route in `route_ns`.
    pub(crate) fn read(r: &Value, route_ns: &str) -> BackendRefName {
        let written = text(r, "/namespace");
        let namespace_written = !written.is_empty();
        BackendRefName {
            kind: Some(text(r, "/kind"))
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "Service".into()),
            group: group_or_core(&text(r, "/group")).to_string(),
            name: text(r, "/name"),
            namespace: if namespace_written {
                written
            } else {
                route_ns.to_string()
            },
            namespace_written,
        }
    }
}

/// Whether an object of `from_kind` in `from_namespace` may refer to the
/// `to_kind` `to_name` in `to_namespace`: always in its own namespace, else
/// when a ReferenceGrant there says so.
pub(crate) fn reference_granted(
    objects: &Objects,
    from_kind: &str,
    from_namespace: &str,
    to_group: &str,
    to_kind: &str,
    to_name: &str,
    to_namespace: &str,
) -> Result<(), String> {
    if from_namespace == to_namespace {
        return Ok(());
    }
    let granted = objects
        .reference_grants
        .iter()
        .filter(|g| text(g, "/metadata/namespace") == to_namespace)
        .any(|g| {
            let from = g.pointer("/spec/from").and_then(Value::as_array);
            let to = g.pointer("/spec/to").and_then(Value::as_array);
            from.into_iter().flatten().any(|f| {
                text(f, "/namespace") == from_namespace
                    && text(f, "/kind") == from_kind
                    && group_or_core(&text(f, "/group")) == GROUP
            }) && to.into_iter().flatten().any(|t| {
                let name = text(t, "/name");
                text(t, "/kind") == to_kind
                    && group_or_core(&text(t, "/group")) == to_group
                    && (name.is_empty() || name == to_name)
            })
        });
    if granted {
        Ok(())
    } else {
        Err("missing ReferenceGrant".into())
    }
}

pub(crate) fn cross_provider_allowed(options: &GatewayOptions, namespace: &str) -> bool {
    options
        .cross_provider_namespaces
        .as_ref()
        .is_none_or(|l| l.iter().any(|n| n == namespace))
}

/// `host:port`, with brackets around an IPv6 address.
pub(crate) fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The scheme of the servers behind a Service port.
fn scheme(kind: RouteKind, port: &Value) -> Result<&'static str, String> {
    let protocol = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    if protocol != "TCP" {
        return Err("only TCP protocol is supported".into());
    }
    let app = port
        .get("appProtocol")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    match (kind, app.as_deref()) {
        (RouteKind::Http, None) => {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            // Traefik 3.7 goes by the number only (a port named `https-*`
            // stays `http`).
            Ok(if number == 443 { "https" } else { "http" })
        }
        (RouteKind::Grpc, None) => Ok("h2c"),
        (_, Some("kubernetes.io/h2c")) => Ok("h2c"),
        (RouteKind::Http, Some("http" | "kubernetes.io/ws")) => Ok("http"),
        (RouteKind::Http, Some("https" | "kubernetes.io/wss")) => Ok("https"),
        (RouteKind::Grpc, Some("https")) => Ok("https"),
        (_, Some(other)) => Err(format!("unsupported application protocol {other}")),
    }
}

/// The Service's `traefik.io/service.nativeLB` annotation (its name in
/// any case, its value as Go reads a bool), if written.
fn native_lb_annotation(service: &Value) -> Result<Option<bool>, String> {
    let written = service
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .find(|(k, _)| k.eq_ignore_ascii_case("traefik.io/service.nativelb"));
    let Some((_, value)) = written else {
        return Ok(None);
    };
    match value.as_str().unwrap_or_default() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
        other => Err(format!(
            "parsing service annotations config: invalid nativeLB value {other:?}"
        )),
    }
}

/// The servers of the Service `namespace/name` on its port `port`.
fn servers(
    ctx: &Context<'_>,
    namespace: &str,
    name: &str,
    port: i64,
) -> Result<Vec<Server>, String> {
    let (addresses, svc_port) = addresses(ctx.objects, ctx.options, namespace, name, port)?;
    let scheme = scheme(ctx.kind, svc_port)?;
    Ok(addresses
        .iter()
        .map(|(host, port)| Server {
            url: format!("{scheme}://{}", join_host_port(host, *port)),
            ..Server::default()
        })
        .collect())
}

/// A Service's addresses, each `(host, port)`, with the Service's port.
pub(crate) type Addresses<'o> = (Vec<(String, i64)>, &'o Value);

/// The addresses (host, port) behind the Service `namespace/name` on its
/// port `port`: its ready EndpointSlice addresses (each once), or its
/// cluster IP with native load balancing; with the Service's port.
pub(crate) fn addresses<'o>(
    objects: &'o Objects,
    options: &GatewayOptions,
    namespace: &str,
    name: &str,
    port: i64,
) -> Result<Addresses<'o>, String> {
    let Some(service) = objects.service(namespace, name) else {
        return Err(format!("getting service: service {name:?} not found"));
    };
    if text(service, "/spec/type") == "ExternalName" {
        return Err("type ExternalName is not supported for Kubernetes Service reference".into());
    }
    let Some(svc_port) = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| p.get("port").and_then(Value::as_i64) == Some(port))
    else {
        return Err(format!("service port {port} not found"));
    };
    let native = match native_lb_annotation(service)? {
        Some(v) => v,
        None => options.native_lb_by_default,
    };
    if native {
        let ip = text(service, "/spec/clusterIP");
        if ip.is_empty() || ip == "None" {
            return Err(format!(
                "no clusterIP found for service: {namespace}/{name}"
            ));
        }
        return Ok((vec![(ip, port)], svc_port));
    }
    let port_name = text(svc_port, "/name");
    let slices = objects.slices_of(namespace, name);
    if slices.is_empty() {
        return Err("endpointslices not found".into());
    }
    let mut out: Vec<(String, i64)> = Vec::new();
    for slice in slices {
        let target = slice
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(port_name.as_str()))
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
            if endpoint
                .pointer("/conditions/ready")
                .and_then(Value::as_bool)
                != Some(true)
            {
                continue;
            }
            for address in endpoint
                .get("addresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let address = address.as_str().unwrap_or_default().to_string();
                if out.iter().any(|(a, _)| *a == address) {
                    continue;
                }
                out.push((address, target));
            }
        }
    }
    Ok((out, svc_port))
}

/// One backendRef: the name of the service it is, added to `http`, or the
/// name Traefik gives its place and the `ResolvedRefs` condition saying
/// why it cannot be loaded.
fn backend(
    ctx: &Context<'_>,
    router: &str,
    index: usize,
    r: &Value,
    http: &mut switchyard_config::dynamic::HttpConfiguration,
) -> Result<String, (String, Value)> {
    let service_name = format!(
        "{router}-svc-{}-{}-{index}",
        Some(text(r, "/namespace"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| text(ctx.route, "/metadata/namespace")),
        text(r, "/name")
    );
    resolve(ctx, &service_name, r, http).map_err(|c| {
        // Traefik normalizes the name of a cross-provider reference with a
        // namespace (refused) only.
        let cross = !text(r, "/namespace").is_empty() && text(r, "/name").contains('@');
        let name = if cross {
            normalize(&service_name)
        } else {
            service_name
        };
        (name, c)
    })
}

/// [`backend`] once its service's name is known.
fn resolve(
    ctx: &Context<'_>,
    service_name: &str,
    r: &Value,
    http: &mut switchyard_config::dynamic::HttpConfiguration,
) -> Result<String, Value> {
    let route_ns = text(ctx.route, "/metadata/namespace");
    let gen = generation(ctx.route);
    let refused =
        |reason: &str, message: String| condition("ResolvedRefs", false, gen, reason, &message);
    let label = match ctx.kind {
        RouteKind::Http => "HTTPBackendRef",
        RouteKind::Grpc => "GRPCBackendRef",
    };
    let BackendRefName {
        kind,
        group,
        name,
        namespace,
        namespace_written,
    } = BackendRefName::read(r, &route_ns);
    if namespace_written && name.contains('@') {
        return Err(refused(
            "RefNotPermitted",
            format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: namespace is not allowed with a cross-provider reference"),
        ));
    }
    let route_kind = match ctx.kind {
        RouteKind::Http => "HTTPRoute",
        RouteKind::Grpc => "GRPCRoute",
    };
    if let Err(e) = reference_granted(
        ctx.objects,
        route_kind,
        &route_ns,
        &group,
        &kind,
        &name,
        &namespace,
    ) {
        return Err(refused(
            "RefNotPermitted",
            format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: {e}"),
        ));
    }
    let middlewares = filters(
        ctx.options,
        &route_ns,
        service_name,
        r.get("filters"),
        ctx.path_match,
        ctx.kind == RouteKind::Grpc,
        http,
    )
    .map_err(|e| {
        refused(
            "InvalidKind",
            format!("Cannot load filters on {label} {group}/{kind}/{namespace}/{name}: {e}"),
        )
    })?;
    if group != "core" || kind != "Service" {
        let invalid = |e: String| {
            refused(
                "InvalidKind",
                format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: {e}"),
            )
        };
        if group == "traefik.io" && kind == "TraefikService" {
            if name.contains('@') {
                if !cross_provider_allowed(ctx.options, &namespace) {
                    return Err(invalid(format!(
                        "TraefikService {name:?} reference is not allowed: namespace {namespace:?} is not in crossProviderNamespaces"
                    )));
                }
                return Ok(name);
            }
            if let Some(allowed) = &ctx.options.crd_namespaces {
                if !allowed.is_empty() && !allowed.iter().any(|n| n == &namespace) {
                    return Err(invalid(format!("namespace {namespace:?} is not allowed")));
                }
                return Ok(format!("{namespace}-{name}@kubernetescrd"));
            }
        }
        return Err(invalid(format!(
            "unsupported {label} {group}/{kind}/{name}"
        )));
    }
    let port = r.get("port").and_then(Value::as_i64).unwrap_or(0);
    if port == 0 {
        return Err(refused(
            "UnsupportedProtocol",
            format!("Cannot load {label} {group}/{kind}/{namespace}/{name}: port is required"),
        ));
    }
    let servers = servers(ctx, &namespace, &name, port).map_err(|e| {
        refused(
            "BackendNotFound",
            format!("Cannot load {label} {namespace}/{name}: {e}"),
        )
    })?;
    http.services.insert(
        service_name.to_string(),
        Arc::new(Service {
            middlewares,
            load_balancer: Some(LoadBalancerService {
                servers,
                ..LoadBalancerService::default()
            }),
            ..Service::default()
        }),
    );
    Ok(service_name.to_string())
}

/// The service of a route rule's router: the one internal service it
/// names, or `<router>-wrr` weighing its backends. A backend that cannot
/// be loaded keeps its share and answers it with 500 (a GRPCRoute's with
/// gRPC's `Unavailable`), as Traefik's; `None` when the internal service
/// is not allowed. The last `ResolvedRefs` failure comes with it.
pub(crate) fn rule_service(
    ctx: &Context<'_>,
    router: &str,
    refs: &[Value],
    http: &mut switchyard_config::dynamic::HttpConfiguration,
) -> (Option<String>, Option<Value>) {
    let route_ns = text(ctx.route, "/metadata/namespace");
    if let [only] = refs {
        let name = text(only, "/name");
        if text(only, "/group") == "traefik.io"
            && text(only, "/kind") == "TraefikService"
            && name.ends_with("@internal")
        {
            if cross_provider_allowed(ctx.options, &route_ns) {
                return (Some(name), None);
            }
            let message = format!(
                "Cannot load HTTPRoute BackendRef {name}: internal service reference is not allowed: HTTPRoute namespace {route_ns:?} is not in crossProviderNamespaces"
            );
            return (
                None,
                Some(condition(
                    "ResolvedRefs",
                    false,
                    generation(ctx.route),
                    "RefNotPermitted",
                    &message,
                )),
            );
        }
    }
    let name = format!("{router}-wrr");
    let mut error = None;
    let mut services = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let weight = r.get("weight").and_then(Value::as_i64).unwrap_or(1);
        match backend(ctx, router, i, r, http) {
            Ok(service) => services.push(json!({"name": service, "weight": weight})),
            Err((service, c)) => {
                services.push(invalid(ctx.kind, &service, weight));
                error = Some(c);
            }
        }
    }
    match serde_json::from_value(json!({ "services": services })) {
        Ok(weighted) => {
            http.services.insert(
                name.clone(),
                Arc::new(Service {
                    weighted: Some(Box::new(weighted)),
                    ..Service::default()
                }),
            );
            (Some(name), error)
        }
        Err(e) => (
            None,
            Some(condition(
                "ResolvedRefs",
                false,
                generation(ctx.route),
                "InvalidKind",
                &e.to_string(),
            )),
        ),
    }
}

/// A weighted child answering for what could not be loaded: 500, or for a
/// GRPCRoute gRPC's `Unavailable` (Traefik's answers).
pub(crate) fn invalid(kind: RouteKind, name: &str, weight: i64) -> Value {
    match kind {
        RouteKind::Http => json!({"name": name, "weight": weight, "status": 500}),
        RouteKind::Grpc => json!({
            "name": name,
            "weight": weight,
            "grpcStatus": {"code": 14, "msg": "Service Unavailable"},
        }),
    }
}
