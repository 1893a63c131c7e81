//! Services over services: `weighted` (weighted round robin, with an
//! optional sticky cookie) and `highestRandomWeight` (rendezvous hashing of
//! the client IP). With its own `healthCheck` section, a child whose
//! servers are all down is skipped (Traefik's health propagation); without
//! it, children are picked whatever their state.

use std::sync::Arc;

use super::sticky::{CookieSpec, Sticky};
use super::strategy::{no_server, Kind, Picker};
use crate::{BoxHandler, Handler, HandlerFuture, Request};

/// Whether a service has a server up.
pub type UpFn = Arc<dyn Fn() -> bool + Send + Sync>;

pub struct Child {
    /// The name the parent's configuration gives it (what `hrw` hashes and
    /// the sticky cookie points at).
    pub name: String,
    pub handler: BoxHandler,
    pub weight: u32,
    /// Consulted only when the parent propagates health.
    pub up: Option<UpFn>,
}

pub struct Weighted {
    children: Vec<Child>,
    picker: Picker,
    propagate: bool,
}

impl Weighted {
    pub fn new(
        children: Vec<Child>,
        strategy: Kind,
        sticky: Option<CookieSpec>,
        propagate: bool,
    ) -> Weighted {
        let targets: Vec<(String, u32)> = children
            .iter()
            .map(|c| (c.name.clone(), c.weight))
            .collect();
        let names: Vec<String> = children.iter().map(|c| c.name.clone()).collect();
        let sticky = sticky.map(|c| Sticky::new(c, &names));
        Weighted {
            picker: Picker::new(strategy, &targets, sticky),
            children,
            propagate,
        }
    }

    fn child_up(&self, i: usize) -> bool {
        !self.propagate || self.children[i].up.as_ref().is_none_or(|up| up())
    }

    /// Whether any child can take a request (for a parent's propagation).
    pub fn is_up(&self) -> bool {
        (0..self.children.len()).any(|i| self.child_up(i) && self.picker.has_weight(i))
    }
}

impl Handler for Weighted {
    fn call(&self, req: Request) -> HandlerFuture {
        let Some(pick) = self.picker.pick(&req, |i| self.child_up(i)) else {
            return no_server();
        };
        match self.children.get(pick.index) {
            Some(child) => {
                let call = child.handler.call(req);
                self.picker.serve(pick, call)
            }
            None => no_server(),
        }
    }
}
