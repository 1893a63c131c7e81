//! The status Traefik writes on the Ingresses it serves, from
//! `ingressEndpoint`: its `ip` and `hostname`, or the published Service's
//! addresses (a LoadBalancer's status, a ClusterIP's external IPs, a
//! NodePort's nodes' external IPs, an ExternalName's name).

use serde_json::{json, Map, Value};
use switchyard_config::static_config::IngressEndpoint;

use super::{text, Index, IngressOptions};

/// `status.loadBalancer.ingress` wanted on every served Ingress; `None`
/// when nothing is to be written (no `ingressEndpoint`, or a LoadBalancer
/// Service without status yet).
pub fn wanted(
    endpoint: Option<&IngressEndpoint>,
    objects: &Index<'_>,
    options: &IngressOptions,
) -> Result<Option<Vec<Value>>, String> {
    let Some(endpoint) = endpoint else {
        return Ok(None);
    };
    if endpoint.published_service.is_empty() {
        if endpoint.ip.is_empty() && endpoint.hostname.is_empty() {
            return Err("publishedService or ip or hostname must be defined".into());
        }
        let mut entry = Map::new();
        if !endpoint.ip.is_empty() {
            entry.insert("ip".into(), Value::from(endpoint.ip.as_str()));
        }
        if !endpoint.hostname.is_empty() {
            entry.insert("hostname".into(), Value::from(endpoint.hostname.as_str()));
        }
        return Ok(Some(vec![Value::Object(entry)]));
    }
    let parts: Vec<&str> = endpoint.published_service.split('/').collect();
    let [namespace, name] = parts.as_slice() else {
        return Err(format!(
            "invalid publishedService format (expected 'namespace/service' format): {}",
            endpoint.published_service
        ));
    };
    let Some(service) = objects.service(namespace, name) else {
        return Err(format!("missing service: {}", endpoint.published_service));
    };
    let ports = |node_port: bool| -> Vec<Value> {
        service
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| {
                let field = if node_port { "nodePort" } else { "port" };
                json!({
                    "port": p.get(field).and_then(Value::as_i64).unwrap_or(0),
                    "protocol": text(p, "/protocol"),
                })
            })
            .collect()
    };
    let kind = text(service, "/spec/type");
    match kind.as_str() {
        "LoadBalancer" => {
            let Some(list) = service
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
            else {
                return Ok(None);
            };
            // As Traefik's conversion: the fields an Ingress status has.
            Ok(Some(
                list.iter()
                    .map(|e| {
                        let mut out = Map::new();
                        for k in ["ip", "hostname", "ports"] {
                            if let Some(v) = e.get(k).filter(|v| !v.is_null()) {
                                out.insert(k.into(), v.clone());
                            }
                        }
                        Value::Object(out)
                    })
                    .collect(),
            ))
        }
        "" | "ClusterIP" => {
            let ports = ports(false);
            Ok(Some(
                crate::kubernetes::ingress::texts(service, "/spec/externalIPs")
                    .into_iter()
                    .map(|ip| json!({"ip": ip, "ports": ports}))
                    .collect(),
            ))
        }
        "NodePort" => {
            if options.disable_cluster_scope_resources {
                return Err("node port service type is not supported when cluster scope resources lookup is disabled".into());
            }
            let ports = ports(true);
            let mut out = Vec::new();
            for n in &objects.nodes {
                for a in n
                    .pointer("/status/addresses")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if text(a, "/type") == "ExternalIP" {
                        out.push(json!({"ip": text(a, "/address"), "ports": ports}));
                    }
                }
            }
            Ok(Some(out))
        }
        "ExternalName" => Ok(Some(vec![
            json!({"hostname": text(service, "/spec/externalName")}),
        ])),
        other => Err(format!("unsupported service type: {other}")),
    }
}

/// Whether the Ingress's status already holds `wanted` (compared as
/// Traefik compares: the same count, the same hostname+ip pairs).
pub fn is_current(ingress: &Value, wanted: &[Value]) -> bool {
    let current = ingress
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if current.len() != wanted.len() {
        return false;
    }
    let id = |e: &Value| format!("{}{}", text(e, "/hostname"), text(e, "/ip"));
    let have: std::collections::HashSet<String> = current.iter().map(id).collect();
    wanted.iter().all(|w| have.contains(&id(w)))
}

