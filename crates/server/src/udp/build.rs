//! From the merged `udp` section to what the UDP entrypoints serve, as
//! Traefik builds it (`pkg/server/router/udp`, `pkg/server/service/udp`):
//!
//! - a router without `entryPoints` takes every UDP entrypoint; one naming
//!   an entrypoint that is not a UDP one gets a warning, and is disabled
//!   when none of its entrypoints is;
//! - a router without a service, or whose service does not build, is
//!   disabled;
//! - an entrypoint with several routers warns, and is served by the first
//!   one that builds in reverse name order (Traefik sorts the names
//!   descending and keeps the first handler);
//! - a service with both `loadBalancer` and `weighted`, or neither, is
//!   disabled; a server whose address is not `host:port` is left out; the
//!   members are shuffled once per build (as Traefik, so that restarts do
//!   not all start on the first server).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;
use switchyard_config::udp::{UdpConfiguration, UdpService};

use super::balancer::{Backend, Balancer, Member};
use super::UdpRuntime;
use crate::merge::{provider_of, qualify};
use crate::runtime::{ElementInfo, Elements};

/// Builds the UDP runtime of `config` for the UDP entrypoints `entrypoints`.
pub fn build(config: &UdpConfiguration, entrypoints: &[String]) -> UdpRuntime {
    let mut routers: BTreeMap<String, ElementInfo> = BTreeMap::new();
    let mut services: BTreeMap<String, ElementInfo> = config
        .services
        .iter()
        .map(|(name, s)| {
            let mut info = ElementInfo::new(name, &service_json(s));
            info.kind = Some(kind_of(s).to_string());
            (name.clone(), info)
        })
        .collect();
    let mut built: HashMap<String, Result<Arc<Balancer>, String>> = HashMap::new();

    // Routers by entrypoint, each entrypoint's names in descending order.
    let mut by_entrypoint: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, router) in &config.routers {
        let mut info = ElementInfo::new(name, &serde_json::json!(router));
        let wanted: Vec<&str> = if router.entry_points.is_empty() {
            entrypoints.iter().map(String::as_str).collect()
        } else {
            router.entry_points.iter().map(String::as_str).collect()
        };
        for ep in wanted {
            if entrypoints.iter().any(|e| e == ep) {
                info.links.push(ep.to_string());
                by_entrypoint.entry(ep).or_default().push(name);
            } else {
                info.warn(format!("entryPoint {ep:?} doesn't exist"));
            }
        }
        if info.links.is_empty() {
            info.fail("no valid entryPoint for this router");
        }
        routers.insert(name.clone(), info);
    }

    let mut handlers = HashMap::new();
    for (ep, names) in &mut by_entrypoint {
        names.sort_unstable_by(|a, b| b.cmp(a));
        if names.len() > 1 {
            tracing::warn!(entrypoint = %ep, "Config has more than one udp router for a given entrypoint.");
        }
        for name in names.iter() {
            let router = &config.routers[*name];
            let Some(info) = routers.get_mut(*name) else {
                continue;
            };
            if router.service.is_empty() {
                info.fail("the service is missing on the udp router");
                continue;
            }
            let service = qualify(&router.service, provider_of(name));
            let result = service_of(&service, config, &mut built, &mut services, &mut Vec::new());
            match result {
                Ok(balancer) => {
                    handlers.entry(ep.to_string()).or_insert(balancer);
                }
                Err(e) => {
                    tracing::error!(router = %name, "{e}");
                    info.fail(e);
                }
            }
        }
    }

    // As Traefik, a service is used by every router naming it, whatever
    // became of the router.
    for (name, router) in &config.routers {
        let service = qualify(&router.service, provider_of(name));
        if let Some(s) = services.get_mut(&service) {
            s.links.push(name.clone());
        }
    }
    for s in services.values_mut() {
        s.links.sort();
        s.links.dedup();
    }
    UdpRuntime {
        entrypoints: handlers,
        routers: shared(routers),
        services: shared(services),
    }
}

fn shared(map: BTreeMap<String, ElementInfo>) -> Elements {
    map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

/// The service `name` built (once per build: routers sharing it share its
/// turn), or the error that keeps it out; `path` holds the services being
/// built above it, to refuse a cycle.
fn service_of(
    name: &str,
    config: &UdpConfiguration,
    built: &mut HashMap<String, Result<Arc<Balancer>, String>>,
    infos: &mut BTreeMap<String, ElementInfo>,
    path: &mut Vec<String>,
) -> Result<Arc<Balancer>, String> {
    if let Some(done) = built.get(name) {
        return done.clone();
    }
    let Some(service) = config.services.get(name) else {
        return Err(format!("the UDP service {name:?} does not exist"));
    };
    if path.iter().any(|p| p == name) {
        return Err(format!("the UDP service {name:?} refers to itself"));
    }
    path.push(name.to_string());
    let result = match (&service.load_balancer, &service.weighted) {
        (Some(_), Some(_)) => Err("cannot create service: multi-types service not supported, consider declaring two different pieces of service instead".to_string()),
        (None, None) => Err(format!("the UDP service {name:?} does not have any type defined")),
        (Some(lb), None) => {
            let mut members = Vec::with_capacity(lb.servers.len());
            for (index, server) in lb.servers.iter().enumerate() {
                if has_port(&server.address) {
                    let address = Arc::from(server.address.as_str());
                    members.push((Member::Server(Backend { address }), 1));
                } else {
                    tracing::error!(service = %name, index, address = %server.address, "Failed to split host port: the server is left out");
                }
            }
            fastrand::shuffle(&mut members);
            Ok(Arc::new(Balancer::new(members)))
        }
        (None, Some(w)) => {
            let mut members = Vec::with_capacity(w.services.len());
            let mut failed = None;
            for child in &w.services {
                let child_name = qualify(&child.name, provider_of(name));
                match service_of(&child_name, config, built, infos, path) {
                    Ok(b) => members.push((Member::Service(b), child.weight)),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                Some(e) => Err(e),
                None => {
                    fastrand::shuffle(&mut members);
                    Ok(Arc::new(Balancer::new(members)))
                }
            }
        }
    };
    path.pop();
    if let (Err(e), Some(info)) = (&result, infos.get_mut(name)) {
        // Its own errors take it out; a child's error is the child's.
        let own = matches!(
            (&service.load_balancer, &service.weighted),
            (Some(_), Some(_)) | (None, None)
        ) || e.contains("refers to itself");
        if own && !info.errors.contains(e) {
            info.fail(e.clone());
        }
    }
    built.insert(name.to_string(), result.clone());
    result
}

/// Whether `address` reads as `host:port` (Go's `SplitHostPort`: one
/// colon, or a bracketed IPv6 host before it).
fn has_port(address: &str) -> bool {
    match address.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .and_then(|(_, after)| after.strip_prefix(':'))
            .is_some_and(|port| !port.contains(':')),
        None => address.matches(':').count() == 1,
    }
}

fn kind_of(s: &UdpService) -> &'static str {
    match (&s.load_balancer, &s.weighted) {
        (Some(_), _) => "loadbalancer",
        (None, Some(_)) => "weighted",
        (None, None) => "",
    }
}

/// A service as Traefik's API shows it (`loadBalancer`, `weighted`, the
/// weight of each weighted member written out).
fn service_json(s: &UdpService) -> Value {
    serde_json::to_value(s).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests;
