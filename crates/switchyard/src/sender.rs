//! A provider of the program's own: it sends whole dynamic configurations
//! to the gateway's watcher, as the file provider does, and learns what
//! became of each.

use std::sync::Arc;

use switchyard_config::dynamic::Configuration;
use switchyard_providers::Message;
use switchyard_server::watcher::Settled;
use switchyard_server::Switcher;
use tokio::sync::{watch, Mutex};

use crate::{Applied, Error};

/// The handle of one provider fed from code; its elements are named
/// `name@provider`. Each [`send`](ConfigSender::send) replaces the
/// provider's whole configuration (what it does not name any more goes).
///
/// Cheap to clone; clones are the same provider, and their sends apply one
/// after the other in the order they were called.
#[derive(Clone)]
pub struct ConfigSender {
    name: Arc<str>,
    /// How many configurations this provider sent; held across a send and
    /// its wait, so that sends are applied and reported one at a time.
    sent: Arc<Mutex<u64>>,
    to_watcher: switchyard_providers::Sender,
    settled: watch::Receiver<Settled>,
    switcher: Switcher,
}

impl ConfigSender {
    pub(crate) fn new(
        name: &str,
        to_watcher: switchyard_providers::Sender,
        settled: watch::Receiver<Settled>,
        switcher: Switcher,
    ) -> ConfigSender {
        ConfigSender {
            name: Arc::from(name),
            sent: Arc::default(),
            to_watcher,
            settled,
            switcher,
        }
    }

    /// The provider's name (the part after `@` in its elements' names).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes `config` this provider's configuration, and returns once the
    /// gateway serves it: merged with the other providers', built, and
    /// published in one atomic switch (requests in flight finish on what
    /// they started with). Elements that did not change keep their state.
    ///
    /// An element with an error is left out and the rest is applied: the
    /// result names those elements. A configuration equal to the one
    /// applied changes nothing (so a certificate file replaced on disk
    /// under the same path is not read again by sending the same
    /// configuration).
    ///
    /// Fails only when the gateway has stopped.
    pub async fn send(&self, config: Configuration) -> Result<Applied, Error> {
        let mut sent = self.sent.lock().await;
        let message = Message {
            provider: self.name.to_string(),
            config,
        };
        self.to_watcher
            .send(message)
            .await
            .map_err(|_| Error::stopped())?;
        *sent += 1;
        let target = *sent;
        let mut settled = self.settled.clone();
        settled
            .wait_for(|s| s.get(&*self.name).is_some_and(|n| *n >= target))
            .await
            .map_err(|_| Error::stopped())?;
        Ok(Applied::read(&self.switcher.load(), &self.name))
    }
}

impl std::fmt::Debug for ConfigSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigSender")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
