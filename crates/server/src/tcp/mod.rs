//! TCP routing beside HTTP on the same entrypoints (Traefik's
//! `pkg/server/router/tcp`): per entrypoint, a table of TCP routers in the
//! runtime snapshot ([`TcpEntry`], built by [`build`]); each accepted
//! connection that reaches an entrypoint with TCP routers goes through
//! [`dispatch`] before the HTTP path.
//!
//! How a connection is dispatched, as Traefik does it:
//!
//! 1. When the entrypoint has only TCP routers for connections without TLS
//!    (no TLS TCP router, no HTTP router with TLS), the first of them whose
//!    rule matches (only `HostSNI(`*`)` and `ClientIP` can) takes the
//!    connection at once, without waiting for a byte: protocols where the
//!    server speaks first (SMTP, MySQL) work.
//! 2. Otherwise the first bytes are read (within the entrypoint's
//!    `readTimeout`, as Traefik's peek): not a TLS handshake → the first
//!    matching non-TLS TCP router, else the HTTP routers.
//! 3. A TLS ClientHello (read whole, without consuming it): an ACME
//!    TLS-ALPN-01 probe goes to the HTTP path; then an HTTP TLS router
//!    whose host is the server name; then a TLS TCP router whose rule is
//!    not `HostSNI(`*`)`; then an HTTP TLS router without a host; then a
//!    `HostSNI(`*`)` TLS TCP router; then the HTTP routers.
//!
//! A TLS TCP router passes the bytes through (`passthrough`, the backend's
//! own certificate reaches the client) or ends TLS with the options it
//! names and copies the clear bytes. The runtime is loaded once per
//! connection: a reload changes where new connections go, and a
//! connection already established keeps its backend to its end.

pub mod build;
pub mod health;
mod hello;
pub mod proxy_header;
pub mod service;
mod splice;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_rules::tcp::{canonical_server_name, sni_matches, ConnInfo, SourceRange, TcpRule};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::tls::stream::{self as tls_stream, Opening};
use crate::tls::TlsRuntime;
use hello::Peeked;
use service::{ClientStream, Ends, TcpService};

/// The TCP routers of one entrypoint, in the order they are tried.
#[derive(Default)]
pub struct TcpEntry {
    /// Routers without `tls`: for connections that are not TLS.
    pub plain: Vec<TcpRoute>,
    /// Routers with `tls`.
    pub tls: Vec<TcpRoute>,
    /// The hosts of the entrypoint's HTTP routers with TLS (Traefik's
    /// HTTPS muxer): a TLS connection for one of them goes to HTTP first.
    pub https_hosts: Vec<String>,
    /// Whether an HTTP router with TLS names no host.
    pub https_catch_all: bool,
}

#[derive(Clone)]
pub struct TcpRoute {
    pub name: Arc<str>,
    pub rule: TcpRule,
    pub priority: i64,
    pub target: Target,
}

/// What a matched TCP router does with the connection.
#[derive(Clone)]
pub enum Target {
    /// The bytes as they come (no TLS, or TLS passed through).
    Forward(Arc<Chain>),
    /// TLS ends here with these TLS options, then the clear bytes.
    Terminate { options: String, chain: Arc<Chain> },
    /// TLS options that do not exist: the connection is closed.
    Broken,
}

/// A router's middlewares and its service.
pub struct Chain {
    pub middlewares: Vec<Arc<Middleware>>,
    pub service: Arc<TcpService>,
}

/// A TCP middleware.
pub enum Middleware {
    /// `ipAllowList`: connections from elsewhere are closed.
    AllowList(SourceRange),
    /// `inFlightConn`: at most `amount` connections at once per client IP.
    InFlight {
        amount: i64,
        open: Mutex<HashMap<IpAddr, i64>>,
    },
}

