//! The `kubernetesGateway` provider: one [`Reflector`] per kind (and per
//! namespace when `namespaces` is given) keeps a local copy of what the
//! Gateway translation reads; each time any copy changes, the whole set is
//! translated, the configuration sent as `kubernetesgateway` when it
//! differs from the last one sent, then the statuses Traefik writes are
//! written back (`PUT .../status`) where they differ from what the objects
//! say.
//!
//! As in Traefik, `labelSelector` narrows the GatewayClasses only, Secrets
//! are listed with `owner!=helm`, and TCPRoutes are watched with
//! `experimentalChannel` only.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use switchyard_config::static_config::{EntryPoint, KubernetesGatewayProvider};

use super::follow::{self, Changes, Sending};
use super::gateway::{
    self, EntryPointInfo, GatewayOptions, Objects, StatusAddress, StatusUpdate, PROVIDER_NAME,
};
use super::{ApiClient, KubeError, Reflector, Resource, Selection};
use crate::Sender;

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// What a kind's copies are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Namespaces,
    GatewayClasses,
    Gateways,
    HttpRoutes,
    GrpcRoutes,
    ReferenceGrants,
    TcpTls,
    Services,
    EndpointSlices,
    Secrets,
}

/// `(group, version, plural, slot, cluster-wide)` of every kind watched
/// (TCPRoutes are added with `experimentalChannel`).
const KINDS: &[(&str, &str, &str, Slot, bool)] = &[
    ("", "v1", "namespaces", Slot::Namespaces, true),
    (
        GATEWAY_GROUP,
        "v1",
        "gatewayclasses",
        Slot::GatewayClasses,
        true,
    ),
    (GATEWAY_GROUP, "v1", "gateways", Slot::Gateways, false),
    (GATEWAY_GROUP, "v1", "httproutes", Slot::HttpRoutes, false),
    (GATEWAY_GROUP, "v1", "grpcroutes", Slot::GrpcRoutes, false),
    (
        GATEWAY_GROUP,
        "v1beta1",
        "referencegrants",
        Slot::ReferenceGrants,
        false,
    ),
    (GATEWAY_GROUP, "v1", "tlsroutes", Slot::TcpTls, false),
    ("", "v1", "services", Slot::Services, false),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        Slot::EndpointSlices,
        false,
    ),
    ("", "v1", "secrets", Slot::Secrets, false),
];
const TCP_ROUTES: (&str, &str, &str, Slot, bool) =
    (GATEWAY_GROUP, "v1alpha2", "tcproutes", Slot::TcpTls, false);

/// The translation options of the static settings, the entry points and
/// whether (and where) the `kubernetesCRD` provider runs.
pub fn options(
    config: &KubernetesGatewayProvider,
    entry_points: &[(String, EntryPoint)],
    crd_namespaces: Option<Vec<String>>,
) -> GatewayOptions {
    let status_address = match &config.status_address {
        None => StatusAddress::None,
        Some(a) if !a.ip.is_empty() => StatusAddress::Ip(a.ip.clone()),
        Some(a) if !a.hostname.is_empty() => StatusAddress::Hostname(a.hostname.clone()),
        Some(a) => StatusAddress::Service {
            namespace: a.service.namespace.clone(),
            name: a.service.name.clone(),
        },
    };
    GatewayOptions {
        entry_points: entry_points
            .iter()
            .map(|(name, ep)| EntryPointInfo {
                name: name.clone(),
                address: ep.address.clone(),
                http_tls: ep.http.tls.is_some(),
            })
            .collect(),
        experimental_channel: config.experimental_channel,
        native_lb_by_default: config.native_lb_by_default,
        cross_provider_namespaces: (!config.cross_provider_namespaces.is_empty())
            .then(|| config.cross_provider_namespaces.clone()),
        crd_namespaces,
        status_address,
    }
}

