//! Switchyard's configuration: Traefik v3's static and dynamic configuration
//! types, spelled as Traefik spells them, and the loaders that read them.
//!
//! Every source becomes one [`node::Node`] tree first, each node knowing the
//! file, line and column it came from: YAML and TOML files, and, through
//! one flat-key builder ([`flat`]), CLI flags, environment variables,
//! container labels ([`labels`]) and KV keys ([`kv`]). One serde
//! deserializer ([`decode`]) then reads the tree into the typed
//! configuration: struct fields match case-insensitively,
//! strings convert to numbers, booleans and durations when a field asks for
//! them, a comma-separated string fills a list, and `--api` alone means "the
//! `api` section with its defaults". Errors name the file, line, column and
//! field path.
//!
//! # From code
//!
//! A program that embeds Switchyard, or only wants Traefik's configuration
//! types, reads and writes text with
//! [`dynamic::Configuration::from_yaml`], [`from_toml`](dynamic::Configuration::from_toml),
//! [`to_yaml`](dynamic::Configuration::to_yaml) and
//! [`to_toml`](dynamic::Configuration::to_toml); one middleware with
//! [`dynamic::Middleware::from_yaml`] (then [`dynamic::decode_middleware`]
//! for its typed settings); the static configuration with
//! [`static_config::StaticConfiguration::from_yaml`] and
//! [`from_toml`](static_config::StaticConfiguration::from_toml). The types
//! are plain serde types: building one in code and writing it out is the
//! same as writing the file by hand.
//!
//! ```
//! use switchyard_config::dynamic::Configuration;
//!
//! let config = Configuration::from_yaml(
//!     "http:\n  routers:\n    web:\n      rule: Host(`a.test`)\n      service: app\n",
//! )?;
//! let mut http = config.http.clone().unwrap_or_default();
//! let mut router = (*http.routers["web"]).clone();
//! router.priority = Some(10);
//! http.routers.insert("web".into(), router.into());
//! let changed = Configuration { http: Some(http), ..config };
//! assert!(changed.to_yaml()?.contains("priority: 10"));
//! # Ok::<(), switchyard_config::ConfigError>(())
//! ```
//!
//! A [`ConfigError`] says where: its [`location`](ConfigError::location)
//! (file or `<yaml>`/`<toml>`, line, column) and its
//! [`field`](ConfigError::field) path (`http.routers.web.priority`).

pub mod chunked;
pub mod decode;
pub mod duration;
pub mod dynamic;
pub mod dynamic_schema;
mod error;
pub mod flat;
pub mod flat_rules;
pub mod gateway_filters;
pub mod kv;
pub mod labels;
pub mod loader;
pub mod middlewares;
pub mod node;
pub mod schema;
pub mod static_config;
pub mod tcp;
pub mod template;
mod text;
pub mod tls;
mod toml_source;
pub mod udp;
mod yaml_source;

pub use duration::Duration;
pub use error::ConfigError;
pub use node::{Location, Node};