/// One connection counted by an `inFlightConn`.
struct InFlightGuard<'a> {
    open: &'a Mutex<HashMap<IpAddr, i64>>,
    ip: IpAddr,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n <= 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl Chain {
    /// Runs the middlewares, then the service, until the connection ends.
    pub async fn serve<S: ClientStream>(&self, client: S, first: &[u8], ends: Ends) {
        self.serve_with(client, first, ends, false).await;
    }

    /// [`Chain::serve`]; `postgres`: the server is asked for TLS the
    /// PostgreSQL way first.
    async fn serve_with<S: ClientStream>(
        &self,
        client: S,
        first: &[u8],
        ends: Ends,
        postgres: bool,
    ) {
        let ip = ends.client.ip().to_canonical();
        let mut guards = Vec::new();
        for m in &self.middlewares {
            match &**m {
                Middleware::AllowList(range) => {
                    if !range.contains(ip) {
                        tracing::debug!(%ip, "TCP connection refused by ipAllowList");
                        return;
                    }
                }
                Middleware::InFlight { amount, open } => {
                    {
                        let mut counts = open.lock().unwrap_or_else(|p| p.into_inner());
                        let n = counts.entry(ip).or_insert(0);
                        if *n >= *amount {
                            tracing::debug!(%ip, "Connection rejected: max number of connections reached");
                            return;
                        }
                        *n += 1;
                    }
                    guards.push(InFlightGuard { open, ip });
                }
            }
        }
        self.service.serve(client, first, ends, postgres).await;
        drop(guards);
    }
}

impl TcpEntry {
    /// Whether a connection can be routed before its first byte: only
    /// routers for connections without TLS, and no HTTP TLS router.
    fn routes_at_once(&self) -> bool {
        !self.plain.is_empty()
            && self.tls.is_empty()
            && self.https_hosts.is_empty()
            && !self.https_catch_all
    }

    fn plain_route(&self, ip: IpAddr) -> Option<&TcpRoute> {
        let conn = ConnInfo {
            server_name: "",
            client_ip: ip,
            alpn: &[],
        };
        self.plain.iter().find(|r| r.rule.matches(&conn))
    }
}

/// Where [`dispatch`] left a connection.
pub(crate) enum Dispatch {
    /// A TCP router served it (or it was closed).
    Done,
    /// For the HTTP routers, with the bytes read from it so far.
    Http(TcpStream, Vec<u8>),
}

/// Routes a connection of an entrypoint with TCP routers (see the module
/// docs). `first`: bytes already read (after a PROXY protocol header);
/// `client`: the client's address (from that header when trusted);
/// `limit`: how long to wait for the first bytes and the TLS handshake.
pub(crate) async fn dispatch(
    stream: TcpStream,
    mut first: Vec<u8>,
    client: SocketAddr,
    entry: Arc<TcpEntry>,
    tls: Arc<TlsRuntime>,
    limit: Duration,
) -> Dispatch {
    let local = stream.local_addr().unwrap_or(client);
    let ends = Ends { client, local };
    let ip = client.ip().to_canonical();
    if entry.routes_at_once() {
        if let Some(route) = entry.plain_route(ip) {
            let target = route.target.clone();
            drop(entry);
            serve(target, stream, first, ends, &tls, limit).await;
            return Dispatch::Done;
        }
    }
    let mut stream = stream;
    let Some(peeked) = peek_within(limit, &mut stream, &mut first, client).await else {
        return Dispatch::Done;
    };
    let hello = match peeked {
        Peeked::Postgres => {
            postgres(stream, first, ends, entry, &tls, limit).await;
            return Dispatch::Done;
        }
        Peeked::Hello(h) => h,
        Peeked::NotTls => {
            let Some(route) = entry.plain_route(ip) else {
                return Dispatch::Http(stream, first);
            };
            let target = route.target.clone();
            drop(entry);
            serve(target, stream, first, ends, &tls, limit).await;
            return Dispatch::Done;
        }
        Peeked::NeedMore => return Dispatch::Done,
        Peeked::Malformed(why) | Peeked::Incomplete(why) => {
            tracing::debug!(%client, "Error while reading client hello: {why}");
            return Dispatch::Done;
        }
    };
    if hello.alpn.iter().any(|p| p == b"acme-tls/1") {
        return Dispatch::Http(stream, first);
    }
    let sni = canonical_server_name(&hello.server_name);
    let conn = ConnInfo {
        server_name: &sni,
        client_ip: ip,
        alpn: &hello.alpn,
    };
    if !sni.is_empty() && entry.https_hosts.iter().any(|h| sni_matches(&sni, h)) {
        return Dispatch::Http(stream, first);
    }
    let route = entry.tls.iter().find(|r| r.rule.matches(&conn));
    let chosen = match route {
        Some(r) if !r.rule.is_catch_all() => Some(r),
        _ if entry.https_catch_all => None,
        other => other,
    };
    let Some(route) = chosen else {
        return Dispatch::Http(stream, first);
    };
    let target = route.target.clone();
    drop(entry);
    serve(target, stream, first, ends, &tls, limit).await;
    Dispatch::Done
}

