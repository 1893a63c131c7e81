//! Start-up: from a loaded static configuration to running entrypoints,
//! providers, watcher and internal services; then the signal loop.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchyard_config::loader::{Loaded, Source};
use switchyard_config::static_config::StaticConfiguration;
use switchyard_proxy::forwarded::{AliasHeaders, ForwardedHeaders};
use switchyard_proxy::upstream::TransportSettings;
use switchyard_server::entrypoint::{parse_address, EntryPoint, EntryPointSettings};
use switchyard_server::internal::{InternalSettings, Redirection, MAX_PRIORITY};
use switchyard_server::protocols::Http2Limits;
use switchyard_server::proxy_protocol::ProxyProtocol;
use switchyard_server::watcher::Watcher;
use switchyard_server::{Builder, Runtime, StaticView, Switcher};
use tokio::sync::{mpsc, watch};

pub const USAGE: &str = "\
switchyard — an edge router that reads Traefik v3 configuration

Usage:
  switchyard [--configFile=PATH] [--<static.option>=VALUE ...]
  switchyard version
  switchyard healthcheck [--ping] [the same static options]

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

fn non_zero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

fn entrypoint_settings(
    config: &StaticConfiguration,
    host: &str,
    challenges: &Option<switchyard_server::acme::Challenges>,
) -> anyhow::Result<Vec<EntryPointSettings>> {
    let mut out = Vec::new();
    let global_not_append = config
        .global
        .as_ref()
        .is_some_and(|g| g.not_append_x_forwarded_for);
    for (name, ep) in &config.entry_points {
        let fh = &ep.forwarded_headers;
        let aliases = AliasHeaders::from_config(
            &ep.http.underscore_headers_strategy,
            &ep.http.alias_headers_strategy,
        )
        .with_context(|| format!("entryPoints.{name}.http"))?;
        let forwarded = ForwardedHeaders::new(fh.insecure, &fh.trusted_ips, host)
            .with_context(|| format!("entryPoints.{name}.forwardedHeaders.trustedIPs"))?
            .with_alias_headers(aliases)
            .with_connection(&fh.connection)
            .with_context(|| format!("entryPoints.{name}.forwardedHeaders.connection"))?
            .with_not_append_forwarded_for(fh.not_append_x_forwarded_for || global_not_append);
        let proxy_protocol =
            match &ep.proxy_protocol {
                Some(pp) => Some(ProxyProtocol::new(pp.insecure, &pp.trusted_ips).map_err(
                    |e| anyhow::anyhow!("entryPoints.{name}.proxyProtocol.trustedIPs: {e}"),
                )?),
                None => None,
            };
        let t = &ep.transport;
        let keep_alive_max_requests = match t.keep_alive_max_requests {
            Some(n) if n < 0 => {
                anyhow::bail!("entryPoints.{name}.transport.keepAliveMaxRequests: {n} is negative")
            }
            Some(n) => u64::try_from(n).unwrap_or(0),
            None => 0,
        };
        out.push(EntryPointSettings {
            name: name.clone(),
            address: ep.address.clone(),
            forwarded,
            read_timeout: non_zero(t.responding_timeouts.read_timeout.into()),
            write_timeout: non_zero(t.responding_timeouts.write_timeout.into()),
            idle_timeout: non_zero(t.responding_timeouts.idle_timeout.into()),
            grace_timeout: t.life_cycle.grace_time_out.into(),
            request_accept_grace_timeout: t.life_cycle.request_accept_grace_timeout.into(),
            sanitize_path: ep.http.sanitize_path,
            max_header_bytes: usize::try_from(ep.http.max_header_bytes).unwrap_or(1 << 20),
            acme_challenges: challenges.clone(),
            http3: match &ep.http3 {
                Some(h3) => Some(u16::try_from(h3.advertised_port).map_err(|_| {
                    anyhow::anyhow!(
                        "entryPoints.{name}.http3.advertisedPort: {} is not a port (0-65535)",
                        h3.advertised_port
                    )
                })?),
                None => None,
            },
            alt_svc: None,
            proxy_protocol,
            keep_alive_max_requests,
            keep_alive_max_time: t.keep_alive_max_time.map(Into::into).and_then(non_zero),
            reuse_port: ep.reuse_port,
            encode_query_semicolons: ep.http.encode_query_semicolons,
            allow_acme_by_pass: ep.allow_acme_by_pass,
            http2: Http2Limits::new(
                ep.http2.max_concurrent_streams,
                ep.http2.max_decoder_header_table_size,
                ep.http2.max_encoder_header_table_size,
            )
            .map_err(|e| anyhow::anyhow!("entryPoints.{name}.http2: {e}"))?,
        });
    }
    Ok(out)
}

