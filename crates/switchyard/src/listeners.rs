//! The running listeners, by entrypoint name: started at start-up, and
//! changed while running when the static configuration's entrypoints
//! change ([`Listeners::apply`]). An entrypoint whose configuration did not
//! change is left alone, its connections with it. A removed one stops
//! accepting and drains as at shutdown. A changed one is replaced with the
//! new listener accepting before the old one stops: on the same address the
//! new one accepts from the same listening socket (nothing is bound again,
//! so no connection attempt is refused), on another address it is bound
//! first. The old one then drains its connections with its old settings.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;
use switchyard_config::static_config::{EntryPoint as EntryPointConfig, StaticConfiguration};
use switchyard_server::entrypoint::{EntryPoint, EntryPointSettings};
use switchyard_server::metrics::{EntryPointMetrics, Metrics};
use switchyard_server::static_translation as translate;
use switchyard_server::udp::{UdpEntryPoint, UdpSettings};
use switchyard_server::Switcher;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every entrypoint's settings share, decided at start-up.
pub struct Shared {
    /// This machine's name (`X-Forwarded-Server`).
    pub host: String,
    pub challenges: Option<switchyard_server::acme::Challenges>,
    pub access_log: Option<Arc<switchyard_server::accesslog::AccessLog>>,
    pub tracer: Option<Arc<switchyard_proxy::trace::Tracer>>,
    pub metrics: Option<Arc<Metrics>>,
}

/// A bound entrypoint, not yet serving.
pub enum Bound {
    Http(EntryPoint),
    Udp(UdpEntryPoint),
}

/// A serving entrypoint.
struct Running {
    /// The configuration it was made from.
    config: EntryPointConfig,
    /// A duplicate of its listening socket, for a successor on the same
    /// address (TCP without HTTP/3 only).
    shared: Option<std::net::TcpListener>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    /// Tells it to stop accepting and drain; its task, to wait for.
    fn stop(self) -> JoinHandle<()> {
        // Closed first: else the socket would stay open, queueing
        // connections nobody accepts.
        drop(self.shared);
        let _ = self.stop.send(true);
        self.task
    }
}

/// The entrypoints that serve, by name.
pub struct Listeners {
    switcher: Switcher,
    shared: Shared,
    running: BTreeMap<String, Running>,
    /// Stopped ones still draining.
    draining: Vec<JoinHandle<()>>,
    /// Each entrypoint's counters, kept across its replacements.
    metrics: HashMap<String, Arc<EntryPointMetrics>>,
}

impl Listeners {
    pub fn new(switcher: Switcher, shared: Shared) -> Listeners {
        Listeners {
            switcher,
            shared,
            running: BTreeMap::new(),
            draining: Vec::new(),
            metrics: HashMap::new(),
        }
    }

    /// Binds every entrypoint of `config` (none serves yet: see
    /// [`Listeners::serve`]); the first that cannot be bound is the error.
    pub fn bind_all(
        &mut self,
        config: &StaticConfiguration,
    ) -> anyhow::Result<Vec<(EntryPointConfig, Bound)>> {
        let mut http = self.http_settings(config)?;
        let mut udp = udp_settings(config)?;
        let mut out = Vec::new();
        for (name, ep) in &config.entry_points {
            let bound = if let Some(settings) = udp.remove(name) {
                Bound::Udp(UdpEntryPoint::bind(settings)?)
            } else if let Some(settings) = http.remove(name) {
                Bound::Http(EntryPoint::bind(settings, &self.switcher)?)
            } else {
                continue;
            };
            log_listening(&bound);
            out.push((ep.clone(), bound));
        }
        Ok(out)
    }

    /// Starts serving what [`Listeners::bind_all`] bound.
    pub fn serve(&mut self, bound: Vec<(EntryPointConfig, Bound)>) {
        for (config, bound) in bound {
            self.spawn(config, bound);
        }
    }

    /// Makes the running entrypoints those of `config` (checked already):
    /// starts the added ones, stops the removed ones, replaces the
    /// changed ones, and leaves the others alone. Returns the entrypoints
    /// that serve afterwards, by name: an entrypoint that could not be
    /// started is not there, and one that could not be replaced keeps its
    /// old configuration (each is logged).
    pub fn apply(
        &mut self,
        config: &StaticConfiguration,
    ) -> anyhow::Result<BTreeMap<String, EntryPointConfig>> {
        let mut http = self.http_settings(config)?;
        let mut udp = udp_settings(config)?;
        for (name, ep) in &config.entry_points {
            if self.running.get(name).is_some_and(|r| &r.config == ep) {
                continue;
            }
            let made = match (udp.remove(name), http.remove(name)) {
                (Some(settings), _) => self.make_udp(settings, &ep.address),
                (None, Some(settings)) => self.make_http(settings, &ep.address, config),
                (None, None) => continue,
            };
            match made {
                Ok(bound) => {
                    log_listening(&bound);
                    let old = self.running.remove(name);
                    self.spawn(ep.clone(), bound);
                    if let Some(old) = old {
                        tracing::info!(entrypoint = %name, "entrypoint changed: the new listener accepts, the old one drains");
                        self.draining.push(old.stop());
                    }
                }
                Err(e) if self.running.contains_key(name) => {
                    tracing::error!(entrypoint = %name, "{e:#}; it keeps its running configuration")
                }
                Err(e) => tracing::error!(entrypoint = %name, "{e:#}; it does not start"),
            }
        }
        // Removed last: an entrypoint renamed on the same address shares
        // the socket of the one it replaces.
        let removed: Vec<String> = self
            .running
            .keys()
            .filter(|n| !config.entry_points.contains_key(*n))
            .cloned()
            .collect();
        for name in removed {
            if let Some(r) = self.running.remove(&name) {
                tracing::info!(entrypoint = %name, "entrypoint removed from the static configuration: it stops accepting and drains");
                self.draining.push(r.stop());
            }
        }
        self.draining.retain(|t| !t.is_finished());
        Ok(self
            .running
            .iter()
            .map(|(n, r)| (n.clone(), r.config.clone()))
            .collect())
    }

