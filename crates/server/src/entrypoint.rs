//! Entrypoints: a listener, HTTP/1.1 and HTTP/2 (h2c by prior knowledge) on
//! each connection, and per request: forwarded headers, path sanitising, one
//! load of the live runtime, router lookup, the chain, and the one mapping
//! of errors to responses.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use http::Version;
use hyper::body::Incoming;
use switchyard_proxy::forwarded::ForwardedHeaders;
use switchyard_proxy::{body, ProxyError, Request, RequestContext, Response};
use switchyard_rules::{normalize_host, normalize_path, routing_path, sanitize_path, RequestInfo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::protocols::Protocols;
use crate::tls_stream::{self, Opening};
use crate::Switcher;

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
    pub proxy_protocol: Option<crate::proxy_protocol::ProxyProtocol>,
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
    pub http2: crate::protocols::Http2Limits,
}

/// A bound entrypoint, not yet serving.
pub struct EntryPoint {
    settings: Arc<EntryPointSettings>,
    listener: TcpListener,
    #[cfg(feature = "http3")]
    quic: Option<quinn::Endpoint>,
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
        Some((_, "udp")) => return Err(invalid("UDP entrypoints are not supported yet")),
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

fn bind(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
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
    TcpListener::from_std(socket.into())
}

impl EntryPoint {
    /// Binds the TCP listener and, for `http3`, the UDP socket on the same
    /// port; `switcher` gives QUIC handshakes their certificates.
    pub fn bind(
        #[cfg_attr(not(feature = "http3"), allow(unused_mut))] mut settings: EntryPointSettings,
        switcher: &Switcher,
    ) -> Result<EntryPoint, AddressError> {
        let addr = parse_address(&settings.name, &settings.address)?;
        let listener = bind(addr, settings.reuse_port).map_err(|source| AddressError::Bind {
            name: settings.name.clone(),
            address: addr,
            source,
        })?;
        #[cfg(feature = "http3")]
        let quic = match settings.http3 {
            Some(advertised) => {
                // `:0` gets the port the TCP listener was given.
                let port = listener.local_addr().map_or(addr.port(), |a| a.port());
                let udp = SocketAddr::new(addr.ip(), port);
                let endpoint =
                    crate::http3::bind(udp, settings.reuse_port, switcher).map_err(|source| {
                        AddressError::Bind {
                            name: settings.name.clone(),
                            address: udp,
                            source,
                        }
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
            #[cfg(feature = "http3")]
            quic,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Serves until `shutdown` turns true, then keeps accepting for
    /// `requestAcceptGraceTimeout`, stops accepting, and waits up to
    /// `graceTimeOut` for in-flight requests before returning.
    pub async fn serve(self, switcher: Switcher, mut shutdown: watch::Receiver<bool>) {
        #[cfg(feature = "http3")]
        let quic = self.quic.map(|endpoint| {
            tokio::spawn(crate::http3::serve(
                endpoint,
                self.settings.clone(),
                switcher.clone(),
                shutdown.clone(),
            ))
        });
        let EntryPoint {
            settings, listener, ..
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
                    serve_connection(stream, peer, &builder, (&graceful, &drain), &settings, &template, &switcher);
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
        drop(listener);
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

/// How long a new connection may take to send its first byte and, for
/// TLS, to finish the handshake (the entrypoint's `readTimeout` when set).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    builder: &Arc<Protocols>,
    (graceful, drain): (
        &hyper_util::server::graceful::GracefulShutdown,
        &watch::Receiver<bool>,
    ),
    settings: &Arc<EntryPointSettings>,
    template: &RequestContext,
    switcher: &Switcher,
) {
    #[cfg(not(target_os = "linux"))]
    let _ = stream.set_nodelay(true);
    let mut ctx = template.clone();
    ctx.client_addr = canonical(peer);
    let (builder, settings, switcher) = (builder.clone(), settings.clone(), switcher.clone());
    let watcher = Stop {
        graceful: graceful.watcher(),
        drain: drain.clone(),
        accepted: std::time::Instant::now(),
    };
    tokio::spawn(async move {
        let limit = settings.read_timeout.unwrap_or(HANDSHAKE_TIMEOUT);
        let mut stream = stream;
        let first = match &settings.proxy_protocol {
            None => Vec::new(),
            Some(pp) => {
                match tokio::time::timeout(limit, crate::proxy_protocol::read(&mut stream)).await {
                    Ok(Ok(Some((header, rest)))) => {
                        if let crate::proxy_protocol::Header::Client(client) = header {
                            if pp.trusts(ctx.client_addr.ip()) {
                                ctx.client_addr = canonical(client);
                            }
                        }
                        rest
                    }
                    Ok(Ok(None)) => return,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, %peer, "PROXY protocol header refused");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(%peer, "timed out waiting for the first bytes");
                        return;
                    }
                }
            }
        };
        // A TLS connection opens with a handshake record; anything else is
        // plain HTTP.
        let hello = match tokio::time::timeout(limit, tls_stream::open(stream, first)).await {
            Ok(Ok(Some(Opening::Tls(hello)))) => hello,
            Ok(Ok(Some(Opening::Plain(stream)))) => {
                serve_http(stream, &builder, watcher, settings, switcher, ctx).await;
                return;
            }
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %peer, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "timed out waiting for the first bytes");
                return;
            }
        };
        let tls = switcher.load().tls.clone();
        let challenges = settings.acme_challenges.clone();
        let handshake = async {
            let client_hello = hello.client_hello();
            let sni = client_hello.server_name().map(str::to_string);
            // An ACME TLS-ALPN-01 validation: answer with the challenge
            // certificate, and nothing else on that connection.
            let acme = client_hello
                .alpn()
                .is_some_and(|mut protocols| protocols.any(|p| p == b"acme-tls/1"));
            if acme {
                let config = challenges
                    .as_ref()
                    .zip(sni.as_deref())
                    .and_then(|(c, sni)| c.alpn_config(sni));
                return match config {
                    Some(config) => {
                        if let Ok(stream) = hello.handshake(config).await {
                            let _ = stream.finish().await;
                        }
                        Err(std::io::Error::other(
                            "ACME TLS-ALPN-01 validation answered",
                        ))
                    }
                    None => Err(std::io::Error::other(
                        "acme-tls/1 without a pending challenge",
                    )),
                };
            }
            let chacha = switchyard_proxy::tls_names::prefers_chacha(client_hello.cipher_suites());
            let Some(config) = tls.config_for(sni.as_deref(), chacha) else {
                return Err(std::io::Error::other(format!(
                    "no TLS configuration for {sni:?}"
                )));
            };
            hello.handshake(config).await
        };
        let stream = match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, %peer, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
        ctx.tls = true;
        ctx.peer_certificates = stream
            .connection()
            .peer_certificates()
            .map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()));
        serve_http(stream, &builder, watcher, settings, switcher, ctx).await;
    });
}

/// How a connection learns that the entrypoint stops: `graceful` for the
/// connections it drives, `drain` for those driven here.
struct Stop {
    graceful: hyper_util::server::graceful::Watcher,
    drain: watch::Receiver<bool>,
    /// When the connection was accepted (where `keepAliveMaxTime` counts
    /// from).
    accepted: std::time::Instant,
}

/// Serves HTTP/1.1 or HTTP/2 on an accepted connection, plain or TLS, until
/// it ends (or the graceful stop ends it).
async fn serve_http<I>(
    io: I,
    builder: &Protocols,
    stop: Stop,
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    ctx: RequestContext,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (peer, tls) = (ctx.client_addr, ctx.tls);
    let limits = KeepAlive::new(&settings, stop.accepted);
    let svc = service(settings, switcher, ctx, limits.clone());
    let closing = limits.map(|l| crate::protocols::Closing {
        close: l,
        drain: stop.drain,
    });
    if let Err(e) = builder.serve(io, svc, stop.graceful, closing).await {
        tracing::debug!(error = %e, %peer, tls, "connection ended with an error");
    }
}

/// An entrypoint's keep-alive limits on one connection
/// (`transport.keepAliveMaxRequests`, `keepAliveMaxTime`): the request
/// that reaches one is answered with `Connection: close` (HTTP/1), or the
/// connection is wound down with GOAWAY after it (HTTP/2), as Traefik does.
pub(crate) struct KeepAlive {
    max_requests: u64,
    max_time: Option<Duration>,
    requests: std::sync::atomic::AtomicU64,
    start: std::time::Instant,
    pub(crate) close: tokio::sync::Notify,
}

impl KeepAlive {
    fn new(settings: &EntryPointSettings, accepted: std::time::Instant) -> Option<Arc<KeepAlive>> {
        (settings.keep_alive_max_requests > 0 || settings.keep_alive_max_time.is_some()).then(
            || {
                Arc::new(KeepAlive {
                    max_requests: settings.keep_alive_max_requests,
                    max_time: settings.keep_alive_max_time,
                    requests: std::sync::atomic::AtomicU64::new(0),
                    start: accepted,
                    close: tokio::sync::Notify::new(),
                })
            },
        )
    }

