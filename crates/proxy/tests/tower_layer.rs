//! Switchyard middlewares built from Traefik's YAML, wrapped as tower layers
//! around a plain hyper service served on 127.0.0.1, and asked over TCP.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use switchyard_proxy::tower::{LayerError, MiddlewareLayer, MiddlewareService};
use switchyard_proxy::{body, Request};
use switchyard_testkit::{get, request};
use tokio::net::TcpListener;
use tower::{service_fn, Layer, ServiceExt};

/// The program's own service: answers with what it saw (path, one header,
/// the prefix stripped), in headers of its answer.
fn app() -> impl tower::Service<
    Request,
    Response = http::Response<switchyard_proxy::Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone
       + Send
       + Sync
       + 'static {
    service_fn(|req: Request| async move {
        let seen = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string()
        };
        let resp = http::Response::builder()
            .header("x-seen-path", req.uri().path())
            .header("x-seen-added", seen("x-added"))
            .header("x-seen-prefix", seen("x-forwarded-prefix"))
            .body(body::full("from the app"))
            .unwrap_or_else(|_| http::Response::new(body::empty()));
        Ok::<_, Infallible>(resp)
    })
}

/// Serves `svc` over HTTP/1.1 on 127.0.0.1; with `tell_peer`, each
/// connection's service knows the client's address.
async fn serve(svc: MiddlewareService, tell_peer: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let svc = match tell_peer {
                true => svc.clone().with_client_addr(peer),
                false => svc.clone(),
            };
            tokio::spawn(async move {
                let hyper_svc =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        svc.clone().oneshot(req)
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_svc)
                    .await;
            });
        }
    });
    addr
}

fn layer(name: &str, yaml: &str) -> MiddlewareLayer {
    MiddlewareLayer::from_yaml(name, yaml).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn headers_set_on_request_and_response() {
    let headers = layer(
        "headers",
        "headers:\n  customRequestHeaders:\n    X-Added: by-switchyard\n  customResponseHeaders:\n    X-Served-By: switchyard\n",
    );
    let addr = serve(headers.layer(app()), true).await;
    let reply = get(addr, "a.test", "/").await.expect("request");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-seen-added"), Some("by-switchyard"));
    assert_eq!(reply.header("x-served-by"), Some("switchyard"));
    assert_eq!(reply.text(), "from the app");
}

#[tokio::test]
async fn strip_prefix_then_headers_stacked() {
    let strip = layer("strip", "stripPrefix:\n  prefixes: [/api]\n");
    let headers = layer(
        "headers",
        "headers:\n  customResponseHeaders:\n    X-Served-By: switchyard\n",
    );
    // Outermost first: headers, then stripPrefix, then the app.
    let svc = headers.layer(strip.layer(app()));
    let addr = serve(svc, true).await;
    let reply = get(addr, "a.test", "/api/users").await.expect("request");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("x-seen-path"), Some("/users"));
    assert_eq!(reply.header("x-seen-prefix"), Some("/api"));
    assert_eq!(reply.header("x-served-by"), Some("switchyard"));
    let other = get(addr, "a.test", "/web").await.expect("request");
    assert_eq!(other.header("x-seen-path"), Some("/web"));
}

#[tokio::test]
async fn rate_limit_answers_429_past_the_burst() {
    // One request an hour after a burst of two: the third is refused.
    let limit = layer(
        "limit",
        "rateLimit:\n  average: 1\n  period: 1h\n  burst: 2\n",
    );
    let addr = serve(limit.layer(app()), true).await;
    for i in 0..2 {
        let reply = get(addr, "a.test", "/").await.expect("request");
        assert_eq!(reply.status, StatusCode::OK, "request {i}");
    }
    let refused = get(addr, "a.test", "/").await.expect("request");
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_ne!(refused.text(), "from the app");
}

#[tokio::test]
async fn rate_limit_state_is_shared_by_the_services_of_one_layer() {
    let limit = layer(
        "limit",
        "rateLimit:\n  average: 1\n  period: 1h\n  burst: 1\n",
    );
    let first = serve(limit.layer(app()), true).await;
    let second = serve(limit.layer(app()), true).await;
    assert_eq!(
        get(first, "a.test", "/").await.expect("request").status,
        StatusCode::OK
    );
    let refused = get(second, "a.test", "/").await.expect("request");
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn ip_allow_list_sees_the_peer_address() {
    let loopback = layer("local", "ipAllowList:\n  sourceRange: [127.0.0.1/32]\n");
    let elsewhere = layer("private", "ipAllowList:\n  sourceRange: [10.0.0.0/8]\n");

    let allowed = serve(loopback.layer(app()), true).await;
    let reply = get(allowed, "a.test", "/").await.expect("request");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.text(), "from the app");

    let denied = serve(elsewhere.layer(app()), true).await;
    let reply = get(denied, "a.test", "/").await.expect("request");
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // Without the peer address the client is 0.0.0.0: not let in.
    let unknown = serve(loopback.layer(app()), false).await;
    let reply = get(unknown, "a.test", "/").await.expect("request");
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn client_address_read_from_an_extension() {
    #[derive(Clone)]
    struct Peer(SocketAddr);
    let allow = layer("local", "ipAllowList:\n  sourceRange: [127.0.0.1/32]\n")
        .client_addr_from(|ext| ext.get::<Peer>().map(|p| p.0));
    let svc = allow.layer(app());
    let mut req = http::Request::get("/")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    req.extensions_mut()
        .insert(Peer(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let resp = svc.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let req = http::Request::get("/")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("request");
    let resp = svc.oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn request_body_reaches_the_app() {
    let echo = service_fn(|req: Request| async move {
        let bytes = http_body_util::BodyExt::collect(req.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok::<_, Infallible>(http::Response::new(body::full(bytes)))
    });
    let add = layer("add", "addPrefix:\n  prefix: /v1\n");
    let addr = serve(add.layer(echo), true).await;
    let reply = request(
        addr,
        Method::POST,
        "a.test",
        "/",
        &[],
        Bytes::from("payload"),
    )
    .await
    .expect("request");
    assert_eq!(reply.text(), "payload");
}

#[test]
fn middlewares_that_need_a_gateway_are_refused() {
    for (yaml, kind) in [
        ("chain:\n  middlewares: [a, b]\n", "chain"),
        (
            "errors:\n  status: [\"500\"]\n  service: pages\n",
            "customerrors",
        ),
    ] {
        match MiddlewareLayer::from_yaml("m", yaml) {
            Err(LayerError::NeedsGateway { kind: k, .. }) => assert_eq!(k, kind),
            other => panic!("{kind}: expected NeedsGateway, got {other:?}"),
        }
    }
}

#[test]
fn bad_settings_are_errors_naming_the_middleware() {
    let err = MiddlewareLayer::from_yaml("limit", "rateLimit:\n  average: -1\n")
        .expect_err("a negative average");
    assert!(err.to_string().contains("\"limit\""), "{err}");
    let err = MiddlewareLayer::from_yaml("strip", "stripPrefix:\n  prefixes: [/a]\n  bogus: 1\n")
        .expect_err("an unknown key");
    match err {
        LayerError::Config { source, .. } => {
            assert_eq!(
                source.location.as_ref().map(|l| l.line),
                Some(3),
                "{source}"
            );
        }
        other => panic!("expected a located config error, got {other}"),
    }
}
