//! Entrypoints: a listener per entrypoint (TCP, and UDP for HTTP/3), each
//! accepted connection served by HTTP/1.1 or HTTP/2 (TLS or plain, h2c by
//! prior knowledge) or HTTP/3, and every request, whichever protocol
//! carried it, answered by one handler: forwarded headers, path
//! sanitising, one load of the live runtime, router lookup, the chain, and
//! the one mapping of errors to responses.
//!
//! ```text
//! mod.rs   settings, bind, the accept loop; starts both transports
//!  ├─▶ accept.rs      per TCP connection: PROXY header (proxy_protocol.rs),
//!  │                  TLS or plain (crate::tls), keep-alive limits,
//!  │                  HTTP/1.1 | HTTP/2 (protocols.rs, guard.rs); plain
//!  │                  HTTP/1.1 one request at a time (idle.rs)
//!  ├─▶ http3.rs       QUIC connections and their request streams
//!  │    └─▶ quic_tls.rs  their TLS version and cipher suite
//!  └─▶ handler.rs     one request, from either transport (checks.rs)
//! sockets.rs  the process's listening sockets (binary upgrade)
//! ```
//!
//! The dependencies run one way: `mod.rs` starts `accept` and `http3`, both
//! call `handler`; the children use only the settings and the socket
//! helpers defined here, never the serve loop.

mod accept;
pub use accept::serve_plain;
mod checks;
mod guard;
mod handler;
#[cfg(feature = "http3")]
pub mod http3;
mod idle;
pub mod protocols;
pub mod proxy_protocol;
#[cfg(feature = "http3")]
mod quic_tls;
pub mod sockets;

use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use switchyard_proxy::forwarded::ForwardedHeaders;
use switchyard_proxy::RequestContext;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Switcher;
use protocols::Protocols;

/// An entrypoint's settings, from the static configuration.
#[derive(Debug, Clone)]
pub struct EntryPointSettings {
    pub name: String,
    pub address: String,
    pub forwarded: ForwardedHeaders,
    pub read_timeout: Option<Duration>,
    pub write_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub grace_timeout: Duration,
    pub request_accept_grace_timeout: Duration,
    pub sanitize_path: bool,
    pub max_header_bytes: usize,
    /// ACME HTTP-01 answers (token → key authorization).
    pub acme_challenges: Option<crate::acme::Challenges>,
    /// `http3`: the port `Alt-Svc` advertises (0: the entrypoint's own).
    /// Without the `http3` feature, set but not served.
    pub http3: Option<u16>,
    /// The `Alt-Svc` value TLS responses carry, set when QUIC listens.
    pub alt_svc: Option<http::HeaderValue>,
    /// `proxyProtocol`: connections may open with a PROXY header.
    pub proxy_protocol: Option<proxy_protocol::ProxyProtocol>,
    /// `transport.keepAliveMaxRequests` (0: no limit).
    pub keep_alive_max_requests: u64,
    /// `transport.keepAliveMaxTime`.
    pub keep_alive_max_time: Option<Duration>,
    /// `reusePort`: other processes may listen on the same port.
    pub reuse_port: bool,
    /// `allowACMEByPass`: routers may answer ACME HTTP-01 validations.
    pub allow_acme_by_pass: bool,
    /// `http.encodeQuerySemicolons`: `;` in a query is encoded as `%3B`
    /// rather than read as a separator.
    pub encode_query_semicolons: bool,
    /// `http2`: the HTTP/2 server's limits.
    pub http2: protocols::Http2Limits,
    /// `accessLog`, shared by every entrypoint.
    pub access_log: Option<Arc<crate::accesslog::AccessLog>>,
    /// `observability.accessLogs`: whether requests no router takes are
    /// logged (routers have their own switch, this one by default).
    pub log_unrouted: bool,
    /// `tracing`, shared by every entrypoint.
    pub tracer: Option<Arc<switchyard_proxy::trace::Tracer>>,
    /// `observability.tracing` / `traceVerbosity`: how requests no router
    /// takes are traced.
    pub trace_unrouted: switchyard_proxy::trace::Verbosity,
    /// `metrics.prometheus`: this entrypoint's counters.
    pub metrics: Option<Arc<crate::metrics::EntryPointMetrics>>,
}

/// A bound entrypoint, not yet serving.
pub struct EntryPoint {
    settings: Arc<EntryPointSettings>,
    listener: TcpListener,
    /// The listener's entry in [`sockets`], dropped with it.
    registration: sockets::Registration,
    #[cfg(feature = "http3")]
    quic: Option<(quinn::Endpoint, sockets::Registration)>,
}

