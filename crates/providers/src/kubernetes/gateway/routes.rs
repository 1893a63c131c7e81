//! HTTPRoutes and GRPCRoutes: attached to the listeners their parentRefs
//! name, each rule match becomes a router named, ruled and prioritised as
//! Traefik does, with middlewares from the filters and a weighted service
//! over the backends.

use std::sync::Arc;

use serde_json::{json, Value};
use switchyard_config::dynamic::{HttpConfiguration, Router};
use switchyard_config::tls::RouterTls;

use super::backends;
use super::filters::filters;
use super::rules::{grpc_match_rule, http_match_rule, matching_hostnames, router_name};
use super::{
    condition, generation, object_error, text, texts, Gateway, GatewayOptions, Listener, Objects,
    StatusUpdate, Translation, CONTROLLER_NAME, GROUP,
};
use crate::kubernetes::crd::normalize;

/// Which route kind is being translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteKind {
    Http,
    Grpc,
}

impl RouteKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        }
    }
}

/// A route on one listener of a Gateway.
struct Attachment<'a> {
    objects: &'a Objects,
    options: &'a GatewayOptions,
    kind: RouteKind,
    gateway: &'a Gateway,
    listener: &'a Listener,
    route: &'a Value,
    hostnames: &'a [String],
}

/// One route on one listener: its routers, services and middlewares into
/// `http`; the `ResolvedRefs` condition.
fn route_on_listener(
    at: &Attachment<'_>,
    http: &mut HttpConfiguration,
    problems: &mut Vec<String>,
) -> Value {
    let Attachment {
        objects,
        options,
        kind,
        gateway,
        listener,
        route,
        hostnames,
    } = *at;
    let namespace = text(route, "/metadata/namespace");
    let name = text(route, "/metadata/name");
    let gen = generation(route);
    let mut resolved = condition("ResolvedRefs", true, gen, "ResolvedRefs", "");
    let rules: &[Value] = route
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    for (ri, rule) in rules.iter().enumerate() {
        let key = normalize(&format!(
            "{}-{namespace}-{name}-gw-{}-{}-ep-{}-{ri}",
            kind.name().to_lowercase(),
            gateway.namespace,
            gateway.name,
            listener.entry_point
        ));
        let any_match = [json!({})];
        let matches: &[Value] = match (kind, rule.get("matches").and_then(Value::as_array)) {
            (_, Some(m)) if !m.is_empty() => m,
            (RouteKind::Grpc, _) => &any_match,
            (RouteKind::Http, _) => &[],
        };
        for m in matches {
            let (rule_text, priority) = match kind {
                RouteKind::Http => {
                    let (r, p) = http_match_rule(hostnames, m);
                    (r, p + rules.len() as i64 - ri as i64)
                }
                RouteKind::Grpc => grpc_match_rule(hostnames, m),
            };
            let index = ri.to_string();
            let place = [
                namespace.as_str(),
                name.as_str(),
                gateway.namespace.as_str(),
                gateway.name.as_str(),
                listener.entry_point.as_str(),
                index.as_str(),
            ];
            let router_name = router_name(&key, &place, &rule_text);
            let mut router = Router {
                entry_points: vec![listener.entry_point.clone()],
                rule: rule_text,
                rule_syntax: Some("default".into()),
                priority: Some(priority),
                ..Router::default()
            };
            if listener.protocol == "HTTPS" {
                router.tls = Some(Box::new(RouterTls::default()));
            }
            let path_match = m.get("path").filter(|p| !p.is_null());
            match filters(
                options,
                &namespace,
                &router_name,
                rule.get("filters"),
                path_match,
                kind == RouteKind::Grpc,
                http,
            ) {
                Err(e) => {
                    problems.push(format!("rule {ri}: {e}: router {router_name} left out"));
                    continue;
                }
                Ok(names) => router.middlewares = names,
            }
            let refs: &[Value] = rule
                .get("backendRefs")
                .and_then(Value::as_array)
                .map_or(&[], Vec::as_slice);
            let ctx = backends::Context {
                objects,
                options,
                kind,
                route,
                path_match,
            };
            let (service, error) = backends::rule_service(&ctx, &router_name, refs, http);
            if let Some(e) = error {
                problems.push(format!("rule {ri}: {}", text(&e, "/message")));
                resolved = e;
            }
            match service {
                Some(s) => router.service = s,
                None => {
                    problems.push(format!(
                        "rule {ri}: no backend could be loaded: router {router_name} left out"
                    ));
                    continue;
                }
            }
            http.routers.insert(router_name, Arc::new(router));
        }
    }
    resolved
}

/// Whether a listener takes routes of `kind` from `namespace`.
fn allowed(listener: &Listener, namespace: &str, kind: &str) -> bool {
    listener.allowed_kinds.iter().any(|k| k == kind)
        && listener
            .allowed_namespaces
            .iter()
            .any(|n| n.is_empty() || n == namespace)
}

/// A route and what it is translated with.
struct RouteOnGateway<'a> {
    objects: &'a Objects,
    options: &'a GatewayOptions,
    kind: RouteKind,
    route: &'a Value,
    hostnames: &'a [String],
}

