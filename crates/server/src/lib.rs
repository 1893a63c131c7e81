//! The reload path and the entrypoints of Switchyard.
//!
//! ```text
//! providers ──Message──▶ watcher (throttle, merge, skip no-ops) ──▶ builder ──▶ switcher
//!                                                                   (Runtime)   (ArcSwap)
//! entrypoint: accept ─▶ HTTP/1.1 | h2c ─▶ load Runtime once ─▶ router table ─▶ chain ─▶ service
//! ```
//!
//! See `LIFECYCLE.md` beside this crate for both paths step by step.

pub mod acme;
pub mod builder;
pub mod entrypoint;
mod entrypoint_checks;
mod entrypoint_guard;
#[cfg(feature = "http3")]
pub mod http3;
pub mod internal;
pub mod merge;
pub mod protocols;
pub mod proxy_protocol;
pub mod runtime;
pub mod static_translation;
pub mod switcher;
pub mod tls;
mod tls_stream;
pub mod watcher;

pub use builder::{Builder, StaticView};
pub use runtime::{Runtime, RuntimeInfo};
pub use switcher::Switcher;
