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
            })
    }
}
