//! The upstream HTTP client of one `serversTransport`: a keep-alive pool,
//! TLS to `https://` servers, and the forwarding timeouts. Services that name
//! the same transport share one client, and an unchanged transport keeps its
//! pool across reloads.

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::{Body, ProxyError, Request, Response};

/// The settings of a `serversTransport` that the client uses.
#[derive(Debug, Clone, PartialEq)]
pub struct TransportSettings {
    pub max_idle_conns_per_host: usize,
    pub dial_timeout: Option<Duration>,
    pub response_header_timeout: Option<Duration>,
    pub idle_conn_timeout: Option<Duration>,
    pub insecure_skip_verify: bool,
    /// CA certificates as file paths or inline PEM; empty means the system's.
    pub root_cas: Vec<String>,
    /// The TLS server name to send and verify instead of the URL's host.
    pub server_name: Option<String>,
}

impl Default for TransportSettings {
    /// Traefik's defaults.
    fn default() -> Self {
        TransportSettings {
            max_idle_conns_per_host: 200,
            dial_timeout: Some(Duration::from_secs(30)),
            response_header_timeout: None,
            idle_conn_timeout: Some(Duration::from_secs(90)),
            insecure_skip_verify: false,
            root_cas: Vec::new(),
            server_name: None,
        }
    }
}

/// A transport whose TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("rootCAs: cannot read {path:?}: {source}")]
    ReadCa {
        path: String,
        source: std::io::Error,
    },
    #[error("rootCAs: {what} holds no usable certificate")]
    NoCertificate { what: String },
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("serverName {0:?} is not a valid name")]
    ServerName(String),
}

/// A pooled client for `http://` and `https://` backends.
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, Body>,
    settings: TransportSettings,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("settings", &self.settings)
            .finish()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_pem(entry: &str) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let pem = if entry.contains("-----BEGIN") {
        entry.as_bytes().to_vec()
    } else {
        std::fs::read(entry).map_err(|source| TransportError::ReadCa {
            path: entry.to_string(),
            source,
        })?
    };
    let what = if entry.contains("-----BEGIN") {
        "an inline PEM".to_string()
    } else {
        format!("{entry:?}")
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TransportError::NoCertificate { what });
    }
    Ok(certs)
}

fn tls_config(settings: &TransportSettings) -> Result<rustls::ClientConfig, TransportError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?;
    let config = if settings.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider())))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if settings.root_cas.is_empty() {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
        } else {
            for entry in &settings.root_cas {
                for cert in load_pem(entry)? {
                    roots.add(cert)?;
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

impl Upstream {
    pub fn new(settings: TransportSettings) -> Result<Upstream, TransportError> {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(settings.dial_timeout);
        http.enforce_http(false);
        let tls = tls_config(&settings)?;
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let connector = match &settings.server_name {
            Some(name) => {
                let sn = ServerName::try_from(name.clone())
                    .map_err(|_| TransportError::ServerName(name.clone()))?;
                https
                    .with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(sn))
                    .enable_http1()
                    .wrap_connector(http)
            }
            None => https.enable_http1().wrap_connector(http),
        };
        let mut builder = Client::builder(TokioExecutor::new());
        builder
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(settings.max_idle_conns_per_host)
            .pool_idle_timeout(settings.idle_conn_timeout)
            .set_host(false);
        Ok(Upstream {
            client: builder.build(connector),
            settings,
        })
    }

    pub fn settings(&self) -> &TransportSettings {
        &self.settings
    }

    /// Sends `req` (whose URI is absolute) and waits for the response head,
    /// at most `responseHeaderTimeout`.
    pub async fn send(&self, req: Request, upstream: &str) -> Result<Response, ProxyError> {
        let fut = self.client.request(req);
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

/// `insecureSkipVerify`: accepts any server certificate (signatures are
/// still checked so the handshake itself is sound).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

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
