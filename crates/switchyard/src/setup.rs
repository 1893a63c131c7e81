//! Start-up: from a loaded static configuration to running entrypoints,
//! providers, watcher and internal services; then the signal loop. What
//! the static configuration means for the server (entrypoint settings,
//! the builder's view, the internal routers, the start checks) is
//! `switchyard_server::static_translation`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Context;
use switchyard_config::loader::{Loaded, Source};
use switchyard_server::static_translation as translate;
use switchyard_server::watcher::Watcher;
use switchyard_server::{Builder, Runtime, Switcher};
use tokio::sync::{mpsc, watch};

use crate::listeners::Listeners;
use crate::static_reload::StaticReload;

/// The binary's `--help` text.
pub const USAGE: &str = "\
switchyard — an edge router that reads Traefik v3 configuration

Usage:
  switchyard [--configFile=PATH] [--<static.option>=VALUE ...]
  switchyard version
  switchyard upgrade PID                       (the process PID hands its sockets to
                                               a new start of its binary, drains, exits;
                                               the same as SIGUSR2)
  switchyard healthcheck [--ping] [the same static options]
  switchyard check [the same static options]   (checks the configuration offline)
  switchyard explain [the same static options] URL [-X METHOD] [-H 'Name: value']
                                               (how a running instance routes it)

The static configuration comes from the first source that has anything:
a file (--configFile, else switchyard.{toml,yaml,yml} then traefik.{toml,yaml,yml}
in /etc/switchyard, /etc/traefik, $HOME/.config and the working directory),
else the CLI flags, else SWITCHYARD_* / TRAEFIK_* environment variables.
Examples:
  switchyard --entryPoints.web.address=:8000 --providers.file.directory=./dynamic --api.insecure
  SWITCHYARD_ENTRYPOINTS_WEB_ADDRESS=:8000 switchyard";

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// The binary's life: signal handlers, the global log subscriber the `log`
/// section asks for, [`start`], then signals until SIGTERM/SIGINT, and the
/// graceful stop. `release_memory` gives the allocator's freed pages back
/// (see [`Watcher::release_memory_with`]).
pub async fn run(loaded: Loaded, release_memory: fn()) -> anyhow::Result<()> {
    let signals = Signals::install()?;
    let log = loaded.config.log.clone().unwrap_or_default();
    let log_export = log
        .otlp
        .as_ref()
        .map(|otlp| crate::otel::start_log_export(otlp, &hostname()))
        .transpose()?;
    let otlp_layer = log_export.clone().map(crate::otel::OtlpLogLayer::new);
    let open_files = crate::logging::init(&log, otlp_layer)
        .with_context(|| format!("log.filePath: cannot open {:?}", log.file_path))?;
    match &loaded.source {
        Source::File(p) => {
            tracing::info!(file = %p.display(), "static configuration loaded from file")
        }
        Source::Flags => tracing::info!("static configuration loaded from CLI flags"),
        Source::Env => tracing::info!("static configuration loaded from environment variables"),
        Source::Defaults => tracing::info!("no static configuration found, using defaults"),
    }
    let source = loaded.source.clone();
    let mut running = start(loaded, open_files, Some(release_memory)).await?;
    if let Some(successor) = running.successor.take() {
        tokio::spawn(successor.report_ready());
    }
    let upgrader = crate::upgrade::Upgrader::new(running.switcher.clone());
    let reloads = Reloads {
        providers: &running.reload,
        static_config: &mut running.static_reload,
        static_file: crate::static_reload::watch_file(&source),
    };
    wait_for_stop(signals, upgrader, reloads, &running.files).await?;
    stop(running).await;
    if let Some(e) = &log_export {
        // The log's last records, this one included.
        e.flush(std::time::Duration::from_secs(5)).await;
    }
    Ok(())
}

