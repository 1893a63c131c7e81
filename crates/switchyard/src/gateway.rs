//! [`Gateway`]: the whole gateway started from code, and its builder.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use switchyard_config::dynamic::Configuration;
use switchyard_config::loader::{self, Loaded, Source};
use switchyard_config::static_config::StaticConfiguration;

use crate::setup::{self, Running};
use crate::{Applied, ConfigSender, Error};

/// The provider name of [`Gateway::apply`] unless
/// [`GatewayBuilder::provider_name`] sets one.
const DEFAULT_PROVIDER: &str = "app";

/// A running gateway: entrypoints bound, providers of the static
/// configuration started, internal services (API, ping, metrics) on when
/// configured. Stop it with [`Gateway::shutdown`]; dropped without that,
/// its entrypoints stop accepting and close at once.
pub struct Gateway {
    running: Running,
    /// The gateway's own provider, fed by [`Gateway::apply`].
    own: ConfigSender,
    /// The providers made by [`Gateway::provider`], by name.
    others: Mutex<HashMap<String, ConfigSender>>,
}

/// Where the static configuration comes from; see [`Gateway::builder`].
#[derive(Debug, Default)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct GatewayBuilder {
    source: Option<StaticSource>,
    provider: Option<String>,
}

#[derive(Debug)]
enum StaticSource {
    Value(Box<StaticConfiguration>),
    File(PathBuf),
    Text { name: &'static str, text: String },
}

impl GatewayBuilder {
    /// The static configuration as a value (defaults are filled in as when
    /// it is read from a file: an entrypoint `http` on `:80` when none is
    /// given, `traefik` on `:8080` when the API or ping needs it).
    pub fn static_config(mut self, config: StaticConfiguration) -> GatewayBuilder {
        self.source = Some(StaticSource::Value(Box::new(config)));
        self
    }

    /// The static configuration from a YAML or TOML file, by extension, as
    /// `--configFile` reads it.
    pub fn static_file(mut self, path: impl Into<PathBuf>) -> GatewayBuilder {
        self.source = Some(StaticSource::File(path.into()));
        self
    }

    /// The static configuration as Traefik's YAML text.
    pub fn static_yaml(mut self, text: impl Into<String>) -> GatewayBuilder {
        self.source = Some(StaticSource::Text {
            name: "static.yaml",
            text: text.into(),
        });
        self
    }

    /// The static configuration as Traefik's TOML text.
    pub fn static_toml(mut self, text: impl Into<String>) -> GatewayBuilder {
        self.source = Some(StaticSource::Text {
            name: "static.toml",
            text: text.into(),
        });
        self
    }

    /// The provider name of [`Gateway::apply`]'s configurations: their
    /// elements are named `name@<provider>` (default `app`).
    pub fn provider_name(mut self, name: impl Into<String>) -> GatewayBuilder {
        self.provider = Some(name.into());
        self
    }

    /// Binds the entrypoints and starts everything the static
    /// configuration asks for. Must be called within a multi-threaded or
    /// current-thread Tokio runtime, which then runs the gateway.
    ///
    /// Fails when the static configuration is missing, does not parse, or
    /// asks for what cannot be done (an address already in use, a bad
    /// `serversTransport`), naming the file, line and field or the element.
    pub async fn start(self) -> Result<Gateway, Error> {
        let provider = self.provider.unwrap_or_else(|| DEFAULT_PROVIDER.into());
        check_provider_name(&provider)?;
        let loaded = match self.source {
            None => {
                return Err(Error::msg(
                    "no static configuration: give one with static_config, static_file, static_yaml or static_toml",
                ))
            }
            Some(StaticSource::Value(config)) => Loaded {
                config: config.with_defaults(),
                // Only the binary's log reads where it came from.
                source: Source::Defaults,
                not_implemented: Vec::new(),
            },
            Some(StaticSource::File(path)) => {
                let flag = format!("--configFile={}", path.display());
                loader::load_static_from(&[flag], &[], &[])?
            }
            Some(StaticSource::Text { name, text }) => parse_static(Path::new(name), &text)?,
        };
        // The process's TLS provider, unless the program chose one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let running = setup::start(loaded, Default::default(), None)
            .await
            .map_err(Error::wrap)?;
        let own = ConfigSender::new(
            &provider,
            running.providers.clone(),
            running.settled.clone(),
            running.switcher.clone(),
        );
        Ok(Gateway {
            running,
            own,
            others: Mutex::default(),
        })
    }
}

impl Gateway {
    /// A builder; give it a static configuration, then
    /// [`start`](GatewayBuilder::start) it.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// Makes `config` the configuration of the gateway's own provider (see
    /// [`GatewayBuilder::provider_name`]) and returns once it is served:
    /// see [`ConfigSender::send`].
    pub async fn apply(&self, config: Configuration) -> Result<Applied, Error> {
        self.own.send(config).await
    }

