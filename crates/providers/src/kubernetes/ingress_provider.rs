//! The `kubernetesIngress` provider, on the CRD provider's pattern: one
//! [`Reflector`] per kind (and per namespace when `namespaces` is given)
//! keeps a local copy; each time any copy changes, the whole set is
//! translated ([`super::ingress`]) and sent as `kubernetes` when it
//! differs from what was last sent. Changes arriving during a translation
//! are taken together by the next; `throttleDuration`, when written, keeps
//! at least that long between two configurations, as in Traefik.
//!
//! Watched as Traefik watches them: Ingresses (with `labelSelector`),
//! Services, EndpointSlices and Secrets (`owner!=helm`) per namespace;
//! IngressClasses and Nodes cluster-wide unless
//! `disableClusterScopeResources`.
//!
//! With `ingressEndpoint`, every served Ingress whose status differs from
//! it gets its `status.loadBalancer.ingress` replaced (`PUT .../status`,
//! JSON), checked again on every change as Traefik does.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchyard_config::static_config::KubernetesIngressProvider;

use super::follow::{self, Changes, Sending};
use super::ingress::{self, status, Index, IngressOptions, Objects, PROVIDER_NAME};
use super::{ApiClient, Reflector, Resource, Selection, Store};
use crate::Sender;

/// What a kind's copies are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Ingresses,
    IngressClasses,
    Services,
    EndpointSlices,
    Secrets,
    Nodes,
}

/// `(group, version, plural, slot)` of every kind watched.
const KINDS: &[(&str, &str, &str, Slot)] = &[
    ("networking.k8s.io", "v1", "ingresses", Slot::Ingresses),
    (
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        Slot::IngressClasses,
    ),
    ("", "v1", "services", Slot::Services),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Slot::EndpointSlices,
    ),
    ("", "v1", "secrets", Slot::Secrets),
    ("", "v1", "nodes", Slot::Nodes),
];

/// Writing one status gives up after this long (the next change retries).
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The translation options of the static settings.
pub fn options(config: &KubernetesIngressProvider) -> IngressOptions {
    IngressOptions {
        ingress_class: config.ingress_class.clone(),
        allow_empty_services: config.allow_empty_services,
        allow_external_name_services: config.allow_external_name_services,
        native_lb_by_default: config.native_lb_by_default,
        strict_prefix_matching: config.strict_prefix_matching,
        disable_ingress_class_lookup: config.disable_ingress_class_lookup,
        disable_cluster_scope_resources: config.disable_cluster_scope_resources,
        cross_provider_namespaces: (!config.cross_provider_namespaces.is_empty())
            .then(|| config.cross_provider_namespaces.clone()),
    }
}

/// The reflectors, each with the slot its objects go to.
struct Copies {
    followed: Vec<(Slot, Reflector)>,
}

impl Copies {
    fn start(client: &Arc<ApiClient>, config: &KubernetesIngressProvider) -> Copies {
        let namespaces: Vec<String> = if config.namespaces.is_empty() {
            vec![String::new()]
        } else {
            config.namespaces.clone()
        };
        let cluster = [String::new()];
        let mut followed = Vec::new();
        for &(group, version, plural, slot) in KINDS {
            let (selector, within): (&str, &[String]) = match slot {
                Slot::Ingresses => (config.label_selector.as_str(), &namespaces),
                Slot::Secrets => ("owner!=helm", &namespaces),
                Slot::Services | Slot::EndpointSlices => ("", &namespaces),
                Slot::IngressClasses | Slot::Nodes if config.disable_cluster_scope_resources => {
                    continue
                }
                Slot::IngressClasses | Slot::Nodes => ("", &cluster),
            };
            for namespace in within {
                let selection = Selection {
                    resource: Resource::new(group, version, plural),
                    namespace: namespace.clone(),
                    label_selector: selector.to_string(),
                };
                followed.push((slot, Reflector::start(client.clone(), selection)));
            }
        }
        Copies { followed }
    }

    fn stores(&self) -> impl Iterator<Item = &Arc<Store>> {
        self.followed.iter().map(|(_, r)| r.store())
    }

