//! The `weighted` service: weighted round robin over other services. With
//! its own `healthCheck` section, a child whose servers are all down is
//! skipped (Traefik's health propagation); without it, children are picked
//! whatever their state.

use std::sync::{Arc, Mutex};

use super::wrr::Wrr;
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

/// Whether a service has a server up.
pub type UpFn = Arc<dyn Fn() -> bool + Send + Sync>;

pub struct Child {
    pub handler: BoxHandler,
    pub weight: u32,
    /// Consulted only when the weighted service propagates health.
    pub up: Option<UpFn>,
}

pub struct Weighted {
    children: Vec<Child>,
    wrr: Mutex<Wrr>,
    propagate: bool,
}

impl Weighted {
    pub fn new(children: Vec<Child>, propagate: bool) -> Weighted {
        let wrr = Wrr::new(children.iter().map(|c| c.weight));
        Weighted {
            children,
            wrr: Mutex::new(wrr),
            propagate,
        }
    }

    fn child_up(&self, i: usize) -> bool {
        !self.propagate || self.children[i].up.as_ref().is_none_or(|up| up())
    }

    /// Whether any child can take a request (for a parent's propagation).
    pub fn is_up(&self) -> bool {
        (0..self.children.len()).any(|i| self.child_up(i) && self.children[i].weight > 0)
    }
}

impl Handler for Weighted {
    fn call(&self, req: Request) -> HandlerFuture {
        let picked = {
            let mut wrr = self.wrr.lock().unwrap_or_else(|p| p.into_inner());
            wrr.next(|i| self.child_up(i))
        };
        match picked.and_then(|i| self.children.get(i)) {
            Some(child) => child.handler.call(req),
            None => Box::pin(async { Err(ProxyError::NoAvailableServer) }),
        }
    }
}