/// A route on the listeners of the Gateway one of its parentRefs names:
/// attached where the listener is the one the parentRef targets, takes
/// the route's kind and namespace and shares a hostname with it (its
/// routers, services and middlewares then join `http`); the parent's
/// `Accepted` and `ResolvedRefs` conditions.
fn on_gateway(
    at: &RouteOnGateway<'_>,
    gateway: &mut Gateway,
    parent_ref: &Value,
    http: &mut HttpConfiguration,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let RouteOnGateway {
        objects,
        options,
        kind,
        route,
        hostnames,
    } = *at;
    let namespace = text(route, "/metadata/namespace");
    let gen = generation(route);
    let mut accepted = condition("Accepted", false, gen, "NoMatchingParent", "");
    let mut resolved: Option<Value> = None;
    let section = text(parent_ref, "/sectionName");
    let port = parent_ref.get("port").and_then(Value::as_i64);
    let snapshot = gateway.clone();
    for (li, listener) in snapshot.listeners.iter().enumerate() {
        let mut ok = (section.is_empty() || section == listener.name)
            && port.is_none_or(|p| p == listener.port);
        let still_refused = |c: &Value| text(c, "/status") == "False";
        if ok && !allowed(listener, &namespace, kind.name()) {
            if still_refused(&accepted) {
                accepted["reason"] = Value::from("NotAllowedByListeners");
            }
            ok = false;
        }
        let names = matching_hostnames(listener.hostname.as_deref(), hostnames);
        if ok && names.is_none() {
            if still_refused(&accepted) {
                accepted["reason"] = Value::from("NoMatchingListenerHostname");
            }
            ok = false;
        }
        if ok {
            gateway.listeners[li].attached_routes += 1;
        }
        let configured = ok && listener.attached;
        // The ResolvedRefs condition does not depend on the listener: once
        // known, only the listeners that take the route are translated.
        if !configured && resolved.is_some() {
            continue;
        }
        let mut part = HttpConfiguration::default();
        let mut listener_problems = Vec::new();
        let at = Attachment {
            objects,
            options,
            kind,
            gateway: &snapshot,
            listener,
            route,
            hostnames: names.as_deref().unwrap_or(&[]),
        };
        let c = route_on_listener(&at, &mut part, &mut listener_problems);
        if resolved
            .as_ref()
            .is_none_or(|r| text(r, "/status") == "True")
        {
            resolved = Some(c);
        }
        if configured {
            problems.extend(listener_problems);
            http.routers.extend(part.routers);
            http.services.extend(part.services);
            http.middlewares.extend(part.middlewares);
            accepted["reason"] = Value::from("Accepted");
            accepted["status"] = Value::from("True");
        }
    }
    let mut conditions = vec![accepted];
    conditions.extend(resolved);
    conditions
}

/// Every route of `kind`, attached to our Gateways' listeners.
fn routes_of(
    objects: &Objects,
    options: &GatewayOptions,
    kind: RouteKind,
    gateways: &mut [Gateway],
    http: &mut HttpConfiguration,
    out: &mut Translation,
) {
    let list = match kind {
        RouteKind::Http => &objects.http_routes,
        RouteKind::Grpc => &objects.grpc_routes,
    };
    for route in list {
        let namespace = text(route, "/metadata/namespace");
        let hostnames = texts(route, "/spec/hostnames");
        let mut parents = Vec::new();
        let mut problems = Vec::new();
        for parent_ref in route
            .pointer("/spec/parentRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let group = parent_ref
                .get("group")
                .and_then(Value::as_str)
                .unwrap_or(GROUP);
            let parent_kind = parent_ref
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("Gateway");
            if group != GROUP || parent_kind != "Gateway" {
                continue;
            }
            let parent_ns = Some(text(parent_ref, "/namespace"))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| namespace.clone());
            let parent_name = text(parent_ref, "/name");
            let Some(gateway) = gateways
                .iter_mut()
                .find(|g| g.namespace == parent_ns && g.name == parent_name)
            else {
                continue;
            };
            let place = RouteOnGateway {
                objects,
                options,
                kind,
                route,
                hostnames: &hostnames,
            };
            let conditions = on_gateway(&place, gateway, parent_ref, http, &mut problems);
            parents.push(json!({
                "parentRef": parent_ref,
                "controllerName": CONTROLLER_NAME,
                "conditions": conditions,
            }));
        }
        if parents.is_empty() {
            continue;
        }
        problems.dedup();
        for p in problems {
            out.errors.push(object_error(route, kind.name(), p));
        }
        // The parents other controllers wrote stay.
        let mut all: Vec<Value> = route
            .pointer("/status/parents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|p| text(p, "/controllerName") != CONTROLLER_NAME)
            .cloned()
            .collect();
        all.extend(parents);
        out.statuses.push(StatusUpdate {
            resource: match kind {
                RouteKind::Http => "httproutes",
                RouteKind::Grpc => "grpcroutes",
            },
            namespace,
            name: text(route, "/metadata/name"),
            status: json!({ "parents": all }),
        });
    }
}

/// HTTPRoutes then GRPCRoutes.
pub(crate) fn all(
    objects: &Objects,
    options: &GatewayOptions,
    gateways: &mut [Gateway],
    http: &mut HttpConfiguration,
    out: &mut Translation,
) {
    routes_of(objects, options, RouteKind::Http, gateways, http, out);
    routes_of(objects, options, RouteKind::Grpc, gateways, http, out);
}
