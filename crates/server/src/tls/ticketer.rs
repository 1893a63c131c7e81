//! Session tickets made on first use. Making rustls's ticketer seeds the
//! TLS library's random generator, which costs tens of milliseconds of CPU
//! the first time; a server without a TLS handshake yet (or without a TLS
//! entrypoint at all) need not pay it at start.

use std::sync::{Arc, OnceLock};

use rustls::server::ProducesTickets;

/// A ticketer that makes rustls's own the first time a handshake needs it.
#[derive(Debug, Default)]
pub struct LazyTicketer {
    inner: OnceLock<Option<Arc<dyn ProducesTickets>>>,
}

impl LazyTicketer {
    pub fn shared() -> Arc<dyn ProducesTickets> {
        Arc::new(LazyTicketer::default())
    }

    /// The real ticketer; None when it cannot be made (no ticket is then
    /// issued, and none accepted).
    fn get(&self) -> Option<&Arc<dyn ProducesTickets>> {
        self.inner
            .get_or_init(|| match rustls::crypto::aws_lc_rs::Ticketer::new() {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot make TLS session tickets");
                    None
                }
            })
            .as_ref()
    }

    /// Whether the real ticketer was made.
    #[cfg(test)]
    fn made(&self) -> bool {
        self.inner.get().is_some()
    }
}

impl ProducesTickets for LazyTicketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.get().map_or(0, |t| t.lifetime())
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.get()?.encrypt(plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.get()?.decrypt(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_on_first_use_and_round_trips() {
        let lazy = LazyTicketer::default();
        assert!(!lazy.made(), "nothing is made before a handshake asks");
        assert!(lazy.enabled());
        assert!(!lazy.made(), "asking whether tickets are on makes nothing");
        let ticket = lazy.encrypt(b"session state").expect("a ticket");
        assert!(lazy.made());
        assert_ne!(ticket.as_slice(), b"session state");
        assert_eq!(
            lazy.decrypt(&ticket).as_deref(),
            Some(&b"session state"[..])
        );
        assert!(lazy.lifetime() > 0);
        let other = LazyTicketer::default();
        assert_eq!(
            other.decrypt(&ticket),
            None,
            "another ticketer's keys differ"
        );
    }
}