    /// Counts a request; whether the connection should close after it.
    fn counts_out(&self) -> bool {
        let n = self
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        (self.max_requests > 0 && n >= self.max_requests)
            || self.max_time.is_some_and(|t| self.start.elapsed() > t)
    }
}

/// The per-request service of one connection.
fn service(
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    ctx: RequestContext,
    limits: Option<Arc<KeepAlive>>,
) -> impl hyper::service::Service<
    http::Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl std::future::Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let (settings, switcher, ctx) = (settings.clone(), switcher.clone(), ctx.clone());
        let limits = limits.clone();
        async move {
            let close = limits.as_ref().is_some_and(|l| l.counts_out());
            let http1 = req.version() < Version::HTTP_2;
            let mut resp = handle(&settings, &switcher, ctx, req, false).await;
            if close {
                if http1 {
                    resp.headers_mut().insert(
                        http::header::CONNECTION,
                        http::HeaderValue::from_static("close"),
                    );
                } else if let Some(l) = &limits {
                    l.close.notify_one();
                }
            }
            Ok::<_, Infallible>(resp)
        }
    })
}

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

/// Replaces the path and query of `req`'s URI.
fn set_path_and_query(req: &mut Request, pq: &str) -> Result<(), ProxyError> {
    let pq = http::uri::PathAndQuery::try_from(pq)
        .map_err(|e| ProxyError::BadRequest(format!("invalid request target: {e}")))?;
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    *req.uri_mut() = http::Uri::from_parts(parts)
        .map_err(|e| ProxyError::BadRequest(format!("invalid request target: {e}")))?;
    Ok(())
}