/// The Ingress with its status replaced, the body of the status `PUT`.
pub fn with_status(ingress: &Value, wanted: &[Value]) -> Value {
    let mut body = ingress.clone();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "status".into(),
            json!({"loadBalancer": {"ingress": wanted}}),
        );
        map.entry("apiVersion")
            .or_insert_with(|| Value::from("networking.k8s.io/v1"));
        map.entry("kind").or_insert_with(|| Value::from("Ingress"));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubernetes::ingress::Objects;

    fn endpoint(ip: &str, hostname: &str, published: &str) -> IngressEndpoint {
        IngressEndpoint {
            ip: ip.into(),
            hostname: hostname.into(),
            published_service: published.into(),
        }
    }

    #[test]
    fn wanted_status() {
        let list = json!([
            {"kind": "Service", "metadata": {"name": "lb", "namespace": "edge"}, "spec": {"type": "LoadBalancer"},
             "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}},
            {"kind": "Service", "metadata": {"name": "pending", "namespace": "edge"}, "spec": {"type": "LoadBalancer"}},
            {"kind": "Service", "metadata": {"name": "cip", "namespace": "edge"},
             "spec": {"type": "ClusterIP", "externalIPs": ["198.51.100.7"], "ports": [{"port": 80, "protocol": "TCP"}]}},
            {"kind": "Service", "metadata": {"name": "np", "namespace": "edge"},
             "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}},
            {"kind": "Service", "metadata": {"name": "ext", "namespace": "edge"},
             "spec": {"type": "ExternalName", "externalName": "far.example"}},
            {"kind": "Node", "metadata": {"name": "n1"}, "status": {"addresses": [
                {"type": "InternalIP", "address": "10.0.0.1"}, {"type": "ExternalIP", "address": "203.0.113.9"}]}}
        ]);
        let (objects, unknown) = Objects::from_list(list.as_array().cloned().unwrap_or_default());
        assert!(unknown.is_empty());
        let index = Index::new(&objects);
        let options = IngressOptions::default();
        let cases: Vec<(IngressEndpoint, Result<Option<Value>, &str>)> = vec![
            (
                endpoint("10.9.8.7", "", ""),
                Ok(Some(json!([{"ip": "10.9.8.7"}]))),
            ),
            (
                endpoint("10.9.8.7", "edge.example", ""),
                Ok(Some(
                    json!([{"ip": "10.9.8.7", "hostname": "edge.example"}]),
                )),
            ),
            (
                endpoint("", "", ""),
                Err("publishedService or ip or hostname must be defined"),
            ),
            (
                endpoint("", "", "edge/lb"),
                Ok(Some(
                    json!([{"ip": "192.0.2.1"}, {"hostname": "lb.example"}]),
                )),
            ),
            (endpoint("", "", "edge/pending"), Ok(None)),
            (
                endpoint("", "", "edge/cip"),
                Ok(Some(
                    json!([{"ip": "198.51.100.7", "ports": [{"port": 80, "protocol": "TCP"}]}]),
                )),
            ),
            (
                endpoint("", "", "edge/np"),
                Ok(Some(
                    json!([{"ip": "203.0.113.9", "ports": [{"port": 30080, "protocol": "TCP"}]}]),
                )),
            ),
            (
                endpoint("", "", "edge/ext"),
                Ok(Some(json!([{"hostname": "far.example"}]))),
            ),
            (
                endpoint("", "", "edge/none"),
                Err("missing service: edge/none"),
            ),
            (
                endpoint("", "", "lb"),
                Err("invalid publishedService format (expected 'namespace/service' format): lb"),
            ),
        ];
        for (e, want) in cases {
            let got = wanted(Some(&e), &index, &options).map(|o| o.map(Value::Array));
            assert_eq!(got, want.map_err(str::to_string), "{e:?}");
        }
        assert_eq!(wanted(None, &index, &options), Ok(None));
    }

    #[test]
    fn current_and_body() {
        let ingress = json!({"metadata": {"name": "a", "namespace": "n"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}});
        assert!(is_current(&ingress, &[json!({"ip": "1.2.3.4"})]));
        assert!(!is_current(&ingress, &[json!({"ip": "1.2.3.5"})]));
        assert!(!is_current(&ingress, &[]));
        let body = with_status(&ingress, &[json!({"hostname": "h"})]);
        assert_eq!(
            body["status"],
            json!({"loadBalancer": {"ingress": [{"hostname": "h"}]}})
        );
        assert_eq!(body["kind"], "Ingress");
        assert_eq!(body["metadata"]["name"], "a");
    }
}
