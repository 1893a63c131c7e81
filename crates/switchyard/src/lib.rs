//! Switchyard as a library: the whole gateway started inside your program,
//! driven from code.
//!
//! Switchyard is an edge router that reads Traefik v3's configuration. The
//! `switchyard` binary is one user of this crate; your program can be
//! another. One dependency gives you:
//!
//! - [`Gateway`]: the gateway in-process. Give it a static configuration (a
//!   [`config::static_config::StaticConfiguration`] value, a file, or
//!   Traefik's YAML or TOML text), start it, push dynamic configuration from
//!   code, read the API's view of what runs, stop it gracefully.
//! - [`ConfigSender`]: a provider of your own. It sends a whole dynamic
//!   [`config::dynamic::Configuration`] each time your data changes, with
//!   every guarantee of the file provider: the change applies atomically,
//!   an element with an error is left out while the rest serves (and
//!   [`Applied`] says which and why), unchanged elements keep their state
//!   (load-balancer position, health, rate-limit buckets, connections).
//! - [`config`], [`rules`] and [`proxy`]: the configuration types (serde,
//!   Traefik's spelling), the rule language and the middlewares, for use on
//!   their own.
//!
//! # Start a gateway and route from code
//!
//! ```
//! use switchyard::config::dynamic::{
//!     Configuration, HttpConfiguration, LoadBalancerService, Router, Server, Service,
//! };
//! use switchyard::Gateway;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), switchyard::Error> {
//! // Traefik's static configuration; port 0 takes a free port.
//! let gateway = Gateway::builder()
//!     .static_yaml("entryPoints:\n  web:\n    address: 127.0.0.1:0\n")
//!     .provider_name("app")
//!     .start()
//!     .await?;
//! let web = gateway.local_addr("web").expect("the web entrypoint");
//!
//! // A router and its service, built as values...
//! let mut http = HttpConfiguration::default();
//! http.routers.insert(
//!     "hello".into(),
//!     Router {
//!         rule: "Host(`hello.test`)".into(),
//!         service: "backend".into(),
//!         ..Router::default()
//!     }
//!     .into(),
//! );
//! http.services.insert(
//!     "backend".into(),
//!     Service {
//!         load_balancer: Some(LoadBalancerService {
//!             servers: vec![Server {
//!                 url: "http://127.0.0.1:9".into(),
//!                 ..Server::default()
//!             }],
//!             ..LoadBalancerService::default()
//!         }),
//!         ..Service::default()
//!     }
//!     .into(),
//! );
//! // ...applied: the call returns once the gateway serves them.
//! let applied = gateway
//!     .apply(Configuration { http: Some(http), ..Configuration::default() })
//!     .await?;
//! assert!(applied.is_clean());
//! assert_eq!(gateway.routers()[0]["name"], "hello@app");
//! println!("serving on {web}");
//!
//! gateway.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors belong to the element that has them
//!
//! A configuration is applied whole or not at all per element: a router
//! whose rule does not parse, or that names a missing service, is left out
//! and reported; everything else is applied. Text in Traefik's YAML or TOML
//! is read with [`dynamic_yaml`] (or [`config::loader::parse_dynamic`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), switchyard::Error> {
//! let gateway = switchyard::Gateway::builder()
//!     .static_yaml("entryPoints:\n  web:\n    address: 127.0.0.1:0\n")
//!     .start()
//!     .await?;
//! let config = switchyard::dynamic_yaml(
//!     "http:\n  routers:\n    broken:\n      rule: Host(`a.test`)\n      service: missing\n",
//! )?;
//! let applied = gateway.apply(config).await?;
//! let error = applied.error("broken").expect("the router has an error");
//! assert!(error.messages[0].contains("missing"));
//! gateway.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What the library leaves to your program
//!
//! - **Logging**: Switchyard logs through [`tracing`]; your program installs
//!   the subscriber it wants (the static `log` section is the binary's and
//!   is not read here). The access log (`accessLog`) works as configured.
//! - **Signals**: none are installed. Call [`Gateway::shutdown`] where the
//!   binary would stop on SIGTERM, [`Gateway::reload_files`] where it
//!   re-reads files on SIGHUP.
//! - **TLS**: rustls's `aws-lc-rs` provider is installed as the process
//!   default at start unless your program has installed one.
//! - **Allocator**: the binary uses mimalloc; the library sets none.

#![warn(missing_docs)]

mod applied;
mod error;
mod gateway;
mod listeners;
mod logfile;
mod logging;
mod otel;
mod reopen;
mod sender;
mod setup;
mod static_reload;
mod upgrade;

/// Traefik's configuration types and their loaders (`switchyard-config`).
pub use switchyard_config as config;
/// The middlewares, services and the handler they share
/// (`switchyard-proxy`).
pub use switchyard_proxy as proxy;
/// Traefik's rule language: parse, compile, match (`switchyard-rules`).
pub use switchyard_rules as rules;

pub use applied::{Applied, ElementError, ElementKind, ElementStatus};
pub use error::Error;
pub use gateway::{dynamic_yaml, Gateway, GatewayBuilder};
pub use sender::ConfigSender;

/// What the `switchyard` binary needs beyond the library's surface; not
/// for embedders, and not covered by semver.
#[doc(hidden)]
pub mod binary {
    pub use crate::setup::{run, USAGE};
    pub use crate::upgrade::command as upgrade;
}