/// Answers one request of a connection described by `ctx`; `over_quic`
/// for HTTP/3 requests (which do not advertise HTTP/3 again).
pub(crate) async fn handle<B>(
    settings: &EntryPointSettings,
    switcher: &Switcher,
    ctx: RequestContext,
    req: http::Request<B>,
    over_quic: bool,
) -> Response
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<body::BoxError>,
{
    let started = tokio::time::Instant::now();
    // readTimeout bounds the request body; writeTimeout the whole exchange
    // until the response is written (both off when zero).
    let mut req: Request = match settings.read_timeout {
        Some(limit) if !http_body::Body::is_end_stream(req.body()) => {
            req.map(|b| body::boxed(body::Deadline::new(b, limit, "read")))
        }
        _ => req.map(body::boxed),
    };
    if let Some(refused) = crate::entrypoint_checks::check(&mut req) {
        return refused;
    }
    // An ACME HTTP-01 validation is answered before routing; with
    // `allowACMEByPass`, a router of priority 42 or more (the length of
    // Traefik's own `PathPrefix` rule for it) may take it instead.
    let acme_answer = match (
        &settings.acme_challenges,
        req.uri()
            .path()
            .strip_prefix("/.well-known/acme-challenge/"),
    ) {
        (Some(challenges), Some(token)) => challenges.http_answer(token),
        _ => None,
    };
    let acme_answer = match acme_answer {
        Some(key_auth) if !settings.allow_acme_by_pass => return acme_response(key_auth),
        other => other,
    };
    let host = switchyard_proxy::context::request_host(&req).map(str::to_string);
    if host.is_none() && req.version() == Version::HTTP_11 {
        return ProxyError::BadRequest("missing required Host header".into()).into_response();
    }
    if let Err(rejected) = settings.forwarded.apply(
        req.headers_mut(),
        ctx.client_addr.ip(),
        ctx.tls,
        ctx.local_addr.port(),
        host.as_deref(),
    ) {
        tracing::debug!(reason = %rejected, "request refused");
        return rejected.into_response();
    }
    if settings.forwarded.not_append_forwarded_for() {
        req.extensions_mut()
            .insert(switchyard_proxy::middlewares::headers::OmitForwardedFor);
    }
    // Percent-encoding normalised, then dot segments and `//` cleaned, as
    // Traefik's entrypoints do; a broken escape is a 400.
    let cleaned: Option<String> = {
        let raw = req.uri().path();
        let normalized = match normalize_path(raw) {
            Ok(p) => p,
            Err(e) => return ProxyError::BadRequest(e.to_string()).into_response(),
        };
        let sanitized = if settings.sanitize_path {
            match sanitize_path(&normalized) {
                std::borrow::Cow::Owned(clean) => std::borrow::Cow::Owned(clean),
                std::borrow::Cow::Borrowed(_) => normalized,
            }
        } else {
            normalized
        };
        (sanitized != raw).then(|| sanitized.into_owned())
    };
    // As Traefik, `;` in the query separates parameters like `&`, for the
    // routers and for the backend alike; with `encodeQuerySemicolons` it is
    // encoded instead, and stays part of the value.
    let query_fixed = req.uri().query().filter(|q| q.contains(';')).map(|q| {
        let with = if settings.encode_query_semicolons {
            "%3B"
        } else {
            "&"
        };
        q.replace(';', with)
    });
    if cleaned.is_some() || query_fixed.is_some() {
        let path = cleaned.unwrap_or_else(|| req.uri().path().to_string());
        let target = match query_fixed {
            Some(q) => format!("{path}?{q}"),
            None => match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path,
            },
        };
        if let Err(e) = set_path_and_query(&mut req, &target) {
            return e.into_response();
        }
    }
    let client_ip = ctx.client_addr.ip();
    let is_tls = ctx.tls;
    req.extensions_mut().insert(ctx);

    let runtime = switcher.load();
    // TLS responses of an HTTP/3 entrypoint advertise it, as Traefik's do
    // (not for names whose TLS options HTTP/3 cannot honour).
    let alt_svc = settings
        .alt_svc
        .as_ref()
        .filter(|_| is_tls && !over_quic)
        .filter(|_| {
            let name = host.as_deref().map(normalize_host);
            runtime.tls.quic_allowed(name.as_deref())
        })
        .cloned();
    let mut resp = route(
        settings,
        &runtime,
        req,
        (host.as_deref(), is_tls, client_ip),
        acme_answer,
    )
    .await;
    if let Some(v) = alt_svc {
        resp.headers_mut().append(http::header::ALT_SVC, v);
    }
    if let Some(limit) = settings.write_timeout {
        resp = resp.map(|b| body::boxed(body::Deadline::until(b, started + limit, "write")));
    }
    resp
}

