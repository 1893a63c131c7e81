//! HTTP/3: QUIC on an entrypoint's port (UDP), requests answered by the
//! same handler as its TLS connections (the entrypoint's TLS router table).
//!
//! Handshakes take their certificate from the live runtime's store, chosen
//! by SNI with the TLS options the routers name for it; names whose options
//! ask for client certificates or exclude TLS 1.3 are refused over QUIC (and
//! not advertised), so their clients stay on TCP where the options hold.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http_body::{Body as _, Frame, SizeHint};
use switchyard_proxy::RequestContext;
use tokio::sync::watch;

use super::quic_tls::{FactsConfig, QuicHandshake};
use super::{canonical, handler, socket_for, EntryPointSettings, HANDSHAKE_TIMEOUT};
use crate::Switcher;

type RecvStream = h3::server::RequestStream<h3_quinn::RecvStream, Bytes>;
type SendStream = h3::server::RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// Resolves QUIC handshakes' certificates from the runtime live at the time.
struct LiveCertificates {
    switcher: Switcher,
}

impl std::fmt::Debug for LiveCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveCertificates")
    }
}

impl rustls::server::ResolvesServerCert for LiveCertificates {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.switcher.load().tls.quic_certificate(hello)
    }
}

/// The QUIC endpoint of the entrypoint `name`, bound to `addr` (UDP), on
/// the socket taken over from the process this one upgrades if there is
/// one; with the socket's entry in [`super::sockets`].
pub fn bind(
    name: &str,
    addr: SocketAddr,
    reuse_port: bool,
    switcher: &Switcher,
) -> std::io::Result<(quinn::Endpoint, super::sockets::Registration)> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    switchyard_proxy::tls_names::server_order(&mut provider.cipher_suites, false);
    let provider = Arc::new(provider);
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(LiveCertificates {
            switcher: switcher.clone(),
        }));
    tls.alpn_protocols = vec![b"h3".to_vec()];
    tls.ignore_client_order = true;
    let crypto = FactsConfig::new(tls).map_err(std::io::Error::other)?;
    let config = quinn::ServerConfig::with_crypto(Arc::new(crypto));

    let key = super::sockets::Key::new(name, "quic", addr);
    let (socket, registration) = super::sockets::inherited_or(key, socket2::Type::DGRAM, || {
        let socket = socket_for(addr, socket2::Type::DGRAM, socket2::Protocol::UDP)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        Ok(socket)
    })?;
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(config),
        socket.into(),
        Arc::new(quinn::TokioRuntime),
    )?;
    Ok((endpoint, registration))
}

/// Serves HTTP/3 until `shutdown`; then, after `requestAcceptGraceTimeout`,
/// tells every connection to go away (in-flight requests finish) and waits
/// up to `graceTimeOut` for them.
pub async fn serve(
    endpoint: quinn::Endpoint,
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    mut shutdown: watch::Receiver<bool>,
) {
    let local = endpoint.local_addr().ok();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accept_until: Option<tokio::time::Instant> = None;
    loop {
        let deadline = async {
            match accept_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                let (settings, switcher, stop) = (settings.clone(), switcher.clone(), stop_rx.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection(incoming, local, settings, switcher, stop).await {
                        tracing::debug!(error = %e, "HTTP/3 connection ended with an error");
                    }
                });
            }
            changed = shutdown.changed(), if accept_until.is_none() => {
                if changed.is_err() || *shutdown.borrow() {
                    accept_until = Some(tokio::time::Instant::now() + settings.request_accept_grace_timeout);
                }
            }
            _ = deadline => break,
        }
    }
    endpoint.set_server_config(None);
    let _ = stop_tx.send(true);
    if tokio::time::timeout(settings.grace_timeout, endpoint.wait_idle())
        .await
        .is_err()
    {
        tracing::warn!(entrypoint = %settings.name, "grace period over, closing remaining HTTP/3 connections");
    }
    endpoint.close(quinn::VarInt::from_u32(0), b"shutting down");
}

