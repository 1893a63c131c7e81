//! The Gateway API translation of the `kubernetesGateway` provider, as
//! Traefik's: GatewayClasses of the controller `traefik.io/gateway-controller`,
//! their Gateways' listeners mapped to the entry points by port, and the
//! HTTPRoutes and GRPCRoutes attached to those listeners turned into
//! routers (one per route rule match), weighted services over the
//! backends, and middlewares from the filters. Router and service names,
//! rules and priorities are Traefik's (its `/api/rawdata` on the same
//! objects is what the tests compare with).
//!
//! The translation also says what status Traefik writes back: GatewayClass
//! `Accepted`, Gateway `Accepted`/`Programmed` with listener conditions and
//! addresses, and each route's parents' `Accepted`/`ResolvedRefs`
//! ([`StatusUpdate`]); the provider writes them.
//!
//! TLSRoutes and TCPRoutes (with `experimentalChannel`) become TCP routers
//! and services (`tcp_routes.rs`).

mod attach;
mod backends;
mod filters;
mod listeners;
mod routes;
mod rules;
mod tcp_routes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use switchyard_config::dynamic::{Configuration, HttpConfiguration};
use switchyard_config::tls::TlsConfiguration;

pub use super::crd::ObjectError;
use super::crd::{text, texts};

/// The provider's name, the suffix of what it configures.
pub const PROVIDER_NAME: &str = "kubernetesgateway";
/// The GatewayClass controller Traefik (and Switchyard) answers for.
pub const CONTROLLER_NAME: &str = "traefik.io/gateway-controller";
/// The Gateway API group.
pub const GROUP: &str = "gateway.networking.k8s.io";

/// The features a GatewayClass's status lists, as Traefik 3.7 lists them.
pub const SUPPORTED_FEATURES: &[&str] = &[
    "BackendTLSPolicy",
    "GRPCRoute",
    "GRPCRouteNamedRouteRule",
    "Gateway",
    "GatewayPort8080",
    "HTTPRoute",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    "HTTPRouteBackendProtocolH2C",
    "HTTPRouteBackendProtocolWebSocket",
    "HTTPRouteBackendRequestHeaderModification",
    "HTTPRouteDestinationPortMatching",
    "HTTPRouteHostRewrite",
    "HTTPRouteMethodMatching",
    "HTTPRouteNamedRouteRule",
    "HTTPRouteParentRefPort",
    "HTTPRoutePathRedirect",
    "HTTPRoutePathRewrite",
    "HTTPRoutePortRedirect",
    "HTTPRouteQueryParamMatching",
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteSchemeRedirect",
    "ReferenceGrant",
    "TLSRoute",
    "TLSRouteModeMixed",
    "TLSRouteModeTerminate",
];

/// An entry point as the listeners see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPointInfo {
    pub name: String,
    /// `host:port` as written in the static configuration.
    pub address: String,
    /// `http.tls` is set: an HTTP listener does not use it.
    pub http_tls: bool,
}

/// What the Gateways' `status.addresses` say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StatusAddress {
    #[default]
    None,
    Ip(String),
    Hostname(String),
    /// The load-balancer addresses of the Service `namespace/name`.
    Service {
        namespace: String,
        name: String,
    },
}

/// The provider options that shape the translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayOptions {
    pub entry_points: Vec<EntryPointInfo>,
    pub experimental_channel: bool,
    pub native_lb_by_default: bool,
    /// Namespaces allowed to name `TraefikService` backends of other
    /// providers; `None`: all.
    pub cross_provider_namespaces: Option<Vec<String>>,
    /// The namespaces the `kubernetesCRD` provider reads (empty: all), or
    /// `None` when it is not enabled: ExtensionRef filters to `traefik.io`
    /// Middlewares and `TraefikService` backends resolve to its objects.
    pub crd_namespaces: Option<Vec<String>>,
    pub status_address: StatusAddress,
}

