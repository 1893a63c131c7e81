//! The `kubernetesCRD` provider: one [`Reflector`] per kind (and per
//! namespace when `namespaces` is given) keeps a local copy of what the
//! translation reads, as Traefik's informers do; each time any copy
//! changes, the set is translated (an IngressRoute that did not change,
//! nor anything it reads, is taken from the last translation: see
//! [`crd::Cache`]) and, when the result differs from what was last sent,
//! sent as `kubernetescrd`.
//!
//! Changes that arrive while a translation runs are taken together by the
//! next one; nothing waits a fixed delay unless `throttleDuration` is
//! written (then, as in Traefik, at most one configuration per period).
//! Nothing is sent before every copy has been listed once. While the API
//! server cannot be reached the reflectors keep their copies, so the last
//! configuration keeps serving.
//!
//! As in Traefik, `labelSelector` narrows the `traefik.io` kinds only, and
//! Secrets are listed with `owner!=helm`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use switchyard_config::static_config::KubernetesCrdProvider;

use super::crd::{self, Cache, CrdOptions, Objects, PROVIDER_NAME};
use super::follow::{self, Changes, Sending};
use super::{ApiClient, ConnectionSettings, Reflector, Resource, Selection, Store};
use crate::Sender;

/// What a kind's copies are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    IngressRoutes,
    Middlewares,
    TraefikServices,
    TlsOptions,
    TlsStores,
    ServersTransports,
    TcpUdp,
    Services,
    EndpointSlices,
    Secrets,
    ConfigMaps,
    Nodes,
}

/// How a kind is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// A `traefik.io` kind: per namespace, with `labelSelector`.
    Crd,
    /// A Kubernetes kind: per namespace, no selector.
    Kube,
    /// Secrets: per namespace, `owner!=helm`.
    Secret,
    /// Cluster-wide (Nodes), unless `disableClusterScopeResources`.
    Cluster,
}

/// `(group, version, plural, slot, scope)` of every kind watched.
const KINDS: &[(&str, &str, &str, Slot, Scope)] = &[
    (
        "traefik.io",
        "v1alpha1",
        "ingressroutes",
        Slot::IngressRoutes,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "middlewares",
        Slot::Middlewares,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "traefikservices",
        Slot::TraefikServices,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "tlsoptions",
        Slot::TlsOptions,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "tlsstores",
        Slot::TlsStores,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "serverstransports",
        Slot::ServersTransports,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "ingressroutetcps",
        Slot::TcpUdp,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "ingressrouteudps",
        Slot::TcpUdp,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "middlewaretcps",
        Slot::TcpUdp,
        Scope::Crd,
    ),
    (
        "traefik.io",
        "v1alpha1",
        "serverstransporttcps",
        Slot::TcpUdp,
        Scope::Crd,
    ),
    ("", "v1", "services", Slot::Services, Scope::Kube),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Slot::EndpointSlices,
        Scope::Kube,
    ),
    ("", "v1", "configmaps", Slot::ConfigMaps, Scope::Kube),
    ("", "v1", "secrets", Slot::Secrets, Scope::Secret),
    ("", "v1", "nodes", Slot::Nodes, Scope::Cluster),
];

/// The kind name of a `tcp_udp` object listed without its `kind` (list
/// items carry none), from the collection it came from.
fn tcp_udp_kind(plural: &str) -> &'static str {
    match plural {
        "ingressroutetcps" => "IngressRouteTCP",
        "ingressrouteudps" => "IngressRouteUDP",
        "middlewaretcps" => "MiddlewareTCP",
        _ => "ServersTransportTCP",
    }
}

/// The translation options of the static settings.
pub fn options(config: &KubernetesCrdProvider) -> CrdOptions {
    CrdOptions {
        allow_cross_namespace: config.allow_cross_namespace,
        allow_external_name_services: config.allow_external_name_services,
        allow_empty_services: config.allow_empty_services,
        native_lb_by_default: config.native_lb_by_default,
        ingress_class: config.ingress_class.clone(),
        cross_provider_namespaces: (!config.cross_provider_namespaces.is_empty())
            .then(|| config.cross_provider_namespaces.clone()),
        disable_cluster_scope_resources: config.disable_cluster_scope_resources,
    }
}

/// The connection settings (`token` inline or a file's path).
fn connection_settings(config: &KubernetesCrdProvider) -> ConnectionSettings {
    follow::settings(&config.endpoint, &config.token, &config.cert_auth_file_path)
}