    /// Stops every entrypoint and waits until all have drained.
    pub async fn stop_all(mut self) {
        let running = std::mem::take(&mut self.running);
        let mut tasks: Vec<JoinHandle<()>> = running.into_values().map(Running::stop).collect();
        tasks.append(&mut self.draining);
        for t in tasks {
            let _ = t.await;
        }
    }

    /// A new HTTP entrypoint: on the socket of the running one on the
    /// same address (of the same name, or one going away) when there is
    /// one, else bound.
    fn make_http(
        &self,
        settings: EntryPointSettings,
        address: &str,
        config: &StaticConfiguration,
    ) -> anyhow::Result<Bound> {
        let same_address = self
            .running
            .get(&settings.name)
            .filter(|r| r.config.address == address)
            .or_else(|| {
                self.running.iter().find_map(|(n, r)| {
                    (r.config.address == address && !config.entry_points.contains_key(n))
                        .then_some(r)
                })
            });
        let Some(old) = same_address else {
            return Ok(Bound::Http(EntryPoint::bind(settings, &self.switcher)?));
        };
        let Some(shared) = &old.shared else {
            anyhow::bail!(
                "an HTTP/3 entrypoint cannot change without a restart unless its address changes"
            );
        };
        if settings.http3.is_some() {
            anyhow::bail!(
                "HTTP/3 cannot be turned on without a restart unless the address changes"
            );
        }
        let shared = shared
            .try_clone()
            .context("duplicating the listening socket")?;
        Ok(Bound::Http(EntryPoint::sharing(settings, shared)?))
    }

    /// A new UDP entrypoint, bound: a UDP socket is not shared, so one on
    /// the same address waits for a restart.
    fn make_udp(&self, settings: UdpSettings, address: &str) -> anyhow::Result<Bound> {
        let same_address = self
            .running
            .get(&settings.name)
            .is_some_and(|r| r.config.address == address);
        if same_address {
            anyhow::bail!(
                "a UDP entrypoint cannot change without a restart unless its address changes"
            );
        }
        Ok(Bound::Udp(UdpEntryPoint::bind(settings)?))
    }

    fn spawn(&mut self, config: EntryPointConfig, bound: Bound) {
        let (stop, stopped) = watch::channel(false);
        let switcher = self.switcher.clone();
        let (name, shared, task) = match bound {
            Bound::Http(ep) => {
                let shared = ep.duplicate_listener().ok().filter(|_| !ep.has_http3());
                let name = ep.name().to_string();
                (name, shared, tokio::spawn(ep.serve(switcher, stopped)))
            }
            Bound::Udp(ep) => {
                let name = ep.name().to_string();
                (name, None, tokio::spawn(ep.serve(switcher, stopped)))
            }
        };
        let running = Running {
            config,
            shared,
            stop,
            task,
        };
        self.running.insert(name, running);
    }

    /// The settings of `config`'s TCP entrypoints, by name, completed with
    /// what they share.
    fn http_settings(
        &mut self,
        config: &StaticConfiguration,
    ) -> anyhow::Result<HashMap<String, EntryPointSettings>> {
        let all =
            translate::entrypoint_settings(config, &self.shared.host, &self.shared.challenges)?;
        Ok(all
            .into_iter()
            .map(|mut s| {
                s.access_log.clone_from(&self.shared.access_log);
                s.tracer.clone_from(&self.shared.tracer);
                s.metrics = self.shared.metrics.as_ref().map(|m| {
                    self.metrics
                        .entry(s.name.clone())
                        .or_insert_with(|| m.entrypoint(&s.name))
                        .clone()
                });
                (s.name.clone(), s)
            })
            .collect())
    }
}

/// The settings of `config`'s UDP entrypoints, by name.
fn udp_settings(config: &StaticConfiguration) -> anyhow::Result<HashMap<String, UdpSettings>> {
    Ok(translate::udp_entrypoint_settings(config)?
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect())
}

fn log_listening(bound: &Bound) {
    match bound {
        Bound::Http(ep) => match ep.local_addr() {
            Ok(a) => tracing::info!(entrypoint = ep.name(), address = %a, "entrypoint listening"),
            Err(e) => {
                tracing::warn!(entrypoint = ep.name(), error = %e, "entrypoint listening, address unknown")
            }
        },
        Bound::Udp(ep) => match ep.local_addr() {
            Ok(a) => {
                tracing::info!(entrypoint = ep.name(), address = %a, "UDP entrypoint listening")
            }
            Err(e) => {
                tracing::warn!(entrypoint = ep.name(), error = %e, "UDP entrypoint listening, address unknown")
            }
        },
    }
}