fn static_view(config: &StaticConfiguration) -> StaticView {
    let entrypoints: Vec<String> = config.entry_points.keys().cloned().collect();
    let as_default: Vec<String> = config
        .entry_points
        .iter()
        .filter(|(_, e)| e.as_default)
        .map(|(n, _)| n.clone())
        .collect();
    // Without asDefault, routers that name no entrypoint attach to all of
    // them but the internal `traefik` one, as in Traefik.
    let default_entrypoints = if as_default.is_empty() {
        entrypoints
            .iter()
            .filter(|n| n.as_str() != "traefik" || entrypoints.len() == 1)
            .cloned()
            .collect()
    } else {
        as_default
    };
    let entrypoint_middlewares = config
        .entry_points
        .iter()
        .map(|(n, e)| (n.clone(), e.http.middlewares.clone()))
        .collect();
    let st = config.servers_transport.clone().unwrap_or_default();
    let ft = st.forwarding_timeouts.clone().unwrap_or_default();
    let entrypoint_encoded = config
        .entry_points
        .iter()
        .filter_map(|(n, e)| {
            let c = e.http.encoded_characters.as_ref()?;
            let allowed = switchyard_proxy::middlewares::encoded_characters::Allowed {
                slash: c.allow_encoded_slash,
                back_slash: c.allow_encoded_back_slash,
                null: c.allow_encoded_null_character,
                semicolon: c.allow_encoded_semicolon,
                percent: c.allow_encoded_percent,
                question_mark: c.allow_encoded_question_mark,
                hash: c.allow_encoded_hash,
            };
            (allowed != switchyard_proxy::middlewares::encoded_characters::Allowed::ALL)
                .then(|| (n.clone(), allowed))
        })
        .collect();
    let entrypoint_tls = config
        .entry_points
        .iter()
        .filter_map(|(n, e)| e.http.tls.clone().map(|t| (n.clone(), t)))
        .collect();
    let provider_precedence = config
        .providers
        .as_ref()
        .filter(|p| !p.precedence.is_empty())
        .map(|p| {
            p.precedence
                .iter()
                .map(|name| name.trim().to_string())
                .collect()
        });
    StaticView {
        provider_precedence,
        entrypoint_tls,
        entrypoint_encoded,
        entrypoints,
        default_entrypoints,
        entrypoint_middlewares,
        default_transport: TransportSettings {
            max_idle_conns_per_host: usize::try_from(st.max_idle()).unwrap_or(200),
            dial_timeout: non_zero(ft.dial_timeout.into()),
            response_header_timeout: non_zero(ft.response_header_timeout.into()),
            idle_conn_timeout: non_zero(ft.idle_conn_timeout.into()),
            insecure_skip_verify: st.insecure_skip_verify,
            root_cas: st.root_cas.clone(),
            ..TransportSettings::default()
        },
        default_rule_syntax: default_rule_syntax(config).ok().flatten(),
    }
}

/// The static `core.defaultRuleSyntax` (the key in any case): None when not
/// given, else `v2` or `v3`; any other value stops the start, as in Traefik.
fn default_rule_syntax(
    config: &StaticConfiguration,
) -> anyhow::Result<Option<switchyard_rules::Syntax>> {
    let Some(node) = config
        .core
        .as_ref()
        .and_then(|c| c.get("defaultRuleSyntax"))
    else {
        return Ok(None);
    };
    let text = match node.to_json() {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    switchyard_rules::Syntax::from_name(&text)
        .map(Some)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{}: core.defaultRuleSyntax: unsupported default rule syntax configuration: {text:?} (v2 or v3)",
                node.location
            )
        })
}

