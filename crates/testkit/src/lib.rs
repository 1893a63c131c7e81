//! Helpers for Switchyard's integration tests: real backends, the real binary
//! started on real files, ports, polling, and a small HTTP client.
//!
//! Tests poll with [`wait_until`]; they never sleep a fixed time to "let things
//! settle".

mod backend;
mod client;
mod config_server;
mod consul_double;
mod dir;
pub mod docker;
pub mod h2raw;
pub mod kube;
mod kv_servers;
pub mod load;
pub mod otlp;
mod process;
mod serve;
mod services;
pub mod tls;
pub mod tls_client;
/// The TLS library the fixtures use, for tests that configure handshakes.
pub use rustls;

pub use backend::{set_body, Backend};
pub use client::{get, h2c_get, request, Reply};
pub use config_server::ConfigServer;
pub use consul_double::ConsulDouble;
pub use dir::TestDir;
pub use kube::{KubeDouble, KubeOptions};
pub use kv_servers::{zk_write, EtcdServer, ZooKeeperServer};
pub use otlp::{OtlpReceiver, ReceivedLog, ReceivedMetric, ReceivedPoint, ReceivedSpan};
pub use process::{free_port, free_port_with, Switchyard};
pub use services::{Pebble, PebbleOptions, RedisCluster, RedisSentinel, RedisServer};

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout`
/// naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
