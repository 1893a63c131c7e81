//! The raw bytes a client sends to a plain HTTP entrypoint, served by
//! `entrypoint::serve_plain` over an in-memory stream: hyper's server built
//! as the entrypoint builds it (header buffer limit, header read timeout,
//! h2c by prior knowledge, keep-alive limits) with the entrypoint's own
//! per-request handling (Host check, forwarded headers, `normalize_path`,
//! `sanitize_path`, `routing_path`, host normalisation, the router table
//! of a real runtime built from a real configuration).
//!
//! Each input is sent on two connections: one from a trusted peer to an
//! entrypoint with `sanitizePath` and a read timeout; one from an untrusted
//! peer to an entrypoint without either, with the smallest header buffer,
//! `keepAliveMaxRequests: 2` and `encodeQuerySemicolons`.
//! Time is tokio's paused clock: a server that waits for nothing makes the
//! clock jump, so a hang shows as the exchange's timeout, at once.
//!
//! Checked: no panic; the exchange ends; an HTTP/1 answer is a well-formed
//! response head whose status is a 4xx or below, or 501/505 as Traefik
//! answers a transfer coding or version it does not speak (a malformed
//! request gets a 4xx); and what a router's service receives has a
//! normalised (and, where asked, sanitised) path, and from an untrusted
//! peer no forwarded headers but the entrypoint's own.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use switchyard_proxy::forwarded::{ForwardedHeaders, X_FORWARDED_FOR, X_REAL_IP};
use switchyard_proxy::{body, BoxHandler, Handler, HandlerFuture, Request, RequestContext};
use switchyard_server::entrypoint::{self, EntryPointSettings};
use switchyard_server::{Builder, StaticView, Switcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TRUSTED_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const UNTRUSTED_PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

/// Routers of every matcher kind, middlewares that rewrite the path, and
/// `check@internal` at the end of the routers that leave the path alone.
const DYNAMIC: &str = r#"
http:
  routers:
    catchall:
      rule: "PathPrefix(`/`)"
      priority: 1
      service: check@internal
    host:
      rule: "Host(`a.test`) || Host(`*.w.test`) || HostRegexp(`^[a-z]+\\.r\\.test$`)"
      service: check@internal
    query:
      rule: "Query(`q`, `1`) || QueryRegexp(`r`, `^x`) || Query(`flag`)"
      service: check@internal
    header:
      rule: "Header(`X-A`, `b`) || HeaderRegexp(`X-B`, `^c`) || Method(`PUT`)"
      service: check@internal
    ip:
      rule: "ClientIP(`192.0.2.0/24`) && Path(`/ip`)"
      service: check@internal
    v2:
      rule: "Path(`/v2/{id:[0-9]+}`) || Headers(`X-V`, `2`)"
      ruleSyntax: v2
      service: check@internal
    strip:
      rule: "PathPrefix(`/api`)"
      middlewares: [strip]
      service: echo@internal
    rewrite:
      rule: "PathRegexp(`^/r/[0-9]+`)"
      middlewares: [rewrite, headers]
      service: echo@internal
    redirect:
      rule: "Path(`/redirect`)"
      middlewares: [https]
      service: noop@internal
  middlewares:
    strip:
      stripPrefix:
        prefixes: ["/api"]
    rewrite:
      replacePathRegex:
        regex: "^/r/(.*)"
        replacement: "/x/$1"
    headers:
      headers:
        customRequestHeaders:
          X-Added: "yes"
    https:
      redirectScheme:
        scheme: https
"#;

/// `check@internal`: checks what the entrypoint handed on, then reads the
/// body (a body that does not frame answers 400).
struct Check;

impl Handler for Check {
    fn call(&self, req: Request) -> HandlerFuture {
        let ctx = RequestContext::of(&req);
        let path = req.uri().path();
        let trusted = ctx.client_addr.ip() == TRUSTED_PEER;
        assert_eq!(
            switchyard_rules::normalize_path(path).ok().as_deref(),
            Some(path),
            "the path handed on is not normalised"
        );
        if trusted {
            // This entrypoint has sanitizePath.
            assert_eq!(
                switchyard_rules::sanitize_path(path),
                path,
                "the path handed on is not sanitised"
            );
        } else {
            let h = req.headers();
            assert!(
                !h.contains_key(X_FORWARDED_FOR),
                "X-Forwarded-For kept from an untrusted peer"
            );
            assert_eq!(
                h.get(X_REAL_IP).and_then(|v| v.to_str().ok()),
                Some("192.0.2.7"),
                "X-Real-Ip not the untrusted peer"
            );
        }
        answer(req)
    }
}

/// `echo@internal`: reads the body and answers 200 (400 when the body does
/// not frame).
struct Echo;

impl Handler for Echo {
    fn call(&self, req: Request) -> HandlerFuture {
        answer(req)
    }
}

fn answer(req: Request) -> HandlerFuture {
    Box::pin(async move {
        let status = match req.into_body().collect().await {
            Ok(_) => http::StatusCode::OK,
            Err(_) => http::StatusCode::BAD_REQUEST,
        };
        let mut resp = switchyard_proxy::Response::new(body::empty());
        *resp.status_mut() = status;
        Ok(resp)
    })
}

struct World {
    rt: tokio::runtime::Runtime,
    switcher: Switcher,
    /// (peer, settings) of the two connections.
    entrypoints: [(IpAddr, Arc<EntryPointSettings>); 2],
}

fn settings(trusting: bool) -> Arc<EntryPointSettings> {
    let trusted = vec!["127.0.0.1/32".to_string()];
    let forwarded =
        ForwardedHeaders::new(false, if trusting { &trusted } else { &[] }, "fuzz-host")
            .expect("trusted IPs parse");
    Arc::new(EntryPointSettings {
        name: "web".into(),
        address: ":80".into(),
        forwarded,
        read_timeout: trusting.then_some(Duration::from_secs(60)),
        write_timeout: None,
        idle_timeout: trusting.then_some(Duration::from_secs(180)),
        grace_timeout: Duration::from_secs(1),
        request_accept_grace_timeout: Duration::ZERO,
        sanitize_path: trusting,
        max_header_bytes: if trusting { 1 << 20 } else { 0 },
        acme_challenges: None,
        http3: None,
        alt_svc: None,
        proxy_protocol: None,
        keep_alive_max_requests: if trusting { 0 } else { 2 },
        keep_alive_max_time: None,
        reuse_port: false,
        allow_acme_by_pass: false,
        encode_query_semicolons: !trusting,
        http2: Default::default(),
        access_log: None,
        tracer: None,
    })
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("tokio runtime");
        let config =
            switchyard_config::loader::parse_dynamic(std::path::Path::new("fuzz.yml"), DYNAMIC)
                .expect("the fuzz configuration parses");
        let merged =
            switchyard_server::merge::merge(&BTreeMap::from([("file".to_string(), config)]));
        let internal: HashMap<String, BoxHandler> = HashMap::from([
            ("check@internal".to_string(), Arc::new(Check) as BoxHandler),
            ("echo@internal".to_string(), Arc::new(Echo) as BoxHandler),
            ("noop@internal".to_string(), switchyard_api::noop()),
        ]);
        let view = StaticView {
            entrypoints: vec!["web".into()],
            default_entrypoints: vec!["web".into()],
            ..StaticView::default()
        };
        let runtime = rt.block_on(async {
            let mut builder = Builder::new(view, internal).expect("builder");
            let (runtime, stats) = builder.build(&merged);
            assert_eq!(
                stats.errors, 0,
                "the fuzz configuration builds without errors"
            );
            runtime
        });
        World {
            rt,
            switcher: Switcher::new(runtime),
            entrypoints: [
                (TRUSTED_PEER, settings(true)),
                (UNTRUSTED_PEER, settings(false)),
            ],
        }
    })
}