/// `providers.precedence` names only Traefik's providers, as Traefik
/// requires.
fn check_precedence(config: &StaticConfiguration) -> anyhow::Result<()> {
    for name in config.providers.iter().flat_map(|p| p.precedence.iter()) {
        if !switchyard_rules::DEFAULT_PROVIDER_PRECEDENCE.contains(&name.as_str()) {
            anyhow::bail!(
                "providers.precedence: provider {name:?} is not a valid provider name (one of {})",
                switchyard_rules::DEFAULT_PROVIDER_PRECEDENCE.join(", ")
            );
        }
    }
    Ok(())
}

fn internal_settings(config: &StaticConfiguration) -> anyhow::Result<InternalSettings> {
    let api = config.api.as_ref();
    let mut s = InternalSettings {
        api_insecure: api.is_some_and(|a| a.insecure),
        dashboard: api.is_some_and(|a| a.dashboard),
        ping_entrypoint: config
            .ping
            .as_ref()
            .filter(|p| !p.manual_routing)
            .map(|p| p.entry_point.clone()),
        redirections: Vec::new(),
    };
    for (name, ep) in &config.entry_points {
        let Some(r) = ep
            .http
            .redirections
            .as_ref()
            .and_then(|r| r.entry_point.as_ref())
        else {
            continue;
        };
        let port = redirect_port(config, &r.to)
            .with_context(|| format!("entryPoints.{name}.http.redirections.entryPoint.to"))?;
        s.redirections.push(Redirection {
            from: name.clone(),
            to: r.to.clone(),
            scheme: r.scheme.clone(),
            port,
            permanent: r.permanent,
            allow_acme_by_pass: ep.allow_acme_by_pass,
            priority: if r.priority == 0 {
                MAX_PRIORITY - 1
            } else {
                r.priority
            },
        });
    }
    Ok(s)
}

/// The port a redirection's `to` names: `:443` itself, or the port of the
/// entrypoint called so (as Traefik reads it).
fn redirect_port(config: &StaticConfiguration, to: &str) -> anyhow::Result<u16> {
    if let Some(digits) = to.strip_prefix(':') {
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return digits
                .parse()
                .map_err(|_| anyhow::anyhow!("{to:?} is not a port (0-65535)"));
        }
    }
    let Some(target) = config.entry_points.get(to) else {
        anyhow::bail!("{to:?} is neither a port (\":443\") nor an existing entrypoint");
    };
    Ok(parse_address(to, &target.address)?.port())
}

/// Completes the list of what the configuration asks for and Switchyard
/// does not do yet (the keys the schema check took out) with what depends
/// on values, and takes those parts out: UDP entrypoints are not opened.
fn not_implemented(
    mut config: StaticConfiguration,
    mut keys: Vec<String>,
) -> (StaticConfiguration, Vec<String>) {
    config.entry_points.retain(|name, ep| {
        let udp = ep
            .address
            .rsplit_once('/')
            .is_some_and(|(_, proto)| proto.eq_ignore_ascii_case("udp"));
        if udp {
            keys.push(format!(
                "entryPoints.{name}.address ({}: UDP entrypoints)",
                ep.address
            ));
        }
        !udp
    });
    #[cfg(not(feature = "http3"))]
    for (name, ep) in &config.entry_points {
        if ep.http3.is_some() {
            keys.push(format!(
                "entryPoints.{name}.http3 (this build has no HTTP/3)"
            ));
        }
    }
    (config, keys)
}

