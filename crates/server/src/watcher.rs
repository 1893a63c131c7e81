//! The watcher: keeps the latest configuration of every provider, merges,
//! skips a result equal to what is applied, and hands the rest to the
//! builder and the switcher.
//!
//! A change is applied as soon as the build in progress (if any) ends: the
//! build runs on a blocking thread, so messages keep arriving meanwhile, and
//! those that do are coalesced (latest wins per provider) into the next
//! build. When `providersThrottleDuration` is written in the static
//! configuration, each provider is throttled as Traefik does it: a change
//! after a quiet spell is taken at once, and the provider's next one is taken
//! no sooner than that duration after it (the latest of those that came in
//! between wins).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchyard_config::dynamic::Configuration;
use switchyard_providers::Message;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant as TokioInstant;

use crate::merge::{merge, merge_changed, Change};
use crate::{Builder, StaticView, Switcher};

/// Providers whose changes are never throttled.
const UNTHROTTLED: &[&str] = &["internal"];

/// What a build needs and gives back: it moves to the build's thread and
/// returns when the build is done.
struct Core {
    builder: Builder,
    switcher: Switcher,
    /// The configuration each provider last had applied.
    latest: BTreeMap<String, Configuration>,
    applied: Option<Arc<Configuration>>,
    /// As [`Watcher::release`], for the thread freeing a replaced runtime.
    release: Option<fn()>,
}

pub struct Watcher {
    throttle: Duration,
    /// None while a build holds it.
    core: Option<Core>,
    /// Received and not yet handed to a build, latest per provider.
    pending: HashMap<String, (Configuration, Instant)>,
    quiet_until: HashMap<String, TokioInstant>,
    /// Told of every applied configuration (certificate resolvers).
    observers: Vec<mpsc::UnboundedSender<Arc<Configuration>>>,
    /// Gives memory the allocator keeps after frees back to the system; run
    /// after a build by each thread that held its garbage.
    release: Option<fn()>,
    /// Configurations received so far, per provider.
    received: HashMap<String, u64>,
    /// Per provider, how many of its configurations the build in progress
    /// (if any) covers.
    in_build: Vec<(String, u64)>,
    /// Per provider, how many of its configurations were dealt with.
    settled: watch::Sender<Settled>,
    /// New static views (entrypoints changed while running), when the
    /// binary can send them.
    views: Option<mpsc::UnboundedReceiver<StaticView>>,
    /// A view received and not yet handed to a build.
    pending_view: Option<StaticView>,
}

/// Per provider, how many of the configurations it sent the watcher has
/// dealt with: built and published, or found equal to what was applied.
/// A program that sent its n-th configuration and sees n here reads the
/// published runtime and finds that configuration's result in it.
pub type Settled = BTreeMap<String, u64>;

/// What one build did.
struct Outcome {
    core: Core,
    applied: Option<Arc<Configuration>>,
}

impl Watcher {
    /// `throttle`: the `providersThrottleDuration` written in the static
    /// configuration, zero when none is (changes then apply at once).
    pub fn new(throttle: Duration, builder: Builder, switcher: Switcher) -> Watcher {
        Watcher {
            throttle,
            core: Some(Core {
                builder,
                switcher,
                latest: BTreeMap::new(),
                applied: None,
                release: None,
            }),
            pending: HashMap::new(),
            quiet_until: HashMap::new(),
            observers: Vec::new(),
            release: None,
            received: HashMap::new(),
            in_build: Vec::new(),
            settled: watch::channel(Settled::new()).0,
            views: None,
            pending_view: None,
        }
    }

    /// Follows [`Settled`]: the count of each provider's configurations
    /// dealt with, updated after each build. The sender goes with the
    /// watcher: when it stops, the receiver's `changed` fails.
    pub fn settled(&self) -> watch::Receiver<Settled> {
        self.settled.subscribe()
    }

    /// Takes new static views from `views`: each is handed to the builder
    /// and the configuration is built again with it, even unchanged.
    pub fn views_from(&mut self, views: mpsc::UnboundedReceiver<StaticView>) {
        self.views = Some(views);
    }

    /// After every build, and on each thread that allocated or freed much
    /// for it (the build's, the one freeing the configuration it replaced,
    /// the one that received it), `release` is run: the binary gives the
    /// allocator's freed pages back there (the library knows no allocator).
    pub fn release_memory_with(&mut self, release: fn()) {
        self.release = Some(release);
        if let Some(core) = self.core.as_mut() {
            core.release = Some(release);
        }
    }

    /// Sends every configuration applied from now on to `observer`.
    pub fn observe(&mut self, observer: mpsc::UnboundedSender<Arc<Configuration>>) {
        self.observers.push(observer);
    }

    /// Runs until every sender of `rx` is gone (and the build in progress,
    /// if any, has ended).
    pub async fn run(mut self, mut rx: mpsc::Receiver<Message>) {
        let mut building: Option<tokio::task::JoinHandle<Outcome>> = None;
        let mut open = true;
        while open || building.is_some() {
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
            let done = async {
                match building.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                msg = rx.recv(), if open => match msg {
                    Some(msg) => self.receive(msg),
                    None => open = false,
                },
                view = next_view(&mut self.views), if open => match view {
                    Some(view) => self.pending_view = Some(view),
                    None => self.views = None,
                },
                outcome = done => {
                    building = None;
                    match outcome {
                        Ok(outcome) => self.finished(outcome),
                        Err(e) => {
                            // The builder went with the panicking build:
                            // nothing can be applied any more.
                            tracing::error!(error = %e, "configuration build failed; no further change can be applied");
                            return;
                        }
                    }
                }
                _ = wake => {}
            }
            if building.is_none() {
                building = self.start_due();
            }
        }
    }

