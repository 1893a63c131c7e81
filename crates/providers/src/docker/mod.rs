//! The Docker provider (`providers.docker`): containers and their labels
//! become routers, services and middlewares, as in Traefik v3.
//!
//! On start (and on each reconnection) it lists every container, inspects
//! each, builds the configuration ([`build`]) and sends it. With `watch`
//! it then follows the engine's events: a container that starts, stops,
//! dies, is paused or unpaused, renamed or destroyed, changes health, or a
//! network (dis)connection, triggers a new listing at once (no polling);
//! events that arrive meanwhile are folded into the next listing. A
//! configuration equal to the last one sent is not sent again.
//!
//! When the engine cannot be reached (at start, or its event stream ends),
//! nothing is sent, so the last configuration keeps serving; the outage is
//! logged once, and the provider reconnects with a capped exponential
//! backoff ([`RETRY_FIRST`] doubling up to [`RETRY_MAX`]).
//!
//! # Where Switchyard differs
//!
//! - Traefik re-lists only on `start`, `die` and `health_status` events;
//!   Switchyard also on the other changes above (Traefik picks those up at
//!   its next listing).
//! - A listing where one inspection fails (other than "no such container")
//!   is dropped as a whole and the engine is reconnected; Traefik leaves
//!   that container out.
//! - `ssh://` endpoints are not supported.

pub mod build;
pub(crate) mod client;
pub mod container;
mod l4;
#[cfg(test)]
mod tests;
pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::{EventsOptions, InspectContainerOptions, ListContainersOptions};
use bollard::Docker;
use futures_util::StreamExt;
use switchyard_config::dynamic::Configuration;
use switchyard_config::labels::LabelProvider;
pub use switchyard_config::static_config::DockerProvider;
use switchyard_config::template::{Functions, Template, Value};
use switchyard_rules::constraints::Constraint;

use self::build::{DefaultRule, RuleModel, Settings};
use self::container::ContainerData;
use crate::{Message, Sender};

/// The provider's name (`name@docker`).
pub const NAME: &str = "docker";
/// The first wait before reconnecting.
pub const RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest wait between two reconnection attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// The events that trigger a new listing.
const CONTAINER_ACTIONS: [&str; 8] = [
    "start", "die", "stop", "kill", "pause", "unpause", "rename", "destroy",
];

/// Why a session with the engine ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Connect(#[from] client::ConnectError),
    #[error("{what}: {source}")]
    Engine {
        what: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("the engine closed its event stream")]
    EventsEnded,
}

fn engine(what: &'static str) -> impl FnOnce(bollard::errors::Error) -> SessionError {
    move |source| SessionError::Engine { what, source }
}

/// Reads the settings the build needs; an error here (a constraint that
/// does not parse) stops the provider.
pub fn settings(
    config: &DockerProvider,
    default_rule: Arc<DefaultRule>,
) -> Result<Settings, String> {
    settings_of(LabelProvider::Docker, config, default_rule)
}

/// [`settings`] of the Docker provider or of the Swarm provider (whose
/// shared settings `config` holds).
pub(crate) fn settings_of(
    labels: LabelProvider,
    config: &DockerProvider,
    default_rule: Arc<DefaultRule>,
) -> Result<Settings, String> {
    let section = section(labels);
    let constraints = Constraint::parse(&config.constraints)
        .map_err(|e| format!("{section}.constraints: {e}"))?;
    Ok(Settings {
        exposed_by_default: config.exposed_by_default,
        constraints,
        allow_empty_services: config.allow_empty_services,
        network: config.network.clone(),
        use_bind_port_ip: config.use_bind_port_ip,
        default_rule,
        host_address: "127.0.0.1".into(),
        labels,
    })
}

fn section(labels: LabelProvider) -> &'static str {
    match labels {
        LabelProvider::Swarm => "providers.swarm",
        _ => "providers.docker",
    }
}