/// What [`start`] leaves running: the handles the binary and the library
/// (`Gateway`) use, and what a graceful stop needs.
pub(crate) struct Running {
    /// The live runtime (the API's view of it).
    pub(crate) switcher: Switcher,
    /// The watcher's inbox: a provider's configurations go here.
    pub(crate) providers: switchyard_providers::Sender,
    /// Per provider, how many of its configurations were dealt with.
    pub(crate) settled: watch::Receiver<switchyard_server::watcher::Settled>,
    /// Each TCP entrypoint's name and bound address.
    pub(crate) addresses: Vec<(String, std::net::SocketAddr)>,
    /// Each UDP entrypoint's name and bound address.
    pub(crate) udp_addresses: Vec<(String, std::net::SocketAddr)>,
    /// Bumped to have the file provider read its files again.
    pub(crate) reload: watch::Sender<u64>,
    /// The files to reopen when asked (SIGUSR1).
    pub(crate) files: crate::reopen::Files,
    terminating: Arc<std::sync::atomic::AtomicBool>,
    /// The entrypoints that serve, and the static configuration they came
    /// from (the binary reads it again on SIGHUP or when its file changes).
    pub(crate) static_reload: StaticReload,
    access_log: Option<Arc<switchyard_server::accesslog::AccessLog>>,
    access_log_export: Option<switchyard_otlp::LogExporter>,
    watcher_task: tokio::task::JoinHandle<()>,
    metrics_push: Option<switchyard_server::metrics::otlp::Pusher>,
    tracer: Option<Arc<switchyard_proxy::trace::Tracer>>,
    /// Started by a binary upgrade: tells the old process when this one
    /// serves (the binary does; see `crate::upgrade`).
    pub(crate) successor: Option<crate::upgrade::Successor>,
}

