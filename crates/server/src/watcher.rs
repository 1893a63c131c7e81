//! The watcher: keeps the latest configuration of every provider, throttles
//! each provider's bursts (`providersThrottleDuration`: a change after a quiet
//! spell applies at once, further changes within the window are coalesced
//! into one), merges, skips a result equal to what is applied, and hands the
//! rest to the builder and the switcher.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use switchyard_config::dynamic::Configuration;
use switchyard_providers::Message;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;

use crate::merge::merge;
use crate::{Builder, Switcher};

/// Providers whose changes are never throttled.
const UNTHROTTLED: &[&str] = &["internal"];

pub struct Watcher {
    throttle: Duration,
    builder: Builder,
    switcher: Switcher,
    latest: BTreeMap<String, Configuration>,
    pending: HashMap<String, (Configuration, Instant)>,
    quiet_until: HashMap<String, TokioInstant>,
    applied: Option<Configuration>,
    /// Told of every applied configuration (certificate resolvers).
    observers: Vec<mpsc::UnboundedSender<std::sync::Arc<Configuration>>>,
}

impl Watcher {
    pub fn new(throttle: Duration, builder: Builder, switcher: Switcher) -> Watcher {
        Watcher {
            throttle,
            builder,
            switcher,
            latest: BTreeMap::new(),
            pending: HashMap::new(),
            quiet_until: HashMap::new(),
            applied: None,
            observers: Vec::new(),
        }
    }

    /// Sends every configuration applied from now on to `observer`.
    pub fn observe(&mut self, observer: mpsc::UnboundedSender<std::sync::Arc<Configuration>>) {
        self.observers.push(observer);
    }

    /// Runs until every sender of `rx` is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        loop {
            let next_due = self
                .quiet_until
                .iter()
                .filter(|(p, _)| self.pending.contains_key(*p))
                .map(|(_, t)| *t)
                .min();
            let wake = async {
                match next_due {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.receive(msg);
                }
                _ = wake => {}
            }
            self.release_due();
        }
    }

    fn receive(&mut self, msg: Message) {
        tracing::debug!(provider = %msg.provider, "configuration received");
        self.pending
            .insert(msg.provider, (msg.config, Instant::now()));
    }

    /// Applies every pending configuration whose provider is out of its
    /// throttle window, in one build.
    fn release_due(&mut self) {
        let now = TokioInstant::now();
        let due: Vec<String> = self
            .pending
            .keys()
            .filter(|p| self.quiet_until.get(*p).is_none_or(|t| *t <= now))
            .cloned()
            .collect();
        if due.is_empty() {
            return;
        }
        let mut oldest = Instant::now();
        for p in due {
            if let Some((config, received)) = self.pending.remove(&p) {
                oldest = oldest.min(received);
                self.latest.insert(p.clone(), config);
            }
            if !UNTHROTTLED.contains(&p.as_str()) && !self.throttle.is_zero() {
                self.quiet_until.insert(p, now + self.throttle);
            }
        }
        self.apply(oldest);
    }

    fn apply(&mut self, received: Instant) {
        let merged = merge(&self.latest);
        if self.applied.as_ref() == Some(&merged) {
            tracing::debug!("configuration unchanged, nothing to apply");
            return;
        }
        let started = Instant::now();
        let (runtime, stats) = self.builder.build(&merged);
        let build = started.elapsed();
        self.switcher.store(runtime);
        if !self.observers.is_empty() {
            let shared = std::sync::Arc::new(merged.clone());
            self.observers.retain(|o| o.send(shared.clone()).is_ok());
        }
        self.applied = Some(merged);
        tracing::info!(
            routers = stats.routers,
            services = stats.services,
            middlewares = stats.middlewares,
            elements_with_errors = stats.errors,
            reused_services = stats.reused_services,
            build_ms = build.as_secs_f64() * 1000.0,
            since_received_ms = received.elapsed().as_secs_f64() * 1000.0,
            "configuration applied"
        );
    }
}
