//! An HTTPS client for tests: one fresh TLS connection per request, with
//! the SNI, ALPN, versions and client certificate a test asks for, that
//! reports which certificate the server presented and what was negotiated.
//! It trusts any server certificate: tests look at the certificate
//! instead.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use crate::client::Reply;

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct TlsClient {
    /// None: no SNI (an IP address as server name).
    pub sni: Option<String>,
    /// Offered ALPN protocols; empty offers `http/1.1` only.
    pub alpn: Vec<Vec<u8>>,
    /// Client certificate and key files, for mutual TLS.
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Only these versions (empty: TLS 1.2 and 1.3).
    pub versions: Vec<&'static rustls::SupportedProtocolVersion>,
    /// Key exchange groups offered, in this order (empty: rustls's
    /// defaults, the post-quantum hybrid first).
    pub key_shares: Vec<rustls::NamedGroup>,
    /// Cipher suites offered, in this order (empty: rustls's defaults).
    /// Over QUIC, the Initial packets keep AES-128-GCM whatever these are.
    pub cipher_suites: Vec<rustls::CipherSuite>,
}

/// An answer over TLS and what the handshake showed.
#[derive(Debug, Clone)]
pub struct TlsReply {
    pub reply: Reply,
    /// The names (CN, DNS SANs) of the certificate the server presented.
    pub cert_names: Vec<String>,
    pub alpn: Option<Vec<u8>>,
    pub version: Option<rustls::ProtocolVersion>,
    /// The key exchange group the handshake used.
    pub kx_group: Option<rustls::NamedGroup>,
}

#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The CN and DNS names of a certificate.
pub fn cert_names(der: &[u8]) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return Vec::new();
    };
    let mut out: Vec<String> = cert
        .subject()
        .iter_common_name()
        .filter_map(|c| c.as_str().ok().map(str::to_string))
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                out.push(d.to_string());
            }
        }
    }
    out
}

