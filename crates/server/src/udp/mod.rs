//! UDP routing, as Traefik v3 does it: a UDP entrypoint
//! (`address: ":53/udp"`) relays datagrams in sessions, one per client
//! address (ip:port); a session's backend is chosen once, when its first
//! datagram arrives, by the service of the entrypoint's router, and the
//! session ends after `udp.timeout` (3 s by default) without a datagram
//! either way.
//!
//! ```text
//! merge.rs     every provider's `udp` section, names qualified (name@provider)
//! build.rs     routers and services → per entrypoint a Balancer, API info
//! balancer.rs  Traefik's weighted round robin, asked once per session
//! listener.rs  the socket, the session table, the relay both ways
//! ```
//!
//! A reload applies to new sessions; established ones keep their backend
//! until they time out (as in Traefik, whose sessions hold the handler
//! they started with).

mod balancer;
mod build;
mod listener;
mod merge;

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_config::dynamic::Configuration;
use switchyard_config::udp::UdpConfiguration;

pub use balancer::{Backend, Balancer};
pub use listener::{UdpEntryPoint, UdpSettings, MAX_SESSIONS};
pub use merge::merge;

use crate::runtime::Elements;

/// What the UDP entrypoints serve, one build's worth; part of the
/// [`crate::Runtime`], loaded by an entrypoint once per new session.
#[derive(Debug, Default)]
pub struct UdpRuntime {
    /// The service of each UDP entrypoint that has a working router.
    pub entrypoints: HashMap<String, Arc<Balancer>>,
    /// UDP routers and services as the API shows them.
    pub routers: Elements,
    pub services: Elements,
}

/// The UDP runtime of a merged configuration, for the UDP entrypoints
/// `entrypoints`. A section that does not read (a provider sent something
/// no file would pass) is logged and routes nothing.
pub fn runtime(config: &Configuration, entrypoints: &[String]) -> UdpRuntime {
    let section = match config.udp.as_ref().map(switchyard_config::udp::decode) {
        None => UdpConfiguration::default(),
        Some(Ok(section)) => section,
        Some(Err(e)) => {
            tracing::error!("the udp section is not used: {e}");
            UdpConfiguration::default()
        }
    };
    if section.routers.is_empty() && section.services.is_empty() {
        return UdpRuntime::default();
    }
    build::build(&section, entrypoints)
}