/// Sends `data` on one connection, then half-closes; returns what came back.
async fn exchange(
    data: &[u8],
    peer: IpAddr,
    settings: &Arc<EntryPointSettings>,
    switcher: &Switcher,
) -> Vec<u8> {
    let local = SocketAddr::from(([127, 0, 0, 1], 80));
    let ctx = RequestContext {
        client_addr: SocketAddr::new(peer, 40000),
        local_addr: local,
        entrypoint: Arc::from(settings.name.as_str()),
        tls: false,
        peer_certificates: None,
        tls_session: None,
    };
    let (client, server) = tokio::io::duplex(16 * 1024);
    let conn = entrypoint::serve_plain(server, settings.clone(), switcher.clone(), ctx);
    let (mut rx, mut tx) = tokio::io::split(client);
    let send = async move {
        // The server may close before reading everything: not an error.
        let _ = tx.write_all(data).await;
        let _ = tx.shutdown().await;
    };
    let receive = async move {
        let mut out = Vec::new();
        let _ = rx.read_to_end(&mut out).await;
        out
    };
    let serve = conn;
    let run = async { tokio::join!(serve, send, receive).2 };
    // An hour of paused time passes only when every task waits: a hang.
    match tokio::time::timeout(Duration::from_secs(3600), run).await {
        Ok(out) => out,
        Err(_) => panic!("the exchange did not end (peer {peer})"),
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Checks the first HTTP/1 response of `out`, if any.
fn check_response(data: &[u8], out: &[u8]) {
    if out.is_empty() || data.starts_with(H2_PREFACE) {
        return;
    }
    let mut rest = out;
    // Interim answers (`100 Continue`) come before the response.
    for _ in 0..8 {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let len = match resp.parse(rest) {
            Ok(httparse::Status::Complete(len)) => len,
            other => panic!(
                "not an HTTP/1 response head ({other:?}): {:?}",
                String::from_utf8_lossy(out)
            ),
        };
        let code = resp.code.unwrap_or(0);
        if (100..200).contains(&code) && code != 101 {
            rest = &rest[len..];
            continue;
        }
        // Besides 4xx, Traefik (Go's server) refuses what it does not speak
        // with 501 (a transfer coding) and 505 (an HTTP version): no other
        // 5xx may come out of a request the handlers answer 200.
        assert!(
            (101..500).contains(&code) || code == 501 || code == 505,
            "status {code} for a request: {:?}",
            String::from_utf8_lossy(out)
        );
        return;
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    for (peer, settings) in &w.entrypoints {
        let out = w.rt.block_on(exchange(data, *peer, settings, &w.switcher));
        check_response(data, &out);
    }
});