/// The reflectors, each with the slot its objects go to.
struct Copies {
    followed: Vec<(Slot, &'static str, Reflector)>,
}

impl Copies {
    fn start(client: &Arc<ApiClient>, config: &KubernetesCrdProvider) -> Copies {
        let namespaces: Vec<String> = if config.namespaces.is_empty() {
            vec![String::new()]
        } else {
            config.namespaces.clone()
        };
        let mut followed = Vec::new();
        for &(group, version, plural, slot, scope) in KINDS {
            let selector = match scope {
                Scope::Crd => config.label_selector.as_str(),
                Scope::Secret => "owner!=helm",
                Scope::Kube | Scope::Cluster => "",
            };
            let in_namespaces: &[String] = match scope {
                Scope::Cluster if config.disable_cluster_scope_resources => continue,
                Scope::Cluster => &[String::new()],
                _ => &namespaces,
            };
            for namespace in in_namespaces {
                let selection = Selection {
                    resource: Resource::new(group, version, plural),
                    namespace: namespace.clone(),
                    label_selector: selector.to_string(),
                };
                followed.push((slot, plural, Reflector::start(client.clone(), selection)));
            }
        }
        Copies { followed }
    }

    fn stores(&self) -> impl Iterator<Item = &Arc<Store>> {
        self.followed.iter().map(|(_, _, r)| r.store())
    }

    fn synced(&self) -> bool {
        self.stores().all(|s| s.has_synced())
    }

