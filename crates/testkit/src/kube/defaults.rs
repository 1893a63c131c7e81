//! What the API server fills in before it stores an object: the built-in
//! kinds' defaulting (Service ports, Secret `stringData`, the namespace
//! label) and the OpenAPI defaults of the CRDs Traefik reads (the Gateway
//! API's `+kubebuilder:default` markers: parent and backend reference
//! group and kind, a rule's match `PathPrefix /`, weights of 1, a
//! listener's routes from the `Same` namespace). Clients rely on them:
//! Traefik drops an HTTPRoute rule without matches.

use serde_json::{json, Value};

fn name_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/name").and_then(Value::as_str)
}

/// The elements of the array field `key` (none when absent).
fn items<'a>(object: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    object
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Sets `key` when the object lacks it.
fn default(object: &mut Value, key: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        map.entry(key.to_string()).or_insert(value);
    }
}

fn backend_ref(r: &mut Value, kind: &str) {
    default(r, "group", json!(""));
    default(r, "kind", json!(kind));
}

fn route(kind: &str, object: &mut Value) {
    let Some(spec) = object.get_mut("spec") else {
        return;
    };
    for parent in items(spec, "parentRefs") {
        default(parent, "group", json!("gateway.networking.k8s.io"));
        default(parent, "kind", json!("Gateway"));
    }
    let prefix = json!({"path": {"type": "PathPrefix", "value": "/"}});
    if kind == "HTTPRoute" {
        default(spec, "rules", json!([{"matches": [prefix.clone()]}]));
    }
    for rule in items(spec, "rules") {
        if kind == "HTTPRoute" {
            default(rule, "matches", json!([prefix.clone()]));
        }
        for m in items(rule, "matches") {
            if let Some(path) = m.get_mut("path") {
                default(path, "type", json!("PathPrefix"));
                default(path, "value", json!("/"));
            }
            if let Some(method) = m.get_mut("method") {
                default(method, "type", json!("Exact"));
            }
            for list in ["headers", "queryParams"] {
                for h in items(m, list) {
                    default(h, "type", json!("Exact"));
                }
            }
        }
        for b in items(rule, "backendRefs") {
            backend_ref(b, "Service");
            default(b, "weight", json!(1));
        }
        for f in items(rule, "filters") {
            if let Some(mirror) = f.pointer_mut("/requestMirror/backendRef") {
                backend_ref(mirror, "Service");
            }
        }
    }
}

fn gateway(object: &mut Value) {
    let Some(spec) = object.get_mut("spec") else {
        return;
    };
    for listener in items(spec, "listeners") {
        default(
            listener,
            "allowedRoutes",
            json!({"namespaces": {"from": "Same"}}),
        );
        if let Some(allowed) = listener.get_mut("allowedRoutes") {
            default(allowed, "namespaces", json!({"from": "Same"}));
            if let Some(namespaces) = allowed.get_mut("namespaces") {
                default(namespaces, "from", json!("Same"));
            }
        }
        if let Some(tls) = listener.get_mut("tls").filter(|t| t.is_object()) {
            default(tls, "mode", json!("Terminate"));
            for c in items(tls, "certificateRefs") {
                backend_ref(c, "Secret");
            }
        }
    }
}

