//! The upstream HTTP client of one `serversTransport`: keep-alive pools,
//! TLS to `https://` servers (HTTP/2 when the server picks it by ALPN, unless
//! `disableHTTP2`; client certificates; versions and cipher suites), HTTP/2
//! with prior knowledge to `h2c://` servers, and the forwarding timeouts.
//! Services that name the same transport share one client, and an unchanged
//! transport keeps its pools across reloads.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::{Body, ProxyError, Request, Response};

mod pool;

/// The settings of a `serversTransport` that the client uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportSettings {
    pub max_idle_conns_per_host: usize,
    pub dial_timeout: Option<Duration>,
    pub response_header_timeout: Option<Duration>,
    pub idle_conn_timeout: Option<Duration>,
    /// HTTP/2: ping a connection that has been silent this long.
    pub read_idle_timeout: Option<Duration>,
    /// HTTP/2: close a connection whose ping is not answered in this time.
    pub ping_timeout: Duration,
    pub insecure_skip_verify: bool,
    /// CA certificates as file paths or inline PEM; empty means the system's.
    pub root_cas: Vec<String>,
    /// The system's CA certificates as well as `root_cas` (ACME's
    /// `caSystemCertPool`).
    pub system_roots_too: bool,
    /// The TLS server name to send and verify instead of the URL's host.
    pub server_name: Option<String>,
    pub disable_http2: bool,
    /// Client certificates (certificate, key), as file paths or inline PEM.
    pub certificates: Vec<(String, String)>,
    /// Go's version names.
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    /// Go's cipher suite names.
    pub cipher_suites: Vec<String>,
    /// `peerCertSANs` (and `peerCertURI`, a URI among them): when any,
    /// the server's certificate must carry one of these names, and its
    /// chain must lead to the roots even with `insecure_skip_verify`
    /// (which then only drops the check of the server name), as Traefik.
    pub peer_cert_sans: Vec<crate::tls_names::PeerSan>,
}

impl Default for TransportSettings {
    /// Traefik's defaults.
    fn default() -> Self {
        TransportSettings {
            max_idle_conns_per_host: 200,
            dial_timeout: Some(Duration::from_secs(30)),
            response_header_timeout: None,
            idle_conn_timeout: Some(Duration::from_secs(90)),
            read_idle_timeout: None,
            ping_timeout: Duration::from_secs(15),
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            system_roots_too: false,
            server_name: None,
            disable_http2: false,
            certificates: Vec::new(),
            min_version: None,
            max_version: None,
            cipher_suites: Vec::new(),
            peer_cert_sans: Vec::new(),
        }
    }
}

/// A transport whose TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("rootCAs: {0}")]
    RootCas(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("serverName {0:?} is not a valid name")]
    ServerName(String),
    #[error("{0}")]
    Settings(String),
    #[error("certificates: {0}")]
    ClientCert(String),
}

type Pool = Client<HttpsConnector<HttpConnector>, Body>;

/// How a request must reach its server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1, or HTTP/2 when a TLS server picks it by ALPN.
    Auto,
    /// HTTP/1.1 only: protocol upgrades (WebSocket) need it.
    Http1,
    /// HTTP/2 with prior knowledge over plain TCP (`h2c://`).
    H2c,
}

/// Pooled clients for `http://`, `https://` and `h2c://` backends.
pub struct Upstream {
    /// `http://` servers in HTTP/1.1 (the other pools serve the rest).
    plain: pool::Http1Pool,
    /// ALPN offers `http/1.1` only.
    http1: Pool,
    /// ALPN offers `h2` and `http/1.1` (absent with `disableHTTP2`).
    auto: Option<Pool>,
    h2c: Pool,
    settings: TransportSettings,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("settings", &self.settings)
            .finish()
    }
}

/// A client certificate chain and its key.
fn certified_key(
    cert: &str,
    key: &str,
    provider: &CryptoProvider,
) -> Result<Arc<rustls::sign::CertifiedKey>, TransportError> {
    crate::certs::certified_key(cert, key, provider).map_err(TransportError::ClientCert)
}

