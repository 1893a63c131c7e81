//! A real HTTP backend for tests, the demo and the benchmark.
//!
//! It answers every request with a JSON description of what it received, so a
//! test can assert on exactly what the proxy forwarded. A few paths do more:
//!
//! | path              | answer                                                    |
//! |-------------------|-----------------------------------------------------------|
//! | `/status/NNN`     | status NNN with the usual JSON body                       |
//! | `/sleep/MS`       | waits MS milliseconds, then the JSON body                 |
//! | `/small`          | `ok` as text/plain (the benchmark's tiny response)        |
//! | `/bytes/N`        | N bytes of `a` (benchmarks, large responses)              |
//! | `/chunked/N`      | N bytes of `a` without a length (sent chunked)            |
//! | `/body`           | the body given to [`set_body`] (`demo-backend --body FILE`) |
//! | `/echo`           | streams the request body back unchanged                   |
//! | `/stream/N`       | N chunks of `chunk i\n`, each flushed, 10 ms apart        |
//! | `/trailers`       | a body followed by the trailer `x-checksum: abc`          |
//! | `/health`         | 200 while healthy, 503 after `set_healthy(false)`         |
//! | `/ws`             | a WebSocket echo server (any path with `Upgrade: websocket`) |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// What `/body` answers, with its content type (set once per process).
static BODY: std::sync::OnceLock<(Bytes, &'static str)> = std::sync::OnceLock::new();

/// Makes every backend of this process answer `/body` with `body`, typed
/// `content_type` (the benchmark's real bodies). False if already set.
pub fn set_body(body: Bytes, content_type: &'static str) -> bool {
    BODY.set((body, content_type)).is_ok()
}

/// Shared state of one backend.
#[derive(Debug)]
struct State {
    name: String,
    healthy: AtomicBool,
    hits: AtomicU64,
    health_hits: AtomicU64,
    /// Milliseconds every answer (but `/health`) waits before its head.
    delay_ms: AtomicU64,
    /// When non-zero, every request (but `/health`) gets this status.
    failing: AtomicU64,
    /// `/gated` holds its second event until this opens.
    gate: Arc<AtomicBool>,
}

/// A running backend; it stops when dropped.
pub struct Backend {
    addr: SocketAddr,
    state: Arc<State>,
    _stop: oneshot::Sender<()>,
}

impl Backend {
    /// Starts a backend named `name` on a free port of 127.0.0.1.
    pub async fn start(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test backend");
        Backend::serve(listener, name)
    }

    /// Starts an HTTPS backend with the fixture certificate (signed by
    /// `fixtures/ca.pem`, valid for localhost, backend.test, 127.0.0.1, ::1).
    pub async fn start_tls(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test backend");
        Backend::serve_inner(listener, name, Some(crate::tls::acceptor()))
    }

    /// Starts an HTTPS backend that handshakes as `options` say.
    pub async fn start_tls_with(name: &str, options: &crate::tls::TlsOptions) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test backend");
        Backend::serve_inner(listener, name, Some(crate::tls::acceptor_with(options)))
    }

    /// Starts a backend that speaks only HTTP/2 with prior knowledge (h2c).
    pub async fn start_h2c(name: &str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind test backend");
        Backend::serve_with(listener, name, None, true)
    }

    /// `https://127.0.0.1:PORT` for a TLS backend.
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Serves on an already bound listener.
    pub fn serve(listener: TcpListener, name: &str) -> Backend {
        Backend::serve_inner(listener, name, None)
    }

    fn serve_inner(
        listener: TcpListener,
        name: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Backend {
        Backend::serve_with(listener, name, tls, false)
    }

    fn serve_with(
        listener: TcpListener,
        name: &str,
        tls: Option<tokio_rustls::TlsAcceptor>,
        h2_only: bool,
    ) -> Backend {
        let addr = listener.local_addr().expect("backend address");
        let state = Arc::new(State {
            name: name.to_string(),
            healthy: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            health_hits: AtomicU64::new(0),
            delay_ms: AtomicU64::new(0),
            failing: AtomicU64::new(0),
            gate: Arc::new(AtomicBool::new(false)),
        });
        let (stop, mut stopped) = oneshot::channel::<()>();
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => break,
                    a = listener.accept() => a,
                };
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
                    let mut builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    if h2_only {
                        builder = builder.http2_only();
                    }
                    // Heads of many lines pass (the proxy's tests send them).
                    builder.http1().max_headers(10_000);
                    match tls {
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else {
                                return;
                            };
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        }
                        None => {
                            let _ = builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                                .await;
                        }
                    }
                });
            }
        });
        Backend {
            addr,
            state,
            _stop: stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    /// Makes `/health` answer 200 (true) or 503 (false).
    pub fn set_healthy(&self, healthy: bool) {
        self.state.healthy.store(healthy, Ordering::SeqCst);
    }

    /// Delays every answer (health checks excluded) by `ms`.
    pub fn set_delay_ms(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Answers every request (health checks excluded) with `status`; 0
    /// goes back to normal answers.
    pub fn set_failing(&self, status: u16) {
        self.state
            .failing
            .store(u64::from(status), Ordering::SeqCst);
    }

    /// Lets `/gated` send its second event.
    pub fn open_gate(&self) {
        self.state.gate.store(true, Ordering::SeqCst);
    }

    /// Requests served, health checks excluded.
    pub fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Health-check requests served.
    pub fn health_hits(&self) -> u64 {
        self.state.health_hits.load(Ordering::SeqCst)
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    if path == "/health" {
        st.health_hits.fetch_add(1, Ordering::SeqCst);
        let status = if st.healthy.load(Ordering::SeqCst) {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Ok(text(status, &st.name));
    }
    st.hits.fetch_add(1, Ordering::SeqCst);
    let delay = st.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = st.failing.load(Ordering::SeqCst);
    if failing > 0 {
        let status = u16::try_from(failing)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = text(status, &st.name);
        resp.headers_mut().insert("x-backend", header(&st.name));
        return Ok(resp);
    }
    if is_websocket(req.headers()) {
        return Ok(websocket(req));
    }
    if path == "/small" {
        return Ok(text(StatusCode::OK, "ok"));
    }
    if let Some((body, content_type)) = BODY.get().filter(|_| path == "/body") {
        let mut resp = Response::new(full(body.clone()));
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static(content_type));
        return Ok(resp);
    }
    if let Some(n) = path.strip_prefix("/bytes/") {
        let n: usize = n.parse().unwrap_or(0);
        return Ok(text(StatusCode::OK, &"a".repeat(n)));
    }
    if let Some(n) = path.strip_prefix("/chunked/") {
        let n: usize = n.parse().unwrap_or(0);
        let frame: Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>> =
            Ok(Frame::data(Bytes::from("a".repeat(n))));
        let mut resp = Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
            [frame],
        ))));
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("text/plain"));
        resp.headers_mut().insert("x-backend", header(&st.name));
        return Ok(resp);
    }
    if path == "/echo" {
        let mut resp = Response::new(req.into_body().map_err(Into::into).boxed());
        resp.headers_mut().insert("x-backend", header(&st.name));
        return Ok(resp);
    }
    if let Some(n) = path.strip_prefix("/stream/") {
        return Ok(stream(n.parse().unwrap_or(3)));
    }
    if path == "/trailers" {
        return Ok(trailers());
    }
    if path == "/gated" {
        return Ok(gated(st.gate.clone()));
    }
    if path == "/grpc.health.v1.Health/Check" {
        // SERVING (1) or NOT_SERVING (2), after the `healthy` switch.
        let status: u8 = if st.healthy.load(Ordering::SeqCst) {
            1
        } else {
            2
        };
        st.health_hits.fetch_add(1, Ordering::SeqCst);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let message = Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]);
        let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
            vec![Ok(Frame::data(message)), Ok(Frame::trailers(trailers))];
        let mut resp = Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
            frames,
        ))));
        resp.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/grpc"));
        return Ok(resp);
    }
    if path.starts_with("/grpc.") {
        return Ok(grpc_echo(&st.name, req).await);
    }
    let mut status = StatusCode::OK;
    if let Some(code) = path.strip_prefix("/status/") {
        status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
    }
    if let Some(ms) = path.strip_prefix("/sleep/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    let (parts, body) = req.into_parts();
    let collected = match body.collect().await {
        Ok(c) => c,
        Err(e) => return Ok(text(StatusCode::BAD_REQUEST, &e.to_string())),
    };
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let trailers: Vec<(String, String)> = trailers
        .iter()
        .flat_map(|t| t.iter())
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into(),
            )
        })
        .collect();
    let json = serde_json::json!({
        "name": st.name,
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "trailers": trailers,
        "body_len": body.len(),
        "body": String::from_utf8_lossy(&body[..body.len().min(4096)]),
    });
    let mut resp = Response::new(full(json.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp.headers_mut().insert("x-backend", header(&st.name));
    // `/cookie/NAME/VALUE...` also sets that cookie.
    if let Some(rest) = parts.uri.path().strip_prefix("/cookie/") {
        if let Some((name, value)) = rest.split_once('/') {
            let value = value.split('/').next().unwrap_or("");
            if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}; Path=/")) {
                resp.headers_mut().append("set-cookie", v);
            }
        }
    }
    Ok(resp)
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// A gRPC unary echo: answers the request's (framed) message back with
/// `grpc-status: 0` in the trailers, and the content type and protocol
/// version it saw in `x-seen-*` headers.
async fn grpc_echo(name: &str, req: Request<Incoming>) -> Response<Body> {
    let seen_type = req
        .headers()
        .get("content-type")
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    let seen_version = format!("{:?}", req.version());
    let message = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => return text(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    trailers.insert("grpc-message", HeaderValue::from_static("echoed"));
    let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
        vec![Ok(Frame::data(message)), Ok(Frame::trailers(trailers))];
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
        frames,
    ))));
    let h = resp.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/grpc"));
    h.insert("x-backend", header(name));
    h.insert("x-seen-content-type", seen_type);
    if let Ok(v) = HeaderValue::from_str(&seen_version) {
        h.insert("x-seen-version", v);
    }
    resp
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    resp
}