    /// A provider named `name`, for a program that feeds configurations
    /// from several sources of its own (each replaces only its own
    /// elements). Asked again for the same name, gives the same provider.
    ///
    /// Fails when `name` is empty, holds `@`, or is the name of a provider
    /// Switchyard has (`internal`, `file`, `docker`, `kubernetescrd`, ...).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), switchyard::Error> {
    /// let gateway = switchyard::Gateway::builder()
    ///     .static_yaml("entryPoints:\n  web:\n    address: 127.0.0.1:0\n")
    ///     .start()
    ///     .await?;
    /// let inventory = gateway.provider("inventory")?;
    /// let routes = "http:\n  routers:\n    shop:\n      rule: Host(`shop.test`)\n      service: noop@internal\n";
    /// inventory.send(switchyard::dynamic_yaml(routes)?).await?;
    /// assert_eq!(gateway.routers()[0]["name"], "shop@inventory");
    /// assert!(gateway.provider("file").is_err(), "the file provider's name");
    /// gateway.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub fn provider(&self, name: &str) -> Result<ConfigSender, Error> {
        check_provider_name(name)?;
        if name == self.own.name() {
            return Ok(self.own.clone());
        }
        let mut others = self
            .others
            .lock()
            .map_err(|_| Error::msg("the provider table was poisoned by a panic"))?;
        let sender = others.entry(name.to_string()).or_insert_with(|| {
            ConfigSender::new(
                name,
                self.running.providers.clone(),
                self.running.settled.clone(),
                self.running.switcher.clone(),
            )
        });
        Ok(sender.clone())
    }

    /// The address entrypoint `entrypoint` (TCP or UDP) is bound to: the
    /// port the system chose when the configuration says port 0.
    pub fn local_addr(&self, entrypoint: &str) -> Option<SocketAddr> {
        let running = &self.running;
        running
            .addresses
            .iter()
            .chain(&running.udp_addresses)
            .find(|(name, _)| name == entrypoint)
            .map(|(_, addr)| *addr)
    }

    /// The HTTP routers as the API's `/api/http/routers` lists them (every
    /// one, by name): Traefik's field names, with `status`, `error`,
    /// `using`, `provider`.
    pub fn routers(&self) -> Vec<serde_json::Value> {
        self.elements(switchyard_api::Kind::Router)
    }

    /// The HTTP services as `/api/http/services` lists them, with each
    /// load balancer's `serverStatus`.
    pub fn services(&self) -> Vec<serde_json::Value> {
        self.elements(switchyard_api::Kind::Service)
    }

    /// The HTTP middlewares as `/api/http/middlewares` lists them.
    pub fn middlewares(&self) -> Vec<serde_json::Value> {
        self.elements(switchyard_api::Kind::Middleware)
    }

    fn elements(&self, kind: switchyard_api::Kind) -> Vec<serde_json::Value> {
        switchyard_api::http_elements(kind, &self.running.switcher.load())
    }

    /// Has the file provider, when configured, read its files again (what
    /// the binary does on SIGHUP).
    pub fn reload_files(&self) {
        self.running.reload.send_modify(|n| *n += 1);
    }

    /// Stops as the binary does on SIGTERM: ping answers "terminating",
    /// entrypoints stop accepting after `requestAcceptGraceTimeout` and wait
    /// up to `graceTimeOut` for requests in flight, then buffered access
    /// log lines, metrics and traces are written out.
    pub async fn shutdown(self) {
        setup::stop(self.running).await;
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("provider", &self.own.name())
            .field("entrypoints", &self.running.addresses)
            .finish_non_exhaustive()
    }
}

/// Reads a dynamic configuration written in Traefik's YAML, checked
/// against Traefik's keys as the file provider checks a file (errors name
/// the line and field).
pub fn dynamic_yaml(text: &str) -> Result<Configuration, Error> {
    Ok(loader::parse_dynamic(Path::new("dynamic.yaml"), text)?)
}

/// Reads static configuration text as `--configFile` reads a file of that
/// `name`: parsed by extension, checked against Traefik's keys (those not
/// implemented are set aside for the start-up warning), defaults filled.
fn parse_static(name: &Path, text: &str) -> Result<Loaded, Error> {
    let tree = loader::parse_tree(name, text)?;
    let checked = switchyard_config::schema::check_static(&tree)?;
    let config: StaticConfiguration = switchyard_config::decode::from_node(&checked.tree)?;
    Ok(Loaded {
        config: config.with_defaults(),
        source: Source::File(name.to_path_buf()),
        not_implemented: checked.not_implemented,
    })
}

/// Names Switchyard's own providers use, which a program's provider must
/// not take.
const RESERVED: &[&str] = &[
    "internal",
    "file",
    "docker",
    "swarm",
    "http",
    "redis",
    "etcd",
    "zookeeper",
    "consul",
    "consulcatalog",
    "kubernetes",
    "kubernetescrd",
    "kubernetesgateway",
];

fn check_provider_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('@') {
        return Err(Error::msg(format!(
            "provider name {name:?}: must be non-empty and hold no '@'"
        )));
    }
    if RESERVED.contains(&name) || name.ends_with(".acme") || name.starts_with("consul-") {
        return Err(Error::msg(format!(
            "provider name {name:?}: taken by one of Switchyard's providers"
        )));
    }
    Ok(())
}