/// Offers the first client certificate whose key can sign with a scheme the
/// server accepts (Go's choice among several).
#[derive(Debug)]
struct ClientCerts(Vec<Arc<rustls::sign::CertifiedKey>>);

impl rustls::client::ResolvesClientCert for ClientCerts {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0
            .iter()
            .find(|ck| ck.key.choose_scheme(sigschemes).is_some())
            .cloned()
    }

    fn has_certs(&self) -> bool {
        !self.0.is_empty()
    }
}

/// `rootCAs`, or the system's store when there are none (or both, with
/// `system_roots_too`).
fn root_store(settings: &TransportSettings) -> Result<Arc<RootCertStore>, TransportError> {
    let mut roots = RootCertStore::empty();
    if settings.root_cas.is_empty() || settings.system_roots_too {
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
    }
    if !settings.root_cas.is_empty() {
        for entry in &settings.root_cas {
            let chain = crate::certs::load_chain(entry).map_err(TransportError::RootCas)?;
            for cert in chain {
                roots.add(cert)?;
            }
        }
    }
    Ok(Arc::new(roots))
}

/// The TLS client configuration of `settings` (also used by TCP services
/// whose servers have `tls`).
pub fn tls_config(settings: &TransportSettings) -> Result<rustls::ClientConfig, TransportError> {
    let provider = Arc::new(
        crate::tls_names::provider(&settings.cipher_suites).map_err(TransportError::Settings)?,
    );
    let versions = crate::tls_names::versions(
        settings.min_version.as_deref(),
        settings.max_version.as_deref(),
    )
    .map_err(TransportError::Settings)?;
    let certs = settings
        .certificates
        .iter()
        .map(|(cert, key)| certified_key(cert, key, &provider))
        .collect::<Result<Vec<_>, _>>()?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)?;
    let builder = if !settings.peer_cert_sans.is_empty() {
        let roots = root_store(settings)?;
        // Without insecureSkipVerify the usual verification (chain and
        // server name) comes first, as in Go.
        let usual = if settings.insecure_skip_verify {
            None
        } else {
            let verifier: Arc<dyn ServerCertVerifier> =
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots.clone(),
                    provider.clone(),
                )
                .build()
                .map_err(|e| TransportError::Settings(format!("rootCAs: {e}")))?;
            Some(verifier)
        };
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PeerSans {
                roots,
                sans: settings.peer_cert_sans.clone(),
                usual,
                provider: provider.clone(),
            }))
    } else if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider.clone())))
    } else {
        builder.with_root_certificates(root_store(settings)?)
    };
    Ok(if certs.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder.with_client_cert_resolver(Arc::new(ClientCerts(certs)))
    })
}

impl Upstream {
    pub fn new(settings: TransportSettings) -> Result<Upstream, TransportError> {
        let tls = tls_config(&settings)?;
        let http1 = pool(&settings, connector(&settings, tls.clone(), false)?, false);
        let auto = if settings.disable_http2 {
            None
        } else {
            Some(pool(
                &settings,
                connector(&settings, tls.clone(), true)?,
                false,
            ))
        };
        let h2c = pool(&settings, connector(&settings, tls, false)?, true);
        let plain = pool::Http1Pool::new(
            settings.max_idle_conns_per_host,
            settings.idle_conn_timeout,
            settings.dial_timeout,
        );
        Ok(Upstream {
            plain,
            http1,
            auto,
            h2c,
            settings,
        })
    }

    pub fn settings(&self) -> &TransportSettings {
        &self.settings
    }

