//! The `traefik.ingress.kubernetes.io/` annotations: `router.*` on an
//! Ingress, `service.*` on a Service, read as Traefik reads them (the
//! prefix's `ingress.kubernetes.io/` dropped, a `.<n>.` index written
//! `[<n>]`, names compared without case). A key under `router.` or
//! `service.` that Traefik does not know, or a value of the wrong type,
//! fails the whole object, as Traefik's label decoder does.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchyard_config::dynamic::{Cookie, Sticky};
use switchyard_config::tls::{Domain, RouterTls};

const PREFIX: &str = "traefik.ingress.kubernetes.io/";

/// The router settings of an Ingress's annotations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouterAnnotations {
    /// `Path`, `PathPrefix` or `PathRegexp` (checked where used), for
    /// paths of type `ImplementationSpecific` or none.
    pub path_matcher: Option<String>,
    pub entry_points: Vec<String>,
    pub middlewares: Vec<String>,
    pub priority: i64,
    pub rule_syntax: String,
    pub tls: Option<RouterTls>,
    /// `accessLogs`, `metrics`, `tracing`, `traceVerbosity` as written.
    pub observability: Option<Map<String, Value>>,
}

/// The service settings of a Service's annotations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceAnnotations {
    pub servers_scheme: String,
    pub servers_transport: String,
    pub pass_host_header: Option<bool>,
    pub middlewares: Vec<String>,
    pub sticky: Option<Sticky>,
    pub native_lb: Option<bool>,
    pub node_port_lb: bool,
}

/// The annotations under `traefik.ingress.kubernetes.io/<section>.`, by
/// their lower-cased rest (`tls.domains[0].main`).
fn section(object: &Value, section: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(all) = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
    else {
        return out;
    };
    let head = format!("{section}.");
    for (key, value) in all {
        let Some(rest) = key.strip_prefix(PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let Some(rest) = rest.strip_prefix(&head) else {
            continue;
        };
        out.insert(
            indexed(rest),
            value.as_str().unwrap_or_default().to_string(),
        );
    }
    out
}

/// `a.b.3.c` as `a.b[3].c` (the first numeric segment between two others).
fn indexed(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    for i in 1..parts.len().saturating_sub(1) {
        if !parts[i].is_empty() && parts[i].bytes().all(|b| b.is_ascii_digit()) {
            let head = parts[..i].join(".");
            let tail = parts[i + 1..].join(".");
            return format!("{head}[{}].{tail}", parts[i]);
        }
    }
    key.to_string()
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn boolean(key: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "t" => Ok(true),
        "false" | "0" | "f" => Ok(false),
        _ => Err(format!("{key}: invalid boolean {value:?}")),
    }
}

fn integer(key: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{key}: invalid integer {value:?}"))
}

/// `domains[<n>].<field>`: the domain at `n`, made as needed.
fn domain<'a>(
    domains: &'a mut BTreeMap<usize, Domain>,
    key: &str,
) -> Option<(&'a mut Domain, String)> {
    let rest = key.strip_prefix("domains[")?;
    let (n, field) = rest.split_once("].")?;
    let n: usize = n.parse().ok()?;
    Some((domains.entry(n).or_default(), field.to_string()))
}