    /// Every object now, sorted to the translation's lists.
    fn objects(&self) -> Objects {
        let mut o = Objects::default();
        for (slot, plural, reflector) in &self.followed {
            let items = reflector.store().list();
            let list = match slot {
                Slot::IngressRoutes => &mut o.ingress_routes,
                Slot::Middlewares => &mut o.middlewares,
                Slot::TraefikServices => &mut o.traefik_services,
                Slot::TlsOptions => &mut o.tls_options,
                Slot::TlsStores => &mut o.tls_stores,
                Slot::ServersTransports => &mut o.servers_transports,
                Slot::TcpUdp => &mut o.tcp_udp,
                Slot::Services => &mut o.services,
                Slot::EndpointSlices => &mut o.endpoint_slices,
                Slot::Secrets => &mut o.secrets,
                Slot::ConfigMaps => &mut o.config_maps,
                Slot::Nodes => &mut o.nodes,
            };
            for item in items {
                if *slot == Slot::TcpUdp && item.get("kind").is_none() {
                    let mut item = Value::clone(&item);
                    if let Some(map) = item.as_object_mut() {
                        map.insert("kind".into(), Value::from(tcp_udp_kind(plural)));
                    }
                    list.push(Arc::new(item));
                } else {
                    list.push(item);
                }
            }
        }
        o
    }
}

/// Runs the provider until the watcher goes away.
pub async fn run(config: KubernetesCrdProvider, tx: Sender) {
    let Some(client) = follow::client(&connection_settings(&config), PROVIDER_NAME) else {
        return;
    };
    let options = options(&config);
    let copies = Copies::start(&client, &config);
    let mut changes = Changes::follow(copies.stores());
    let mut sending = Sending::new(PROVIDER_NAME, config.throttle_duration.into());
    // What each IngressRoute and Middleware translated to, kept by the
    // resource versions of what it read: one changed object is translated
    // again, not the whole set.
    let mut cache = Cache::default();
    let mut logged = BTreeSet::new();
    let mut waiting_logged = false;
    while changes.next().await {
        if !copies.synced() {
            if !waiting_logged {
                tracing::debug!(
                    provider = PROVIDER_NAME,
                    "waiting for every kind to be listed"
                );
                waiting_logged = true;
            }
            continue;
        }
        let started = std::time::Instant::now();
        let objects = copies.objects();
        let translation = crd::translate_with(&objects, &options, &mut cache);
        tracing::debug!(
            provider = PROVIDER_NAME,
            ingress_routes = objects.ingress_routes.len(),
            translated = cache.translated,
            took = ?started.elapsed(),
            "translated"
        );
        follow::log_problems(
            PROVIDER_NAME,
            &translation.errors,
            &translation.warnings,
            &mut logged,
        );
        if !sending.send(translation.configuration, &tx).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchyard_config::dynamic::Configuration;
    use tokio::sync::mpsc;

    use super::*;
    use crate::Message;

    #[test]
    fn options_follow_the_settings() {
        let config = KubernetesCrdProvider {
            allow_cross_namespace: true,
            allow_external_name_services: true,
            allow_empty_services: true,
            native_lb_by_default: true,
            ingress_class: "mine".into(),
            disable_cluster_scope_resources: true,
            ..KubernetesCrdProvider::default()
        };
        let got = options(&config);
        assert_eq!(
            got,
            CrdOptions {
                allow_cross_namespace: true,
                allow_external_name_services: true,
                allow_empty_services: true,
                native_lb_by_default: true,
                ingress_class: "mine".into(),
                cross_provider_namespaces: None,
                disable_cluster_scope_resources: true,
            }
        );
        let limited = KubernetesCrdProvider {
            cross_provider_namespaces: vec!["a".into()],
            ..KubernetesCrdProvider::default()
        };
        assert_eq!(
            options(&limited).cross_provider_namespaces,
            Some(vec!["a".to_string()])
        );
    }

    #[test]
    fn token_inline_or_from_a_file() {
        let path = std::env::temp_dir().join(format!("sy-crd-token-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").expect("write");
        let cases = [
            (String::new(), ""),
            ("inline-token".to_string(), "inline-token"),
            (path.display().to_string(), "from-file"),
        ];
        for (token, want) in cases {
            let config = KubernetesCrdProvider {
                token: token.clone(),
                ..KubernetesCrdProvider::default()
            };
            assert_eq!(connection_settings(&config).token, want, "{token}");
        }
        std::fs::remove_file(&path).ok();
    }

    const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
"#;

    fn route(host: &str) -> String {
        format!(
            "apiVersion: traefik.io/v1alpha1\nkind: IngressRoute\nmetadata: {{name: app, namespace: default}}\n\
             spec:\n  routes:\n  - match: Host(`{host}`)\n    kind: Rule\n    services: [{{name: web, port: 80}}]\n"
        )
    }

    /// The rules of the configuration's routers.
    fn rules(config: &Configuration) -> Vec<String> {
        config
            .http
            .as_ref()
            .map(|h| h.routers.values().map(|r| r.rule.clone()).collect())
            .unwrap_or_default()
    }

    async fn next(rx: &mut mpsc::Receiver<Message>, within: Duration) -> Option<Message> {
        tokio::time::timeout(within, rx.recv()).await.ok().flatten()
    }

    fn start(
        double: &switchyard_testkit::KubeDouble,
        throttle: Duration,
    ) -> mpsc::Receiver<Message> {
        let config = KubernetesCrdProvider {
            endpoint: double.endpoint(),
            throttle_duration: switchyard_config::Duration(throttle),
            ..KubernetesCrdProvider::default()
        };
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(run(config, tx));
        rx
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_changes_and_skips_unchanged_configurations() {
        let double = switchyard_testkit::KubeDouble::start();
        double.apply(OBJECTS).expect("objects");
        double.apply(&route("one.test")).expect("route");
        let mut rx = start(&double, Duration::ZERO);
        let first = next(&mut rx, Duration::from_secs(10)).await.expect("first");
        assert_eq!(first.provider, "kubernetescrd");
        assert_eq!(rules(&first.config), ["Host(`one.test`)"]);
        // A change the translation does not read: nothing sent.
        double
            .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: default}\ndata: {a: b}\n")
            .expect("configmap");
        assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());
        // A rule changed: sent.
        double.apply(&route("two.test")).expect("rule");
        let changed = next(&mut rx, Duration::from_secs(10))
            .await
            .expect("changed");
        assert_eq!(rules(&changed.config), ["Host(`two.test`)"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttle_takes_changes_together() {
        let double = switchyard_testkit::KubeDouble::start();
        double.apply(OBJECTS).expect("objects");
        double.apply(&route("one.test")).expect("route");
        let mut rx = start(&double, Duration::from_millis(800));
        let first = next(&mut rx, Duration::from_secs(10)).await.expect("first");
        let sent_at = std::time::Instant::now();
        assert_eq!(rules(&first.config), ["Host(`one.test`)"]);
        for host in ["two.test", "three.test", "four.test"] {
            double.apply(&route(host)).expect("rule");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let next_one = next(&mut rx, Duration::from_secs(10))
            .await
            .expect("after the throttle");
        assert!(
            sent_at.elapsed() >= Duration::from_millis(700),
            "{:?}",
            sent_at.elapsed()
        );
        // The changes made during the period come as one: the last.
        assert_eq!(rules(&next_one.config), ["Host(`four.test`)"]);
        assert!(next(&mut rx, Duration::from_millis(300)).await.is_none());
    }
}
