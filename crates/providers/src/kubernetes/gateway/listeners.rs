//! A Gateway's listeners, checked as Traefik checks them: each mapped to
//! the entry point of its port, with the route kinds and namespaces it
//! takes, and for HTTPS the certificates of the Secrets it names; or the
//! conditions saying why it is not valid.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchyard_config::tls::CertificateEntry;

use super::{
    backends, condition, generation, text, texts, GatewayOptions, Listener, Objects, GROUP,
};

/// Whether `selector` (a `LabelSelector`) selects an object with `labels`.
pub(crate) fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let by_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    by_labels
        && selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|e| {
                let key = text(e, "/key");
                let values = texts(e, "/values");
                let have = label(&key);
                match text(e, "/operator").as_str() {
                    "In" => have.is_some_and(|h| values.iter().any(|v| v == h)),
                    "NotIn" => have.is_none_or(|h| !values.iter().any(|v| v == h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
}

/// The entry point a listener's port maps to: one whose address ends with
/// `:<port>` (an HTTP listener skips those with `http.tls`).
pub(crate) fn entry_point_for(
    options: &GatewayOptions,
    port: i64,
    protocol: &str,
) -> Result<String, String> {
    let suffix = format!(":{port}");
    options
        .entry_points
        .iter()
        .find(|ep| ep.address.ends_with(&suffix) && !(protocol == "HTTP" && ep.http_tls))
        .map(|ep| ep.name.clone())
        .ok_or_else(|| format!("no matching entryPoint for port {port} and protocol {protocol:?}"))
}

/// The route kinds a protocol takes, or why it takes none.
fn supported_kinds(protocol: &str, experimental: bool) -> Result<Vec<&'static str>, Value> {
    match protocol {
        "HTTP" | "HTTPS" => Ok(vec!["HTTPRoute", "GRPCRoute"]),
        "TLS" => Ok(vec!["TLSRoute"]),
        "TCP" if experimental => Ok(vec!["TCPRoute"]),
        "TCP" => Err(condition(
            "Conflicted",
            true,
            0,
            "ProtocolConflict",
            &format!("Protocol {protocol:?} requires the experimental channel support to be enabled, please use the `experimentalChannel` option"),
        )),
        _ => Err(condition(
            "Conflicted",
            true,
            0,
            "UnsupportedProtocol",
            &format!("Unsupported listener protocol {protocol:?}"),
        )),
    }
}

fn kind_entry(kind: &str) -> Value {
    json!({"group": GROUP, "kind": kind})
}

/// The certificate of a `kubernetes.io/tls`-shaped Secret.
fn secret_certificate(
    objects: &Objects,
    namespace: &str,
    name: &str,
) -> Result<CertificateEntry, String> {
    use base64::Engine;
    let Some(secret) = objects.secret(namespace, name) else {
        return Err(format!("getting secret: secret {name:?} not found"));
    };
    let decode = |key: &str| -> Result<Option<String>, String> {
        match secret.pointer(&format!("/data/{}", key.replace('/', "~1"))) {
            None => Ok(None),
            Some(v) => base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap_or_default())
                .map(|b| Some(String::from_utf8_lossy(&b).into_owned()))
                .map_err(|e| format!("secret {namespace}/{name} {key}: {e}")),
        }
    };
    let (cert, key) = (decode("tls.crt")?, decode("tls.key")?);
    let missing: Vec<&str> = [("tls.crt", &cert), ("tls.key", &key)]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "getting certificate blocks: secret {namespace}/{name} is missing the following TLS data entries: {}",
            missing.join(", ")
        ));
    }
    let (cert, key) = (cert.unwrap_or_default(), key.unwrap_or_default());
    let empty: Vec<&str> = [("tls.crt", &cert), ("tls.key", &key)]
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| *k)
        .collect();
    if !empty.is_empty() {
        return Err(format!(
            "getting certificate blocks: secret {namespace}/{name} contains the following empty TLS data entries: {}",
            empty.join(", ")
        ));
    }
    Ok(CertificateEntry {
        cert_file: cert,
        key_file: key,
        stores: Vec::new(),
    })
}

