//! One accepted TCP connection: an optional PROXY protocol header, then
//! TLS or plain HTTP by its first bytes, then HTTP/1.1 or HTTP/2 with the
//! entrypoint's keep-alive limits, every request answered by the handler.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Version;
use hyper::body::Incoming;
use switchyard_proxy::{RequestContext, Response};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::protocols::{Closing, Protocols, PREFACE};
use super::{canonical, handler, idle, proxy_protocol, EntryPointSettings, HANDSHAKE_TIMEOUT};
use crate::tls::stream::{self as tls_stream, Opening, Prefixed};
use crate::Switcher;

/// Serves one accepted connection on a task of its own.
pub(super) fn serve_connection(
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
    let open = settings.metrics.as_ref().map(|m| m.connection());
    tokio::spawn(async move {
        let _open = open;
        let limit = settings.read_timeout.unwrap_or(HANDSHAKE_TIMEOUT);
        let mut stream = stream;
        let first = match &settings.proxy_protocol {
            None => Vec::new(),
            Some(pp) => {
                match tokio::time::timeout(limit, Box::pin(proxy_protocol::read(&mut stream))).await
                {
                    Ok(Ok(Some((header, rest)))) => {
                        if let proxy_protocol::Header::Client(client) = header {
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
        // An entrypoint with TCP routers: they may take the connection
        // (see `crate::tcp`); what they leave goes on to HTTP.
        let tcp = {
            let runtime = switcher.load();
            // Most configurations have no TCP router: no lookup then.
            (!runtime.tcp.is_empty())
                .then(|| runtime.tcp.get(&settings.name))
                .flatten()
                .map(|entry| (entry.clone(), runtime.tls.clone()))
        };
        let (stream, first) = match tcp {
            None => (stream, first),
            Some((entry, tls)) => {
                let routed =
                    crate::tcp::dispatch(stream, first, ctx.client_addr, entry, tls, limit);
                match Box::pin(routed).await {
                    crate::tcp::Dispatch::Done => return,
                    crate::tcp::Dispatch::Http(stream, first) => (stream, first),
                }
            }
        };
        // A TLS connection opens with a handshake record; anything else is
        // plain HTTP.
        let opening = Box::pin(tls_stream::open(stream, first));
        let hello = match tokio::time::timeout(limit, opening).await {
            Ok(Ok(Some(Opening::Tls(hello)))) => hello,
            Ok(Ok(Some(Opening::Plain(stream)))) => {
                // Boxed, as the TLS path below: the task keeps only the
                // state of the path taken, not the largest one.
                Box::pin(serve_plain_tcp(
                    stream, &builder, watcher, settings, switcher, ctx,
                ))
                .await;
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
        let stream = match tokio::time::timeout(limit, Box::pin(handshake)).await {
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
        ctx.tls_session = switchyard_proxy::context::TlsSession::of(stream.connection());
        ctx.peer_certificates = stream
            .connection()
            .peer_certificates()
            .map(|c| Arc::new(c.iter().map(|c| c.clone().into_owned()).collect()));
        Box::pin(serve_http(
            stream, &builder, watcher, settings, switcher, ctx,
        ))
        .await;
    });
}

/// Plain HTTP/1 connections open in the process.
static OPEN_PLAIN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Above this many open plain HTTP/1 connections, a new one is served one
/// request at a time, holding no buffer between requests
/// ([`super::idle`]): a few KiB per idle connection instead of tens, for
/// about a fifth more CPU per request. Below it, connections are served
/// as usual (hyper keeps its buffers between requests), which is the
/// faster way. `SWITCHYARD_IDLE_MODE_ABOVE` changes the threshold (0: every
/// connection; for tests and for hosts that hold many idle connections).
fn idle_mode_above() -> usize {
    static ABOVE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *ABOVE.get_or_init(|| {
        std::env::var("SWITCHYARD_IDLE_MODE_ABOVE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(IDLE_MODE_ABOVE)
    })
}

/// The default of [`idle_mode_above`].
const IDLE_MODE_ABOVE: usize = 128;

/// Counts a plain connection for as long as it lives.
struct OpenPlain;

impl OpenPlain {
    /// Counts one more; returns the guard and how many were open before.
    fn enter() -> (OpenPlain, usize) {
        let before = OPEN_PLAIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (OpenPlain, before)
    }
}

impl Drop for OpenPlain {
    fn drop(&mut self) {
        OPEN_PLAIN.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves a plain connection: HTTP/2 by prior knowledge as any other, and
/// HTTP/1 as usual, or, when many are open, one request at a time
/// ([`idle_mode_above`]).
async fn serve_plain_tcp(
    stream: Prefixed,
    builder: &Protocols,
    stop: Stop,
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    ctx: RequestContext,
) {
    let unread = stream.unread();
    let seen = unread.len().min(PREFACE.len());
    if unread[..seen] == PREFACE[..seen] {
        // Boxed: HTTP/2's state would otherwise size every plain
        // connection's future.
        Box::pin(serve_http(stream, builder, stop, settings, switcher, ctx)).await;
        return;
    }
    let (_open, before) = OpenPlain::enter();
    if before < idle_mode_above() {
        Box::pin(serve_http(stream, builder, stop, settings, switcher, ctx)).await;
        return;
    }
    let peer = ctx.client_addr;
    let limits = KeepAlive::new(&settings, stop.accepted);
    let svc = service(settings, switcher, ctx, limits.clone());
    let closing = limits.map(|l| Closing {
        close: l,
        drain: stop.drain.clone(),
    });
    let (socket, first) = stream.into_parts();
    let served = idle::serve(
        socket,
        first,
        builder,
        svc,
        stop.graceful,
        closing,
        stop.drain,
    );
    if let Err(e) = served.await {
        tracing::debug!(error = %e, %peer, tls = false, "connection ended with an error");
    }
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

/// Serves one plain connection as an accepted one is served once its
/// first bytes are known not to be TLS, until it ends; public for the fuzz
/// target of the request head, which drives it over an in-memory stream.
pub async fn serve_plain<I>(
    io: I,
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    ctx: RequestContext,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let builder = Protocols::new(
        settings.max_header_bytes,
        settings.read_timeout.or(settings.idle_timeout),
        settings.http2,
        settings.read_timeout.unwrap_or(super::HANDSHAKE_TIMEOUT),
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let (_never_drained, drain) = watch::channel(false);
    let stop = Stop {
        graceful: graceful.watcher(),
        drain,
        accepted: std::time::Instant::now(),
    };
    serve_http(io, &builder, stop, settings, switcher, ctx).await;
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
    let closing = limits.map(|l| Closing {
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
            let mut resp = handler::handle(&settings, &switcher, ctx, req, false).await;
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