/// Parses `defaultRule` (a Go template, with `.Name`, `.ContainerName`
/// and `.Labels`, and the standard functions with `normalize`).
pub fn default_rule(text: &str) -> Result<Arc<DefaultRule>, String> {
    default_rule_of(LabelProvider::Docker, text)
}

/// [`default_rule`] of the Docker or the Swarm provider.
pub(crate) fn default_rule_of(
    labels: LabelProvider,
    text: &str,
) -> Result<Arc<DefaultRule>, String> {
    let section = section(labels);
    let template = Template::parse("defaultRule", text)
        .map_err(|e| format!("{section}.defaultRule: error while parsing default rule: {e}"))?;
    let mut functions = Functions::standard();
    functions.insert("index", labels_index);
    Ok(Arc::new(move |m: &RuleModel<'_>| {
        let labels = m
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let data = Value::Map(BTreeMap::from([
            ("Name".to_string(), Value::String(m.name.to_string())),
            (
                "ContainerName".to_string(),
                Value::String(m.container_name.to_string()),
            ),
            ("Labels".to_string(), Value::Map(labels)),
        ]));
        template
            .render(&data, &functions)
            .map_err(|e| e.to_string())
    }))
}

/// Go's `index` on Traefik's model, whose `.Labels` is a `map[string]string`:
/// a missing label is the empty string (Go's zero value), not `<no value>`.
fn labels_index(args: &[Value]) -> Result<Value, String> {
    let Some((first, keys)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut v = first.clone();
    for key in keys {
        v = match (v, key) {
            (Value::Map(m), Value::String(k)) => {
                m.get(k).cloned().unwrap_or(Value::String(String::new()))
            }
            (Value::List(l), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| l.get(i).cloned())
                .ok_or_else(|| format!("error calling index: index out of range: {i}"))?,
            (Value::Nil, _) => return Err("error calling index: index of untyped nil".into()),
            (other, _) => {
                return Err(format!(
                    "error calling index: cannot index {other} with {key}"
                ))
            }
        };
    }
    Ok(v)
}

/// Runs until `tx` closes (or, without `watch`, after the first listing).
pub async fn run(config: DockerProvider, tx: Sender) {
    let prepared = default_rule(&config.default_rule).and_then(|rule| settings(&config, rule));
    let mut settings = match prepared {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(provider = NAME, error = %e, "cannot start the Docker provider");
            return;
        }
    };
    let mut last_sent: Option<Configuration> = None;
    let mut wait = RETRY_FIRST;
    let mut down = false;
    loop {
        let mut connected = false;
        let result = session(&config, &mut settings, &tx, &mut last_sent, &mut connected).await;
        if connected {
            // It answered for a while: a new failure is a new outage.
            wait = RETRY_FIRST;
            down = false;
        }
        match result {
            Ok(()) => return,
            Err(e) => {
                if tx.is_closed() {
                    return;
                }
                if !down {
                    tracing::error!(provider = NAME, endpoint = %config.endpoint, error = %e,
                        "Docker engine unreachable; keeping the last configuration and reconnecting");
                    down = true;
                } else {
                    tracing::debug!(provider = NAME, error = %e, retry_in = ?wait, "Docker engine still unreachable");
                }
            }
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One connection to the engine: list, send, follow events. `Ok` only
/// without `watch` (or when `tx` closes).
async fn session(
    config: &DockerProvider,
    settings: &mut Settings,
    tx: &Sender,
    last_sent: &mut Option<Configuration>,
    connected: &mut bool,
) -> Result<(), SessionError> {
    let docker = client::connect(config)?;
    let version = docker
        .version()
        .await
        .map_err(engine("reading the engine's version"))?;
    tracing::info!(provider = NAME, endpoint = %config.endpoint,
        version = version.version.as_deref().unwrap_or("?"), "connected to the Docker engine");
    // Events from a second back: nothing that happens while listing is
    // missed (a replayed event only costs one more listing).
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs().saturating_sub(1))
        .unwrap_or(0);
    let mut filters = HashMap::new();
    filters.insert(
        "type".to_string(),
        vec!["container".to_string(), "network".to_string()],
    );
    let mut events = docker.events(Some(EventsOptions {
        since: Some(since.to_string()),
        until: None,
        filters: Some(filters),
    }));
    list_and_send(&docker, settings, tx, last_sent).await?;
    *connected = true;
    if !config.watch {
        return Ok(());
    }
    loop {
        let event = tokio::select! {
            e = events.next() => e,
            _ = tx.closed() => return Ok(()),
        };
        let event = match event {
            None => return Err(SessionError::EventsEnded),
            Some(Err(e)) => return Err(engine("following the engine's events")(e)),
            Some(Ok(e)) => e,
        };
        if !relevant(event.action.as_deref().unwrap_or("")) {
            continue;
        }
        tracing::debug!(provider = NAME, action = ?event.action,
            id = ?event.actor.as_ref().and_then(|a| a.id.as_deref()), "engine event");
        // Fold the events already waiting into this listing.
        let mut more = 0;
        while more < 1000 {
            match futures_util::FutureExt::now_or_never(events.next()) {
                Some(Some(Ok(_))) => more += 1,
                Some(None) => return Err(SessionError::EventsEnded),
                Some(Some(Err(e))) => return Err(engine("following the engine's events")(e)),
                None => break,
            }
        }
        list_and_send(&docker, settings, tx, last_sent).await?;
    }
}

fn relevant(action: &str) -> bool {
    CONTAINER_ACTIONS.contains(&action)
        || action.starts_with("health_status")
        || action == "connect"
        || action == "disconnect"
}

async fn list_and_send(
    docker: &Docker,
    settings: &mut Settings,
    tx: &Sender,
    last_sent: &mut Option<Configuration>,
) -> Result<(), SessionError> {
    let containers = list(docker).await?;
    if containers.iter().any(|c| c.network_mode == "host") {
        settings.host_address = host_address().await;
    }
    let built = build::build(&containers, settings);
    for e in &built.errors {
        tracing::error!(provider = NAME, error = %e, "container left out of the configuration");
    }
    if last_sent.as_ref() == Some(&built.configuration) {
        tracing::debug!(
            provider = NAME,
            containers = containers.len(),
            "containers listed; configuration unchanged"
        );
        return Ok(());
    }
    tracing::info!(
        provider = NAME,
        containers = containers.len(),
        "configuration change detected"
    );
    *last_sent = Some(built.configuration.clone());
    let _ = tx
        .send(Message {
            provider: NAME.to_string(),
            config: built.configuration,
        })
        .await;
    Ok(())
}

/// Lists and inspects every container (running or not).
async fn list(docker: &Docker) -> Result<Vec<ContainerData>, SessionError> {
    let summaries = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(engine("listing containers"))?;
    let mut out = Vec::with_capacity(summaries.len());
    for s in summaries {
        let Some(id) = s.id else { continue };
        let Some(mut data) = inspect(docker, &id).await? else {
            continue;
        };
        if let Some(other) = data.connected_container().map(str::to_string) {
            data.network_container = inspect(docker, &other).await?.map(Box::new);
        }
        out.push(data);
    }
    Ok(out)
}

/// `None` when the container is gone already.
async fn inspect(docker: &Docker, id: &str) -> Result<Option<ContainerData>, SessionError> {
    match docker
        .inspect_container(id, None::<InspectContainerOptions>)
        .await
    {
        Ok(c) => Ok(ContainerData::from_inspect(&c)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(engine("inspecting a container")(e)),
    }
}

/// Where a container in `host` network mode is reached, as Traefik finds
/// it: `host.docker.internal`, else `host.containers.internal`, else
/// 127.0.0.1.
async fn host_address() -> String {
    for name in ["host.docker.internal", "host.containers.internal"] {
        let lookup =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::lookup_host((name, 0)));
        if let Ok(Ok(mut addrs)) = lookup.await {
            if let Some(a) = addrs.next() {
                return a.ip().to_string();
            }
        }
    }
    "127.0.0.1".into()
}