/// Starts everything the static configuration asks for but logging and
/// signals: entrypoints, providers, watcher, internal services, access log,
/// metrics and tracing exports. `files`: the files already open to reopen
/// on request (the access log's is added).
pub(crate) async fn start(
    loaded: Loaded,
    mut open_files: crate::reopen::Files,
    release_memory: Option<fn()>,
) -> anyhow::Result<Running> {
    let config = loaded.config;
    translate::check(&config)?;
    let (config, unsupported) = translate::not_implemented(config, loaded.not_implemented);
    if !unsupported.is_empty() {
        let text = format!(
            "these static configuration options are not implemented by Switchyard yet and are ignored: {}",
            unsupported.join(", ")
        );
        // Shown whatever log.level says: at ERROR (Traefik's default) a
        // warning would be filtered out, and this one must not be missed.
        if tracing::enabled!(tracing::Level::WARN) {
            tracing::warn!("{text}");
        } else {
            eprintln!("switchyard: warning: {text}");
        }
    }

    let host = hostname();
    // ACME resolvers with the HTTP-01 challenge share one table of answers.
    let acme: Vec<(String, switchyard_config::static_config::Acme)> = config
        .certificates_resolvers
        .iter()
        .filter_map(|(name, r)| r.acme.clone().map(|a| (name.clone(), a)))
        .collect();
    let challenges: Option<switchyard_server::acme::Challenges> =
        (!acme.is_empty()).then(Default::default);
    let switcher = Switcher::new(Runtime::default());
    let access_log_export = config
        .access_log
        .as_ref()
        .and_then(|a| a.otlp.as_ref())
        .map(|otlp| crate::otel::start_access_log_export(otlp, &host))
        .transpose()?;
    let access_log = start_access_log(
        config.access_log.as_ref(),
        access_log_export.clone(),
        &mut open_files,
    )?;
    // As Traefik, a tracer that cannot be made is a warning: the rest runs.
    let tracer = crate::otel::start_tracing(config.tracing.as_ref(), &host).unwrap_or_else(|e| {
        tracing::warn!("unable to create the tracer, requests are not traced: {e:#}");
        None
    });
    // As in Traefik, Prometheus metrics that cannot be registered are off,
    // and the rest (OTLP metrics included) runs.
    let metrics = match config.metrics.as_ref() {
        Some(m) => match switchyard_server::metrics::Metrics::new(m) {
            Ok(registry) => registry,
            Err(e) => {
                tracing::error!("unable to register Prometheus metrics, they are off: {e}");
                let without = switchyard_config::static_config::Metrics {
                    prometheus: None,
                    ..m.clone()
                };
                switchyard_server::metrics::Metrics::new(&without).unwrap_or(None)
            }
        },
        None => None,
    };
    // Started by an upgrade: the previous process's sockets, before binding.
    let successor = crate::upgrade::take_over();
    let mut listeners = Listeners::new(
        switcher.clone(),
        crate::listeners::Shared {
            host: host.clone(),
            challenges: challenges.clone(),
            access_log: access_log.clone(),
            tracer: tracer.clone(),
            metrics: metrics.clone(),
        },
    );
    let bound = listeners.bind_all(&config)?;
    crate::upgrade::close_unused_sockets();
    let mut addresses = Vec::new();
    let mut udp_addresses = Vec::new();
    for (_, ep) in &bound {
        match ep {
            crate::listeners::Bound::Http(ep) => {
                addresses.push((ep.name().to_string(), ep.local_addr()?))
            }
            crate::listeners::Bound::Udp(ep) => {
                udp_addresses.push((ep.name().to_string(), ep.local_addr()?))
            }
        }
    }

    let view = translate::static_view(&config);
    let terminating = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ping = config.ping.clone().unwrap_or_default();
    let file = config.providers.as_ref().and_then(|p| p.file.clone());
    let docker = config.providers.as_ref().and_then(|p| p.docker.clone());
    let swarm = config.providers.as_ref().and_then(|p| p.swarm.clone());
    // As in Traefik, the API, dashboard and ping services exist only when
    // their feature is on; a router naming one that is off gets an error.
    let mut internal: HashMap<String, switchyard_proxy::BoxHandler> =
        HashMap::from([("noop@internal".to_string(), switchyard_api::noop())]);
    if let Some(api) = &config.api {
        let handler = switchyard_api::Api::handler(
            switcher.clone(),
            &config,
            env!("CARGO_PKG_VERSION"),
            std::time::SystemTime::now(),
        )
        .map_err(anyhow::Error::msg)?;
        internal.insert("api@internal".into(), handler);
        if api.dashboard {
            let page = switchyard_api::dashboard(&api.base_path);
            internal.insert("dashboard@internal".into(), page);
        }
    }
    if config.ping.is_some() {
        let handler = switchyard_api::ping(terminating.clone(), ping.terminating_status_code);
        internal.insert("ping@internal".into(), handler);
    }
    if let Some(m) = metrics.as_ref().filter(|m| m.prometheus_on()) {
        let handler = switchyard_server::metrics::handler(m.clone(), switcher.clone());
        internal.insert("prometheus@internal".into(), handler);
    }
    // As in Traefik, a meter provider that cannot be made is logged and
    // the rest runs.
    let otlp_config = config.metrics.as_ref().and_then(|m| m.otlp.as_ref());
    let prometheus_buckets = config
        .metrics
        .as_ref()
        .and_then(|m| m.prometheus.as_ref())
        .map(|p| &p.buckets);
    if let (Some(o), Some(buckets)) = (otlp_config, prometheus_buckets) {
        if &o.explicit_boundaries != buckets {
            tracing::warn!(
                "metrics.otlp.explicitBoundaries differ from metrics.prometheus.buckets: both backends read one histogram, the OTLP push uses the Prometheus buckets"
            );
        }
    }
    let metrics_push = match (otlp_config, &metrics) {
        (Some(c), Some(m)) => {
            crate::otel::start_metrics_export(c, &host, m.clone(), switcher.clone())
                .map_err(|e| tracing::error!("unable to start the OTLP metric export: {e:#}"))
                .ok()
        }
        _ => None,
    };
    let builder = Builder::new(view, internal)
        .context("serversTransport")?
        .with_metrics(metrics);
    let throttle = translate::providers_throttle(&config);

    let (tx, rx) = mpsc::channel(64);
    let mut watcher = Watcher::new(throttle, builder, switcher.clone());
    if let Some(release) = release_memory {
        watcher.release_memory_with(release);
    }
    let settled = watcher.settled();
    for (name, settings) in acme {
        if settings.http_challenge.is_none()
            && settings.tls_challenge.is_none()
            && settings.dns_challenge.is_none()
        {
            tracing::error!(resolver = %name, "ACME resolver without httpChallenge, tlsChallenge or dnsChallenge: it will not obtain certificates");
        }
        let (obs_tx, obs_rx) = mpsc::unbounded_channel();
        watcher.observe(obs_tx);
        let resolver = switchyard_server::acme::Resolver {
            name,
            settings,
            challenges: challenges.clone().unwrap_or_default(),
            to_watcher: tx.clone(),
        };
        tokio::spawn(resolver.run(obs_rx));
    }
    let (views_tx, views_rx) = mpsc::unbounded_channel();
    watcher.views_from(views_rx);
    let watcher_task = tokio::spawn(watcher.run(rx));

    let internal_config =
        switchyard_server::internal::configuration(&translate::internal_settings(&config)?)
            .context("building the internal configuration")?;
    tx.send(switchyard_providers::Message {
        provider: "internal".into(),
        config: internal_config,
    })
    .await
    .context("watcher stopped")?;

    let (reload_tx, reload_rx) = watch::channel(0u64);
    if let Some(f) = file {
        let provider = switchyard_providers::file::FileProvider::from_config(&f);
        tokio::spawn(provider.run(tx.clone(), reload_rx));
    }
    if let Some(d) = docker {
        tokio::spawn(switchyard_providers::docker::run(d, tx.clone()));
    }
    if let Some(s) = swarm {
        tokio::spawn(switchyard_providers::swarm::run(s, tx.clone()));
    }
    start_kv_providers(config.providers.as_ref(), &tx);
    if let Some(k) = config
        .providers
        .as_ref()
        .and_then(|p| p.kubernetes_crd.clone())
    {
        tokio::spawn(switchyard_providers::kubernetes::crd_provider::run(
            k,
            tx.clone(),
        ));
    }
    if let Some(k) = config
        .providers
        .as_ref()
        .and_then(|p| p.kubernetes_ingress.clone())
    {
        tokio::spawn(switchyard_providers::kubernetes::ingress_provider::run(
            k,
            tx.clone(),
        ));
    }
    if let Some(g) = config
        .providers
        .as_ref()
        .and_then(|p| p.kubernetes_gateway.clone())
    {
        let entry_points: Vec<_> = config
            .entry_points
            .iter()
            .map(|(n, e)| (n.clone(), e.clone()))
            .collect();
        // ExtensionRef filters and TraefikService backends name the
        // kubernetesCRD provider's objects, when it runs.
        let crd_namespaces = config
            .providers
            .as_ref()
            .and_then(|p| p.kubernetes_crd.as_ref())
            .map(|c| c.namespaces.clone());
        let options = switchyard_providers::kubernetes::gateway_provider::options(
            &g,
            &entry_points,
            crd_namespaces,
        );
        tokio::spawn(switchyard_providers::kubernetes::gateway_provider::run(
            g,
            options,
            tx.clone(),
        ));
    }
    if let Some(h) = config.providers.as_ref().and_then(|p| p.http.clone()) {
        let provider = switchyard_providers::http::HttpProvider {
            endpoint: h.endpoint,
            poll_interval: h.poll_interval.into(),
            poll_timeout: h.poll_timeout.into(),
            headers: h.headers,
            tls: h.tls.map(|t| switchyard_providers::http::EndpointTls {
                ca: t.ca,
                cert: t.cert,
                key: t.key,
                insecure_skip_verify: t.insecure_skip_verify,
            }),
            max_response_body_size: h.max_response_body_size,
        };
        tokio::spawn(provider.run(tx.clone()));
    }

    // Taking over: no connection is accepted before every router the old
    // process serves is served here.
    if let Some(successor) = &successor {
        successor.routed(&switcher).await?;
    }
    listeners.serve(bound);
    let static_reload = StaticReload::new(config, listeners, views_tx, tx.clone());

    Ok(Running {
        switcher,
        providers: tx,
        settled,
        addresses,
        udp_addresses,
        reload: reload_tx,
        files: open_files,
        terminating,
        static_reload,
        access_log,
        access_log_export,
        watcher_task,
        metrics_push,
        tracer,
        successor,
    })
}