/// An address that cannot be listened on.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("entryPoint {name:?}: invalid address {address:?}: {reason}")]
    Invalid {
        name: String,
        address: String,
        reason: String,
    },
    #[error("entryPoint {name:?}: cannot listen on {address}: {source}")]
    Bind {
        name: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Parses Traefik's entrypoint address: `:8000`, `127.0.0.1:80`, `[::1]:80`,
/// `host:80`, optionally followed by `/tcp`.
pub fn parse_address(name: &str, address: &str) -> Result<SocketAddr, AddressError> {
    let invalid = |reason: &str| AddressError::Invalid {
        name: name.to_string(),
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let addr = match address.rsplit_once('/') {
        Some((a, "tcp")) => a,
        Some((_, "udp")) => return Err(invalid("a UDP entrypoint, not a TCP one")),
        Some((_, other)) => return Err(invalid(&format!("unknown protocol {other:?}"))),
        None => address,
    };
    if let Some(port) = addr.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| invalid("bad port"))?;
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    }
    if let Ok(sa) = addr.parse::<SocketAddr>() {
        return Ok(sa);
    }
    addr.to_socket_addrs()
        .map_err(|e| invalid(&e.to_string()))?
        .next()
        .ok_or_else(|| invalid("host resolves to no address"))
}

/// A socket of `kind` for `addr`; an IPv6 one also takes IPv4 (`:port`
/// listens on both, as Go does).
pub(crate) fn socket_for(
    addr: SocketAddr,
    kind: socket2::Type,
    protocol: socket2::Protocol,
) -> std::io::Result<socket2::Socket> {
    let domain = if addr.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let socket = socket2::Socket::new(domain, kind, Some(protocol))?;
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    Ok(socket)
}

/// The entrypoint `name`'s listener: the one taken over from the process
/// this one upgrades, else a new one.
fn bind(
    name: &str,
    addr: SocketAddr,
    reuse_port: bool,
) -> std::io::Result<(TcpListener, sockets::Registration)> {
    let key = sockets::Key::new(name, "tcp", addr);
    let (socket, registration) = sockets::inherited_or(key, socket2::Type::STREAM, || {
        let socket = socket_for(addr, socket2::Type::STREAM, socket2::Protocol::TCP)?;
        socket.set_reuse_address(true)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
        // Accepted connections inherit it on Linux (one system call less each).
        socket.set_tcp_nodelay(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket)
    })?;
    Ok((TcpListener::from_std(socket.into())?, registration))
}

impl EntryPoint {
    /// Binds the TCP listener and, for `http3`, the UDP socket on the same
    /// port; `switcher` gives QUIC handshakes their certificates.
    pub fn bind(
        #[cfg_attr(not(feature = "http3"), allow(unused_mut))] mut settings: EntryPointSettings,
        switcher: &Switcher,
    ) -> Result<EntryPoint, AddressError> {
        let addr = parse_address(&settings.name, &settings.address)?;
        let (listener, registration) =
            bind(&settings.name, addr, settings.reuse_port).map_err(|source| {
                AddressError::Bind {
                    name: settings.name.clone(),
                    address: addr,
                    source,
                }
            })?;
        #[cfg(feature = "http3")]
        let quic = match settings.http3 {
            Some(advertised) => {
                // `:0` gets the port the TCP listener was given.
                let port = listener.local_addr().map_or(addr.port(), |a| a.port());
                let udp = SocketAddr::new(addr.ip(), port);
                let endpoint = http3::bind(&settings.name, udp, settings.reuse_port, switcher)
                    .map_err(|source| AddressError::Bind {
                        name: settings.name.clone(),
                        address: udp,
                        source,
                    })?;
                let port = if advertised == 0 { port } else { advertised };
                settings.alt_svc =
                    http::HeaderValue::from_str(&format!("h3=\":{port}\"; ma=2592000")).ok();
                Some(endpoint)
            }
            None => None,
        };
        #[cfg(not(feature = "http3"))]
        let _ = switcher;
        Ok(EntryPoint {
            settings: Arc::new(settings),
            listener,
            registration,
            #[cfg(feature = "http3")]
            quic,
        })
    }