fn stream(chunks: usize) -> Response<Body> {
    let s = futures_util::stream::unfold(0usize, move |i| async move {
        if i >= chunks {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let frame: Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>> =
            Ok(Frame::data(Bytes::from(format!("chunk {i}\n"))));
        Some((frame, i + 1))
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(s)));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    resp
}

/// A `text/event-stream` that sends one event, then a second once the
/// gate opens (a proxy that buffers would hold the first one back).
fn gated(gate: Arc<AtomicBool>) -> Response<Body> {
    let s = futures_util::stream::unfold(0u8, move |i| {
        let gate = gate.clone();
        async move {
            match i {
                0 => {}
                1 => {
                    let deadline = std::time::Instant::now() + Duration::from_secs(30);
                    while !gate.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                _ => return None,
            }
            let frame: Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>> =
                Ok(Frame::data(Bytes::from(format!("data: event {i}\n\n"))));
            Some((frame, i + 1))
        }
    });
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(s)));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/event-stream"),
    );
    resp
}

fn trailers() -> Response<Body> {
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc"));
    let frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> = vec![
        Ok(Frame::data(Bytes::from_static(b"body with trailers"))),
        Ok(Frame::trailers(t)),
    ];
    let mut resp = Response::new(BodyExt::boxed(StreamBody::new(futures_util::stream::iter(
        frames,
    ))));
    resp.headers_mut()
        .insert("trailer", HeaderValue::from_static("x-checksum"));
    resp
}

fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn websocket(req: Request<Incoming>) -> Response<Body> {
    use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
    use tokio_tungstenite::tungstenite::protocol::Role;
    let Some(key) = req.headers().get("sec-websocket-key") else {
        return text(StatusCode::BAD_REQUEST, "missing sec-websocket-key");
    };
    let accept = derive_accept_key(key.as_bytes());
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    h.insert("sec-websocket-accept", header(&accept));
    resp
}
