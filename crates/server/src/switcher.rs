//! The switcher: one atomic pointer to the live [`Runtime`]. A request loads
//! it once and keeps that `Arc` to its end; a reload is one store.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::Runtime;

#[derive(Clone)]
pub struct Switcher {
    current: Arc<ArcSwap<Runtime>>,
}

impl Switcher {
    pub fn new(initial: Runtime) -> Switcher {
        Switcher {
            current: Arc::new(ArcSwap::from_pointee(initial)),
        }
    }

    /// The live runtime, held for as long as the caller keeps the `Arc`.
    pub fn load(&self) -> Arc<Runtime> {
        self.current.load_full()
    }

    /// Publishes `next`; requests already running keep the one they loaded.
    pub fn store(&self, next: Runtime) {
        self.current.store(Arc::new(next));
    }
}