    /// Sends `req` (whose URI is absolute) and waits for the response head,
    /// at most `responseHeaderTimeout`.
    pub async fn send(
        &self,
        req: Request,
        upstream: &str,
        protocol: Protocol,
    ) -> Result<Response, ProxyError> {
        if protocol != Protocol::H2c && pool::Http1Pool::carries(&req) {
            let fut = self.plain.send(req);
            let result = match self.settings.response_header_timeout {
                Some(limit) => match tokio::time::timeout(limit, fut).await {
                    Ok(r) => r,
                    Err(_) => {
                        return Err(ProxyError::UpstreamTimeout {
                            upstream: upstream.to_string(),
                        })
                    }
                },
                None => fut.await,
            };
            return result.map_err(|failure| match failure {
                pool::Failure::Connect(source) => ProxyError::Connect {
                    upstream: upstream.to_string(),
                    source,
                },
                pool::Failure::Exchange(e) => ProxyError::Upstream {
                    upstream: upstream.to_string(),
                    source: Box::new(e),
                },
            });
        }
        let client = match protocol {
            Protocol::Http1 => &self.http1,
            Protocol::H2c => &self.h2c,
            Protocol::Auto => self.auto.as_ref().unwrap_or(&self.http1),
        };
        let fut = client.request(req);
        let result = match self.settings.response_header_timeout {
            Some(limit) => match tokio::time::timeout(limit, fut).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(ProxyError::UpstreamTimeout {
                        upstream: upstream.to_string(),
                    })
                }
            },
            None => fut.await,
        };
        match result {
            Ok(resp) => Ok(resp.map(crate::body::boxed)),
            Err(e) if e.is_connect() => Err(ProxyError::Connect {
                upstream: upstream.to_string(),
                source: Box::new(e),
            }),
            Err(e) => Err(ProxyError::Upstream {
                upstream: upstream.to_string(),
                source: Box::new(e),
            }),
        }
    }
}

fn connector(
    settings: &TransportSettings,
    tls: rustls::ClientConfig,
    h2: bool,
) -> Result<HttpsConnector<HttpConnector>, TransportError> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(settings.dial_timeout);
    http.enforce_http(false);
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let https = match &settings.server_name {
        Some(name) => {
            let sn = ServerName::try_from(name.clone())
                .map_err(|_| TransportError::ServerName(name.clone()))?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(sn))
        }
        None => https,
    };
    Ok(if h2 {
        https.enable_all_versions().wrap_connector(http)
    } else {
        https.enable_http1().wrap_connector(http)
    })
}

fn pool(settings: &TransportSettings, connector: HttpsConnector<HttpConnector>, h2c: bool) -> Pool {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_max_idle_per_host(settings.max_idle_conns_per_host)
        .pool_idle_timeout(settings.idle_conn_timeout)
        .set_host(false)
        .http2_only(h2c)
        .http2_keep_alive_interval(settings.read_idle_timeout)
        .http2_keep_alive_timeout(settings.ping_timeout);
    builder.build(connector)
}

/// `peerCertSANs` / `peerCertURI`, as Traefik checks them: the usual
/// verification unless `insecureSkipVerify`, then, in any case, the chain
/// against the roots (without the server name) and one of the names.
#[derive(Debug)]
struct PeerSans {
    roots: Arc<RootCertStore>,
    sans: Vec<crate::tls_names::PeerSan>,
    /// The usual verifier; `None` with `insecureSkipVerify`.
    usual: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PeerSans {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(usual) = &self.usual {
            usual.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|e| rustls::Error::General(format!("server certificate: {e}")))?;
        cert.verify_for_usage(
            self.provider.signature_verification_algorithms.all,
            &self.roots.roots,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| rustls::Error::General(format!("server certificate: {e}")))?;
        if self.sans.iter().any(|san| san.matches(end_entity.as_ref())) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "no matching SAN in the server certificate (peerCertSANs)".into(),
            ))
        }
    }

    // Signatures are checked as for any handshake.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        NoVerify(self.provider.clone()).verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        NoVerify(self.provider.clone()).verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        NoVerify(self.provider.clone()).supported_verify_schemes()
    }
}

/// `insecureSkipVerify`: accepts any server certificate (signatures are
/// still checked so the handshake itself is sound). Also the providers'
/// (Docker's endpoint) `insecureSkipVerify`.
#[derive(Debug)]
pub struct NoVerify(pub Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