/// The objects the provider watches, each as the API server sent it.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    pub gateway_classes: Vec<Value>,
    pub gateways: Vec<Value>,
    pub http_routes: Vec<Value>,
    pub grpc_routes: Vec<Value>,
    pub reference_grants: Vec<Value>,
    pub namespaces: Vec<Value>,
    pub services: Vec<Value>,
    pub endpoint_slices: Vec<Value>,
    pub secrets: Vec<Value>,
    /// TLSRoutes and TCPRoutes.
    pub tcp_tls: Vec<Value>,
    /// Lookups by namespace and name, made at the first lookup (fill the
    /// lists before translating).
    lookups: std::sync::OnceLock<Lookups>,
}

/// Positions in the lists, by `(namespace, name)`; the first of a name
/// wins, as a search would find it.
#[derive(Debug, Clone, Default)]
struct Lookups {
    services: HashMap<(String, String), usize>,
    secrets: HashMap<(String, String), usize>,
    /// EndpointSlices by `(namespace, kubernetes.io/service-name)`.
    slices: HashMap<(String, String), Vec<usize>>,
}

fn by_name(list: &[Value]) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for (i, o) in list.iter().enumerate() {
        out.entry((text(o, "/metadata/namespace"), text(o, "/metadata/name")))
            .or_insert(i);
    }
    out
}

impl Objects {
    /// Sorts a list of objects of any of the kinds above by `kind`.
    /// Returns the kinds it does not know.
    pub fn from_list(items: impl IntoIterator<Item = Value>) -> (Objects, Vec<String>) {
        let mut o = Objects::default();
        let mut unknown = Vec::new();
        for item in items {
            let kind = text(&item, "/kind");
            let list = match kind.as_str() {
                "GatewayClass" => &mut o.gateway_classes,
                "Gateway" => &mut o.gateways,
                "HTTPRoute" => &mut o.http_routes,
                "GRPCRoute" => &mut o.grpc_routes,
                "ReferenceGrant" => &mut o.reference_grants,
                "Namespace" => &mut o.namespaces,
                "Service" => &mut o.services,
                "EndpointSlice" => &mut o.endpoint_slices,
                "Secret" => &mut o.secrets,
                "TLSRoute" | "TCPRoute" => &mut o.tcp_tls,
                _ => {
                    unknown.push(kind);
                    continue;
                }
            };
            list.push(item);
        }
        (o, unknown)
    }

    fn lookups(&self) -> &Lookups {
        self.lookups.get_or_init(|| {
            let mut slices: HashMap<(String, String), Vec<usize>> = HashMap::new();
            for (i, s) in self.endpoint_slices.iter().enumerate() {
                let service = text(s, "/metadata/labels/kubernetes.io~1service-name");
                slices
                    .entry((text(s, "/metadata/namespace"), service))
                    .or_default()
                    .push(i);
            }
            Lookups {
                services: by_name(&self.services),
                secrets: by_name(&self.secrets),
                slices,
            }
        })
    }

    fn key(namespace: &str, name: &str) -> (String, String) {
        (namespace.to_string(), name.to_string())
    }

    pub(crate) fn service(&self, namespace: &str, name: &str) -> Option<&Value> {
        let i = *self
            .lookups()
            .services
            .get(&Objects::key(namespace, name))?;
        self.services.get(i)
    }

    pub(crate) fn secret(&self, namespace: &str, name: &str) -> Option<&Value> {
        let i = *self.lookups().secrets.get(&Objects::key(namespace, name))?;
        self.secrets.get(i)
    }

    /// The EndpointSlices of the Service `namespace/name`, in list order.
    pub(crate) fn slices_of(&self, namespace: &str, name: &str) -> Vec<&Value> {
        self.lookups()
            .slices
            .get(&Objects::key(namespace, name))
            .into_iter()
            .flatten()
            .filter_map(|i| self.endpoint_slices.get(*i))
            .collect()
    }
}

/// A status to write: the `status` of the object `resource` (a plural of
/// the Gateway API group) `namespace/name`. Conditions carry no
/// `lastTransitionTime`: the writer keeps the one of an unchanged condition
/// and stamps the others.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
    pub status: Value,
}

