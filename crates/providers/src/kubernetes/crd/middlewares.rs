//! Middleware objects to middleware configuration: the spec as written,
//! but for what Traefik reads from elsewhere (Secrets for `basicAuth`,
//! `digestAuth`, `forwardAuth.tls`, `rateLimit.redis` and plugin values;
//! references for `chain` and `errors`).

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use switchyard_config::dynamic::{HttpConfiguration, Middleware};
use switchyard_config::Node;

use super::names::{make_id, middleware_refs, normalize};
use super::services::Builder;
use super::{report, text, CrdOptions, Index, ObjectError};

/// The decoded `data` of the Secret `namespace/name`.
pub(crate) fn secret_data(
    objects: &Index<'_>,
    namespace: &str,
    name: &str,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let Some(secret) = objects.secret(namespace, name) else {
        return Err(format!("secret '{namespace}/{name}' not found"));
    };
    let mut out = BTreeMap::new();
    for (k, v) in secret
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let encoded = v.as_str().unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("secret '{namespace}/{name}' key {k}: {e}"))?;
        out.insert(k.clone(), bytes);
    }
    Ok(out)
}

fn string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The non-empty lines of a Secret's only entry (`users` of basicAuth and
/// digestAuth).
fn credentials(objects: &Index<'_>, namespace: &str, name: &str) -> Result<Vec<String>, String> {
    let data = secret_data(objects, namespace, name)?;
    if data.len() != 1 {
        return Err(format!(
            "found {} elements for secret '{namespace}/{name}', must be single element exactly",
            data.len()
        ));
    }
    let lines: Vec<String> = data
        .values()
        .flat_map(|v| string(v).lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return Err(format!(
            "secret '{namespace}/{name}' does not contain any credentials"
        ));
    }
    Ok(lines)
}

/// A CA from a Secret: `tls.ca`, else `ca.crt`, else its only entry.
pub(crate) fn ca_secret(
    objects: &Index<'_>,
    namespace: &str,
    name: &str,
) -> Result<String, String> {
    let data = secret_data(objects, namespace, name)?;
    if let Some(v) = data.get("tls.ca").or_else(|| data.get("ca.crt")) {
        return Ok(string(v));
    }
    if data.len() == 1 {
        if let Some(v) = data.values().next() {
            return Ok(string(v));
        }
    }
    Err(format!(
        "secret '{namespace}/{name}' has no CA block: secret {namespace}/{name} contains neither tls.ca nor ca.crt"
    ))
}

/// `tls.crt` and `tls.key` of a Secret, both present and non-empty.
pub(crate) fn cert_and_key(
    objects: &Index<'_>,
    namespace: &str,
    name: &str,
) -> Result<(String, String), String> {
    let data = secret_data(objects, namespace, name)?;
    let missing: Vec<&str> = ["tls.crt", "tls.key"]
        .into_iter()
        .filter(|k| !data.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "secret {namespace}/{name} is missing the following TLS data entries: {}",
            missing.join(", ")
        ));
    }
    let cert = data.get("tls.crt").map(|v| string(v)).unwrap_or_default();
    let key = data.get("tls.key").map(|v| string(v)).unwrap_or_default();
    let empty: Vec<&str> = [("tls.crt", &cert), ("tls.key", &key)]
        .into_iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k)
        .collect();
    if !empty.is_empty() {
        return Err(format!(
            "secret {namespace}/{name} contains the following empty TLS data entries: {}",
            empty.join(", ")
        ));
    }
    Ok((cert, key))
}

fn basic_auth(objects: &Index<'_>, namespace: &str, spec: &Value) -> Result<Value, String> {
    let secret_name = text(spec, "/secret");
    if secret_name.is_empty() {
        return Err("auth secret must be set".into());
    }
    let secret = objects
        .secret(namespace, &secret_name)
        .ok_or_else(|| format!("secret '{namespace}/{secret_name}' not found"))?;
    let users = if text(secret, "/type") == "kubernetes.io/basic-auth" {
        let data = secret_data(objects, namespace, &secret_name)?;
        let (Some(user), Some(password)) = (data.get("username"), data.get("password")) else {
            return Err(format!(
                "failed to load basic auth credentials: secret '{namespace}/{secret_name}' must contain both username and password keys"
            ));
        };
        let sum = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(password));
        vec![format!("{}:{{SHA}}{sum}", string(user))]
    } else {
        credentials(objects, namespace, &secret_name)
            .map_err(|e| format!("failed to load basic auth credentials: {e}"))?
    };
    let mut out = copy_except(spec, &["secret"]);
    out.insert("users".into(), json!(users));
    Ok(Value::Object(out))
}