/// One QUIC connection: the handshake, then its requests, each on a task.
async fn connection(
    incoming: quinn::Incoming,
    local: Option<SocketAddr>,
    settings: Arc<EntryPointSettings>,
    switcher: Switcher,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let limit = settings.read_timeout.unwrap_or(HANDSHAKE_TIMEOUT);
    let conn = tokio::time::timeout(limit, incoming)
        .await
        .map_err(|_| "QUIC handshake timed out")??;
    let peer = conn.remote_address();
    let ctx = RequestContext {
        client_addr: canonical(peer),
        local_addr: local.unwrap_or(peer),
        entrypoint: Arc::from(settings.name.as_str()),
        tls: true,
        peer_certificates: None,
        // QUIC is TLS 1.3, with the suite its handshake chose.
        tls_session: QuicHandshake::tls_session(&conn),
    };
    let quic = conn.clone();
    let mut h3: h3::server::Connection<_, Bytes> = h3::server::builder()
        .max_field_section_size(settings.max_header_bytes as u64)
        .build(h3_quinn::Connection::new(conn))
        .await?;
    let mut stopping = false;
    loop {
        let next = tokio::select! {
            next = h3.accept() => next,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                // GOAWAY: requests already accepted finish, no new ones.
                h3.shutdown(0).await?;
                continue;
            }
        };
        match next {
            Ok(Some(resolver)) => {
                let (settings, switcher, ctx) = (settings.clone(), switcher.clone(), ctx.clone());
                let quic = quic.clone();
                tokio::spawn(async move {
                    let (req, stream) = match resolver.resolve_request().await {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::debug!(error = %e, "HTTP/3 request unreadable");
                            return;
                        }
                    };
                    // A client that closes its connection before the answer
                    // is gone: its request's handling is dropped, as over
                    // TCP (logged and counted 502, as Traefik does over
                    // HTTP/3).
                    tokio::select! {
                        sent = request(req, stream, &settings, &switcher, ctx) => {
                            if let Err(e) = sent {
                                tracing::debug!(error = %e, "HTTP/3 response not sent");
                            }
                        }
                        _ = quic.closed() => {
                            tracing::debug!("HTTP/3 connection closed before the answer was sent");
                        }
                    }
                });
            }
            Ok(None) => return Ok(()),
            Err(e) if e.is_h3_no_error() => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Answers one request stream.
async fn request(
    req: http::Request<()>,
    stream: h3::server::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes>,
    settings: &EntryPointSettings,
    switcher: &Switcher,
    ctx: RequestContext,
) -> Result<(), h3::error::StreamError> {
    let (mut send, recv) = stream.split();
    let length = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body = RequestBody::new(recv, length);
    let resp = handler::handle(settings, switcher, ctx, req.map(|()| body), true).await;
    send_response(&mut send, resp).await
}

/// Header fields HTTP/3 forbids (RFC 9114, 4.2).
const CONNECTION_SPECIFIC: [http::HeaderName; 4] = [
    http::header::CONNECTION,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::HeaderName::from_static("keep-alive"),
];

async fn send_response(
    send: &mut SendStream,
    resp: switchyard_proxy::Response,
) -> Result<(), h3::error::StreamError> {
    let (mut parts, mut body) = resp.into_parts();
    for name in &CONNECTION_SPECIFIC {
        parts.headers.remove(name);
    }
    parts.headers.remove("proxy-connection");
    parts.version = http::Version::HTTP_3;
    send.send_response(http::Response::from_parts(parts, ()))
        .await?;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    if !data.is_empty() {
                        send.send_data(data).await?;
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        send.send_trailers(trailers).await?;
                    }
                }
            },
            Some(Err(e)) => {
                // The response broke off: reset, so the client sees it
                // incomplete rather than short.
                tracing::debug!(error = %e, "response body failed");
                send.stop_stream(h3::error::Code::H3_INTERNAL_ERROR);
                return Ok(());
            }
        }
    }
    send.finish().await
}

/// A request's body as it arrives on its stream. The stream sits behind a
/// mutex only to make the body `Sync`; it is never locked (`get_mut`).
struct RequestBody {
    recv: Mutex<RecvStream>,
    state: BodyState,
    /// Data read while looking for the end early.
    first: Option<Bytes>,
    length: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyState {
    Data,
    Trailers,
    Done,
}

impl RequestBody {
    /// A body reading from `recv`; it looks once, without waiting, whether
    /// the stream already ended (a GET's usually has), so an empty body is
    /// known empty and forwarded without chunked framing.
    fn new(recv: RecvStream, length: Option<u64>) -> RequestBody {
        let mut body = RequestBody {
            recv: Mutex::new(recv),
            state: BodyState::Data,
            first: None,
            length,
        };
        if length == Some(0) {
            body.state = BodyState::Trailers;
        }
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if body.state == BodyState::Data {
            if let Poll::Ready(Ok(next)) = body.stream().poll_recv_data(&mut cx) {
                match next {
                    Some(mut chunk) => body.first = Some(chunk.copy_to_bytes(chunk.remaining())),
                    None => body.state = BodyState::Trailers,
                }
            }
        }
        if body.state == BodyState::Trailers {
            if let Poll::Ready(Ok(None)) = body.stream().poll_recv_trailers(&mut cx) {
                body.state = BodyState::Done;
            }
        }
        body
    }

    fn stream(&mut self) -> &mut RecvStream {
        match self.recv.get_mut() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = h3::error::StreamError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        loop {
            match this.state {
                BodyState::Data => match this.stream().poll_recv_data(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        this.state = BodyState::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok(Some(mut chunk))) => {
                        let data = chunk.copy_to_bytes(chunk.remaining());
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Poll::Ready(Ok(None)) => this.state = BodyState::Trailers,
                },
                BodyState::Trailers => {
                    let polled = this.stream().poll_recv_trailers(cx);
                    return match polled {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(result) => {
                            this.state = BodyState::Done;
                            match result {
                                Ok(Some(trailers)) => {
                                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                                }
                                Ok(None) => Poll::Ready(None),
                                Err(e) => Poll::Ready(Some(Err(e))),
                            }
                        }
                    };
                }
                BodyState::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.state == BodyState::Done && self.first.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.is_end_stream() {
            return SizeHint::with_exact(0);
        }
        match self.length {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
