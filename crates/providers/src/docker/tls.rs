//! `providers.docker.tls`: the engine over HTTPS with rustls, as Traefik's
//! `ClientTLS` reads it: `ca` (PEM file; else the system's roots), `cert`
//! and `key` (a client certificate, both or neither), and
//! `insecureSkipVerify` (any server certificate is accepted; the handshake
//! signatures are still checked).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bollard::{BollardRequest, Docker, API_DEFAULT_VERSION};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use switchyard_config::static_config::ClientTls;

/// The body type of the engine client's requests.
trait HasBody {
    type Body;
}

impl<B> HasBody for http::Request<B> {
    type Body = B;
}

type RequestBody = <BollardRequest as HasBody>::Body;

/// What is wrong with the `tls` settings.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.{field} {path:?}: {message}")]
    File {
        field: &'static str,
        path: String,
        message: String,
    },
    #[error("tls: cert and key go together (one of them is missing)")]
    CertWithoutKey,
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: {0}")]
    Client(#[from] bollard::errors::Error),
}

fn read(field: &'static str, path: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        field,
        path: path.to_string(),
        message: e.to_string(),
    })
}

fn bad(field: &'static str, path: &str, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        field,
        path: path.to_string(),
        message: message.to_string(),
    }
}

/// The rustls client configuration `tls` asks for.
pub fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(switchyard_proxy::upstream::NoVerify(
                provider,
            )))
    } else {
        let mut roots = RootCertStore::empty();
        if tls.ca.is_empty() {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        } else {
            let pem = read("ca", &tls.ca)?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| bad("ca", &tls.ca, e))?;
                roots.add(cert).map_err(|e| bad("ca", &tls.ca, e))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    let config = match (tls.cert.is_empty(), tls.key.is_empty()) {
        (true, true) => builder.with_no_client_auth(),
        (false, false) => {
            let pem = read("cert", &tls.cert)?;
            let chain = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("cert", &tls.cert, e))?;
            let key_pem = read("key", &tls.key)?;
            let key =
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| bad("key", &tls.key, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => return Err(TlsError::CertWithoutKey),
    };
    Ok(config)
}

/// A client for `https://host:port` (the endpoint's `tcp://` read as
/// HTTPS).
pub fn connect(host_port: &str, tls: &ClientTls, timeout: u64) -> Result<Docker, TlsError> {
    let config = client_config(tls)?;
    let connector: HttpsConnector<HttpConnector> = HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, RequestBody> = Client::builder(TokioExecutor::new()).build(connector);
    let transport = move |req: BollardRequest| {
        let client = client.clone();
        let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(async move {
            client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)
        });
        fut
    };
    Ok(Docker::connect_with_custom_transport(
        transport,
        Some(format!("https://{host_port}")),
        timeout,
        API_DEFAULT_VERSION,
    )?)
}
