//! An axum application that puts two Switchyard middlewares, written as
//! Traefik configuration, in front of its routes: `rateLimit` (by client
//! address) and `headers` (security and custom response headers).
//!
//! ```text
//! cargo run -p switchyard --example axum_middlewares            # serves 127.0.0.1:3000
//! cargo run -p switchyard --example axum_middlewares -- --check # serves on a free port,
//!                                                               # asks itself, exits
//! ```

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use switchyard_proxy::tower::MiddlewareLayer;

/// The middlewares as they would stand under `http.middlewares` in a
/// Traefik dynamic file.
const RATE_LIMIT: &str = "
rateLimit:
  average: 10
  period: 1m
  burst: 3
";

const HEADERS: &str = "
headers:
  frameDeny: true
  contentTypeNosniff: true
  customResponseHeaders:
    X-Served-By: axum-behind-switchyard
";

/// The application's routes with the two middlewares in front: each
/// request passes `headers`, then `rateLimit`, then reaches its route.
fn app() -> Result<Router, Box<dyn std::error::Error>> {
    // axum puts the peer address in a `ConnectInfo` extension when served
    // with `into_make_service_with_connect_info`; the rate limit reads it.
    let peer = |ext: &axum::http::Extensions| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let limit = MiddlewareLayer::from_yaml("limit", RATE_LIMIT)?.client_addr_from(peer);
    let headers = MiddlewareLayer::from_yaml("secure", HEADERS)?;
    for w in limit.warnings().iter().chain(headers.warnings()) {
        eprintln!("warning: {w}");
    }
    Ok(Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/api/time", get(|| async { "it is now\n" }))
        // The last layer added is the outermost.
        .layer(limit)
        .layer(headers))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let check = std::env::args().any(|a| a == "--check");
    let bind = if check {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    };
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let service = app()?.into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move { axum::serve(listener, service).await });
    if !check {
        println!("listening on http://{addr}");
        server.await??;
        return Ok(());
    }
    // The burst lets three requests through at once; the fourth is refused.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, served_by, frame) = ask(addr, "/api/time").await?;
        if served_by.as_deref() != Some("axum-behind-switchyard")
            || frame.as_deref() != Some("DENY")
        {
            return Err(format!("headers missing: {served_by:?} {frame:?}").into());
        }
        statuses.push(status);
    }
    println!("statuses: {statuses:?}");
    if statuses != [200, 200, 200, 429] {
        return Err(format!("expected three 200 then 429, got {statuses:?}").into());
    }
    server.abort();
    Ok(())
}

/// GET `path` on a new connection: the status, `X-Served-By` and
/// `X-Frame-Options`.
async fn ask(
    addr: SocketAddr,
    path: &str,
) -> Result<(u16, Option<String>, Option<String>), Box<dyn std::error::Error>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", "localhost")
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let resp = sender.send_request(req).await?;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Ok((
        resp.status().as_u16(),
        header("x-served-by"),
        header("x-frame-options"),
    ))
}