/// The `router.*` annotations of an Ingress; `None` when it has none.
pub fn router(ingress: &Value) -> Result<Option<RouterAnnotations>, String> {
    let keys = section(ingress, "router");
    if keys.is_empty() {
        return Ok(None);
    }
    let mut r = RouterAnnotations::default();
    let mut tls: Option<RouterTls> = None;
    let mut domains: BTreeMap<usize, Domain> = BTreeMap::new();
    let mut observability: Option<Map<String, Value>> = None;
    for (key, value) in &keys {
        let full = format!("router.{key}");
        match key.as_str() {
            "pathmatcher" => r.path_matcher = Some(value.clone()),
            "entrypoints" => r.entry_points = list(value),
            "middlewares" => r.middlewares = list(value),
            "priority" => r.priority = integer(&full, value)?,
            "rulesyntax" => r.rule_syntax = value.clone(),
            "tls" => {
                if boolean(&full, value)? {
                    tls.get_or_insert_with(RouterTls::default);
                }
            }
            "tls.certresolver" => {
                tls.get_or_insert_with(RouterTls::default).cert_resolver = value.clone();
            }
            "tls.options" => tls.get_or_insert_with(RouterTls::default).options = value.clone(),
            "observability" => {
                if boolean(&full, value)? {
                    observability.get_or_insert_with(Map::new);
                }
            }
            other => {
                if let Some(field) = other.strip_prefix("tls.") {
                    tls.get_or_insert_with(RouterTls::default);
                    let Some((d, name)) = domain(&mut domains, field) else {
                        return Err(format!("{full}: unknown annotation"));
                    };
                    match name.as_str() {
                        "main" => d.main = value.clone(),
                        "sans" => d.sans = list(value),
                        _ => return Err(format!("{full}: unknown annotation")),
                    }
                } else if let Some(field) = other.strip_prefix("observability.") {
                    let o = observability.get_or_insert_with(Map::new);
                    let (name, v) = match field {
                        "accesslogs" => ("accessLogs", Value::Bool(boolean(&full, value)?)),
                        "metrics" => ("metrics", Value::Bool(boolean(&full, value)?)),
                        "tracing" => ("tracing", Value::Bool(boolean(&full, value)?)),
                        "traceverbosity" => ("traceVerbosity", Value::String(value.clone())),
                        _ => return Err(format!("{full}: unknown annotation")),
                    };
                    o.insert(name.to_string(), v);
                } else {
                    return Err(format!("{full}: unknown annotation"));
                }
            }
        }
    }
    if let Some(t) = tls.as_mut() {
        t.domains = domains.into_values().collect();
    }
    r.tls = tls;
    r.observability = observability;
    Ok(Some(r))
}

