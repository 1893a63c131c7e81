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