    fn receive(&mut self, msg: Message) {
        tracing::debug!(provider = %msg.provider, "configuration received");
        *self.received.entry(msg.provider.clone()).or_default() += 1;
        if let Some((_, received)) = self.pending.get(&msg.provider) {
            tracing::debug!(provider = %msg.provider, waited_ms = received.elapsed().as_secs_f64() * 1000.0, "configuration replaces one not applied yet");
        }
        self.pending
            .insert(msg.provider, (msg.config, Instant::now()));
    }

    fn finished(&mut self, outcome: Outcome) {
        self.core = Some(outcome.core);
        let built = std::mem::take(&mut self.in_build);
        self.settled.send_modify(|settled| settled.extend(built));
        if let Some(applied) = outcome.applied {
            self.observers.retain(|o| o.send(applied.clone()).is_ok());
            // This thread (one of the runtime's) may be the one on which a
            // provider parsed what was built, its garbage freed here.
            if let Some(release) = self.release {
                release();
            }
        }
    }

    /// Hands every pending configuration whose provider is out of its
    /// throttle window to one build on a blocking thread; None when there
    /// is nothing to do (or a build holds the core).
    fn start_due(&mut self) -> Option<tokio::task::JoinHandle<Outcome>> {
        let now = TokioInstant::now();
        let due: Vec<String> = self
            .pending
            .keys()
            .filter(|p| self.quiet_until.get(*p).is_none_or(|t| *t <= now))
            .cloned()
            .collect();
        if due.is_empty() && self.pending_view.is_none() {
            return None;
        }
        let mut core = self.core.take()?;
        let view = self.pending_view.take();
        let mut oldest = Instant::now();
        let mut changes: Vec<Change> = Vec::new();
        for p in due {
            if let Some((config, received)) = self.pending.remove(&p) {
                oldest = oldest.min(received);
                let count = self.received.get(&p).copied().unwrap_or_default();
                self.in_build.push((p.clone(), count));
                let before = core.latest.insert(p.clone(), config);
                changes.push((p.clone(), before));
            }
            if !UNTHROTTLED.contains(&p.as_str()) && !self.throttle.is_zero() {
                self.quiet_until.insert(p, now + self.throttle);
            }
        }
        let release = self.release;
        Some(tokio::task::spawn_blocking(move || {
            let applied = core.apply(oldest, &changes, view);
            free_later(changes, None);
            if let (Some(release), Some(_)) = (release, &applied) {
                release();
            }
            Outcome { core, applied }
        }))
    }
}

/// The next view from `views`; never, when there is no such channel.
async fn next_view(views: &mut Option<mpsc::UnboundedReceiver<StaticView>>) -> Option<StaticView> {
    match views {
        Some(views) => views.recv().await,
        None => std::future::pending().await,
    }
}

/// Frees what a build replaced (the previous runtime, configurations) on a
/// thread of its own: at 10,000 routers that takes tens of milliseconds,
/// which the next build need not wait for. (A runtime still used by a
/// request is freed by that request, when it ends.) `release`, when given,
/// runs once it is freed.
fn free_later<T: Send + 'static>(garbage: T, release: Option<fn()>) {
    let spawned = std::thread::Builder::new()
        .name("switchyard-free".into())
        .spawn(move || {
            drop(garbage);
            if let Some(release) = release {
                release();
            }
        });
    // When no thread can start, the closure, and what it holds, is freed
    // here instead.
    if let Err(e) = spawned {
        tracing::debug!(error = %e, "freeing in place");
    }
}

impl Core {
    /// Merges, builds and switches; the configuration applied, or None when
    /// it equals the one already applied. `changes`: the providers whose
    /// configuration changed since the last merge, and what they had.
    /// With a new `view`, the builder takes it and builds even an
    /// unchanged configuration.
    fn apply(
        &mut self,
        received: Instant,
        changes: &[Change],
        view: Option<StaticView>,
    ) -> Option<Arc<Configuration>> {
        let started = Instant::now();
        let new_view = view.is_some();
        if let Some(view) = view {
            self.builder.set_view(view);
        }
        // The applied configuration is the merge of the providers' previous
        // ones (a merge equal to it was not applied, being the same): only
        // what changed is merged into it.
        let merged = self
            .applied
            .as_deref()
            .and_then(|base| merge_changed(base, &self.latest, changes))
            .unwrap_or_else(|| merge(&self.latest));
        if !new_view && self.applied.as_deref().is_some_and(|a| a.same(&merged)) {
            tracing::debug!("configuration unchanged, nothing to apply");
            return None;
        }
        let merge_ms = started.elapsed().as_secs_f64() * 1000.0;
        let merged = Arc::new(merged);
        let (runtime, stats) = self.builder.build(merged.clone());
        let build_ms = started.elapsed().as_secs_f64() * 1000.0 - merge_ms;
        let previous = self.switcher.load();
        self.switcher.store(runtime);
        let since_received_ms = received.elapsed().as_secs_f64() * 1000.0;
        free_later(
            (previous, self.applied.replace(merged.clone())),
            self.release,
        );
        tracing::info!(
            routers = stats.routers,
            services = stats.services,
            middlewares = stats.middlewares,
            elements_with_errors = stats.errors,
            reused_services = stats.reused_services,
            patched = stats.patched,
            merge_ms,
            build_ms,
            since_received_ms,
            "configuration applied"
        );
        Some(merged)
    }
}