/// The `service.*` annotations of a Service; `None` when it has none.
pub fn service(service: &Value) -> Result<Option<ServiceAnnotations>, String> {
    let keys = section(service, "service");
    if keys.is_empty() {
        return Ok(None);
    }
    let mut s = ServiceAnnotations::default();
    let mut cookie: Option<Cookie> = None;
    for (key, value) in &keys {
        let full = format!("service.{key}");
        match key.as_str() {
            "serversscheme" => s.servers_scheme = value.clone(),
            "serverstransport" => s.servers_transport = value.clone(),
            "passhostheader" => s.pass_host_header = Some(boolean(&full, value)?),
            "middlewares" => s.middlewares = list(value),
            "nativelb" => s.native_lb = Some(boolean(&full, value)?),
            "nodeportlb" => s.node_port_lb = boolean(&full, value)?,
            "sticky" | "sticky.cookie" => {
                if boolean(&full, value)? {
                    cookie.get_or_insert_with(Cookie::default);
                }
            }
            other => {
                let Some(field) = other.strip_prefix("sticky.cookie.") else {
                    return Err(format!("{full}: unknown annotation"));
                };
                let c = cookie.get_or_insert_with(Cookie::default);
                match field {
                    "name" => c.name = value.clone(),
                    "secure" => c.secure = boolean(&full, value)?,
                    "httponly" => c.http_only = boolean(&full, value)?,
                    "samesite" => c.same_site = value.clone(),
                    "maxage" => c.max_age = integer(&full, value)?,
                    "path" => c.path = Some(value.clone()),
                    "domain" => c.domain = value.clone(),
                    _ => return Err(format!("{full}: unknown annotation")),
                }
            }
        }
    }
    s.sticky = cookie.map(|c| Sticky { cookie: Some(c) });
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotated(pairs: &[(&str, &str)]) -> Value {
        let map: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (format!("{PREFIX}{k}"), Value::from(*v)))
            .collect();
        json!({"metadata": {"name": "x", "annotations": map}})
    }

    #[test]
    fn router_annotations() {
        type Want = Result<Option<RouterAnnotations>, &'static str>;
        type Case = (&'static str, Vec<(&'static str, &'static str)>, Want);
        let tls = |f: fn(&mut RouterTls)| {
            let mut t = RouterTls::default();
            f(&mut t);
            Some(t)
        };
        let cases: Vec<Case> = vec![
            ("none", vec![], Ok(None)),
            (
                "lists, priority, matcher, syntax",
                vec![
                    ("router.entrypoints", "web, websecure"),
                    (
                        "router.middlewares",
                        "default-strip@kubernetescrd,auth@file",
                    ),
                    ("router.priority", "42"),
                    ("router.pathmatcher", "Path"),
                    ("router.ruleSyntax", "v2"),
                ],
                Ok(Some(RouterAnnotations {
                    path_matcher: Some("Path".into()),
                    entry_points: vec!["web".into(), "websecure".into()],
                    middlewares: vec!["default-strip@kubernetescrd".into(), "auth@file".into()],
                    priority: 42,
                    rule_syntax: "v2".into(),
                    ..RouterAnnotations::default()
                })),
            ),
            (
                "tls true",
                vec![("router.tls", "true")],
                Ok(Some(RouterAnnotations {
                    tls: tls(|_| {}),
                    ..RouterAnnotations::default()
                })),
            ),
            (
                "tls false",
                vec![("router.tls", "false")],
                Ok(Some(RouterAnnotations::default())),
            ),
            (
                "tls details make tls",
                vec![
                    ("router.tls.certresolver", "le"),
                    ("router.tls.options", "default-opt@kubernetescrd"),
                    ("router.tls.domains.0.main", "example.org"),
                    ("router.tls.domains.0.sans", "a.example.org,b.example.org"),
                    ("router.tls.domains.1.main", "example.com"),
                ],
                Ok(Some(RouterAnnotations {
                    tls: tls(|t| {
                        t.cert_resolver = "le".into();
                        t.options = "default-opt@kubernetescrd".into();
                        t.domains = vec![
                            Domain {
                                main: "example.org".into(),
                                sans: vec!["a.example.org".into(), "b.example.org".into()],
                            },
                            Domain {
                                main: "example.com".into(),
                                sans: vec![],
                            },
                        ];
                    }),
                    ..RouterAnnotations::default()
                })),
            ),
            (
                "observability",
                vec![
                    ("router.observability.accesslogs", "false"),
                    ("router.observability.traceVerbosity", "detailed"),
                ],
                Ok(Some(RouterAnnotations {
                    observability: json!({"accessLogs": false, "traceVerbosity": "detailed"})
                        .as_object()
                        .cloned(),
                    ..RouterAnnotations::default()
                })),
            ),
            (
                "bad priority",
                vec![("router.priority", "high")],
                Err("router.priority: invalid integer \"high\""),
            ),
            (
                "unknown key",
                vec![("router.foo", "x")],
                Err("router.foo: unknown annotation"),
            ),
            (
                "service keys ignored",
                vec![("service.serversscheme", "h2c")],
                Ok(None),
            ),
        ];
        for (name, pairs, want) in cases {
            let got = router(&annotated(&pairs));
            match want {
                Ok(w) => assert_eq!(got, Ok(w), "{name}"),
                Err(e) => assert_eq!(got, Err(e.to_string()), "{name}"),
            }
        }
    }

    #[test]
    fn service_annotations() {
        let got = service(&annotated(&[
            ("service.serversscheme", "h2c"),
            ("service.serverstransport", "tr@file"),
            ("service.passhostheader", "false"),
            ("service.nativelb", "true"),
            ("service.nodeportlb", "true"),
            ("service.sticky.cookie", "true"),
            ("service.sticky.cookie.name", "lb"),
            ("service.sticky.cookie.httponly", "true"),
            ("service.sticky.cookie.maxage", "60"),
        ]))
        .expect("valid");
        let want = ServiceAnnotations {
            servers_scheme: "h2c".into(),
            servers_transport: "tr@file".into(),
            pass_host_header: Some(false),
            middlewares: vec![],
            sticky: Some(Sticky {
                cookie: Some(Cookie {
                    name: "lb".into(),
                    http_only: true,
                    max_age: 60,
                    ..Cookie::default()
                }),
            }),
            native_lb: Some(true),
            node_port_lb: true,
        };
        assert_eq!(got, Some(want));
        assert_eq!(service(&annotated(&[("router.priority", "1")])), Ok(None));
        assert_eq!(
            service(&annotated(&[("service.sticky.cookie.color", "red")])),
            Err("service.sticky.cookie.color: unknown annotation".to_string())
        );
        assert_eq!(
            service(&annotated(&[("service.passhostheader", "maybe")])),
            Err("service.passhostheader: invalid boolean \"maybe\"".to_string())
        );
    }

    #[test]
    fn indexes() {
        for (key, want) in [
            ("tls.domains.0.main", "tls.domains[0].main"),
            ("tls.certresolver", "tls.certresolver"),
            ("priority", "priority"),
        ] {
            assert_eq!(indexed(key), want);
        }
    }
}
