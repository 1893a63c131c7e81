//! The builder: compiles a merged configuration into a [`Runtime`].
//!
//! Errors belong to the element that has them: it is left out (or kept with
//! a warning) and everything else is built. Elements whose definition did not
//! change are taken over from the previous build, so their state (health,
//! balancer position, connection pools) lives on.

mod middlewares;
mod patch;
mod routers;
mod services;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use switchyard_config::dynamic::Configuration;
use switchyard_proxy::upstream::{TransportError, TransportSettings, Upstream};
use switchyard_proxy::BoxHandler;
use switchyard_rules::{Rule, Syntax};

use crate::runtime::{Runtime, RuntimeInfo};

pub use middlewares::CompiledMiddleware;
pub(crate) use routers::router_api_view;
use routers::CachedRouter;
pub(crate) use services::service_api_view;
pub(crate) use services::transport_settings;
use services::CachedService;

/// What the builder needs from the static configuration.
#[derive(Debug, Clone, Default)]
pub struct StaticView {
    /// Every HTTP entrypoint's name.
    pub entrypoints: Vec<String>,
    /// Every UDP entrypoint's name.
    pub udp_entrypoints: Vec<String>,
    /// Entrypoints a router without `entryPoints` attaches to.
    pub default_entrypoints: Vec<String>,
    /// `entryPoints.<name>.observability`, where given: the defaults of
    /// its routers' `observability`.
    pub entrypoint_observability:
        HashMap<String, switchyard_config::static_config::EntryPointObservability>,
    /// `entryPoints.<name>.http.middlewares`, as written.
    pub entrypoint_middlewares: HashMap<String, Vec<String>>,
    /// Entrypoints' `http.tls`: the TLS settings of their routers without
    /// their own.
    pub entrypoint_tls: HashMap<String, switchyard_config::tls::RouterTls>,
    /// Entrypoints whose `http.encodedCharacters` refuses some characters.
    pub entrypoint_encoded:
        HashMap<String, switchyard_proxy::middlewares::encoded_characters::Allowed>,
    /// The static `serversTransport`, used by services that name none.
    pub default_transport: TransportSettings,
    /// The static `tcpServersTransport`, used by TCP services that name
    /// none.
    pub default_tcp_transport: switchyard_config::tcp::TcpServersTransport,
    /// The static `core.defaultRuleSyntax`, when given: the syntax of the
    /// rules of routers without a `ruleSyntax` (v3 when not given).
    pub default_rule_syntax: Option<Syntax>,
    /// The static `providers.precedence` (lower-cased provider names):
    /// the order between routers of equal priority; Traefik's own list
    /// when not given.
    pub provider_precedence: Option<Vec<String>>,
    /// Whether `tracing` is on: chains then get their span steps.
    pub tracing: bool,
    /// Every entrypoint's static configuration, as `/api/entrypoints`
    /// shows it.
    pub entrypoint_configs:
        Arc<std::collections::BTreeMap<String, switchyard_config::static_config::EntryPoint>>,
}

/// Builds runtimes, remembering what it built last.
pub struct Builder {
    view: Arc<StaticView>,
    internal: HashMap<String, BoxHandler>,
    services: HashMap<String, CachedService>,
    transports: HashMap<String, (TransportSettings, Arc<Upstream>)>,
    default_upstream: Arc<Upstream>,
    middlewares: HashMap<String, middlewares::Cached>,
    /// What the last build left for a patch, when it can be patched.
    patchable: Option<patch::Patchable>,
    /// The routers of the last build that built cleanly.
    routers: HashMap<String, CachedRouter>,
    /// The configuration built last: each element is compared with its
    /// definition there to know whether what was built from it still holds.
    last: Option<Arc<Configuration>>,
    /// Compiled rules by text and syntax, kept while a router has them.
    rules: HashMap<(String, Syntax), Arc<Rule>>,
    generation: u64,
    /// The self-signed certificate served when no other matches.
    generated_cert: Arc<rustls::sign::CertifiedKey>,
    /// Certificates as last loaded, for files that break later.
    certificates: crate::tls::LastGood,
    /// `metrics.prometheus`: hands out the routers' and services' counters.
    metrics: Option<Arc<crate::metrics::Metrics>>,
    /// What the last TCP build keeps for the next (balancers, counters).
    tcp_cache: crate::tcp::build::TcpCache,
    /// The TCP tables and services of the last whole build, which a
    /// patch keeps.
    tcp_tables: HashMap<String, Arc<crate::tcp::TcpEntry>>,
    tcp_services: HashMap<String, Arc<crate::tcp::service::TcpService>>,
    /// The UDP runtime of the last build, taken over while `udp` does not
    /// change (its balancers keep their turn).
    udp: Arc<crate::udp::UdpRuntime>,
    /// Set by [`Builder::set_view`]: the next build rebuilds the UDP
    /// runtime even if `udp` did not change.
    udp_stale: bool,
}

