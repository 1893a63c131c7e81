//! Providers turn an outside source into a complete dynamic configuration and
//! send it, whole, each time the source changes. They never touch running
//! state: the watcher (in `switchyard-server`) owns what happens next.

pub mod docker;
pub mod file;
mod file_template;
pub mod http;
pub mod kubernetes;
pub mod kv;
pub mod swarm;

use switchyard_config::dynamic::Configuration;
use tokio::sync::mpsc;

/// One provider's whole configuration, as of now.
#[derive(Debug, Clone)]
pub struct Message {
    /// The provider's name, used to qualify element names (`name@file`).
    pub provider: String,
    pub config: Configuration,
}

/// Where providers send their configurations.
pub type Sender = mpsc::Sender<Message>;