/// Stops as SIGTERM does: ping answers "terminating", the entrypoints stop
/// accepting (after `requestAcceptGraceTimeout`) and wait up to
/// `graceTimeOut` for requests in flight; then the logs, metrics and traces
/// still buffered go out.
pub(crate) async fn stop(running: Running) {
    let Running {
        providers: tx,
        terminating,
        static_reload,
        access_log,
        access_log_export,
        watcher_task,
        metrics_push,
        tracer,
        ..
    } = running;
    tracing::info!("stopping: draining entrypoints");
    terminating.store(true, Ordering::Relaxed);
    static_reload.listeners.stop_all().await;
    if let Some(log) = access_log.clone() {
        let timeout = std::time::Duration::from_secs(2);
        let synced = tokio::task::spawn_blocking(move || log.sync(timeout)).await;
        if !synced.unwrap_or(false) {
            tracing::warn!("access log: the last lines may not have been written");
        }
    }
    if let Some(e) = &access_log_export {
        // The last requests' records still go out.
        e.flush(std::time::Duration::from_secs(5)).await;
    }
    drop(tx);
    watcher_task.abort();
    if let Some(p) = metrics_push {
        // The totals of the last requests still go out.
        p.shutdown(std::time::Duration::from_secs(5)).await;
    }
    if let Some(t) = &tracer {
        // The spans of the last requests still go out.
        t.exporter().flush(std::time::Duration::from_secs(5)).await;
    }
    tracing::info!("stopped");
}

