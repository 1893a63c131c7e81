//! The Swarm provider (`providers.swarm`): Docker Swarm services and
//! their labels become routers, services and middlewares, as in Traefik
//! v3. Element names are qualified `@swarm`.
//!
//! It shares the Docker provider's client (`endpoint`, `tls`,
//! `username`/`password`, `httpClientTimeout`), its labels → configuration
//! build, `defaultRule` and `constraints`; what is its own is how a poll's
//! services and tasks become containers ([`listing`]).
//!
//! The engine has no events for services: on start (and on each
//! reconnection) the provider lists services, tasks and networks and
//! sends the configuration; with `watch` it lists again every
//! `refreshSeconds` (default 15s), and a configuration equal to the last
//! one sent is not sent again. When the engine cannot be reached or
//! answers an error, nothing is sent, so the last configuration keeps
//! serving; the outage is logged once, and the provider reconnects with
//! the Docker provider's capped exponential backoff.
//!
//! # Where Switchyard differs
//!
//! - `traefik.swarm.lbswarm=true` on a service in endpoint mode `dnsrr`
//!   (which has no virtual IP) uses the tasks' addresses, as Traefik's
//!   warning says ("Fallback to Traefik load balancing"); Traefik itself
//!   then leaves the service out.
//! - Traefik picks a task's "first" network (with neither label nor
//!   `network`) in Go's random map order; Switchyard the first by name.
//! - Traefik inspects each task's node (for an address only a container in
//!   `host` network mode would use, which a task never is); Switchyard
//!   does not, so a node that cannot be inspected drops no task.
//! - A `refreshSeconds` of zero (Traefik: a panic) polls every second.

pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod listing;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::time::Duration;

use switchyard_config::dynamic::Configuration;
use switchyard_config::labels::LabelProvider;
pub use switchyard_config::static_config::SwarmProvider;

use crate::docker::build::{self, Settings};
use crate::docker::client::{ConnectError, Connection};
use crate::docker::{RETRY_FIRST, RETRY_MAX};
use crate::{Message, Sender};

/// The provider's name (`name@swarm`).
pub const NAME: &str = "swarm";

/// The shortest interval between two polls.
const MIN_REFRESH: Duration = Duration::from_secs(1);

/// Why a session with the engine ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("reading the engine's version: {0}")]
    Version(#[source] bollard::errors::Error),
    #[error(transparent)]
    Read(#[from] engine::ReadError),
}

/// Reads the settings the build needs; an error (a constraint or a
/// default rule that does not parse) stops the provider.
pub fn settings(config: &SwarmProvider) -> Result<Settings, String> {
    let shared = config.shared();
    let rule = crate::docker::default_rule_of(LabelProvider::Swarm, &shared.default_rule)?;
    crate::docker::settings_of(LabelProvider::Swarm, &shared, rule)
}

/// What the provider remembers between polls.
struct State {
    settings: Settings,
    last_sent: Option<Configuration>,
    /// Services already warned about (deprecated labels, `dnsrr`), so
    /// that a warning is not repeated at every poll.
    warned: HashSet<(&'static str, String)>,
}

/// Runs until `tx` closes (or, without `watch`, after the first listing).
pub async fn run(config: SwarmProvider, tx: Sender) {
    let settings = match settings(&config) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(provider = NAME, error = %e, "cannot start the Swarm provider");
            return;
        }
    };
    let mut state = State {
        settings,
        last_sent: None,
        warned: HashSet::new(),
    };
    let mut wait = RETRY_FIRST;
    let mut down = false;
    loop {
        let mut connected = false;
        let result = session(&config, &mut state, &tx, &mut connected).await;
        if connected {
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
                        "cannot list the swarm's services; keeping the last configuration and retrying");
                    down = true;
                } else {
                    tracing::debug!(provider = NAME, error = %e, retry_in = ?wait,
                        "still cannot list the swarm's services");
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One connection to the engine: list and send, then poll. `Ok` only
/// without `watch` (or when `tx` closes).
async fn session(
    config: &SwarmProvider,
    state: &mut State,
    tx: &Sender,
    connected: &mut bool,
) -> Result<(), SessionError> {
    let connection = Connection::open(&config.shared())?;
    let version = connection
        .client(None)
        .version()
        .await
        .map_err(SessionError::Version)?;
    tracing::info!(provider = NAME, endpoint = %config.endpoint,
        version = version.version.as_deref().unwrap_or("?"), "connected to the Docker engine (Swarm)");
    poll(&connection, state, tx).await?;
    *connected = true;
    if !config.watch {
        return Ok(());
    }
    let refresh = Duration::from(config.refresh_seconds).max(MIN_REFRESH);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + refresh, refresh);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tx.closed() => return Ok(()),
        }
        poll(&connection, state, tx).await?;
    }
}

/// Lists, builds, and sends what changed.
async fn poll(connection: &Connection, state: &mut State, tx: &Sender) -> Result<(), SessionError> {
    let snapshot = engine::snapshot(connection).await?;
    let listed = listing::containers(&snapshot);
    for e in &listed.errors {
        tracing::error!(provider = NAME, error = %e, "service left out of the configuration");
    }
    for name in listed.deprecated {
        if state.warned.insert(("deprecated", name.clone())) {
            tracing::warn!(provider = NAME, service = %name,
                "Labels traefik.docker.* for Swarm provider are deprecated. Please use traefik.swarm.* labels instead");
        }
    }
    for name in listed.dnsrr_lbswarm {
        if state.warned.insert(("dnsrr", name.clone())) {
            tracing::warn!(provider = NAME, service = %name,
                "lbswarm ignored: endpoint mode dnsrr has no virtual IP; the tasks' addresses are used");
        }
    }
    let built = build::build(&listed.containers, &state.settings);
    for e in &built.errors {
        tracing::error!(provider = NAME, error = %e, "task left out of the configuration");
    }
    if state.last_sent.as_ref() == Some(&built.configuration) {
        tracing::debug!(
            provider = NAME,
            services = snapshot.services.len(),
            tasks = listed.containers.len(),
            "services listed; configuration unchanged"
        );
        return Ok(());
    }
    tracing::info!(
        provider = NAME,
        services = snapshot.services.len(),
        tasks = listed.containers.len(),
        "configuration change detected"
    );
    state.last_sent = Some(built.configuration.clone());
    let _ = tx
        .send(Message {
            provider: NAME.to_string(),
            config: built.configuration,
        })
        .await;
    Ok(())
}
