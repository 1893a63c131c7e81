//! Services: where a router's chain ends.

pub mod failover;
pub mod fixed_status;
pub mod health;
pub mod load_balancer;
pub mod mirroring;
pub mod reverse_proxy;
pub mod sticky;
pub mod strategy;
pub mod tunnel;
pub mod weighted;
pub mod wrr;

pub use load_balancer::{LoadBalancer, Options, ServerSpec};