/// The translation's result.
#[derive(Debug, Clone, Default)]
pub struct Translation {
    pub configuration: Configuration,
    pub errors: Vec<ObjectError>,
    pub warnings: Vec<ObjectError>,
    pub statuses: Vec<StatusUpdate>,
}

/// A condition without its time.
pub(crate) fn condition(
    kind: &str,
    ok: bool,
    generation: i64,
    reason: &str,
    message: &str,
) -> Value {
    json!({
        "type": kind,
        "status": if ok { "True" } else { "False" },
        "observedGeneration": generation,
        "reason": reason,
        "message": message,
    })
}

pub(crate) fn generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// One listener of a Gateway, as the routes see it.
#[derive(Debug, Clone)]
pub(crate) struct Listener {
    pub name: String,
    pub port: i64,
    pub protocol: String,
    pub hostname: Option<String>,
    /// The entry point; empty when none has the port.
    pub entry_point: String,
    /// `""` stands for every namespace.
    pub allowed_namespaces: Vec<String>,
    pub allowed_kinds: Vec<String>,
    /// Valid: routes attached to it are configured.
    pub attached: bool,
    pub conditions: Vec<Value>,
    pub supported_kinds: Vec<Value>,
    pub attached_routes: i64,
    /// With a `tls` section: whether its mode is `Passthrough`.
    pub tls_passthrough: Option<bool>,
}

/// A Gateway of one of our classes, with its listeners.
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    pub namespace: String,
    pub name: String,
    pub listeners: Vec<Listener>,
}

/// The addresses the Gateways' status lists.
fn addresses(objects: &Objects, options: &GatewayOptions) -> Result<Vec<Value>, String> {
    Ok(match &options.status_address {
        StatusAddress::None => Vec::new(),
        StatusAddress::Ip(ip) => vec![json!({"type": "IPAddress", "value": ip})],
        StatusAddress::Hostname(h) => vec![json!({"type": "Hostname", "value": h})],
        StatusAddress::Service { namespace, name } => {
            let Some(service) = objects.service(namespace, name) else {
                return Err(format!(
                    "getting service: service {namespace}/{name} not found"
                ));
            };
            service
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|a| {
                    let ip = text(a, "/ip");
                    let host = text(a, "/hostname");
                    if !ip.is_empty() {
                        Some(json!({"type": "IPAddress", "value": ip}))
                    } else if !host.is_empty() {
                        Some(json!({"type": "Hostname", "value": host}))
                    } else {
                        None
                    }
                })
                .collect()
        }
    })
}

/// A Gateway's status from its checked listeners.
fn gateway_status(gateway: &Value, listeners: &[Listener], addresses: &[Value]) -> (Value, bool) {
    let generation = generation(gateway);
    let mut statuses = Vec::new();
    let mut valid = true;
    for l in listeners {
        let conditions = if l.conditions.is_empty() {
            ["Accepted", "ResolvedRefs", "Programmed"]
                .iter()
                .map(|k| condition(k, true, generation, k, "No error found"))
                .collect()
        } else {
            valid = false;
            l.conditions.clone()
        };
        statuses.push(json!({
            "name": l.name,
            "supportedKinds": l.supported_kinds,
            "attachedRoutes": l.attached_routes,
            "conditions": conditions,
        }));
    }
    let some_valid = listeners.iter().any(|l| l.conditions.is_empty());
    let conditions = match (valid, some_valid) {
        (true, _) => vec![
            condition(
                "Accepted",
                true,
                generation,
                "Accepted",
                "Gateway successfully scheduled",
            ),
            condition(
                "Programmed",
                true,
                generation,
                "Programmed",
                "Gateway successfully programmed",
            ),
        ],
        (false, true) => vec![
            condition(
                "Accepted",
                true,
                generation,
                "ListenersNotValid",
                "Gateway successfully scheduled, but some Listeners are not valid",
            ),
            condition(
                "Programmed",
                true,
                generation,
                "Programmed",
                "Gateway successfully programmed, but some Listeners are not valid",
            ),
        ],
        (false, false) => vec![
            condition(
                "Accepted",
                false,
                generation,
                "ListenersNotValid",
                "At least one Listener must be valid",
            ),
            condition(
                "Programmed",
                false,
                generation,
                "Invalid",
                "No Listener is valid",
            ),
        ],
    };
    let mut status = json!({"conditions": conditions});
    if !addresses.is_empty() {
        status["addresses"] = Value::from(addresses.to_vec());
    }
    if !statuses.is_empty() {
        status["listeners"] = Value::from(statuses);
    }
    (status, valid)
}