/// The TLS runtime of one build and what went wrong building it.
pub struct TlsBuilt {
    pub runtime: Arc<crate::tls::TlsRuntime>,
    pub option_errors: std::collections::BTreeMap<String, String>,
    /// Routers whose hosts other routers give different options.
    pub conflicted: Vec<String>,
}

/// Counts of one build, for the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildStats {
    pub routers: usize,
    pub services: usize,
    pub middlewares: usize,
    pub errors: usize,
    pub reused_services: usize,
    /// Whether the last build was patched (only what changed was built).
    pub patched: bool,
}

impl Builder {
    /// `internal` maps qualified internal service names (`api@internal`,
    /// `ping@internal`, ...) to their handlers.
    /// Fails when the static `serversTransport` cannot be used.
    pub fn new(
        view: StaticView,
        internal: HashMap<String, BoxHandler>,
    ) -> Result<Builder, TransportError> {
        let default_upstream = Arc::new(Upstream::new(view.default_transport.clone())?);
        let generated_cert = crate::tls::generated_default().map_err(TransportError::Settings)?;
        Ok(Builder {
            view: Arc::new(view),
            internal,
            services: HashMap::new(),
            transports: HashMap::new(),
            default_upstream,
            middlewares: HashMap::new(),
            routers: HashMap::new(),
            patchable: None,
            last: None,
            rules: HashMap::new(),
            generation: 0,
            generated_cert,
            certificates: Default::default(),
            metrics: None,
            tcp_cache: Default::default(),
            tcp_tables: HashMap::new(),
            tcp_services: HashMap::new(),
            udp: Default::default(),
            udp_stale: false,
        })
    }

    /// Gives the routers and services it builds their counters from
    /// `metrics`, and tells it of every configuration built.
    pub fn with_metrics(mut self, metrics: Option<Arc<crate::metrics::Metrics>>) -> Builder {
        self.metrics = metrics;
        self
    }

    /// Takes the static configuration's new entrypoints (added, removed
    /// or changed while running): the next build builds every router and
    /// the UDP runtime again for them (services and their state are
    /// kept, their definitions not depending on entrypoints).
    pub fn set_view(&mut self, view: StaticView) {
        self.view = Arc::new(view);
        self.routers.clear();
        self.patchable = None;
        self.udp_stale = true;
    }

    fn build_tls(
        &mut self,
        config: &Configuration,
        http: &switchyard_config::dynamic::HttpConfiguration,
        info: &mut RuntimeInfo,
    ) -> TlsBuilt {
        let (by_host, conflicted) = self.tls_hosts(http);
        let empty = Default::default();
        let section = config.tls.as_ref().unwrap_or(&empty);
        let built = crate::tls::build(
            section,
            by_host,
            &self.generated_cert,
            &mut self.certificates,
        );
        for e in &built.certificate_errors {
            tracing::error!("{e}");
        }
        for (name, e) in &built.option_errors {
            tracing::error!(options = %name, "TLS options: {e}");
        }
        info.tls_errors = built
            .certificate_errors
            .iter()
            .cloned()
            .chain(built.option_errors.iter().map(|(n, e)| format!("{n}: {e}")))
            .collect();
        TlsBuilt {
            runtime: built.runtime,
            option_errors: built.option_errors,
            conflicted,
        }
    }

