//! An Ingress's rules and default backend to routers and services:
//! `Host("<host>") && <matcher>("<path>")`, the matcher of the path type
//! (`Exact`: `Path`, `Prefix`: `PathPrefix`, `ImplementationSpecific` or
//! none: the `router.pathmatcher` annotation, else `PathPrefix`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_config::dynamic::{HttpConfiguration, Router, Service};
use switchyard_config::Node;

use super::annotations::RouterAnnotations;
use super::services::{self, BackendPort};
use super::{
    error, insert_router, normalize, router_key, text, Index, IngressOptions, ObjectError,
};

/// The default backend's router and service names (one in the whole
/// configuration: Traefik keeps the first).
pub const DEFAULT_ROUTER: &str = "default-router";
pub const DEFAULT_SERVICE: &str = "default-backend";

/// `s` quoted as Go's `%q` quotes it.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rule of a path: `matcher("path")`, or with `strictPrefixMatching` a
/// `PathPrefix` matching whole path elements.
pub fn path_rule(strict: bool, matcher: &str, path: &str) -> String {
    if strict && matcher == "PathPrefix" {
        if path == "/" {
            return "PathPrefix(\"/\")".into();
        }
        let trimmed = path.strip_suffix('/').unwrap_or(path);
        return format!(
            "(Path({}) || PathPrefix({}))",
            go_quote(trimmed),
            go_quote(&format!("{trimmed}/"))
        );
    }
    format!("{matcher}({})", go_quote(path))
}

/// The v2 syntax's host rule: a `*.` wildcard as a `HostRegexp`.
fn host_rule_v2(host: &str) -> String {
    match host.strip_prefix("*.") {
        Some(rest) => format!(
            "HostRegexp({})",
            go_quote(&format!("{{subdomain:[a-zA-Z0-9-]+}}.{rest}"))
        ),
        None => format!("Host({})", go_quote(host)),
    }
}