    fn synced(&self) -> bool {
        self.stores().all(|s| s.has_synced())
    }

    fn objects(&self) -> Objects {
        let mut o = Objects::default();
        for (slot, reflector) in &self.followed {
            let list = match slot {
                Slot::Ingresses => &mut o.ingresses,
                Slot::IngressClasses => &mut o.ingress_classes,
                Slot::Services => &mut o.services,
                Slot::EndpointSlices => &mut o.endpoint_slices,
                Slot::Secrets => &mut o.secrets,
                Slot::Nodes => &mut o.nodes,
            };
            list.extend(reflector.store().list().iter().map(|v| Value::clone(v)));
        }
        o
    }
}

/// Writes the wanted status on every served Ingress that lacks it.
async fn write_statuses(
    client: &ApiClient,
    config: &KubernetesIngressProvider,
    objects: &Objects,
    options: &IngressOptions,
    logged: &mut BTreeSet<String>,
) {
    let index = Index::new(objects);
    let wanted = match status::wanted(config.ingress_endpoint.as_ref(), &index, options) {
        Ok(Some(w)) => {
            logged.clear();
            w
        }
        Ok(None) => {
            logged.clear();
            return;
        }
        Err(e) => {
            let line = format!("status {e}");
            if logged.insert(line) {
                tracing::error!(provider = PROVIDER_NAME, error = %e, "cannot update the Ingresses' status");
            }
            return;
        }
    };
    for ing in ingress::served(objects, options) {
        if status::is_current(ing, &wanted) {
            continue;
        }
        let namespace = ingress::text(ing, "/metadata/namespace");
        let name = ingress::text(ing, "/metadata/name");
        let path = format!(
            "{}/{name}/status",
            Resource::new("networking.k8s.io", "v1", "ingresses").collection(&namespace)
        );
        let body = status::with_status(ing, &wanted);
        match tokio::time::timeout(STATUS_TIMEOUT, client.put_json(&path, &body)).await {
            Ok(Ok(_)) => {
                tracing::info!(provider = PROVIDER_NAME, namespace = %namespace, ingress = %name, "updated the Ingress status");
            }
            Ok(Err(e)) => {
                tracing::error!(provider = PROVIDER_NAME, namespace = %namespace, ingress = %name, error = %e, "cannot update the Ingress status");
            }
            Err(_) => {
                tracing::error!(provider = PROVIDER_NAME, namespace = %namespace, ingress = %name, "updating the Ingress status timed out");
            }
        }
    }
}