/// Fills in what the API server defaults, for the kinds Traefik reads.
pub fn apply(kind: &str, object: &mut Value) {
    match kind {
        "Service" => {
            let spec = &mut object["spec"];
            if spec.get("type").is_none() {
                spec["type"] = json!("ClusterIP");
            }
            if spec.get("sessionAffinity").is_none() {
                spec["sessionAffinity"] = json!("None");
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    if port.get("protocol").is_none() {
                        port["protocol"] = json!("TCP");
                    }
                    if port.get("targetPort").is_none() {
                        port["targetPort"] = port["port"].clone();
                    }
                }
            }
        }
        "EndpointSlice" => {
            if let Some(ports) = object.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports {
                    if port.get("protocol").is_none() {
                        port["protocol"] = json!("TCP");
                    }
                }
            }
        }
        "Secret" => {
            if object.get("type").is_none() {
                object["type"] = json!("Opaque");
            }
            // `stringData` is write-only: it lands base64-encoded in `data`.
            if let Some(Value::Object(strings)) =
                object.as_object_mut().and_then(|o| o.remove("stringData"))
            {
                for (k, v) in strings {
                    let text = v.as_str().unwrap_or_default().as_bytes().to_vec();
                    object["data"][k] = json!(crate::kv_servers::base64_bytes(&text));
                }
            }
        }
        "Namespace" => {
            let name = name_of(object).unwrap_or_default().to_string();
            object["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
            if object.get("status").is_none() {
                object["status"] = json!({"phase": "Active"});
            }
        }
        "HTTPRoute" | "GRPCRoute" | "TLSRoute" | "TCPRoute" | "UDPRoute" => route(kind, object),
        "Gateway" => gateway(object),
        "IngressRoute" => {
            if let Some(spec) = object.get_mut("spec") {
                for r in items(spec, "routes") {
                    if let Some(o) = r.get_mut("observability").filter(|o| o.is_object()) {
                        default(o, "traceVerbosity", json!("minimal"));
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn gateway_api_defaults() {
        let mut route = json!({"spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {"backendRefs": [{"name": "svc", "port": 80}]},
                {"matches": [{"path": {"value": "/x"}, "headers": [{"name": "h", "value": "v"}]}]},
            ],
        }});
        super::apply("HTTPRoute", &mut route);
        assert_eq!(
            route["spec"]["parentRefs"][0],
            json!({"name": "gw", "group": "gateway.networking.k8s.io", "kind": "Gateway"})
        );
        assert_eq!(
            route["spec"]["rules"][0]["matches"],
            json!([{"path": {"type": "PathPrefix", "value": "/"}}])
        );
        assert_eq!(
            route["spec"]["rules"][0]["backendRefs"][0],
            json!({"name": "svc", "port": 80, "group": "", "kind": "Service", "weight": 1})
        );
        assert_eq!(
            route["spec"]["rules"][1]["matches"][0]["path"]["type"],
            "PathPrefix"
        );
        assert_eq!(
            route["spec"]["rules"][1]["matches"][0]["headers"][0]["type"],
            "Exact"
        );
        assert!(
            route["spec"]["rules"][1].get("backendRefs").is_none(),
            "no field invented"
        );

        let mut bare = json!({"spec": {"parentRefs": [{"name": "gw"}]}});
        super::apply("HTTPRoute", &mut bare);
        assert_eq!(
            bare["spec"]["rules"],
            json!([{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}]}])
        );

        let mut gateway = json!({"spec": {"listeners": [{"name": "web", "port": 80}, {"name": "s", "allowedRoutes": {"namespaces": {}}, "tls": {"certificateRefs": [{"name": "c"}]}}]}});
        super::apply("Gateway", &mut gateway);
        assert_eq!(
            gateway["spec"]["listeners"][0]["allowedRoutes"],
            json!({"namespaces": {"from": "Same"}})
        );
        assert_eq!(
            gateway["spec"]["listeners"][1]["allowedRoutes"],
            json!({"namespaces": {"from": "Same"}})
        );
        assert_eq!(
            gateway["spec"]["listeners"][1]["tls"],
            json!({"mode": "Terminate", "certificateRefs": [{"name": "c", "group": "", "kind": "Secret"}]})
        );
    }

    #[test]
    fn built_in_defaults() {
        let mut service = json!({"spec": {"ports": [{"port": 80}, {"port": 81, "targetPort": "http", "protocol": "UDP"}]}});
        super::apply("Service", &mut service);
        assert_eq!(service["spec"]["type"], "ClusterIP");
        assert_eq!(
            service["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(
            service["spec"]["ports"][1],
            json!({"port": 81, "protocol": "UDP", "targetPort": "http"})
        );
        let mut secret = json!({"metadata": {"name": "s"}, "stringData": {"tls.crt": "abc"}});
        super::apply("Secret", &mut secret);
        assert_eq!(
            secret,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"tls.crt": "YWJj"}})
        );
    }
}