/// `<key>-<first 10 bytes of the SHA-256 of the rule, hex>`.
fn key_with_hash(key: &str, rule: &str) -> String {
    let digest = Sha256::digest(rule.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{key}-{hex}")
}

fn observability(config: Option<&RouterAnnotations>) -> Option<Box<Node>> {
    let o = config?.observability.as_ref()?;
    serde_json::from_value(Value::Object(o.clone()))
        .ok()
        .map(Box::new)
}

/// The service of a backend, or why there is none.
fn backend_service(
    objects: &Index<'_>,
    options: &IngressOptions,
    namespace: &str,
    backend: &Value,
) -> Result<Service, String> {
    let service = backend.get("service").filter(|s| !s.is_null());
    let Some(service) = service else {
        return Err("missing service definition".into());
    };
    let name = text(service, "/name");
    let port = BackendPort::of(service);
    let built = services::load(objects, options, namespace, service)
        .map_err(|e| format!("cannot create service {name} port {port}: {e}"))?;
    let empty = built
        .load_balancer
        .as_ref()
        .is_none_or(|lb| lb.servers.is_empty());
    if empty && !options.allow_empty_services {
        return Err(format!(
            "skipping service {name} port {port}: no endpoints found"
        ));
    }
    Ok(built)
}

/// The default backend of an Ingress without rules.
pub fn default_backend(
    objects: &Index<'_>,
    options: &IngressOptions,
    ingress: &Value,
    backend: &Value,
    config: Option<&RouterAnnotations>,
    http: &mut HttpConfiguration,
    errors: &mut Vec<ObjectError>,
) {
    if http.services.contains_key(DEFAULT_SERVICE) {
        error(errors, ingress, "the default backend already exists");
        return;
    }
    if backend.get("resource").is_some_and(|r| !r.is_null()) {
        error(
            errors,
            ingress,
            "resource is not supported for default backend",
        );
        return;
    }
    if backend.get("service").is_none_or(Value::is_null) {
        error(
            errors,
            ingress,
            "default backend is missing service definition",
        );
        return;
    }
    let namespace = text(ingress, "/metadata/namespace");
    let service = match backend_service(objects, options, &namespace, backend) {
        Ok(s) => s,
        Err(e) => {
            error(errors, ingress, format!("default backend: {e}"));
            return;
        }
    };
    let mut router = Router {
        rule: "PathPrefix(\"/\")".into(),
        rule_syntax: Some("default".into()),
        priority: Some(i64::from(i32::MIN)),
        service: DEFAULT_SERVICE.into(),
        observability: observability(config),
        ..Router::default()
    };
    if let Some(c) = config {
        router.entry_points = c.entry_points.clone();
        router.middlewares = c.middlewares.clone();
        router.tls = c.tls.clone().map(Box::new);
    }
    insert_router(http, DEFAULT_ROUTER.into(), router);
    http.services
        .insert(DEFAULT_SERVICE.into(), Arc::new(service));
}

/// The router of one path, or why there is none.
fn path_router(
    options: &IngressOptions,
    host: &str,
    path: &Value,
    config: Option<&RouterAnnotations>,
    service: String,
) -> Result<Router, String> {
    let mut router = Router {
        service,
        observability: observability(config),
        ..Router::default()
    };
    let mut syntax = String::new();
    if let Some(c) = config {
        syntax = c.rule_syntax.clone();
        router.rule_syntax = Some(c.rule_syntax.clone()).filter(|s| !s.is_empty());
        router.priority = Some(c.priority).filter(|p| *p != 0);
        router.entry_points = c.entry_points.clone();
        router.middlewares = c.middlewares.clone();
        router.tls = c.tls.clone().map(Box::new);
    }
    let mut rules = Vec::new();
    if !host.is_empty() {
        rules.push(if syntax == "v2" {
            host_rule_v2(host)
        } else {
            format!("Host({})", go_quote(host))
        });
    }
    let p = text(path, "/path");
    if !p.is_empty() {
        let matcher = match text(path, "/pathType").as_str() {
            "Exact" => "Path".to_string(),
            "" | "ImplementationSpecific" => match config.and_then(|c| c.path_matcher.as_deref()) {
                None | Some("") => "PathPrefix".to_string(),
                Some(m @ ("Path" | "PathPrefix" | "PathRegexp")) => m.to_string(),
                Some(other) => {
                    return Err(format!(
                        "invalid router path matcher {other:?}: must be one of Path, PathPrefix, PathRegexp"
                    ))
                }
            },
            _ => "PathPrefix".to_string(),
        };
        rules.push(path_rule(options.strict_prefix_matching, &matcher, &p));
    }
    router.rule = rules.join(" && ");
    Ok(router)
}

/// The routers and services of an Ingress's rules.
pub fn paths(
    objects: &Index<'_>,
    options: &IngressOptions,
    ingress: &Value,
    config: Option<&RouterAnnotations>,
    http: &mut HttpConfiguration,
    errors: &mut Vec<ObjectError>,
) {
    let namespace = text(ingress, "/metadata/namespace");
    let name = text(ingress, "/metadata/name");
    // Routers by key: paths of one Ingress that give the same key are
    // told apart by their rule's hash.
    let mut routers: BTreeMap<String, Vec<Router>> = BTreeMap::new();
    for rule in ingress
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(paths) = rule.pointer("/http/paths").and_then(Value::as_array) else {
            continue;
        };
        let host = text(rule, "/host");
        for path in paths {
            let backend = path.get("backend").cloned().unwrap_or(Value::Null);
            if backend.get("resource").is_some_and(|r| !r.is_null()) {
                error(errors, ingress, "resource backends are not supported");
                continue;
            }
            let Some(svc) = backend.get("service").filter(|s| !s.is_null()) else {
                error(errors, ingress, "missing service definition");
                continue;
            };
            let service_name = normalize(&format!(
                "{namespace}-{}-{}",
                text(svc, "/name"),
                BackendPort::of(svc)
            ));
            if !http.services.contains_key(&service_name) {
                match backend_service(objects, options, &namespace, &backend) {
                    Ok(s) => {
                        http.services.insert(service_name.clone(), Arc::new(s));
                    }
                    Err(e) => {
                        error(errors, ingress, e);
                        continue;
                    }
                }
            }
            match path_router(options, &host, path, config, service_name) {
                Ok(r) => routers
                    .entry(router_key(&namespace, &name, &host, &text(path, "/path")))
                    .or_default()
                    .push(r),
                Err(e) => error(
                    errors,
                    ingress,
                    format!("skipping path {:?}: {e}", text(path, "/path")),
                ),
            }
        }
    }
    for (key, list) in routers {
        if list.len() == 1 {
            if let Some(r) = list.into_iter().next() {
                insert_router(http, key, r);
            }
            continue;
        }
        for r in list {
            insert_router(http, key_with_hash(&key, &r.rule), r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_path_rules() {
        let cases = [
            (false, "PathPrefix", "/", "PathPrefix(\"/\")"),
            (false, "Path", "/a\"b", "Path(\"/a\\\"b\")"),
            (
                false,
                "PathRegexp",
                "^/v[0-9]+",
                "PathRegexp(\"^/v[0-9]+\")",
            ),
            (true, "PathPrefix", "/", "PathPrefix(\"/\")"),
            (
                true,
                "PathPrefix",
                "/v1",
                "(Path(\"/v1\") || PathPrefix(\"/v1/\"))",
            ),
            (
                true,
                "PathPrefix",
                "/v1/",
                "(Path(\"/v1\") || PathPrefix(\"/v1/\"))",
            ),
            (true, "Path", "/v1/", "Path(\"/v1/\")"),
        ];
        for (strict, matcher, path, want) in cases {
            assert_eq!(
                path_rule(strict, matcher, path),
                want,
                "{strict} {matcher} {path}"
            );
        }
        assert_eq!(go_quote("a\tb\u{1}"), "\"a\\tb\\x01\"");
        assert_eq!(
            host_rule_v2("*.example.org"),
            "HostRegexp(\"{subdomain:[a-zA-Z0-9-]+}.example.org\")"
        );
        assert_eq!(host_rule_v2("example.org"), "Host(\"example.org\")");
    }
}
