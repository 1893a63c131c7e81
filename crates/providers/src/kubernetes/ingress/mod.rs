//! The `kubernetesIngress` provider's translation: `networking.k8s.io/v1`
//! Ingresses (with their IngressClasses), the Services and EndpointSlices
//! they name, the Secrets of their TLS sections and the Nodes of
//! `nodePortLB` services, to a dynamic [`Configuration`] named and valued
//! as Traefik 3.7's Ingress provider names and values it.
//!
//! Pure: no I/O. A path (or a default backend) that cannot be translated
//! is left out and reported in [`Translation::errors`]; an Ingress whose
//! annotations cannot be read is left out whole; the rest is kept, as
//! Traefik logs and skips.
//!
//! Where Switchyard differs, knowingly: a terminating but still serving
//! endpoint (Traefik's "fenced" server) is left out; the router's
//! observability `metadata` (Ingress name, service) is not kept.

pub mod annotations;
mod rules;
pub mod services;
pub mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use switchyard_config::dynamic::{Configuration, HttpConfiguration, Router};
use switchyard_config::tls::{CertificateEntry, TlsConfiguration};

use super::crd::normalize;
pub(crate) use super::crd::{text, texts};
pub use super::crd::{ObjectError, Translation};

/// The provider's name, the suffix of what it configures.
pub const PROVIDER_NAME: &str = "kubernetes";
/// The controller of the IngressClasses Traefik serves.
pub const CONTROLLER: &str = "traefik.io/ingress-controller";
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The provider options that shape the translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngressOptions {
    pub ingress_class: String,
    pub allow_empty_services: bool,
    pub allow_external_name_services: bool,
    pub native_lb_by_default: bool,
    pub strict_prefix_matching: bool,
    /// No IngressClass lookup (`disableIngressClassLookup` or
    /// `disableClusterScopeResources`): `ingressClassName` matches nothing.
    pub disable_ingress_class_lookup: bool,
    pub disable_cluster_scope_resources: bool,
    /// Namespaces whose Ingresses may name other providers' objects;
    /// `None`: all.
    pub cross_provider_namespaces: Option<Vec<String>>,
}

/// The objects the provider watches, each as the API server sent it.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub ingresses: Vec<Value>,
    pub ingress_classes: Vec<Value>,
    pub services: Vec<Value>,
    pub endpoint_slices: Vec<Value>,
    pub secrets: Vec<Value>,
    pub nodes: Vec<Value>,
}

impl Objects {
    /// Sorts a list of objects by `kind`; returns the kinds it does not know.
    pub fn from_list(items: impl IntoIterator<Item = Value>) -> (Objects, Vec<String>) {
        let mut o = Objects::default();
        let mut unknown = Vec::new();
        for item in items {
            let kind = text(&item, "/kind");
            let list = match kind.as_str() {
                "Ingress" => &mut o.ingresses,
                "IngressClass" => &mut o.ingress_classes,
                "Service" => &mut o.services,
                "EndpointSlice" => &mut o.endpoint_slices,
                "Secret" => &mut o.secrets,
                "Node" => &mut o.nodes,
                _ => {
                    unknown.push(kind);
                    continue;
                }
            };
            list.push(item);
        }
        (o, unknown)
    }
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The objects with lookups by namespace and name.
pub struct Index<'a> {
    objects: &'a Objects,
    services: HashMap<String, &'a Value>,
    secrets: HashMap<String, &'a Value>,
    slices: HashMap<String, Vec<&'a Value>>,
}

impl<'a> Index<'a> {
    pub fn new(objects: &'a Objects) -> Index<'a> {
        let by_name = |list: &'a [Value]| {
            let mut out = HashMap::with_capacity(list.len());
            for o in list {
                out.entry(key(
                    &text(o, "/metadata/namespace"),
                    &text(o, "/metadata/name"),
                ))
                .or_insert(o);
            }
            out
        };
        let mut slices: HashMap<String, Vec<&Value>> = HashMap::new();
        for s in &objects.endpoint_slices {
            if let Some(service) = s
                .pointer("/metadata/labels/kubernetes.io~1service-name")
                .and_then(Value::as_str)
            {
                slices
                    .entry(key(&text(s, "/metadata/namespace"), service))
                    .or_default()
                    .push(s);
            }
        }
        for list in slices.values_mut() {
            list.sort_by_key(|s| text(s, "/metadata/name"));
        }
        Index {
            objects,
            services: by_name(&objects.services),
            secrets: by_name(&objects.secrets),
            slices,
        }
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        self.services.get(&key(namespace, name)).copied()
    }

    fn secret(&self, namespace: &str, name: &str) -> Option<&'a Value> {
        self.secrets.get(&key(namespace, name)).copied()
    }

    fn slices_of(&self, namespace: &str, service: &str) -> &[&'a Value] {
        self.slices
            .get(&key(namespace, service))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

impl std::ops::Deref for Index<'_> {
    type Target = Objects;

    fn deref(&self) -> &Objects {
        self.objects
    }
}

/// The names of the IngressClasses of Traefik's controller that are
/// followed (none when the lookup is disabled).
fn traefik_classes(objects: &Objects, options: &IngressOptions) -> Vec<String> {
    if options.disable_ingress_class_lookup || options.disable_cluster_scope_resources {
        return Vec::new();
    }
    objects
        .ingress_classes
        .iter()
        .filter(|c| text(c, "/spec/controller") == CONTROLLER)
        .map(|c| text(c, "/metadata/name"))
        .filter(|n| options.ingress_class.is_empty() || *n == options.ingress_class)
        .collect()
}

