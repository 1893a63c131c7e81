//! An Ingress backend (a Service by name and port) to a load balancer, as
//! Traefik's Ingress provider builds it: the Service's `service.*`
//! annotations, ExternalName per `allowExternalNameServices`, `nativeLB`,
//! `nodePortLB`, else one server per serving endpoint address of the
//! Service's EndpointSlices.

use serde_json::Value;
use switchyard_config::dynamic::{LoadBalancerService, Server, Service};

use super::annotations::{self, ServiceAnnotations};
use super::{text, Index, IngressOptions};
use crate::kubernetes::endpoints::serving_endpoints;

/// A backend's port: `{number: 80}` or `{name: web}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPort {
    pub number: i64,
    pub name: String,
}

impl BackendPort {
    pub fn of(backend_service: &Value) -> BackendPort {
        BackendPort {
            number: backend_service
                .pointer("/port/number")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            name: text(backend_service, "/port/name"),
        }
    }
}

impl std::fmt::Display for BackendPort {
    /// The name when there is one, else the number (Traefik's `portString`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.is_empty() {
            write!(f, "{}", self.number)
        } else {
            f.write_str(&self.name)
        }
    }
}

/// `https` for port 443 or a port name starting with `https`, else `http`,
/// unless the annotations name a scheme.
fn protocol(port: i64, port_name: &str, config: Option<&ServiceAnnotations>) -> String {
    if let Some(c) = config.filter(|c| !c.servers_scheme.is_empty()) {
        return c.servers_scheme.clone();
    }
    if port == 443 || port_name.starts_with("https") {
        "https".into()
    } else {
        "http".into()
    }
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn server(url: String) -> Server {
    Server {
        url,
        ..Server::default()
    }
}

/// The load balancer of `backend_service` (an Ingress backend's `service`)
/// in `namespace`. Empty when the Service has no serving endpoint (the
/// caller decides per `allowEmptyServices`).
pub fn load(
    objects: &Index<'_>,
    options: &IngressOptions,
    namespace: &str,
    backend_service: &Value,
) -> Result<Service, String> {
    let name = text(backend_service, "/name");
    let Some(service) = objects.service(namespace, &name) else {
        return Err("service not found".into());
    };
    let kind = text(service, "/spec/type");
    if !options.allow_external_name_services && kind == "ExternalName" {
        return Err(format!(
            "externalName services not allowed: {namespace}/{name}"
        ));
    }
    let wanted = BackendPort::of(backend_service);
    let port = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| {
            let number = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let pname = text(p, "/name");
            wanted.number == number || (wanted.name == pname && !pname.is_empty())
        })
        .ok_or("service port not found")?;
    let port_number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
    let port_name = text(port, "/name");

    let config = annotations::service(service)?;
    let mut lb = LoadBalancerService::default();
    let mut out = Service::default();
    let mut native = options.native_lb_by_default;
    if let Some(c) = &config {
        lb.sticky = c.sticky.clone().map(Box::new);
        out.middlewares = c.middlewares.clone();
        if let Some(p) = c.pass_host_header {
            lb.pass_host_header = Some(p);
        }
        if !c.servers_transport.is_empty() {
            if let Some(allowed) = &options.cross_provider_namespaces {
                if !allowed.iter().any(|n| n == namespace) {
                    return Err(format!(
                        "cross-provider serversTransport reference is not allowed from namespace {namespace:?}"
                    ));
                }
            }
            lb.servers_transport = Some(c.servers_transport.clone());
        }
        if let Some(n) = c.native_lb {
            native = n;
        }
        if c.node_port_lb && kind == "NodePort" {
            if options.disable_cluster_scope_resources {
                return Err("nodes lookup is disabled".into());
            }
            if objects.nodes.is_empty() {
                return Err(format!("nodes not found in namespace {namespace}"));
            }
            let scheme = protocol(port_number, &port_name, Some(c));
            let node_port = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            for n in &objects.nodes {
                for a in n
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if text(a, "/type") == "InternalIP" {
                        lb.servers.push(server(format!(
                            "{scheme}://{}",
                            join_host_port(&text(a, "/address"), node_port)
                        )));
                    }
                }
            }
            if lb.servers.is_empty() {
                return Err(format!(
                    "no servers were generated for service {name} in namespace"
                ));
            }
            out.load_balancer = Some(lb);
            return Ok(out);
        }
    }
    let scheme = protocol(port_number, &port_name, config.as_ref());

    if kind == "ExternalName" {
        let host = text(service, "/spec/externalName");
        lb.servers = vec![server(format!(
            "{scheme}://{}",
            join_host_port(&host, port_number)
        ))];
        out.load_balancer = Some(lb);
        return Ok(out);
    }

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
        lb.servers = vec![server(format!(
            "{scheme}://{}",
            join_host_port(&ip, port_number)
        ))];
        out.load_balancer = Some(lb);
        return Ok(out);
    }

    let found = serving_endpoints(objects.slices_of(namespace, &name), &port_name);
    for (address, target) in found.addresses {
        lb.servers.push(server(format!(
            "{scheme}://{}",
            join_host_port(address, target)
        )));
    }
    out.load_balancer = Some(lb);
    Ok(out)
}
