//! The kinds the double serves, as a cluster with Traefik's and the Gateway
//! API's CRDs installed lists them, and the discovery documents built from
//! that table (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`).

use serde_json::{json, Value};

/// One kind of object, served at one or more versions of its group (the
/// versions share one storage, as a CRD's served versions do).
#[derive(Debug)]
pub struct Resource {
    /// API group, `""` for the core group.
    pub group: &'static str,
    /// Served versions; the first is the storage (preferred) version.
    pub versions: &'static [&'static str],
    /// Lower-case plural used in paths.
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Whether `<object>/status` is served (writes there change only the status).
    pub status: bool,
    pub short_names: &'static [&'static str],
}

impl Resource {
    /// `v1` or `<group>/<version>`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The preferred `apiVersion`.
    pub fn storage_api_version(&self) -> String {
        self.api_version(self.versions[0])
    }
}

const fn r(
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
) -> Resource {
    Resource {
        group,
        versions,
        plural,
        kind,
        namespaced,
        status,
        short_names: &[],
    }
}

const V1: &[&str] = &["v1"];
const TRAEFIK: &str = "traefik.io";
const T1: &[&str] = &["v1alpha1"];
const GATEWAY: &str = "gateway.networking.k8s.io";

/// Every kind served. Index positions are stable: the store keys objects by them.
pub static RESOURCES: &[Resource] = &[
    // core/v1
    r("", V1, "namespaces", "Namespace", false, true),
    r("", V1, "nodes", "Node", false, true),
    r("", V1, "services", "Service", true, true),
    r("", V1, "endpoints", "Endpoints", true, false),
    r("", V1, "secrets", "Secret", true, false),
    r("", V1, "configmaps", "ConfigMap", true, false),
    r("", V1, "pods", "Pod", true, true),
    // discovery.k8s.io, networking.k8s.io
    r(
        "discovery.k8s.io",
        V1,
        "endpointslices",
        "EndpointSlice",
        true,
        false,
    ),
    r("networking.k8s.io", V1, "ingresses", "Ingress", true, true),
    r(
        "networking.k8s.io",
        V1,
        "ingressclasses",
        "IngressClass",
        false,
        false,
    ),
    // traefik.io/v1alpha1 (Traefik's CRDs have no status subresource)
    r(TRAEFIK, T1, "ingressroutes", "IngressRoute", true, false),
    r(
        TRAEFIK,
        T1,
        "ingressroutetcps",
        "IngressRouteTCP",
        true,
        false,
    ),
    r(
        TRAEFIK,
        T1,
        "ingressrouteudps",
        "IngressRouteUDP",
        true,
        false,
    ),
    r(TRAEFIK, T1, "middlewares", "Middleware", true, false),
    r(TRAEFIK, T1, "middlewaretcps", "MiddlewareTCP", true, false),
    r(
        TRAEFIK,
        T1,
        "traefikservices",
        "TraefikService",
        true,
        false,
    ),
    r(TRAEFIK, T1, "tlsoptions", "TLSOption", true, false),
    r(TRAEFIK, T1, "tlsstores", "TLSStore", true, false),
    r(
        TRAEFIK,
        T1,
        "serverstransports",
        "ServersTransport",
        true,
        false,
    ),
    r(
        TRAEFIK,
        T1,
        "serverstransporttcps",
        "ServersTransportTCP",
        true,
        false,
    ),
    // gateway.networking.k8s.io (standard and experimental channels of v1.5)
    r(GATEWAY, V1, "gatewayclasses", "GatewayClass", false, true),
    r(GATEWAY, V1, "gateways", "Gateway", true, true),
    r(GATEWAY, V1, "httproutes", "HTTPRoute", true, true),
    r(GATEWAY, V1, "grpcroutes", "GRPCRoute", true, true),
    r(
        GATEWAY,
        &["v1", "v1beta1"],
        "referencegrants",
        "ReferenceGrant",
        true,
        false,
    ),
    r(
        GATEWAY,
        V1,
        "backendtlspolicies",
        "BackendTLSPolicy",
        true,
        true,
    ),
    r(
        GATEWAY,
        &["v1", "v1alpha2"],
        "tlsroutes",
        "TLSRoute",
        true,
        true,
    ),
    r(GATEWAY, &["v1alpha2"], "tcproutes", "TCPRoute", true, true),
    r(GATEWAY, &["v1alpha2"], "udproutes", "UDPRoute", true, true),
];

/// The index of the kind served at `group`/`version` under `plural`.
pub fn by_plural(group: &str, version: &str, plural: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.plural == plural && r.versions.contains(&version))
}

/// The index of the kind an object's `apiVersion` and `kind` name.
pub fn by_kind(api_version: &str, kind: &str) -> Option<usize> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.kind == kind && r.versions.contains(&version))
}

/// The groups in the order the API server lists them (core first, then by name).
fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&str> = RESOURCES
        .iter()
        .map(|r| r.group)
        .filter(|g| !g.is_empty())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// The versions of `group`, preferred first.
fn versions_of(group: &str) -> Vec<&'static str> {
    let mut versions: Vec<&str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        for v in r.versions {
            if !versions.contains(v) {
                versions.push(v);
            }
        }
    }
    // GA versions before beta before alpha, as the server prefers them.
    versions.sort_by_key(|v| (v.contains("alpha"), v.contains("beta"), *v));
    versions
}

/// `GET /api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
    })
}

/// `GET /apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|g| {
            let versions: Vec<Value> = versions_of(g)
                .into_iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({
                "name": g,
                "versions": versions,
                "preferredVersion": versions[0],
            })
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>` (None: no such group).
pub fn group(group: &str) -> Option<Value> {
    let versions: Vec<Value> = versions_of(group)
        .into_iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": versions,
        "preferredVersion": preferred,
    }))
}

/// `GET /api/v1` or `/apis/<group>/<version>` (None: not served).
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.versions.contains(&version))
    {
        resources.push(json!({
            "name": r.plural,
            "singularName": r.kind.to_ascii_lowercase(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": r.short_names,
        }));
        if r.status {
            resources.push(json!({
                "name": format!("{}/status", r.plural),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// `GET /version`: a recent Kubernetes, as Traefik's clients expect one.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}
