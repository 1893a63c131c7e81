//! The TLS facts of a QUIC connection: its version (always TLS 1.3) and
//! the cipher suite its handshake chose, for the access log's `TLSVersion`
//! and `TLSCipher` and the `requests_tls_total` counters, as Traefik has
//! them for HTTP/3 requests from quic-go's connection state.
//!
//! quinn does not show the suite of a connection, so each connection gets
//! its own copy of the (shared) rustls configuration, whose certificate
//! resolver notes the suite rustls is about to choose: the first TLS 1.3
//! suite in the server's order that the client offers (the configuration
//! ignores the client's order, and every TLS 1.3 suite suits any
//! certificate, key exchange and QUIC). Its session answers
//! `handshake_data` with a [`QuicHandshake`] carrying that suite.
//! A copy costs a few reference counts per connection.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use quinn::crypto::rustls::{HandshakeData, QuicServerConfig};
use quinn::crypto::{self, ExportKeyingMaterialError, KeyPair, Keys, PacketKey};
use quinn::ConnectionId;
use quinn_proto::transport_parameters::TransportParameters;
use quinn_proto::TransportError;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::CipherSuite;
use switchyard_proxy::context::TlsSession;

/// What a QUIC server connection's `handshake_data` gives, instead of
/// quinn's [`HandshakeData`] (its ALPN protocol, always `h3` here, and
/// SNI, which nothing reads after the certificate was chosen).
#[derive(Debug, Clone)]
pub struct QuicHandshake {
    /// The suite the handshake chose (none when the resolver was not
    /// asked: the handshake failed before a certificate was chosen).
    pub suite: Option<CipherSuite>,
}

impl QuicHandshake {
    /// The TLS facts of `conn` (none for a connection not made by a
    /// [`FactsConfig`]).
    pub fn tls_session(conn: &quinn::Connection) -> Option<TlsSession> {
        let data = conn.handshake_data()?.downcast::<QuicHandshake>().ok()?;
        TlsSession::tls13(data.suite?)
    }
}

/// The server side of QUIC's TLS: quinn's rustls configuration, with a
/// copy per connection that notes the chosen suite.
pub struct FactsConfig {
    base: Arc<rustls::ServerConfig>,
    quic: Arc<QuicServerConfig>,
    /// The server's TLS 1.3 suites, in its order.
    suites: Arc<[CipherSuite]>,
}

impl FactsConfig {
    pub fn new(tls: rustls::ServerConfig) -> Result<FactsConfig, String> {
        let base = Arc::new(tls);
        let quic = QuicServerConfig::try_from(base.clone()).map_err(|e| e.to_string())?;
        let suites = base
            .crypto_provider()
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .map(|s| s.suite())
            .collect();
        Ok(FactsConfig {
            base,
            quic: Arc::new(quic),
            suites,
        })
    }
}

impl crypto::ServerConfig for FactsConfig {
    fn initial_keys(
        &self,
        version: u32,
        dst_cid: &ConnectionId,
    ) -> Result<Keys, crypto::UnsupportedVersion> {
        self.quic.initial_keys(version, dst_cid)
    }

    fn retry_tag(&self, version: u32, orig_dst_cid: &ConnectionId, packet: &[u8]) -> [u8; 16] {
        self.quic.retry_tag(version, orig_dst_cid, packet)
    }

    fn start_session(
        self: Arc<Self>,
        version: u32,
        params: &TransportParameters,
    ) -> Box<dyn crypto::Session> {
        let chosen = Arc::new(OnceLock::new());
        let mut tls = rustls::ServerConfig::clone(&self.base);
        tls.cert_resolver = Arc::new(SuiteNoter {
            inner: self.base.cert_resolver.clone(),
            suites: self.suites.clone(),
            chosen: chosen.clone(),
        });
        match QuicServerConfig::try_from(Arc::new(tls)) {
            Ok(quic) => Box::new(FactsSession {
                inner: Arc::new(quic).start_session(version, params),
                chosen,
            }),
            // Not expected: the copy has the providers of the base, which
            // passed. The connection still works, without its facts.
            Err(_) => self.quic.clone().start_session(version, params),
        }
    }
}

/// Resolves with the shared resolver, noting the suite the handshake
/// will choose.
#[derive(Debug)]
struct SuiteNoter {
    inner: Arc<dyn ResolvesServerCert>,
    suites: Arc<[CipherSuite]>,
    chosen: Arc<OnceLock<CipherSuite>>,
}

impl ResolvesServerCert for SuiteNoter {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let offered = hello.cipher_suites();
        if let Some(suite) = self.suites.iter().find(|s| offered.contains(s)) {
            // (After a HelloRetryRequest the suite must stay the same.)
            let _ = self.chosen.set(*suite);
        }
        self.inner.resolve(hello)
    }
}

/// quinn's rustls session, whose handshake data carries the suite.
struct FactsSession {
    inner: Box<dyn crypto::Session>,
    chosen: Arc<OnceLock<CipherSuite>>,
}

impl crypto::Session for FactsSession {
    fn initial_keys(&self, dst_cid: &ConnectionId, side: quinn::Side) -> Keys {
        self.inner.initial_keys(dst_cid, side)
    }

    fn handshake_data(&self) -> Option<Box<dyn Any>> {
        let data = self.inner.handshake_data()?;
        match data.downcast::<HandshakeData>() {
            Ok(_) => Some(Box::new(QuicHandshake {
                suite: self.chosen.get().copied(),
            })),
            Err(other) => Some(other),
        }
    }

    fn peer_identity(&self) -> Option<Box<dyn Any>> {
        self.inner.peer_identity()
    }

    fn early_crypto(&self) -> Option<(Box<dyn crypto::HeaderKey>, Box<dyn PacketKey>)> {
        self.inner.early_crypto()
    }

    fn early_data_accepted(&self) -> Option<bool> {
        self.inner.early_data_accepted()
    }

    fn is_handshaking(&self) -> bool {
        self.inner.is_handshaking()
    }

    fn read_handshake(&mut self, buf: &[u8]) -> Result<bool, TransportError> {
        self.inner.read_handshake(buf)
    }

    fn transport_parameters(&self) -> Result<Option<TransportParameters>, TransportError> {
        self.inner.transport_parameters()
    }

    fn write_handshake(&mut self, buf: &mut Vec<u8>) -> Option<Keys> {
        self.inner.write_handshake(buf)
    }

    fn next_1rtt_keys(&mut self) -> Option<KeyPair<Box<dyn PacketKey>>> {
        self.inner.next_1rtt_keys()
    }

    fn is_valid_retry(&self, orig_dst_cid: &ConnectionId, header: &[u8], payload: &[u8]) -> bool {
        self.inner.is_valid_retry(orig_dst_cid, header, payload)
    }

    fn export_keying_material(
        &self,
        output: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), ExportKeyingMaterialError> {
        self.inner.export_keying_material(output, label, context)
    }
}