/// The reflectors, each with the slot its objects go to.
struct Copies {
    followed: Vec<(Slot, &'static str, Reflector)>,
}

impl Copies {
    fn start(client: &Arc<ApiClient>, config: &KubernetesGatewayProvider) -> Copies {
        let namespaces: Vec<String> = if config.namespaces.is_empty() {
            vec![String::new()]
        } else {
            config.namespaces.clone()
        };
        let mut kinds = KINDS.to_vec();
        if config.experimental_channel {
            kinds.push(TCP_ROUTES);
        }
        let mut followed = Vec::new();
        for (group, version, plural, slot, cluster) in kinds {
            let selector = match slot {
                Slot::GatewayClasses => config.label_selector.as_str(),
                Slot::Secrets => "owner!=helm",
                _ => "",
            };
            let in_namespaces: &[String] = if cluster {
                &[String::new()]
            } else {
                &namespaces
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

    fn synced(&self) -> bool {
        self.followed.iter().all(|(_, _, r)| r.store().has_synced())
    }

    /// Every object now, sorted to the translation's lists.
    fn objects(&self) -> Objects {
        let mut o = Objects::default();
        for (slot, plural, reflector) in &self.followed {
            let list = match slot {
                Slot::Namespaces => &mut o.namespaces,
                Slot::GatewayClasses => &mut o.gateway_classes,
                Slot::Gateways => &mut o.gateways,
                Slot::HttpRoutes => &mut o.http_routes,
                Slot::GrpcRoutes => &mut o.grpc_routes,
                Slot::ReferenceGrants => &mut o.reference_grants,
                Slot::TcpTls => &mut o.tcp_tls,
                Slot::Services => &mut o.services,
                Slot::EndpointSlices => &mut o.endpoint_slices,
                Slot::Secrets => &mut o.secrets,
            };
            for item in reflector.store().list() {
                let mut item = Value::clone(&item);
                // List items carry no kind; the warning names it.
                if *slot == Slot::TcpTls && item.get("kind").is_none() {
                    if let Some(map) = item.as_object_mut() {
                        let kind = if *plural == "tcproutes" {
                            "TCPRoute"
                        } else {
                            "TLSRoute"
                        };
                        map.insert("kind".into(), Value::from(kind));
                    }
                }
                list.push(item);
            }
        }
        o
    }

    /// The object a status is for, as last seen.
    fn current(&self, update: &StatusUpdate) -> Option<Arc<Value>> {
        self.followed
            .iter()
            .filter(|(_, plural, _)| *plural == update.resource)
            .find_map(|(_, _, r)| r.store().get(&update.namespace, &update.name))
    }
}

/// A value without its `lastTransitionTime`s.
fn untimed(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "lastTransitionTime")
                .map(|(k, x)| (k.clone(), untimed(x)))
                .collect(),
        ),
        Value::Array(l) => Value::Array(l.iter().map(untimed).collect()),
        other => other.clone(),
    }
}

/// Gives every condition of `new` a `lastTransitionTime`: the one of the
/// same condition in `old` when its status did not change, else `now`.
/// Conditions are matched by type, listeners by name, other list items by
/// position.
fn stamp(new: &mut Value, old: &Value, now: &str) {
    match new {
        Value::Object(m) => {
            let is_condition = m.contains_key("type") && m.contains_key("status");
            if is_condition {
                let kept = old
                    .get("lastTransitionTime")
                    .filter(|_| old.get("status") == m.get("status"))
                    .cloned();
                m.insert(
                    "lastTransitionTime".into(),
                    kept.unwrap_or_else(|| Value::from(now)),
                );
                return;
            }
            for (k, v) in m.iter_mut() {
                stamp(v, old.get(k).unwrap_or(&Value::Null), now);
            }
        }
        Value::Array(items) => {
            let olds = old.as_array().cloned().unwrap_or_default();
            for (i, item) in items.iter_mut().enumerate() {
                let by = |key: &str| {
                    let want = item.get(key)?;
                    olds.iter().find(|o| o.get(key) == Some(want)).cloned()
                };
                let matched = if item.get("status").is_some() && item.get("type").is_some() {
                    by("type")
                } else if item.get("name").is_some() && item.get("conditions").is_some() {
                    by("name")
                } else {
                    olds.get(i).cloned()
                };
                stamp(item, &matched.unwrap_or(Value::Null), now);
            }
        }
        _ => {}
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a time since the Unix epoch.
fn rfc3339(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days to a civil date (proleptic Gregorian), by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn now() -> String {
    rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

fn status_path(update: &StatusUpdate) -> String {
    // TCPRoutes are served in `v1alpha2` only.
    let version = if update.resource == "tcproutes" {
        TCP_ROUTES.1
    } else {
        "v1"
    };
    let resource = Resource::new(GATEWAY_GROUP, version, update.resource);
    format!(
        "{}/{}/status",
        resource.collection(&update.namespace),
        update.name
    )
}

/// Writes one status, unless the object already says it; once more on a
/// conflict, from the object as the server has it.
async fn write_status(
    client: &ApiClient,
    current: &Value,
    update: &StatusUpdate,
) -> Result<bool, KubeError> {
    let path = status_path(update);
    let mut object = current.clone();
    for attempt in 0..2 {
        let old = object.get("status").cloned().unwrap_or(Value::Null);
        if untimed(&old) == update.status {
            return Ok(false);
        }
        let mut status = update.status.clone();
        stamp(&mut status, &old, &now());
        object["status"] = status;
        match client.put_json(&path, &object).await {
            Ok(_) => return Ok(true),
            Err(KubeError::Status { code: 409, .. }) if attempt == 0 => {
                let object_path = path.trim_end_matches("/status").to_string();
                object = client.get_object(&object_path).await?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Writes the statuses that differ from what the objects say.
async fn write_statuses(client: &ApiClient, copies: &Copies, updates: &[StatusUpdate]) {
    for update in updates {
        let Some(current) = copies.current(update) else {
            continue;
        };
        match write_status(client, &current, update).await {
            Ok(true) => tracing::debug!(provider = PROVIDER_NAME, resource = update.resource,
                namespace = %update.namespace, name = %update.name, "status written"),
            Ok(false) => {}
            Err(e) => tracing::warn!(provider = PROVIDER_NAME, resource = update.resource,
                namespace = %update.namespace, name = %update.name, error = %e, "cannot write the status"),
        }
    }
}

/// Runs the provider until the watcher goes away.
pub async fn run(config: KubernetesGatewayProvider, options: GatewayOptions, tx: Sender) {
    let settings = follow::settings(&config.endpoint, &config.token, &config.cert_auth_file_path);
    let Some(client) = follow::client(&settings, PROVIDER_NAME) else {
        return;
    };
    let copies = Copies::start(&client, &config);
    let mut changes = Changes::follow(copies.followed.iter().map(|(_, _, r)| r.store()));
    let mut sending = Sending::new(PROVIDER_NAME, config.throttle_duration.into());
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
        let translation = gateway::translate(&copies.objects(), &options);
        follow::log_problems(
            PROVIDER_NAME,
            &translation.errors,
            &translation.warnings,
            &mut logged,
        );
        if translation.configuration.http.is_none() {
            // Nothing could be translated (the status address is unknown):
            // the last configuration keeps serving, as in Traefik.
            continue;
        }
        if !sending.send(translation.configuration, &tx).await {
            return;
        }
        write_statuses(&client, &copies, &translation.statuses).await;
    }
}

#[cfg(test)]
mod tests;