    /// An entrypoint with new `settings` accepting from the listening
    /// socket `shared` (a duplicate of a running entrypoint's, see
    /// [`EntryPoint::duplicate_listener`]): nothing is bound, so no
    /// connection attempt is refused while one replaces the other. Without
    /// HTTP/3 only: a QUIC endpoint cannot be shared.
    pub fn sharing(
        settings: EntryPointSettings,
        shared: std::net::TcpListener,
    ) -> Result<EntryPoint, AddressError> {
        let address = shared
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
        let bind_error = |source| AddressError::Bind {
            name: settings.name.clone(),
            address,
            source,
        };
        if settings.http3.is_some() {
            return Err(bind_error(std::io::Error::other(
                "an HTTP/3 entrypoint cannot share its socket",
            )));
        }
        let listener = shared
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(shared))
            .map_err(bind_error)?;
        // Registered under its new settings: a binary upgrade hands it over
        // once the entrypoint it replaces (and its registration) is gone.
        let configured = parse_address(&settings.name, &settings.address).unwrap_or(address);
        let key = sockets::Key::new(&settings.name, "tcp", configured);
        let registration = sockets::register(key, &listener).map_err(bind_error)?;
        Ok(EntryPoint {
            settings: Arc::new(settings),
            listener,
            registration,
            #[cfg(feature = "http3")]
            quic: None,
        })
    }

    /// A duplicate of the listening socket (the same socket, another
    /// descriptor), for [`EntryPoint::sharing`].
    pub fn duplicate_listener(&self) -> std::io::Result<std::net::TcpListener> {
        socket2::SockRef::from(&self.listener)
            .try_clone()
            .map(Into::into)
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Whether it has `http3` (a QUIC endpoint, with the feature).
    pub fn has_http3(&self) -> bool {
        self.settings.http3.is_some()
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Serves until `shutdown` turns true, then keeps accepting for
    /// `requestAcceptGraceTimeout`, stops accepting, and waits up to
    /// `graceTimeOut` for in-flight requests before returning.
    pub async fn serve(self, switcher: Switcher, mut shutdown: watch::Receiver<bool>) {
        #[cfg(feature = "http3")]
        let quic = self.quic.map(|(endpoint, registration)| {
            let serve = http3::serve(
                endpoint,
                self.settings.clone(),
                switcher.clone(),
                shutdown.clone(),
            );
            tokio::spawn(async move {
                serve.await;
                drop(registration);
            })
        });
        let EntryPoint {
            settings,
            listener,
            registration,
            ..
        } = self;
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        // Told when the graceful stop begins, for the connections that are
        // driven here rather than by `graceful` (keep-alive limits).
        let (drain_tx, drain) = watch::channel(false);
        let builder = Arc::new(Protocols::new(
            settings.max_header_bytes,
            settings.read_timeout.or(settings.idle_timeout),
            settings.http2,
            settings.read_timeout.unwrap_or(HANDSHAKE_TIMEOUT),
        ));
        // What every connection's context starts from. The listener's
        // address stands for the connection's local one: only its port is
        // used, and it saves a `getsockname` per connection.
        let template = {
            let local_addr = listener
                .local_addr()
                .unwrap_or_else(|_| SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
            RequestContext {
                client_addr: local_addr,
                local_addr,
                entrypoint: Arc::from(settings.name.as_str()),
                tls: false,
                peer_certificates: None,
                tls_session: None,
            }
        };

        let mut stopping = false;
        let mut accept_until: Option<tokio::time::Instant> = None;
        loop {
            let deadline = async {
                match accept_until {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    accept::serve_connection(stream, peer, &builder, (&graceful, &drain), &settings, &template, &switcher);
                }
                changed = shutdown.changed(), if !stopping => {
                    if changed.is_err() || *shutdown.borrow() {
                        stopping = true;
                        accept_until = Some(tokio::time::Instant::now() + settings.request_accept_grace_timeout);
                    }
                }
                _ = deadline => break,
            }
        }
        // Both at once: a duplicate left registered would keep the port
        // taking connections that no one accepts.
        drop(listener);
        drop(registration);
        if sockets::handed_over() {
            // A graceful stop closes a connection still waiting for its
            // first request; those accepted just before a hand-over get
            // this long to send it (Go's server gives new connections 5 s
            // when it shuts down).
            tokio::time::sleep(FIRST_REQUEST_GRACE).await;
        }
        tracing::info!(entrypoint = %settings.name, "stopped accepting, waiting for in-flight requests");
        let _ = drain_tx.send(true);
        if tokio::time::timeout(settings.grace_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(entrypoint = %settings.name, grace = ?settings.grace_timeout, "grace period over, closing remaining connections");
        }
        #[cfg(feature = "http3")]
        if let Some(quic) = quic {
            let _ = quic.await;
        }
    }
}

/// After a hand-over to a new process, how long connections accepted
/// before it have to send their first request before the graceful stop.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// How long a new connection may take to send its first byte and, for
/// TLS, to finish the handshake; how long a QUIC handshake may take (the
/// entrypoint's `readTimeout` when set).
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// IPv4 peers of a dual-stack socket arrive as `::ffff:a.b.c.d`.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), addr.port()),
            None => addr,
        },
        IpAddr::V4(_) => addr,
    }
}