/// Whether Traefik serves `ingress`: its `ingressClassName` is one of
/// Traefik's classes, or (without one) its class annotation is the
/// provider's `ingressClass` (`traefik` or none when that is empty).
pub fn should_process(ingress: &Value, classes: &[String], options: &IngressOptions) -> bool {
    if let Some(name) = ingress
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
    {
        return classes.iter().any(|c| c == name);
    }
    let annotation = text(
        ingress,
        &format!(
            "/metadata/annotations/{}",
            CLASS_ANNOTATION.replace('/', "~1")
        ),
    );
    annotation == options.ingress_class
        || (options.ingress_class.is_empty() && annotation == "traefik")
}

/// The Ingresses Traefik serves, in the objects' order.
pub fn served<'a>(objects: &'a Objects, options: &IngressOptions) -> Vec<&'a Value> {
    let classes = traefik_classes(objects, options);
    objects
        .ingresses
        .iter()
        .filter(|i| should_process(i, &classes, options))
        .collect()
}

fn error(errors: &mut Vec<ObjectError>, ingress: &Value, message: impl Into<String>) {
    errors.push(ObjectError {
        kind: "Ingress".into(),
        namespace: text(ingress, "/metadata/namespace"),
        name: text(ingress, "/metadata/name"),
        message: message.into(),
    });
}

/// The certificate of a TLS Secret, its `tls.crt` and `tls.key`.
fn certificate(
    objects: &Index<'_>,
    namespace: &str,
    name: &str,
) -> Result<CertificateEntry, String> {
    let Some(secret) = objects.secret(namespace, name) else {
        return Err(format!("secret {namespace}/{name} does not exist"));
    };
    let entry = |k: &str| -> Result<Option<String>, String> {
        let Some(v) = secret
            .pointer(&format!("/data/{k}"))
            .and_then(Value::as_str)
        else {
            return Ok(None);
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v)
            .map_err(|e| format!("secret {namespace}/{name} key {k}: {e}"))?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let (cert, key) = (entry("tls.crt")?, entry("tls.key")?);
    let missing: Vec<&str> = [("tls.crt", &cert), ("tls.key", &key)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "secret {namespace}/{name} is missing the following TLS data entries: {}",
            missing.join(", ")
        ));
    }
    let (cert, key) = (cert.unwrap_or_default(), key.unwrap_or_default());
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
    Ok(CertificateEntry {
        cert_file: cert,
        key_file: key,
        stores: Vec::new(),
    })
}

/// Translates the objects as Traefik's Ingress provider does.
pub fn translate(objects: &Objects, options: &IngressOptions) -> Translation {
    let index = Index::new(objects);
    let mut errors = Vec::new();
    let mut http = HttpConfiguration::default();
    let mut certificates: BTreeMap<String, CertificateEntry> = BTreeMap::new();

    for ingress in served(objects, options) {
        let namespace = text(ingress, "/metadata/namespace");
        let config = match annotations::router(ingress) {
            Ok(c) => c,
            Err(e) => {
                error(
                    &mut errors,
                    ingress,
                    format!("failed to parse annotations: {e}"),
                );
                continue;
            }
        };
        if let (Some(c), Some(allowed)) = (&config, &options.cross_provider_namespaces) {
            if !allowed.contains(&namespace) {
                if !c.middlewares.is_empty() {
                    error(&mut errors, ingress, format!("skipping Ingress: cross-provider middleware reference is not allowed from namespace {namespace:?}"));
                    continue;
                }
                if c.tls.as_ref().is_some_and(|t| !t.options.is_empty()) {
                    error(&mut errors, ingress, format!("skipping Ingress: cross-provider TLS option reference is not allowed from namespace {namespace:?}"));
                    continue;
                }
            }
        }

        // TLS: the Secrets' certificates, the first error ends the section.
        for t in ingress
            .pointer("/spec/tls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let secret = text(t, "/secretName");
            if secret.is_empty() {
                continue;
            }
            let k = format!("{namespace}-{secret}");
            if certificates.contains_key(&k) {
                continue;
            }
            match certificate(&index, &namespace, &secret) {
                Ok(c) => {
                    certificates.insert(k, c);
                }
                Err(e) => {
                    error(&mut errors, ingress, format!("error configuring TLS: {e}"));
                    break;
                }
            }
        }

        let rules = ingress.pointer("/spec/rules").and_then(Value::as_array);
        if rules.is_none_or(|r| r.is_empty()) {
            if let Some(backend) = ingress
                .pointer("/spec/defaultBackend")
                .filter(|b| !b.is_null())
            {
                rules::default_backend(
                    &index,
                    options,
                    ingress,
                    backend,
                    config.as_ref(),
                    &mut http,
                    &mut errors,
                );
            }
        }
        rules::paths(
            &index,
            options,
            ingress,
            config.as_ref(),
            &mut http,
            &mut errors,
        );
    }

    let tls = (!certificates.is_empty()).then(|| TlsConfiguration {
        certificates: certificates.into_values().collect(),
        ..TlsConfiguration::default()
    });
    Translation {
        configuration: Configuration {
            http: Some(http),
            tls,
            ..Configuration::default()
        },
        errors,
        warnings: Vec::new(),
    }
}

/// Inserts a router built by [`rules`].
fn insert_router(http: &mut HttpConfiguration, key: String, router: Router) {
    http.routers.insert(key, Arc::new(router));
}

/// `Normalize(<namespace>-<name>-<host><path>)` without a leading `-`.
pub fn router_key(namespace: &str, name: &str, host: &str, path: &str) -> String {
    let k = normalize(&format!("{namespace}-{name}-{host}{path}"));
    k.trim_start_matches('-').to_string()
}