/// A Gateway's listeners, checked as Traefik checks them; the
/// certificates of the valid HTTPS ones into `certificates`.
pub(crate) fn check(
    objects: &Objects,
    options: &GatewayOptions,
    gateway: &Value,
    certificates: &mut BTreeMap<String, CertificateEntry>,
) -> Vec<Listener> {
    let namespace = text(gateway, "/metadata/namespace");
    let generation = generation(gateway);
    let cond = |kind: &str, ok: bool, reason: &str, message: &str| {
        condition(kind, ok, generation, reason, message)
    };
    let mut allocated = Vec::new();
    let mut out = Vec::new();
    let specs = gateway
        .pointer("/spec/listeners")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for spec in &specs {
        let mut l = Listener {
            name: text(spec, "/name"),
            port: spec.get("port").and_then(Value::as_i64).unwrap_or(0),
            protocol: text(spec, "/protocol"),
            hostname: Some(text(spec, "/hostname")).filter(|h| !h.is_empty()),
            entry_point: String::new(),
            allowed_namespaces: Vec::new(),
            allowed_kinds: Vec::new(),
            attached: false,
            conditions: Vec::new(),
            supported_kinds: Vec::new(),
            attached_routes: 0,
            tls_passthrough: spec
                .get("tls")
                .filter(|t| !t.is_null())
                .map(|t| text(t, "/mode") == "Passthrough"),
        };
        let checked = check_listener(
            objects,
            options,
            &namespace,
            spec,
            &mut l,
            &mut allocated,
            certificates,
            &cond,
        );
        if let Err(conditions) = checked {
            l.conditions.extend(conditions);
        } else {
            l.attached = true;
        }
        out.push(l);
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn check_listener(
    objects: &Objects,
    options: &GatewayOptions,
    namespace: &str,
    spec: &Value,
    l: &mut Listener,
    allocated: &mut Vec<String>,
    certificates: &mut BTreeMap<String, CertificateEntry>,
    cond: &dyn Fn(&str, bool, &str, &str) -> Value,
) -> Result<(), Vec<Value>> {
    l.entry_point = entry_point_for(options, l.port, &l.protocol).map_err(|e| {
        vec![cond(
            "Accepted",
            false,
            "PortUnavailable",
            &format!("Cannot find entryPoint for Gateway: {e}"),
        )]
    })?;
    let from = spec
        .pointer("/allowedRoutes/namespaces/from")
        .and_then(Value::as_str);
    l.allowed_namespaces = match from {
        None | Some("Same") => vec![namespace.to_string()],
        Some("All") => vec![String::new()],
        Some("Selector") => {
            let selector = spec
                .pointer("/allowedRoutes/namespaces/selector")
                .cloned()
                .unwrap_or(Value::Null);
            objects
                .namespaces
                .iter()
                .filter(|n| {
                    selects(
                        &selector,
                        n.pointer("/metadata/labels").unwrap_or(&Value::Null),
                    )
                })
                .map(|n| text(n, "/metadata/name"))
                .collect()
        }
        Some(other) => {
            return Err(vec![cond(
                "ResolvedRefs",
                false,
                "InvalidRouteNamespacesSelector",
                &format!(
                    "Invalid route namespaces selector: unsupported RouteSelectType: {other:?}"
                ),
            )])
        }
    };
    let supported =
        supported_kinds(&l.protocol, options.experimental_channel).map_err(|c| vec![c])?;
    let asked = spec
        .pointer("/allowedRoutes/kinds")
        .and_then(Value::as_array)
        .filter(|k| !k.is_empty());
    match asked {
        None => {
            l.allowed_kinds = supported.iter().map(|k| k.to_string()).collect();
            l.supported_kinds = supported.iter().map(|k| kind_entry(k)).collect();
        }
        Some(kinds) => {
            let mut problems = Vec::new();
            for k in kinds {
                let kind = text(k, "/kind");
                let group = k.get("group").and_then(Value::as_str);
                if !(supported.contains(&kind.as_str()) && group == Some(GROUP)) {
                    problems.push(cond(
                        "ResolvedRefs",
                        false,
                        "InvalidRouteKinds",
                        &format!(
                            "Listener protocol {:?} does not support RouteGroupKind {}/{kind}",
                            l.protocol,
                            group.unwrap_or("<nil>")
                        ),
                    ));
                } else if !l.allowed_kinds.contains(&kind) {
                    l.allowed_kinds.push(kind.clone());
                    l.supported_kinds.push(k.clone());
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
        }
    }
    let key = format!(
        "{}|{}|{}",
        l.protocol,
        l.hostname.as_deref().unwrap_or(""),
        l.port
    );
    if allocated.contains(&key) {
        return Err(vec![cond(
            "Conflicted",
            true,
            "DuplicateListener",
            "A listener with same protocol, port and hostname already exists",
        )]);
    }
    allocated.push(key);
    listener_tls(objects, namespace, spec, l, certificates, cond)
}

/// The TLS part of a listener: none for HTTP and TCP, certificates from
/// Secrets (where a ReferenceGrant allows another namespace's) for HTTPS
/// and terminated TLS, into `certificates` when every one loads.
fn listener_tls(
    objects: &Objects,
    namespace: &str,
    spec: &Value,
    l: &Listener,
    certificates: &mut BTreeMap<String, CertificateEntry>,
    cond: &dyn Fn(&str, bool, &str, &str) -> Value,
) -> Result<(), Vec<Value>> {
    let tls = spec.get("tls").filter(|t| !t.is_null());
    if (l.protocol == "HTTP" || l.protocol == "TCP") && tls.is_some() {
        return Err(vec![cond(
            "Accepted",
            false,
            "InvalidTLSConfiguration",
            "TLS configuration must no be defined when using HTTP or TCP protocol",
        )]);
    }
    if l.protocol != "HTTPS" && l.protocol != "TLS" {
        return Ok(());
    }
    let Some(tls) = tls else {
        return Err(vec![cond(
            "Accepted",
            false,
            "InvalidTLSConfiguration",
            &format!(
                "No TLS configuration for Gateway Listener {}:{} and protocol {:?}",
                l.name, l.port, l.protocol
            ),
        )]);
    };
    let passthrough = text(tls, "/mode") == "Passthrough";
    if passthrough && l.protocol == "HTTPS" {
        return Err(vec![cond(
            "Accepted",
            false,
            "UnsupportedProtocol",
            "HTTPS protocol is not supported with TLS mode Passthrough",
        )]);
    }
    if passthrough {
        return Ok(());
    }
    let refs = tls
        .get("certificateRefs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if refs.is_empty() {
        return Err(vec![cond(
            "ResolvedRefs",
            false,
            "InvalidCertificateRef",
            "One TLS CertificateRef is required in Terminate mode",
        )]);
    }
    let mut problems = Vec::new();
    let mut found = BTreeMap::new();
    for r in &refs {
        let kind = r.get("kind").and_then(Value::as_str);
        let group = r.get("group").and_then(Value::as_str);
        if kind != Some("Secret") || !matches!(group, Some("" | "core")) {
            problems.push(cond(
                "ResolvedRefs",
                false,
                "InvalidCertificateRef",
                &format!(
                    "Unsupported TLS CertificateRef group/kind: {}/{}",
                    group.unwrap_or("<nil>"),
                    kind.unwrap_or("<nil>")
                ),
            ));
            continue;
        }
        let name = text(r, "/name");
        let cert_namespace = Some(text(r, "/namespace"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| namespace.to_string());
        if let Err(e) = backends::reference_granted(
            objects,
            "Gateway",
            namespace,
            "core",
            "Secret",
            &name,
            &cert_namespace,
        ) {
            problems.push(cond(
                "ResolvedRefs",
                false,
                "RefNotPermitted",
                &format!("Cannot reference CertificateRef {cert_namespace}/{name}: {e}"),
            ));
            continue;
        }
        let key = format!("{cert_namespace}/{name}");
        if found.contains_key(&key) {
            continue;
        }
        match secret_certificate(objects, &cert_namespace, &name) {
            Ok(c) => {
                found.insert(key, c);
            }
            Err(e) => problems.push(cond(
                "ResolvedRefs",
                false,
                "InvalidCertificateRef",
                &format!("Cannot load CertificateRef {cert_namespace}/{name}: {e}"),
            )),
        }
    }
    if !problems.is_empty() {
        problems.push(cond(
            "Programmed",
            false,
            "Invalid",
            "Invalid CertificateRefs",
        ));
        return Err(problems);
    }
    for (k, c) in found {
        certificates.entry(k).or_insert(c);
    }
    Ok(())
}
