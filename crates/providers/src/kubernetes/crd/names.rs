//! How the CRD provider names what it configures, and how it resolves the
//! references between its objects.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{text, CrdOptions, PROVIDER_NAME};

/// Runs of characters other than letters and digits become one `-`, and
/// none is left at either end (`default/web:80` is `default-web-80`).
pub fn normalize(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `<namespace>-<name>`, or `name` alone without a namespace.
pub fn make_id(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}-{name}")
    }
}

/// The router (and own service) name of an IngressRoute's route:
/// `<namespace>-<name>-<first 10 bytes of the SHA-256 of the match, hex>`.
pub fn router_key(namespace: &str, ingress_name: &str, rule: &str) -> String {
    let digest = Sha256::digest(rule.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    normalize(&make_id(namespace, &format!("{ingress_name}-{hex}")))
}

fn cross_provider_allowed(options: &CrdOptions, namespace: &str) -> bool {
    options
        .cross_provider_namespaces
        .as_ref()
        .is_none_or(|l| l.iter().any(|n| n == namespace))
}

/// The name a reference to a Middleware or TLSOption resolves to: another
/// provider's (`name@file`) as written, else `<namespace>-<name>`
/// normalized, the namespace the reference's or the referrer's.
pub(crate) fn resolve_reference(
    parent_namespace: &str,
    namespace: &str,
    name: &str,
    options: &CrdOptions,
) -> Result<String, String> {
    if name.contains('@') {
        if !options.allow_cross_namespace && name.ends_with(&format!("@{PROVIDER_NAME}")) {
            return Err(
                "when allowCrossNamespace is disabled, @kubernetescrd references are disallowed"
                    .into(),
            );
        }
        if !cross_provider_allowed(options, parent_namespace) {
            return Err(format!(
                "namespace {parent_namespace:?} is not in crossProviderNamespaces"
            ));
        }
        return Ok(name.to_string());
    }
    let ns = if namespace.is_empty() {
        parent_namespace
    } else {
        namespace
    };
    if !options.allow_cross_namespace && ns != parent_namespace {
        return Err("allowCrossNamespace is disabled, cross-namespace are disallowed".into());
    }
    Ok(normalize(&format!("{ns}-{name}")))
}

/// The middleware names of a list of `{name, namespace}` references.
pub(crate) fn middleware_refs(
    refs: Option<&Value>,
    parent_namespace: &str,
    options: &CrdOptions,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for m in refs.and_then(Value::as_array).into_iter().flatten() {
        let name = text(m, "/name");
        let resolved = resolve_reference(parent_namespace, &text(m, "/namespace"), &name, options)
            .map_err(|e| format!("invalid reference to middleware {name}: {e}"))?;
        out.push(resolved);
    }
    Ok(out)
}

/// A service port as the CRDs write it: a number or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Port {
    Number(i64),
    Name(String),
}

impl Port {
    pub(crate) fn of(v: Option<&Value>) -> Port {
        match v {
            Some(Value::Number(n)) => Port::Number(n.as_i64().unwrap_or(0)),
            Some(Value::String(s)) => Port::Name(s.clone()),
            _ => Port::Number(0),
        }
    }

    pub(crate) fn is_set(&self) -> bool {
        match self {
            Port::Number(n) => *n != 0,
            Port::Name(s) => !s.is_empty(),
        }
    }
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Number(n) => write!(f, "{n}"),
            Port::Name(s) => f.write_str(s),
        }
    }
}

/// The name of a referenced service: `<ns>-<name>-<port>` for a
/// Kubernetes Service, `<ns>-<name>` for a TraefikService, `name@provider`
/// for another provider's.
pub(crate) fn full_service_name(namespace: &str, name: &str, port: &Port) -> String {
    if port.is_set() {
        return normalize(&format!("{namespace}-{name}-{port}"));
    }
    let Some((svc, provider)) = name.rsplit_once('@') else {
        return normalize(&format!("{namespace}-{name}"));
    };
    if provider == PROVIDER_NAME {
        return normalize(&format!("{namespace}-{svc}"));
    }
    format!("{}@{provider}", normalize(svc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_collapses_and_trims() {
        for (input, want) in [
            ("default-web-80", "default-web-80"),
            ("default/web:80", "default-web-80"),
            ("-a..b-", "a-b"),
            ("ns-my_app", "ns-my-app"),
            ("", ""),
        ] {
            assert_eq!(normalize(input), want, "{input}");
        }
    }

    #[test]
    fn router_keys_as_traefik_names_them() {
        // Names read from Traefik 3.7 on the kube double.
        for (ns, name, rule, want) in [
            (
                "default",
                "app",
                "Host(`crd.test`)",
                "default-app-a3924233c91f26292e34",
            ),
            (
                "default",
                "app",
                "Host(`crd.test`) && PathPrefix(`/strip`)",
                "default-app-38849c696549faaa092f",
            ),
            (
                "default",
                "weighted",
                "Host(`weighted.test`)",
                "default-weighted-d224c0616138fdd2c9fe",
            ),
        ] {
            assert_eq!(router_key(ns, name, rule), want);
        }
    }

    #[test]
    fn references() {
        let strict = CrdOptions::default();
        let open = CrdOptions {
            allow_cross_namespace: true,
            ..CrdOptions::default()
        };
        let limited = CrdOptions {
            cross_provider_namespaces: Some(vec!["ops".into()]),
            ..CrdOptions::default()
        };
        for (opts, parent, ns, name, want) in [
            (&strict, "default", "", "tag", Ok("default-tag")),
            (&strict, "default", "default", "tag", Ok("default-tag")),
            (&strict, "default", "other", "tag", Err("cross-namespace")),
            (&open, "default", "other", "tag", Ok("other-tag")),
            (&strict, "default", "", "auth@file", Ok("auth@file")),
            (
                &strict,
                "default",
                "",
                "other-tag@kubernetescrd",
                Err("@kubernetescrd"),
            ),
            (
                &open,
                "default",
                "",
                "other-tag@kubernetescrd",
                Ok("other-tag@kubernetescrd"),
            ),
            (
                &limited,
                "default",
                "",
                "auth@file",
                Err("crossProviderNamespaces"),
            ),
            (&limited, "ops", "", "auth@file", Ok("auth@file")),
            (&strict, "default", "", "my.mw", Ok("default-my-mw")),
        ] {
            let got = resolve_reference(parent, ns, name, opts);
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w),
                (Err(g), Err(w)) => assert!(g.contains(w), "{g}"),
                (g, w) => panic!("{parent} {ns} {name}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn service_names() {
        for (ns, name, port, want) in [
            ("default", "web", Port::Number(80), "default-web-80"),
            (
                "default",
                "web",
                Port::Name("http".into()),
                "default-web-http",
            ),
            ("default", "split", Port::Number(0), "default-split"),
            (
                "default",
                "split@kubernetescrd",
                Port::Number(0),
                "default-split",
            ),
            ("default", "api@file", Port::Number(0), "api@file"),
            (
                "",
                "my.svc@docker",
                Port::Name(String::new()),
                "my-svc@docker",
            ),
        ] {
            assert_eq!(full_service_name(ns, name, &port), want);
        }
    }
}