/// Finds the router for `req` in the entrypoint's table and runs its chain.
async fn route(
    settings: &EntryPointSettings,
    runtime: &crate::Runtime,
    req: Request,
    (host, is_tls, client_ip): (Option<&str>, bool, IpAddr),
    acme_answer: Option<String>,
) -> Response {
    let tables = if is_tls {
        &runtime.tls_entrypoints
    } else {
        &runtime.entrypoints
    };
    let Some(table) = tables.get(&settings.name) else {
        return ProxyError::NotFound.into_response();
    };
    let route = {
        let Ok(routing) = routing_path(req.uri().path()) else {
            return ProxyError::BadRequest("invalid percent-encoding in URL path".into())
                .into_response();
        };
        let host = normalize_host(host.unwrap_or(""));
        let info = RequestInfo {
            method: req.method(),
            host: &host,
            path: &routing,
            query: req.uri().query(),
            headers: req.headers(),
            client_ip,
        };
        table
            .find_entry(&info)
            .filter(|e| acme_answer.is_none() || e.priority >= ACME_BYPASS_PRIORITY)
            .map(|e| (e.value.router.clone(), e.value.handler.clone()))
    };
    let Some((router, handler)) = route else {
        if let Some(key_auth) = acme_answer {
            return acme_response(key_auth);
        }
        return ProxyError::NotFound.into_response();
    };
    let mut gone = ClientGone {
        router: Some(router.clone()),
    };
    let resp = match handler.call(req).await {
        Ok(resp) => resp,
        Err(e) => {
            tracing::debug!(router = %router, error = %e, status = e.status().as_u16(), "request failed");
            e.into_response()
        }
    };
    gone.router = None;
    resp
}

/// The priority of Traefik's ACME HTTP-01 router on an entrypoint with
/// `allowACMEByPass`: the length of its rule,
/// ``PathPrefix(`/.well-known/acme-challenge/`)``.
const ACME_BYPASS_PRIORITY: i64 = 42;

/// The answer to an ACME HTTP-01 validation.
fn acme_response(key_auth: String) -> Response {
    let mut resp = Response::new(body::full(key_auth));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

/// Notes a request whose client went away before its response head was
/// ready (Traefik's 499): hyper drops the request's future then.
struct ClientGone {
    router: Option<Arc<str>>,
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some(router) = &self.router {
            tracing::debug!(router = %router, status = 499, "{}", ProxyError::ClientClosed);
        }
    }
}