/// Starts the access log when `accessLog` is set, its file reopened on
/// `SIGUSR1`.
fn start_access_log(
    config: Option<&switchyard_config::static_config::AccessLog>,
    otlp: Option<switchyard_otlp::LogExporter>,
    files: &mut crate::reopen::Files,
) -> anyhow::Result<Option<Arc<switchyard_server::accesslog::AccessLog>>> {
    let Some(config) = config else {
        return Ok(None);
    };
    let log = Arc::new(
        switchyard_server::accesslog::AccessLog::start(config, otlp).map_err(anyhow::Error::msg)?,
    );
    if !config.file_path.is_empty() {
        let handle = log.clone();
        files.add("accessLog.filePath", move || handle.reopen());
    }
    Ok(Some(log))
}

/// The signals Switchyard answers, installed first thing at start-up so
/// that none of them kills the process while it is still starting.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            usr1: signal(SignalKind::user_defined1()).context("installing the SIGUSR1 handler")?,
            usr2: signal(SignalKind::user_defined2()).context("installing the SIGUSR2 handler")?,
        })
    }
}

/// What a SIGHUP reloads.
struct Reloads<'a> {
    /// Bumped: the file provider reads its files again.
    providers: &'a watch::Sender<u64>,
    /// The static configuration's entrypoints, read again on SIGHUP and
    /// when the file changes.
    static_config: &'a mut StaticReload,
    /// The static file's watch (kept alive here) and its changes.
    static_file: Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
}

/// The next change of the static file; never without a watch.
async fn static_file_changed(
    watch: &mut Option<(notify::RecommendedWatcher, mpsc::Receiver<()>)>,
) -> Option<()> {
    match watch {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for SIGTERM or SIGINT, or for a new process to have taken over
/// (SIGUSR2 starts it); SIGHUP reloads (the file provider and the static
/// entrypoints), a change of the static file reloads its entrypoints, and
/// SIGUSR1 reopens the log files meanwhile.
async fn wait_for_stop(
    mut signals: Signals,
    mut upgrader: crate::upgrade::Upgrader,
    mut reloads: Reloads<'_>,
    files: &crate::reopen::Files,
) -> anyhow::Result<()> {
    tracing::info!(
        "waiting for signals: SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 reopens log files, SIGUSR2 upgrades"
    );
    loop {
        tokio::select! {
            _ = signals.term.recv() => return Ok(()),
            _ = signals.int.recv() => return Ok(()),
            _ = upgrader.succeeded() => return Ok(()),
            _ = signals.usr2.recv() => upgrader.start(),
            _ = signals.hup.recv() => {
                tracing::info!("SIGHUP: re-reading the file provider and the static configuration");
                reloads.providers.send_modify(|n| *n += 1);
                reloads.static_config.reload("SIGHUP").await;
            }
            changed = static_file_changed(&mut reloads.static_file) => match changed {
                Some(()) => reloads.static_config.reload("static configuration file changed").await,
                None => reloads.static_file = None,
            },
            _ = signals.usr1.recv() => {
                // Reopened before the line is logged, so the line is the
                // first one in the new file.
                let reopened = files.reopen_all();
                tracing::info!(files = reopened, "SIGUSR1: log files closed and reopened");
            }
        }
    }
}

/// Starts the KV store providers the static configuration names; one whose
/// settings are wrong logs why and does not start (as in Traefik).
fn start_kv_providers(
    providers: Option<&switchyard_config::static_config::Providers>,
    tx: &switchyard_providers::Sender,
) {
    use switchyard_providers::kv;
    let Some(providers) = providers else { return };
    if let Some(settings) = providers.redis.clone() {
        spawn_kv(kv::redis::NAME, kv::redis::Redis::new(settings), tx);
    }
    if let Some(settings) = providers.etcd.clone() {
        spawn_kv(kv::etcd::NAME, kv::etcd::Etcd::new(settings), tx);
    }
    if let Some(settings) = providers.zoo_keeper.clone() {
        let store = kv::zookeeper::ZooKeeper::new(settings);
        spawn_kv(kv::zookeeper::NAME, store, tx);
    }
    if let Some(settings) = &providers.consul {
        match kv::consul::providers(settings) {
            Ok(stores) => {
                for store in stores {
                    spawn_kv(store.name(), Ok(store), tx);
                }
            }
            Err(e) => spawn_kv::<kv::consul::Consul>(kv::consul::NAME, Err(e), tx),
        }
    }
}

fn spawn_kv<S: switchyard_providers::kv::Store>(
    name: &'static str,
    store: Result<S, switchyard_providers::kv::KvError>,
    tx: &switchyard_providers::Sender,
) {
    match store {
        Ok(store) => {
            tokio::spawn(switchyard_providers::kv::run(name, store, tx.clone()));
        }
        Err(e) => tracing::error!(provider = name, error = %e, "cannot start the provider"),
    }
}