fn digest_auth(objects: &Index<'_>, namespace: &str, spec: &Value) -> Result<Value, String> {
    let secret_name = text(spec, "/secret");
    if secret_name.is_empty() {
        return Err("auth secret must be set".into());
    }
    let users = credentials(objects, namespace, &secret_name)
        .map_err(|e| format!("failed to load digest auth credentials: {e}"))?;
    let mut out = copy_except(spec, &["secret"]);
    out.insert("users".into(), json!(users));
    Ok(Value::Object(out))
}

/// A `tls` client section with `caSecret` and `certSecret` read.
fn client_tls(objects: &Index<'_>, namespace: &str, tls: &Value) -> Result<Value, String> {
    let mut out = copy_except(tls, &["caSecret", "certSecret"]);
    let ca = text(tls, "/caSecret");
    if !ca.is_empty() {
        let pem = ca_secret(objects, namespace, &ca)
            .map_err(|e| format!("failed to load auth ca secret: {e}"))?;
        out.insert("ca".into(), Value::String(pem));
    }
    let cert = text(tls, "/certSecret");
    if !cert.is_empty() {
        let (c, k) = cert_and_key(objects, namespace, &cert)
            .map_err(|e| format!("failed to load auth secret: {e}"))?;
        out.insert("cert".into(), Value::String(c));
        out.insert("key".into(), Value::String(k));
    }
    Ok(Value::Object(out))
}

fn forward_auth(objects: &Index<'_>, namespace: &str, spec: &Value) -> Result<Value, String> {
    if text(spec, "/address").is_empty() {
        return Err("forward authentication requires an address".into());
    }
    let mut out = copy_except(spec, &["tls"]);
    if let Some(tls) = spec.get("tls").filter(|t| !t.is_null()) {
        out.insert("tls".into(), client_tls(objects, namespace, tls)?);
    }
    Ok(Value::Object(out))
}

fn rate_limit(objects: &Index<'_>, namespace: &str, spec: &Value) -> Result<Value, String> {
    let mut out = copy_except(spec, &["redis"]);
    if let Some(redis) = spec.get("redis").filter(|r| !r.is_null()) {
        let mut r = copy_except(redis, &["secret", "tls"]);
        if let Some(tls) = redis.get("tls").filter(|t| !t.is_null()) {
            r.insert("tls".into(), client_tls(objects, namespace, tls)?);
        }
        let secret = text(redis, "/secret");
        if !secret.is_empty() {
            let data = secret_data(objects, namespace, &secret)?;
            let (Some(user), Some(password)) = (data.get("username"), data.get("password")) else {
                return Err(format!(
                    "secret '{namespace}/{secret}' must contain both username and password keys"
                ));
            };
            r.insert("username".into(), Value::String(string(user)));
            r.insert("password".into(), Value::String(string(password)));
        }
        out.insert("redis".into(), Value::Object(r));
    }
    Ok(Value::Object(out))
}

