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
pub mod tls;
mod toml_source;
pub mod udp;
mod yaml_source;

pub use duration::Duration;
pub use error::ConfigError;
pub use node::{Location, Node};