    /// Builds the TCP tables (see [`crate::tcp::build`]), logs their
    /// elements' errors, and keeps them for patches.
    fn build_tcp(
        &mut self,
        config: &Configuration,
        https_tables: &HashMap<String, Arc<switchyard_rules::RouterTable<crate::runtime::Route>>>,
        tls: &TlsBuilt,
        info: &mut RuntimeInfo,
    ) -> HashMap<String, Arc<crate::tcp::TcpEntry>> {
        let inputs = crate::tcp::build::Inputs {
            entrypoints: &self.view.entrypoints,
            default_entrypoints: &self.view.default_entrypoints,
            default_rule_syntax: self.view.default_rule_syntax.unwrap_or_default(),
            https_tables,
            tls: &tls.runtime,
            provider_precedence: self.view.provider_precedence.as_deref(),
            default_transport: &self.view.default_tcp_transport,
        };
        let (tables, built) =
            crate::tcp::build::build(config.tcp.as_ref(), &inputs, &mut self.tcp_cache);
        for (kind, elements) in [
            ("TCP router", &built.routers),
            ("TCP service", &built.services),
            ("TCP middleware", &built.middlewares),
        ] {
            for (name, el) in elements {
                for e in &el.errors {
                    if el.status == crate::runtime::Status::Disabled {
                        tracing::error!("{kind} {name:?}: {e}");
                    } else {
                        tracing::warn!("{kind} {name:?}: {e}");
                    }
                }
            }
        }
        info.tcp_routers = built.routers;
        info.tcp_services = built.services;
        info.tcp_middlewares = built.middlewares;
        self.tcp_services = built.built;
        self.tcp_tables = tables.clone();
        tables
    }

    /// Compiles `config` (already merged, names qualified). What did not
    /// change since the last build is taken over from it; the builder keeps
    /// `config` to compare the next one with.
    pub fn build(&mut self, config: Arc<Configuration>) -> (Runtime, BuildStats) {
        let started = Instant::now();
        if let Some(patched) = self.patch(&config) {
            tracing::debug!(
                elapsed_us = started.elapsed().as_micros() as u64,
                "runtime patched"
            );
            return patched;
        }
        self.patchable = None;
        self.generation += 1;
        let last = self.last.take();
        let last_http = last.as_deref().and_then(|c| c.http.as_ref());
        let empty = Default::default();
        let http = config.http.as_ref().unwrap_or(&empty);
        let mut info = RuntimeInfo {
            generation: self.generation,
            entrypoint_configs: self.view.entrypoint_configs.clone(),
            ..RuntimeInfo::default()
        };
        let mut stats = BuildStats::default();
        if self.udp_stale || last.as_deref().is_none_or(|l| l.udp != config.udp) {
            self.udp = Arc::new(crate::udp::runtime(&config, &self.view.udp_entrypoints));
            self.udp_stale = false;
        }
        let mut built_services = self.build_services(http, last_http, &mut info, &mut stats);
        self.compile_middlewares(http, &built_services, &mut info);
        let failed_balancers = self.apply_service_middlewares(http, &mut built_services, &mut info);
        let tls = self.build_tls(&config, http, &mut info);
        let (entrypoints, tls_entrypoints) =
            self.build_routers(http, last_http, &built_services, &tls, &mut info);
        let tcp = self.build_tcp(&config, &tls_entrypoints, &tls, &mut info);
        for el in info
            .services
            .values_mut()
            .chain(info.middlewares.values_mut())
        {
            if !el.links.is_empty() {
                let links = &mut Arc::make_mut(el).links;
                links.sort();
                links.dedup();
            }
        }

        stats.routers = info.routers.len();
        stats.services = info.services.len();
        stats.middlewares = info.middlewares.len();
        stats.errors = info
            .routers
            .values()
            .chain(info.services.values())
            .chain(info.middlewares.values())
            .filter(|e| !e.errors.is_empty())
            .count();
        tracing::debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "runtime built"
        );
        if let Some(m) = &self.metrics {
            m.applied(http);
        }
        let balancers: HashMap<_, _> = built_services
            .iter()
            .filter_map(|(name, s)| s.balancer.clone().map(|b| (name.clone(), b)))
            .chain(failed_balancers)
            .collect();
        let info = Arc::new(info);
        let runtime = Runtime {
            entrypoints,
            tls_entrypoints,
            tls: tls.runtime.clone(),
            tcp,
            tcp_services: self.tcp_services.clone(),
            balancers,
            info,
            udp: self.udp.clone(),
        };
        self.patchable = Some(patch::Patchable {
            entrypoints: runtime.entrypoints.clone(),
            tls_entrypoints: runtime.tls_entrypoints.clone(),
            tls,
            info: runtime.info.clone(),
            services: built_services,
            balancers: runtime.balancers.clone(),
            errors: stats.errors,
            not_plain: patch::not_plain(http),
        });
        drop(last);
        self.last = Some(config);
        (runtime, stats)
    }
}

#[cfg(test)]
mod tests;