pub async fn run(loaded: Loaded) -> anyhow::Result<()> {
    let signals = Signals::install()?;
    let config = loaded.config;
    let log = config.log.clone().unwrap_or_default();
    let open_files = crate::logging::init(&log)
        .with_context(|| format!("log.filePath: cannot open {:?}", log.file_path))?;
    match &loaded.source {
        Source::File(p) => {
            tracing::info!(file = %p.display(), "static configuration loaded from file")
        }
        Source::Flags => tracing::info!("static configuration loaded from CLI flags"),
        Source::Env => tracing::info!("static configuration loaded from environment variables"),
        Source::Defaults => tracing::info!("no static configuration found, using defaults"),
    }
    default_rule_syntax(&config)?;
    check_precedence(&config)?;
    let (config, unsupported) = not_implemented(config, loaded.not_implemented);
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
    let mut entrypoints = Vec::new();
    for settings in entrypoint_settings(&config, &host, &challenges)? {
        let ep = EntryPoint::bind(settings, &switcher)?;
        tracing::info!(entrypoint = ep.name(), address = %ep.local_addr()?, "entrypoint listening");
        entrypoints.push(ep);
    }

    let view = static_view(&config);
    let terminating = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ping = config.ping.clone().unwrap_or_default();
    let file = config.providers.as_ref().and_then(|p| p.file.clone());
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
    let builder = Builder::new(view, internal).context("serversTransport")?;
    let throttle: Duration = config
        .providers
        .as_ref()
        .map(|p| p.providers_throttle_duration.into())
        .unwrap_or(Duration::from_secs(2));

    let (tx, rx) = mpsc::channel(64);
    let mut watcher = Watcher::new(throttle, builder, switcher.clone());
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
    let watcher_task = tokio::spawn(watcher.run(rx));

    let internal_config = switchyard_server::internal::configuration(&internal_settings(&config)?)
        .context("building the internal configuration")?;
    tx.send(switchyard_providers::Message {
        provider: "internal".into(),
        config: internal_config,
    })
    .await
    .context("watcher stopped")?;

    let (reload_tx, reload_rx) = watch::channel(0u64);
    if let Some(f) = file {
        let provider = switchyard_providers::file::FileProvider {
            filename: f.filename.clone().filter(|s| !s.is_empty()).map(Into::into),
            directory: f
                .directory
                .clone()
                .filter(|s| !s.is_empty())
                .map(Into::into),
            watch: f.watch,
        };
        tokio::spawn(provider.run(tx.clone(), reload_rx));
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut serving = Vec::new();
    for ep in entrypoints {
        serving.push(tokio::spawn(
            ep.serve(switcher.clone(), shutdown_rx.clone()),
        ));
    }

    wait_for_stop(signals, &reload_tx, &open_files).await?;
    tracing::info!("stopping: draining entrypoints");
    terminating.store(true, Ordering::Relaxed);
    let _ = shutdown_tx.send(true);
    for s in serving {
        let _ = s.await;
    }
    drop(tx);
    watcher_task.abort();
    tracing::info!("stopped");
    Ok(())
}

/// The signals Switchyard answers, installed first thing at start-up so
/// that none of them kills the process while it is still starting.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            usr1: signal(SignalKind::user_defined1()).context("installing the SIGUSR1 handler")?,
        })
    }
}

/// Waits for SIGTERM or SIGINT; SIGHUP bumps `reload` and SIGUSR1 reopens
/// the log files meanwhile.
async fn wait_for_stop(
    mut signals: Signals,
    reload: &watch::Sender<u64>,
    files: &crate::reopen::Files,
) -> anyhow::Result<()> {
    tracing::info!(
        "waiting for signals: SIGTERM/SIGINT stop, SIGHUP reloads, SIGUSR1 reopens log files"
    );
    loop {
        tokio::select! {
            _ = signals.term.recv() => return Ok(()),
            _ = signals.int.recv() => return Ok(()),
            _ = signals.hup.recv() => {
                tracing::info!("SIGHUP: re-reading the file provider");
                reload.send_modify(|n| *n += 1);
            }
            _ = signals.usr1.recv() => {
                // Reopened before the line is logged, so the line is the
                // first one in the new file.
                let reopened = files.reopen_all();
                tracing::info!(files = reopened, "SIGUSR1: log files closed and reopened");
            }
        }
    }
}
