//! HTTPRoutes and GRPCRoutes: attached to the listeners their parentRefs
//! name, each rule match becomes a router named, ruled and prioritised as
//! Traefik does, with middlewares from the filters and a weighted service
//! over the backends.

use std::sync::Arc;

use serde_json::{json, Value};
use switchyard_config::dynamic::{HttpConfiguration, Router, Service};
use switchyard_config::tls::RouterTls;

use super::attach::{self, OnListener};
use super::backends;
use super::filters::{filters, node};
use super::rules::{grpc_match_rule, http_match_rule, router_name};
use super::{condition, generation, text, Gateway, GatewayOptions, Listener, Objects, Translation};
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
            let service = match filters(
                options,
                &namespace,
                &router_name,
                rule.get("filters"),
                path_match,
                kind == RouteKind::Grpc,
                http,
            ) {
                Err(e) => {
                    // As Traefik: the router stays and answers 500 (a
                    // GRPCRoute's gRPC `Unavailable`); the condition is not
                    // changed.
                    problems.push(format!(
                        "rule {ri}: {e}: router {router_name} answers {}",
                        match kind {
                            RouteKind::Http => "500",
                            RouteKind::Grpc => "gRPC status Unavailable",
                        }
                    ));
                    invalid_filter_service(kind, &router_name, http)
                }
                Ok(names) => {
                    router.middlewares = names;
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
                    service
                }
            };
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

/// `<router>-err-wrr`, the service of a router whose filters cannot be
/// loaded: one child answering for `invalid-<kind>-filter`.
fn invalid_filter_service(
    kind: RouteKind,
    router: &str,
    http: &mut HttpConfiguration,
) -> Option<String> {
    let name = format!("{router}-err-wrr");
    let child = backends::invalid(
        kind,
        &format!("invalid-{}-filter", kind.name().to_lowercase()),
        1,
    );
    let weighted = node(json!({ "services": [child] })).ok()?;
    http.services.insert(
        name.clone(),
        Arc::new(Service {
            weighted: Some(Box::new(weighted)),
            ..Service::default()
        }),
    );
    Some(name)
}

/// HTTPRoutes or GRPCRoutes on a listener: their routers, services and
/// middlewares join `http`.
struct HttpRoutes<'a> {
    objects: &'a Objects,
    options: &'a GatewayOptions,
    kind: RouteKind,
    http: &'a mut HttpConfiguration,
}

impl OnListener for HttpRoutes<'_> {
    type Part = HttpConfiguration;

    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    fn resource(&self) -> &'static str {
        match self.kind {
            RouteKind::Http => "httproutes",
            RouteKind::Grpc => "grpcroutes",
        }
    }

    fn translate(
        &self,
        route: &Value,
        gateway: &Gateway,
        listener: &Listener,
        hostnames: &[String],
    ) -> (HttpConfiguration, Vec<String>, Value) {
        let at = Attachment {
            objects: self.objects,
            options: self.options,
            kind: self.kind,
            gateway,
            listener,
            route,
            hostnames,
        };
        let mut part = HttpConfiguration::default();
        let mut problems = Vec::new();
        let resolved = route_on_listener(&at, &mut part, &mut problems);
        (part, problems, resolved)
    }

    fn join(&mut self, part: HttpConfiguration) {
        self.http.routers.extend(part.routers);
        self.http.services.extend(part.services);
        self.http.middlewares.extend(part.middlewares);
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
    for (kind, list) in [
        (RouteKind::Http, &objects.http_routes),
        (RouteKind::Grpc, &objects.grpc_routes),
    ] {
        let mut t = HttpRoutes {
            objects,
            options,
            kind,
            http: &mut *http,
        };
        attach::routes(&mut t, list, gateways, out);
    }
}