impl TlsClient {
    /// The rustls client configuration this client handshakes with.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if !self.key_shares.is_empty() {
            let all = std::mem::take(&mut provider.kx_groups);
            provider.kx_groups = self
                .key_shares
                .iter()
                .filter_map(|name| all.iter().find(|g| g.name() == *name).copied())
                .collect();
        }
        if !self.cipher_suites.is_empty() {
            let all = std::mem::take(&mut provider.cipher_suites);
            provider.cipher_suites = self
                .cipher_suites
                .iter()
                .filter_map(|name| all.iter().find(|s| s.suite() == *name).copied())
                .collect();
        }
        let provider = Arc::new(provider);
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone());
        let builder = if self.versions.is_empty() {
            builder.with_safe_default_protocol_versions()
        } else {
            builder.with_protocol_versions(&self.versions)
        }
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)));
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| e.to_string())?
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| e.to_string())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| e.to_string())?
            }
        };
        config.alpn_protocols = if self.alpn.is_empty() {
            vec![b"http/1.1".to_vec()]
        } else {
            self.alpn.clone()
        };
        Ok(config)
    }

    /// A client QUIC endpoint (HTTP/3 ALPN, TLS 1.3, this client's
    /// certificate settings) for servers of `addr`'s family.
    pub fn quic_endpoint(&self, addr: std::net::SocketAddr) -> Result<quinn::Endpoint, String> {
        let mut h3 = self.clone();
        h3.versions = vec![&rustls::version::TLS13];
        let mut config = h3.client_config()?;
        config.alpn_protocols = vec![b"h3".to_vec()];
        // QUIC's Initial packets are protected with AES-128-GCM, offered
        // or not.
        let initial = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .and_then(|s| s.quic_suite())
            .ok_or("no QUIC initial suite")?;
        let crypto =
            quinn::crypto::rustls::QuicClientConfig::with_initial(Arc::new(config), initial)
                .map_err(|e| e.to_string())?;
        let local: std::net::SocketAddr = if addr.is_ipv6() {
            (std::net::Ipv6Addr::LOCALHOST, 0).into()
        } else {
            (std::net::Ipv4Addr::LOCALHOST, 0).into()
        };
        let mut endpoint = quinn::Endpoint::client(local).map_err(|e| e.to_string())?;
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(crypto)));
        Ok(endpoint)
    }

    /// `method path` (with `body`, when not empty) over a new QUIC
    /// connection, by HTTP/3; the reply's `alpn` is `h3`.
    pub async fn request_h3(
        &self,
        addr: std::net::SocketAddr,
        method: Method,
        host: &str,
        path: &str,
        body: Bytes,
    ) -> Result<TlsReply, String> {
        use bytes::{Buf, BufMut};
        let endpoint = self.quic_endpoint(addr)?;
        let name = self.sni.clone().unwrap_or_else(|| addr.ip().to_string());
        let conn = endpoint
            .connect(addr, &name)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("QUIC handshake: {e}"))?;
        let cert_names = conn
            .peer_identity()
            .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
            .and_then(|certs| certs.first().map(|c| cert_names(c.as_ref())))
            .unwrap_or_default();
        let alpn = conn
            .handshake_data()
            .and_then(|d| d.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|d| d.protocol);
        let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let driving = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let req = Request::builder()
            .method(method)
            .uri(format!("https://{host}{path}"))
            .body(())
            .map_err(|e| e.to_string())?;
        let mut stream = sender.send_request(req).await.map_err(|e| e.to_string())?;
        if !body.is_empty() {
            stream.send_data(body).await.map_err(|e| e.to_string())?;
        }
        // A server may answer before it has read the whole request and stop
        // reading it (RFC 9114, 4.1): the finish then fails, and the answer
        // must still be read, as clients must not discard it.
        let finished = stream.finish().await;
        let resp = match stream.recv_response().await {
            Ok(resp) => resp,
            Err(e) => {
                return Err(match finished {
                    Err(f) => format!("{f} (finishing the request); {e}"),
                    Ok(()) => e.to_string(),
                })
            }
        };
        let mut got = bytes::BytesMut::new();
        while let Some(mut chunk) = stream.recv_data().await.map_err(|e| e.to_string())? {
            got.put(chunk.copy_to_bytes(chunk.remaining()));
        }
        drop(stream);
        drop(sender);
        conn.close(0u32.into(), b"done");
        driving.abort();
        endpoint.wait_idle().await;
        let (parts, ()) = resp.into_parts();
        Ok(TlsReply {
            reply: Reply {
                status: parts.status,
                headers: parts.headers,
                body: got.freeze(),
            },
            cert_names,
            alpn,
            version: Some(rustls::ProtocolVersion::TLSv1_3),
            kx_group: None,
        })
    }

    /// Sends `GET path` over a new QUIC connection by HTTP/3, then, after
    /// `after`, closes the connection without waiting for the answer (a
    /// client that goes away). An error when the request could not be
    /// sent.
    pub async fn give_up_h3(
        &self,
        addr: std::net::SocketAddr,
        host: &str,
        path: &str,
        after: std::time::Duration,
    ) -> Result<(), String> {
        let endpoint = self.quic_endpoint(addr)?;
        let name = self.sni.clone().unwrap_or_else(|| addr.ip().to_string());
        let conn = endpoint
            .connect(addr, &name)
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| format!("QUIC handshake: {e}"))?;
        let (mut driver, mut sender) = h3::client::new(h3_quinn::Connection::new(conn.clone()))
            .await
            .map_err(|e| e.to_string())?;
        let driving = tokio::spawn(async move {
            let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
        });
        let req = Request::get(format!("https://{host}{path}"))
            .body(())
            .map_err(|e| e.to_string())?;
        let mut stream = sender.send_request(req).await.map_err(|e| e.to_string())?;
        stream.finish().await.map_err(|e| e.to_string())?;
        tokio::time::sleep(after).await;
        conn.close(0u32.into(), b"gone");
        drop(stream);
        drop(sender);
        driving.abort();
        endpoint.wait_idle().await;
        Ok(())
    }

    /// Connects and handshakes only (for tests about refusals).
    pub async fn handshake(
        &self,
        addr: std::net::SocketAddr,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let connector = tokio_rustls::TlsConnector::from(Arc::new(self.client_config()?));
        let name = match &self.sni {
            Some(s) => ServerName::try_from(s.clone()).map_err(|e| e.to_string())?,
            None => ServerName::IpAddress(addr.ip().into()),
        };
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    }

    /// `method path` with `Host: host` over a new TLS connection; HTTP/2
    /// when the server picked `h2`.
    pub async fn request(
        &self,
        addr: std::net::SocketAddr,
        method: Method,
        host: &str,
        path: &str,
    ) -> Result<TlsReply, String> {
        let tls = self.handshake(addr).await?;
        let (_, conn) = tls.get_ref();
        let cert_names = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| cert_names(c.as_ref()))
            .unwrap_or_default();
        let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
        let version = conn.protocol_version();
        let kx_group = conn.negotiated_key_exchange_group().map(|g| g.name());
        let h2 = alpn.as_deref() == Some(b"h2");
        let resp = if h2 {
            let (mut sender, c) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(c);
            let req = Request::builder()
                .method(method)
                .uri(format!("https://{host}{path}"))
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            sender.send_request(req).await.map_err(|e| e.to_string())?
        } else {
            let (mut sender, c) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(c);
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", host)
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            sender.send_request(req).await.map_err(|e| e.to_string())?
        };
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(TlsReply {
            reply: Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            },
            cert_names,
            alpn,
            version,
            kx_group,
        })
    }

    /// GET `path` on `host`, with SNI `host` unless set otherwise.
    pub async fn get(
        addr: std::net::SocketAddr,
        host: &str,
        path: &str,
    ) -> Result<TlsReply, String> {
        TlsClient {
            sni: Some(host.to_string()),
            ..TlsClient::default()
        }
        .request(addr, Method::GET, host, path)
        .await
    }
}