/// Plugin values `urn:k8s:secret:<name>:<key>` replaced by the Secret's.
pub(super) fn plugin_secrets(
    objects: &Index<'_>,
    namespace: &str,
    v: &mut Value,
) -> Result<(), String> {
    match v {
        Value::String(s) if s.starts_with("urn:k8s:secret:") => {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() != 5 {
                return Err(format!("malformed secret URN {s:?}"));
            }
            let (name, key) = (parts[3], parts[4]);
            let data = secret_data(objects, namespace, name)
                .map_err(|_| format!("secret {namespace}/{name} is not found"))?;
            let value = data
                .get(key)
                .ok_or_else(|| format!("key {key:?} not found in secret {namespace}/{name}"))?;
            *v = Value::String(string(value));
        }
        Value::Array(l) => {
            for item in l {
                plugin_secrets(objects, namespace, item)?;
            }
        }
        Value::Object(m) => {
            for item in m.values_mut() {
                plugin_secrets(objects, namespace, item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn copy_except(spec: &Value, skip: &[&str]) -> Map<String, Value> {
    spec.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// One Middleware object's configuration, and the error page service it
/// brings.
fn middleware(
    objects: &Index<'_>,
    options: &CrdOptions,
    builder: &Builder<'_>,
    id: &str,
    object: &Value,
    http: &mut HttpConfiguration,
) -> Result<Middleware, String> {
    let namespace = text(object, "/metadata/namespace");
    let mut out = BTreeMap::new();
    let mut error_service = None;
    let spec = object.get("spec").and_then(Value::as_object);
    for (kind, spec) in spec.into_iter().flatten() {
        if spec.is_null() {
            continue;
        }
        let value = match kind.as_str() {
            "basicAuth" => basic_auth(objects, &namespace, spec)
                .map_err(|e| format!("error while reading basic auth middleware: {e}"))?,
            "digestAuth" => digest_auth(objects, &namespace, spec)
                .map_err(|e| format!("error while reading digest auth middleware: {e}"))?,
            "forwardAuth" => forward_auth(objects, &namespace, spec)
                .map_err(|e| format!("error while reading forward auth middleware: {e}"))?,
            "rateLimit" => rate_limit(objects, &namespace, spec)
                .map_err(|e| format!("error while reading rateLimit middleware: {e}"))?,
            "chain" => {
                let refs = middleware_refs(spec.get("middlewares"), &namespace, options)
                    .map_err(|e| format!("error while reading chain middleware: {e}"))?;
                json!({ "middlewares": refs })
            }
            "errors" => {
                let service = spec.get("service").cloned().unwrap_or(Value::Null);
                let (name, lb) = builder
                    .name_and_service(&namespace, &service)
                    .map_err(|e| format!("error while reading error page middleware: {e}"))?;
                let mut page = copy_except(spec, &["service"]);
                let name = match lb {
                    Some(s) => {
                        let service_name = format!("{id}-errorpage-service");
                        error_service = Some((service_name.clone(), s));
                        service_name
                    }
                    None => name,
                };
                page.insert("service".into(), Value::String(name));
                Value::Object(page)
            }
            "plugin" => {
                let mut p = spec.clone();
                plugin_secrets(objects, &namespace, &mut p)
                    .map_err(|e| format!("error while reading plugins middleware: {e}"))?;
                p
            }
            _ => spec.clone(),
        };
        let node: Node = serde_json::from_value(value).map_err(|e| format!("{kind}: {e}"))?;
        out.insert(kind.clone(), node);
    }
    if let Some((name, s)) = error_service {
        http.services.insert(name, Arc::new(s));
    }
    Ok(Middleware(out, Default::default()))
}

/// The middleware checked against Traefik's keys as a file's would be:
/// those Switchyard does not act on recorded on it, unknown ones refused.
fn checked(id: &str, m: Middleware) -> Result<std::sync::Arc<Middleware>, String> {
    let tree: Node = serde_json::from_value(json!({"http": {"middlewares": {id: m.to_json()}}}))
        .map_err(|e| e.to_string())?;
    let decoded = switchyard_config::dynamic_schema::decode(&tree).map_err(|e| e.to_string())?;
    decoded
        .http
        .and_then(|mut h| h.middlewares.remove(id))
        .ok_or_else(|| "middleware lost in decoding".to_string())
}

/// One Middleware object into `http` (its error into `errors`).
pub(crate) fn one(
    objects: &Index<'_>,
    options: &CrdOptions,
    builder: &Builder<'_>,
    object: &Value,
    http: &mut HttpConfiguration,
    errors: &mut Vec<ObjectError>,
) {
    let id = normalize(&make_id(
        &text(object, "/metadata/namespace"),
        &text(object, "/metadata/name"),
    ));
    match middleware(objects, options, builder, &id, object, http).and_then(|m| checked(&id, m)) {
        Ok(m) => {
            http.middlewares.insert(id, m);
        }
        Err(e) => report(errors, "Middleware", object).error(e),
    }
}