/// [`read_hello`] within `limit`; None (logged) when the connection is to
/// be closed.
async fn peek_within(
    limit: Duration,
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    client: SocketAddr,
) -> Option<Peeked> {
    match tokio::time::timeout(limit, read_hello(stream, buf)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %client, "Error while peeking first bytes");
            None
        }
        Err(_) => {
            tracing::debug!(%client, "timed out waiting for the first bytes");
            None
        }
    }
}

/// A PostgreSQL client asking for TLS (Traefik's `servePostgres`): it is
/// told yes (`S`), its ClientHello picks a TLS TCP router, and with
/// passthrough the server is asked the same first
/// ([`service::TcpService::serve`] with `postgres`).
async fn postgres(
    mut stream: TcpStream,
    mut first: Vec<u8>,
    ends: Ends,
    entry: Arc<TcpEntry>,
    tls: &TlsRuntime,
    limit: Duration,
) {
    use tokio::io::AsyncWriteExt;
    if stream.write_all(b"S").await.is_err() {
        return;
    }
    first.drain(..hello::POSTGRES_SSL_REQUEST.len());
    let Some(Peeked::Hello(hello)) = peek_within(limit, &mut stream, &mut first, ends.client).await
    else {
        return;
    };
    let sni = canonical_server_name(&hello.server_name);
    let conn = ConnInfo {
        server_name: &sni,
        client_ip: ends.client.ip().to_canonical(),
        alpn: &hello.alpn,
    };
    let Some(route) = entry.tls.iter().find(|r| r.rule.matches(&conn)) else {
        return;
    };
    let target = route.target.clone();
    drop(entry);
    match target {
        Target::Forward(chain) => chain.serve_with(stream, &first, ends, true).await,
        other => serve(other, stream, first, ends, tls, limit).await,
    }
}

/// Reads until the first bytes say what the connection is. `Ok(None)`:
/// the client closed first.
async fn read_hello(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<Peeked>> {
    loop {
        match hello::peek(buf) {
            Peeked::NeedMore if buf.len() >= hello::MAX_HELLO => {
                return Ok(Some(Peeked::Malformed("the ClientHello is too long")))
            }
            Peeked::NeedMore => {}
            other => return Ok(Some(other)),
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            return Ok(if buf.is_empty() {
                None
            } else {
                Some(Peeked::Incomplete(
                    "the connection closed within the ClientHello",
                ))
            });
        }
    }
}

/// Serves a routed connection to its end.
async fn serve(
    target: Target,
    stream: TcpStream,
    first: Vec<u8>,
    ends: Ends,
    tls: &TlsRuntime,
    limit: Duration,
) {
    match target {
        Target::Forward(chain) => chain.serve(stream, &first, ends).await,
        Target::Broken => {}
        Target::Terminate { options, chain } => {
            let Some(config) = tls.config_named(&options) else {
                return;
            };
            let handshake = async {
                match tls_stream::open(stream, first).await? {
                    Some(Opening::Tls(hello)) => hello.handshake(config).await.map(Some),
                    _ => Ok(None),
                }
            };
            match tokio::time::timeout(limit, handshake).await {
                Ok(Ok(Some(tls_stream))) => chain.serve(tls_stream, &[], ends).await,
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, client = %ends.client, "TLS handshake failed")
                }
                Err(_) => tracing::debug!(client = %ends.client, "TLS handshake timed out"),
            }
        }
    }
}

#[cfg(test)]
mod tests;