fn object_error(o: &Value, kind: &str, message: String) -> ObjectError {
    ObjectError {
        kind: kind.to_string(),
        namespace: text(o, "/metadata/namespace"),
        name: text(o, "/metadata/name"),
        message,
    }
}

/// Translates the objects as Traefik's Gateway provider does.
pub fn translate(objects: &Objects, options: &GatewayOptions) -> Translation {
    let mut out = Translation::default();
    let addresses = match addresses(objects, options) {
        Ok(a) => a,
        Err(e) => {
            // As Traefik: nothing is configured while the address is unknown.
            out.errors.push(ObjectError {
                kind: "Service".into(),
                namespace: String::new(),
                name: String::new(),
                message: format!("getting gateway addresses: {e}"),
            });
            return out;
        }
    };
    let mut classes = Vec::new();
    for class in &objects.gateway_classes {
        if text(class, "/spec/controllerName") != CONTROLLER_NAME {
            continue;
        }
        let name = text(class, "/metadata/name");
        let accepted = condition(
            "Accepted",
            true,
            generation(class),
            "Handled",
            "Handled by Traefik controller",
        );
        let mut conditions: Vec<Value> = class
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| text(c, "/type") != "Accepted")
            .cloned()
            .collect();
        conditions.push(accepted);
        let features: Vec<Value> = SUPPORTED_FEATURES
            .iter()
            .map(|f| json!({"name": f}))
            .collect();
        out.statuses.push(StatusUpdate {
            resource: "gatewayclasses",
            namespace: String::new(),
            name: name.clone(),
            status: json!({"conditions": conditions, "supportedFeatures": features}),
        });
        classes.push(name);
    }

    let mut certificates = BTreeMap::new();
    let ours: Vec<&Value> = objects
        .gateways
        .iter()
        .filter(|g| classes.contains(&text(g, "/spec/gatewayClassName")))
        .collect();
    let mut gateways: Vec<Gateway> = ours
        .iter()
        .map(|g| Gateway {
            namespace: text(g, "/metadata/namespace"),
            name: text(g, "/metadata/name"),
            listeners: listeners::check(objects, options, g, &mut certificates),
        })
        .collect();

    let mut http = HttpConfiguration::default();
    routes::all(objects, options, &mut gateways, &mut http, &mut out);
    let mut tcp = tcp_routes::TcpPart::default();
    tcp_routes::all(objects, options, &mut gateways, &mut tcp, &mut out);

    for (g, checked) in ours.iter().zip(&gateways) {
        let (status, valid) = gateway_status(g, &checked.listeners, &addresses);
        if !valid {
            let messages: Vec<String> = checked
                .listeners
                .iter()
                .flat_map(|l| l.conditions.iter().map(|c| text(c, "/message")))
                .collect();
            out.errors.push(object_error(
                g,
                "Gateway",
                format!("Gateway Not Accepted: {}", messages.join("; ")),
            ));
        }
        out.statuses.push(StatusUpdate {
            resource: "gateways",
            namespace: checked.namespace.clone(),
            name: checked.name.clone(),
            status,
        });
    }

    let tcp = (!tcp.routers.is_empty() || !tcp.services.is_empty())
        .then(|| filters::node(json!({"routers": tcp.routers, "services": tcp.services})))
        .and_then(Result::ok);
    out.configuration = Configuration {
        http: Some(http),
        tcp,
        tls: (!certificates.is_empty()).then(|| TlsConfiguration {
            certificates: certificates.into_values().collect(),
            ..TlsConfiguration::default()
        }),
        ..Configuration::default()
    };
    out
}
