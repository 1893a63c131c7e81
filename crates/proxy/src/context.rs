//! Per-connection facts a request carries in its extensions.

use std::net::SocketAddr;
use std::sync::Arc;

/// Set by the entrypoint on every request before routing.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The peer address of the TCP connection.
    pub client_addr: SocketAddr,
    /// The local address the connection was accepted on.
    pub local_addr: SocketAddr,
    /// The entrypoint's name.
    pub entrypoint: Arc<str>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The certificates a mutual-TLS client presented, leaf first.
    pub peer_certificates: Option<Arc<Vec<rustls::pki_types::CertificateDer<'static>>>>,
    /// The negotiated TLS version and cipher suite, once the handshake is
    /// done (for the access log).
    pub tls_session: Option<TlsSession>,
}

/// A TLS connection's version and cipher suite, as Go names them
/// (`1.3`, `TLS_AES_128_GCM_SHA256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsSession {
    pub version: &'static str,
    pub cipher: &'static str,
}

impl TlsSession {
    /// From a finished handshake.
    pub fn of(conn: &rustls::CommonState) -> Option<TlsSession> {
        let version = match conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "1.3",
            rustls::ProtocolVersion::TLSv1_2 => "1.2",
            rustls::ProtocolVersion::TLSv1_1 => "1.1",
            rustls::ProtocolVersion::TLSv1_0 => "1.0",
            _ => "unknown",
        };
        let cipher = go_cipher_name(conn.negotiated_cipher_suite()?.suite())?;
        Some(TlsSession { version, cipher })
    }

    /// A TLS 1.3 connection's (QUIC's) with the suite `suite`.
    pub fn tls13(suite: rustls::CipherSuite) -> Option<TlsSession> {
        Some(TlsSession {
            version: "1.3",
            cipher: go_cipher_name(suite)?,
        })
    }
}

/// A suite's name as Go has it: rustls names the TLS 1.3 suites
/// `TLS13_…`, Go `TLS_…`.
fn go_cipher_name(suite: rustls::CipherSuite) -> Option<&'static str> {
    Some(match suite.as_str()? {
        "TLS13_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
        "TLS13_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
        "TLS13_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
        other => other,
    })
}

impl RequestContext {
    /// The context of `req`; requests built outside an entrypoint (tests,
    /// health checks) get a loopback placeholder.
    pub fn of<B>(req: &http::Request<B>) -> RequestContext {
        req.extensions()
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(|| RequestContext {
                client_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                local_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
                entrypoint: Arc::from(""),
                tls: false,
                peer_certificates: None,
                tls_session: None,
            })
    }
}

/// The host a client asked for: its Host header, or the HTTP/2 authority.
pub fn request_host<B>(req: &http::Request<B>) -> Option<&str> {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// A new request with `parts`' method, URI, version, headers and
/// extensions, and `body` (for middlewares that send a request again).
pub fn request_from_parts(parts: &http::request::Parts, body: crate::Body) -> crate::Request {
    let mut req = crate::Request::new(body);
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    *req.extensions_mut() = parts.extensions.clone();
    req
}