/// Runs the provider until the watcher goes away.
pub async fn run(config: KubernetesIngressProvider, tx: Sender) {
    let settings = follow::settings(&config.endpoint, &config.token, &config.cert_auth_file_path);
    let Some(client) = follow::client(&settings, PROVIDER_NAME) else {
        return;
    };
    if config.allow_external_name_services {
        tracing::info!(
            provider = PROVIDER_NAME,
            "ExternalName service loading is enabled (allowExternalNameServices)"
        );
    }
    let options = options(&config);
    let throttle: Duration = config.throttle_duration.into();
    let copies = Copies::start(&client, &config);

    // Changes made while a translation runs are taken together by the next.
    let mut changes = Changes::follow(copies.stores());
    let mut sending = Sending::new(PROVIDER_NAME, throttle);
    let mut logged = BTreeSet::new();
    let mut status_logged = BTreeSet::new();
    while changes.next().await {
        if !copies.synced() {
            continue;
        }
        let objects = copies.objects();
        let translation = ingress::translate(&objects, &options);
        follow::log_problems(
            PROVIDER_NAME,
            &translation.errors,
            &translation.warnings,
            &mut logged,
        );
        // Routing first (then `throttleDuration`, when written): a status
        // write never delays a configuration.
        if !sending.send(translation.configuration, &tx).await {
            return;
        }
        write_statuses(&client, &config, &objects, &options, &mut status_logged).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;
    use switchyard_config::dynamic::Configuration;
    use tokio::sync::mpsc;

    #[test]
    fn options_follow_the_settings() {
        let config = KubernetesIngressProvider {
            ingress_class: "edge".into(),
            allow_empty_services: true,
            allow_external_name_services: true,
            native_lb_by_default: true,
            strict_prefix_matching: true,
            disable_ingress_class_lookup: true,
            disable_cluster_scope_resources: true,
            cross_provider_namespaces: vec!["a".into()],
            ..KubernetesIngressProvider::default()
        };
        assert_eq!(
            options(&config),
            IngressOptions {
                ingress_class: "edge".into(),
                allow_empty_services: true,
                allow_external_name_services: true,
                native_lb_by_default: true,
                strict_prefix_matching: true,
                disable_ingress_class_lookup: true,
                disable_cluster_scope_resources: true,
                cross_provider_namespaces: Some(vec!["a".into()]),
            }
        );
        assert_eq!(
            options(&KubernetesIngressProvider::default()).cross_provider_namespaces,
            None
        );
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

    fn ingress(host: &str) -> String {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: app, namespace: default}}\n\
             spec:\n  rules:\n  - host: {host}\n    http:\n      paths:\n      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n"
        )
    }

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_changes_and_writes_the_status() {
        let double = switchyard_testkit::KubeDouble::start();
        double.apply(OBJECTS).expect("objects");
        double.apply(&ingress("one.test")).expect("ingress");
        let config = KubernetesIngressProvider {
            endpoint: double.endpoint(),
            ingress_endpoint: Some(switchyard_config::static_config::IngressEndpoint {
                hostname: "edge.example".into(),
                ..Default::default()
            }),
            ..KubernetesIngressProvider::default()
        };
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(run(config, tx));
        let first = next(&mut rx, Duration::from_secs(10)).await.expect("first");
        assert_eq!(first.provider, "kubernetes");
        assert_eq!(
            rules(&first.config),
            ["Host(\"one.test\") && PathPrefix(\"/\")"]
        );
        // The status written back, through the status subresource.
        let mut status = Value::Null;
        for _ in 0..100 {
            status = double
                .get("Ingress", "default", "app")
                .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
                .unwrap_or(Value::Null);
            if !status.is_null() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, serde_json::json!([{"hostname": "edge.example"}]));
        assert!(double.requests().iter().any(|r| r.starts_with(
            "PUT /apis/networking.k8s.io/v1/namespaces/default/ingresses/app/status"
        )));
        // A change the translation does not read: nothing sent.
        double
            .apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unrelated, namespace: default}\ndata: {a: b}\n")
            .expect("configmap");
        assert!(next(&mut rx, Duration::from_millis(500)).await.is_none());
        double.apply(&ingress("two.test")).expect("host changed");
        let changed = next(&mut rx, Duration::from_secs(10))
            .await
            .expect("changed");
        assert_eq!(
            rules(&changed.config),
            ["Host(\"two.test\") && PathPrefix(\"/\")"]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttle_takes_changes_together() {
        let double = switchyard_testkit::KubeDouble::start();
        double.apply(OBJECTS).expect("objects");
        double.apply(&ingress("one.test")).expect("ingress");
        let config = KubernetesIngressProvider {
            endpoint: double.endpoint(),
            throttle_duration: switchyard_config::Duration(Duration::from_millis(800)),
            ..KubernetesIngressProvider::default()
        };
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(run(config, tx));
        let first = next(&mut rx, Duration::from_secs(10)).await.expect("first");
        let sent_at = std::time::Instant::now();
        assert_eq!(
            rules(&first.config),
            ["Host(\"one.test\") && PathPrefix(\"/\")"]
        );
        for host in ["two.test", "three.test", "four.test"] {
            double.apply(&ingress(host)).expect("host changed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let after = next(&mut rx, Duration::from_secs(10))
            .await
            .expect("after the throttle");
        assert!(
            sent_at.elapsed() >= Duration::from_millis(700),
            "{:?}",
            sent_at.elapsed()
        );
        // The changes made during the period come as one: the last.
        assert_eq!(
            rules(&after.config),
            ["Host(\"four.test\") && PathPrefix(\"/\")"]
        );
        assert!(next(&mut rx, Duration::from_millis(300)).await.is_none());
    }
}
