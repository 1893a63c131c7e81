//! The static configuration read again while running, on `SIGHUP` and when
//! its file changes: entrypoints added, removed or changed apply at once
//! ([`crate::listeners`]), then the builder and the internal provider
//! learn the new set. Other sections cannot change while running: a change
//! there is logged as needing a restart, and the running ones stay. A file
//! that does not load or is invalid is logged and changes nothing.

use std::path::Path;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::Watcher as _;
use switchyard_config::loader::{load_static, Source};
use switchyard_config::static_config::StaticConfiguration;
use switchyard_server::static_translation as translate;
use switchyard_server::StaticView;
use tokio::sync::mpsc;

use crate::listeners::Listeners;

/// How long the static file must be quiet after an event before it is
/// read: the events of one save become one read.
const QUIET: Duration = Duration::from_millis(200);

/// What a reload needs and changes.
pub struct StaticReload {
    /// The process's arguments and environment, read again the same way.
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The configuration that runs: the one read at start-up with the
    /// entrypoints that serve now.
    running: StaticConfiguration,
    pub listeners: Listeners,
    views: mpsc::UnboundedSender<StaticView>,
    to_watcher: switchyard_providers::Sender,
}

impl StaticReload {
    /// `running`: the configuration started with (after the options not
    /// implemented were taken out).
    pub fn new(
        running: StaticConfiguration,
        listeners: Listeners,
        views: mpsc::UnboundedSender<StaticView>,
        to_watcher: switchyard_providers::Sender,
    ) -> StaticReload {
        StaticReload {
            args: std::env::args().skip(1).collect(),
            env: std::env::vars().collect(),
            running,
            listeners,
            views,
            to_watcher,
        }
    }

    /// Reads the static configuration again and applies what changed in
    /// its entrypoints; `why` says what asked for it.
    pub async fn reload(&mut self, why: &str) {
        let loaded = match load_static(&self.args, &self.env) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(
                    "{why}: the static configuration does not load, nothing changes: {e}"
                );
                return;
            }
        };
        let from = match &loaded.source {
            Source::File(p) => p.display().to_string(),
            Source::Flags => "the CLI flags".into(),
            Source::Env => "the environment variables".into(),
            Source::Defaults => "the defaults".into(),
        };
        if let Err(e) = translate::check(&loaded.config) {
            tracing::error!(
                "{why}: the static configuration in {from} is invalid, nothing changes: {e}"
            );
            return;
        }
        let (config, _) = translate::not_implemented(loaded.config, loaded.not_implemented);
        let sections = changed_sections(&self.running, &config);
        if !sections.is_empty() {
            tracing::warn!(
                "{why}: {from} changes {} which only apply at the next start; the running ones stay",
                sections.join(", ")
            );
        }
        if config.entry_points == self.running.entry_points {
            tracing::info!("{why}: the entrypoints in {from} did not change");
            return;
        }
        let mut candidate = self.running.clone();
        candidate.entry_points = config.entry_points;
        if let Err(e) = translate::check(&candidate)
            .map_err(anyhow::Error::from)
            .and_then(|()| translate::internal_settings(&candidate).map_err(Into::into))
        {
            tracing::error!(
                "{why}: the entrypoints in {from} cannot be used, nothing changes: {e:#}"
            );
            return;
        }
        let serving = match self.listeners.apply(&candidate) {
            Ok(serving) => serving,
            Err(e) => {
                tracing::error!(
                    "{why}: the entrypoints in {from} cannot be used, nothing changes: {e:#}"
                );
                return;
            }
        };
        self.running.entry_points = serving;
        tracing::info!(
            entrypoints = ?self.running.entry_points.keys().collect::<Vec<_>>(),
            "{why}: entrypoints applied from {from}"
        );
        self.tell_builder().await;
    }

    /// Hands the builder the view of the running entrypoints and the
    /// internal provider their redirections (and the API's, ping's and
    /// metrics' routers on them): the configuration is built again.
    async fn tell_builder(&self) {
        let _ = self.views.send(translate::static_view(&self.running));
        let internal = translate::internal_settings(&self.running)
            .map_err(anyhow::Error::from)
            .and_then(|s| switchyard_server::internal::configuration(&s).map_err(Into::into));
        match internal {
            Ok(config) => {
                let message = switchyard_providers::Message {
                    provider: "internal".into(),
                    config,
                };
                if self.to_watcher.send(message).await.is_err() {
                    tracing::error!("the watcher stopped: the new entrypoints get no routers");
                }
            }
            Err(e) => tracing::error!("internal routers for the new entrypoints: {e:#}"),
        }
    }
}

/// The top-level sections other than `entryPoints` that differ, by their
/// static key.
fn changed_sections(a: &StaticConfiguration, b: &StaticConfiguration) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut differs = |name, same: bool| {
        if !same {
            out.push(name);
        }
    };
    differs("global", a.global == b.global);
    differs(
        "serversTransport",
        a.servers_transport == b.servers_transport,
    );
    differs("providers", a.providers == b.providers);
    differs("api", a.api == b.api);
    differs("ping", a.ping == b.ping);
    differs("log", a.log == b.log);
    differs("accessLog", a.access_log == b.access_log);
    differs("tracing", a.tracing == b.tracing);
    differs("metrics", a.metrics == b.metrics);
    differs(
        "certificatesResolvers",
        a.certificates_resolvers == b.certificates_resolvers,
    );
    differs("core", a.core == b.core);
    out
}

/// Watches the static configuration file (through its folder, so that
/// editors' atomic renames are seen): each change, once the file has been
/// quiet for [`QUIET`], is a message on the receiver. None when the
/// configuration is not from a file or the folder cannot be watched
/// (logged).
pub fn watch_file(source: &Source) -> Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)> {
    let Source::File(file) = source else {
        return None;
    };
    let file = std::path::absolute(file).unwrap_or_else(|_| file.clone());
    let folder = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = file.file_name().map(ToOwned::to_owned)?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let watched = move |res: notify::Result<notify::Event>| {
        let ours = match res {
            // Not the reads (this process's own among them).
            Ok(event) => {
                let written = match event.kind {
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                    EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
                    _ => true,
                };
                written && event.paths.iter().any(|p| p.file_name() == Some(&name))
            }
            Err(_) => true,
        };
        if ours {
            let _ = events_tx.send(());
        }
    };
    let mut watcher = match notify::recommended_watcher(watched) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(file = %file.display(), error = %e, "cannot watch the static configuration file: SIGHUP still reloads it");
            return None;
        }
    };
    if let Err(e) = watcher.watch(&folder, notify::RecursiveMode::NonRecursive) {
        tracing::warn!(folder = %folder.display(), error = %e, "cannot watch the static configuration's folder: SIGHUP still reloads it");
        return None;
    }
    let (changed_tx, changed_rx) = mpsc::channel(1);
    tokio::spawn(settle(events_rx, changed_tx));
    Some((watcher, changed_rx))
}

/// Passes one message on once the events have stopped for [`QUIET`].
async fn settle(mut events: mpsc::UnboundedReceiver<()>, changed: mpsc::Sender<()>) {
    while events.recv().await.is_some() {
        loop {
            match tokio::time::timeout(QUIET, events.recv()).await {
                Ok(Some(())) => continue,
                Ok(None) => return,
                Err(_) => break,
            }
        }
        if changed.send(()).await.is_err() {
            return;
        }
    }
}
