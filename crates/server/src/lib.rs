//! The reload path and the entrypoints of Switchyard.
//!
//! ```text
//! providers ──Message──▶ watcher (throttle, merge, skip no-ops) ──▶ builder ──▶ switcher
//!                                                                   (Runtime)   (ArcSwap)
//! entrypoint: accept ─▶ (PROXY, TLS) ─▶ HTTP/1.1 | h2 | h2c | h3
//!             ─▶ handler: load Runtime once ─▶ router table ─▶ chain ─▶ service
//! ```
//!
//! See `LIFECYCLE.md` beside this crate for both paths step by step.

pub mod accesslog;
pub mod acme;
pub mod builder;
pub mod entrypoint;
pub mod internal;
pub mod merge;
pub mod metrics;
pub mod runtime;
pub mod static_translation;
pub mod switcher;
pub mod tcp;
pub mod tls;
pub mod udp;
pub mod watcher;

// The entrypoint's parts at their former paths.
#[cfg(feature = "http3")]
pub use entrypoint::http3;
pub use entrypoint::{protocols, proxy_protocol};

pub use builder::{Builder, StaticView};
pub use runtime::{Runtime, RuntimeInfo};
pub use switcher::Switcher;
