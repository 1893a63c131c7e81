//! TCP routers on the real binary: plain TCP (client-first and
//! server-first), TLS passthrough and termination beside HTTP routers on
//! one entrypoint, services (round robin, weighted, PROXY protocol),
//! middlewares (ipAllowList, inFlightConn), and a reload that keeps an
//! established connection on its backend.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use switchyard_testkit::tls::{acceptor_with, TlsOptions};
use switchyard_testkit::tls_client::{cert_names, TlsClient};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

/// What a test backend does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Answers each read with `prefix` and the bytes read; closes after
    /// the client's half-close.
    Echo(&'static str),
    /// Says `banner` first, then echoes.
    Banner(&'static str),
    /// Echoes over TLS with the fixture certificate (CN localhost,
    /// DNS backend.test).
    TlsEcho(&'static str),
    /// A PostgreSQL server that accepts TLS: reads the SSLRequest, says
    /// `S`, then echoes over TLS.
    PostgresTls(&'static str),
}

/// PostgreSQL's SSLRequest.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 4, 210, 22, 47];

/// A backend on 127.0.0.1 that records the first bytes of each
/// connection.
struct TcpBackend {
    addr: SocketAddr,
    firsts: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TcpBackend {
    async fn start(behaviour: Behaviour) -> TcpBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let firsts = Arc::new(Mutex::new(Vec::new()));
        let seen = firsts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, seen) = (behaviour.clone(), seen.clone());
                tokio::spawn(async move {
                    match behaviour {
                        Behaviour::Echo(prefix) => echo(stream, prefix, seen).await,
                        Behaviour::Banner(banner) => {
                            let mut stream = stream;
                            if stream.write_all(banner.as_bytes()).await.is_ok() {
                                echo(stream, "", seen).await;
                            }
                        }
                        Behaviour::TlsEcho(prefix) => {
                            let acceptor = acceptor_with(&TlsOptions::default());
                            if let Ok(tls) = acceptor.accept(stream).await {
                                echo(tls, prefix, seen).await;
                            }
                        }
                        Behaviour::PostgresTls(prefix) => {
                            let mut stream = stream;
                            let mut request = [0u8; 8];
                            if stream.read_exact(&mut request).await.is_err()
                                || request != SSL_REQUEST
                                || stream.write_all(b"S").await.is_err()
                            {
                                return;
                            }
                            let acceptor = acceptor_with(&TlsOptions::default());
                            if let Ok(tls) = acceptor.accept(stream).await {
                                echo(tls, prefix, seen).await;
                            }
                        }
                    }
                });
            }
        });
        TcpBackend { addr, firsts }
    }

    fn firsts(&self) -> Vec<Vec<u8>> {
        self.firsts.lock().expect("lock").clone()
    }
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    prefix: &str,
    seen: Arc<Mutex<Vec<Vec<u8>>>>,
) {
    let mut buf = vec![0u8; 4096];
    let mut first = true;
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if first {
            seen.lock().expect("lock").push(buf[..n].to_vec());
            first = false;
        }
        let mut out = prefix.as_bytes().to_vec();
        out.extend_from_slice(&buf[..n]);
        if s.write_all(&out).await.is_err() {
            break;
        }
        let _ = s.flush().await;
    }
    let _ = s.shutdown().await;
}

/// Sends `msg` and reads what comes back within a second (at most 4 KiB).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, msg: &str) -> Option<String> {
    s.write_all(msg.as_bytes()).await.ok()?;
    s.flush().await.ok()?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// One exchange on a new connection to `addr`.
async fn once(addr: SocketAddr, msg: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    exchange(&mut s, msg).await
}

/// A TLS connection to `addr` with `sni`; the names of the certificate
/// the server presented.
async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    alpn: &[&str],
) -> Option<(tokio_rustls::client::TlsStream<TcpStream>, Vec<String>)> {
    let client = TlsClient {
        sni: Some(sni.to_string()),
        alpn: alpn.iter().map(|p| p.as_bytes().to_vec()).collect(),
        ..Default::default()
    };
    let config = client.client_config().ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.ok()?;
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).ok()?;
    let tls = tokio::time::timeout(Duration::from_secs(2), connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| cert_names(c))
        .unwrap_or_default();
    Some((tls, names))
}

/// Whether the connection is closed by the other side without a byte.
async fn closed_without_answer(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return true;
    };
    let _ = s.write_all(b"hello").await;
    let mut buf = [0u8; 16];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A static entrypoint named `name` on a free port (text for `web_extra`)
/// and its address.
fn entrypoint(name: &str) -> (String, SocketAddr) {
    let port = free_port();
    (
        format!("  {name}:\n    address: \"127.0.0.1:{port}\"\n"),
        format!("127.0.0.1:{port}").parse().expect("addr"),
    )
}

#[tokio::test]
async fn plain_tcp_client_first_and_server_first() {
    let echo_backend = TcpBackend::start(Behaviour::Echo("echo:")).await;
    let banner_backend = TcpBackend::start(Behaviour::Banner("220 ready\r\n")).await;
    let (ep_echo, echo_addr) = entrypoint("echo");
    let (ep_smtp, smtp_addr) = entrypoint("smtp");
    let dynamic = format!(
        "tcp:\n  routers:\n    echo:\n      entryPoints: [echo]\n      rule: HostSNI(`*`)\n      service: echo\n\
         \x20   smtp:\n      entryPoints: [smtp]\n      rule: HostSNI(`*`)\n      service: smtp\n\
         \x20 services:\n    echo:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n\
         \x20   smtp:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n",
        echo_backend.addr, banner_backend.addr
    );
    let _proxy = Proxy::start_with("tcp-plain", &dynamic, &format!("{ep_echo}{ep_smtp}"), "").await;

    let got = wait_until("the echo router", WAIT, || once(echo_addr, "ping")).await;
    assert_eq!(got, "echo:ping");

    // Server first: the banner arrives without the client sending a byte.
    let banner = wait_until("the banner", WAIT, || async {
        let mut s = TcpStream::connect(smtp_addr).await.ok()?;
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .await;
    assert_eq!(banner, "220 ready\r\n");

    // Half-close: the client's end of writing reaches the backend, whose
    // last answer and close come back.
    let mut s = TcpStream::connect(echo_addr).await.expect("connect");
    s.write_all(b"last words").await.expect("write");
    s.shutdown().await.expect("half-close");
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut all))
        .await
        .expect("the backend closes after the half-close")
        .expect("read");
    assert_eq!(String::from_utf8_lossy(&all), "echo:last words");
}

#[tokio::test]
async fn tls_passthrough_and_termination_beside_http() {
    let http_backend = Backend::start("http-web").await;
    let tls_backend = TcpBackend::start(Behaviour::TlsEcho("pass:")).await;
    let clear_backend = TcpBackend::start(Behaviour::Echo("clear:")).await;
    let dir = TestDir::new("tcp-tls-certs");
    let (cert, key) = switchyard_testkit::tls::write_cert(dir.path(), "db", &["db.test"]);
    let dynamic = format!(
        "http:\n  routers:\n    web:\n      entryPoints: [web]\n      rule: Host(`web.test`)\n      service: web\n\
         \x20 services:\n    web:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         tcp:\n  routers:\n    pass:\n      entryPoints: [web]\n      rule: HostSNI(`pass.test`)\n      service: pass\n      tls:\n        passthrough: true\n\
         \x20   db:\n      entryPoints: [web]\n      rule: HostSNI(`db.test`) && ALPN(`pg`)\n      service: clear\n      tls: {{}}\n\
         \x20 services:\n    pass:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n\
         \x20   clear:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n\
         tls:\n  certificates:\n    - certFile: \"{}\"\n      keyFile: \"{}\"\n",
        http_backend.url(),
        tls_backend.addr,
        clear_backend.addr,
        cert.display(),
        key.display()
    );
    let proxy = Proxy::start("tcp-tls", &dynamic, "").await;
    let web = proxy.web;

    // Passthrough: the backend's own certificate, and its bytes.
    // (Until the configuration applies, the HTTP side answers with its
    // default certificate.)
    let (mut tls, names) = wait_until("the passthrough router", WAIT, || async {
        tls_connect(web, "pass.test", &[])
            .await
            .filter(|(_, names)| names.iter().any(|n| n == "backend.test"))
    })
    .await;
    assert!(!names.iter().any(|n| n == "db.test"), "{names:?}");
    assert_eq!(
        exchange(&mut tls, "over tls").await.as_deref(),
        Some("pass:over tls")
    );

    // Termination: our certificate for db.test, clear bytes to the backend.
    // (The handshake negotiates ALPN with the TLS options' protocols, as
    // Traefik's does: a client offering only `pg` would be refused.)
    let (mut tls, names) = tls_connect(web, "db.test", &["pg", "http/1.1"])
        .await
        .expect("db.test");
    assert!(names.iter().any(|n| n == "db.test"), "{names:?}");
    assert_eq!(
        exchange(&mut tls, "select 1").await.as_deref(),
        Some("clear:select 1")
    );
    let firsts = clear_backend.firsts();
    assert_eq!(firsts.last().map(Vec::as_slice), Some(&b"select 1"[..]));

    // The ALPN the rule asks for is not offered: no TCP router, so the
    // HTTP side answers the handshake with Switchyard's certificate and
    // the backend sees nothing.
    let before = clear_backend.firsts().len();
    if let Some((mut tls, _)) = tls_connect(web, "db.test", &["http/1.1"]).await {
        let _ = exchange(&mut tls, "select 2").await;
    }
    assert_eq!(clear_backend.firsts().len(), before);

    // Plain HTTP on the same entrypoint still reaches the HTTP router.
    let reply = proxy.wait_status("web.test", "/", 200).await;
    assert!(reply.text().contains("http-web"), "{}", reply.text());
}

#[tokio::test]
async fn services_round_robin_weighted_and_proxy_protocol() {
    let a = TcpBackend::start(Behaviour::Echo("a:")).await;
    let b = TcpBackend::start(Behaviour::Echo("b:")).await;
    let pp1 = TcpBackend::start(Behaviour::Echo("pp1:")).await;
    let pp2 = TcpBackend::start(Behaviour::Echo("pp2:")).await;
    let (ep_rr, rr) = entrypoint("rr");
    let (ep_w, weighted) = entrypoint("weighted");
    let (ep_p1, v1) = entrypoint("v1");
    let (ep_p2, v2) = entrypoint("v2");
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   rr:\n      entryPoints: [rr]\n      rule: HostSNI(`*`)\n      service: both\n\
         \x20   weighted:\n      entryPoints: [weighted]\n      rule: HostSNI(`*`)\n      service: split\n\
         \x20   v1:\n      entryPoints: [v1]\n      rule: HostSNI(`*`)\n      service: pp1\n\
         \x20   v2:\n      entryPoints: [v2]\n      rule: HostSNI(`*`)\n      service: pp2\n\
         \x20 services:\n\
         \x20   both:\n      loadBalancer:\n        servers:\n          - address: \"{a}\"\n          - address: \"{b}\"\n\
         \x20   onlya:\n      loadBalancer:\n        servers:\n          - address: \"{a}\"\n\
         \x20   onlyb:\n      loadBalancer:\n        servers:\n          - address: \"{b}\"\n\
         \x20   split:\n      weighted:\n        services:\n          - name: onlya\n            weight: 3\n          - name: onlyb\n            weight: 1\n\
         \x20   pp1:\n      loadBalancer:\n        proxyProtocol:\n          version: 1\n        servers:\n          - address: \"{p1}\"\n\
         \x20   pp2:\n      loadBalancer:\n        proxyProtocol: {{}}\n        servers:\n          - address: \"{p2}\"\n",
        a = a.addr,
        b = b.addr,
        p1 = pp1.addr,
        p2 = pp2.addr
    );
    let _proxy = Proxy::start_with(
        "tcp-services",
        &dynamic,
        &format!("{ep_rr}{ep_w}{ep_p1}{ep_p2}"),
        "",
    )
    .await;
    wait_until("the routers", WAIT, || once(v2, "x")).await;

    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(once(rr, "x").await.expect("rr answer"));
    }
    got.sort();
    assert_eq!(
        got,
        ["a:x", "a:x", "b:x", "b:x"],
        "round robin over two servers"
    );

    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(once(weighted, "x").await.expect("weighted answer"));
    }
    let to_a = got.iter().filter(|g| g.starts_with("a:")).count();
    assert_eq!(to_a, 6, "weights 3 and 1 over 8 connections: {got:?}");

    // PROXY protocol headers come first, naming the client and the
    // entrypoint's address; the client's bytes follow.
    // (The service dials at once, so the header may reach the server
    // before the client's first bytes, and be read and echoed alone.)
    let answer = once(v1, "after header").await.expect("v1 answer");
    assert!(answer.starts_with("pp1:PROXY TCP4 "), "{answer}");
    let first = pp1.firsts().last().cloned().expect("pp1 saw a connection");
    let text = String::from_utf8_lossy(&first).into_owned();
    assert!(
        text.starts_with("PROXY TCP4 127.0.0.1 127.0.0.1 "),
        "{text:?}"
    );
    assert!(text.contains(&format!(" {}\r\n", v1.port())), "{text:?}");

    once(v2, "after header").await.expect("v2 answer");
    let first = pp2.firsts().last().cloned().expect("pp2 saw a connection");
    assert_eq!(&first[..12], b"\r\n\r\n\0\r\nQUIT\n", "v2 signature");
    assert_eq!(first[12], 0x21, "version 2, PROXY command");
    assert_eq!(first[13], 0x11, "TCP over IPv4");
    assert_eq!(&first[16..20], &[127, 0, 0, 1], "client address");
    assert_eq!(&first[20..24], &[127, 0, 0, 1], "entrypoint address");
    assert_eq!(&first[26..28], &v2.port().to_be_bytes(), "entrypoint port");
}

#[tokio::test]
async fn tls_to_servers_with_the_transport_settings() {
    let backend = TcpBackend::start(Behaviour::TlsEcho("tls:")).await;
    let (ep_ok, ok) = entrypoint("trusted");
    let (ep_bad, bad) = entrypoint("untrusted");
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   trusted:\n      entryPoints: [trusted]\n      rule: HostSNI(`*`)\n      service: trusted\n\
         \x20   untrusted:\n      entryPoints: [untrusted]\n      rule: HostSNI(`*`)\n      service: untrusted\n\
         \x20 services:\n\
         \x20   trusted:\n      loadBalancer:\n        serversTransport: ca\n        servers:\n          - address: \"{addr}\"\n            tls: true\n\
         \x20   untrusted:\n      loadBalancer:\n        servers:\n          - address: \"{addr}\"\n            tls: true\n\
         \x20 serversTransports:\n    ca:\n      tls:\n        serverName: backend.test\n        rootCAs: [\"{ca}\"]\n",
        addr = backend.addr,
        ca = switchyard_testkit::tls::ca_path().display()
    );
    let _proxy =
        Proxy::start_with("tcp-tls-servers", &dynamic, &format!("{ep_ok}{ep_bad}"), "").await;
    // The client speaks in clear; the server gets it over TLS, verified
    // with the transport's CA and server name.
    let got = wait_until("the TLS server", WAIT, || once(ok, "secret")).await;
    assert_eq!(got, "tls:secret");
    assert_eq!(
        backend.firsts().last().map(Vec::as_slice),
        Some(&b"secret"[..])
    );
    // Without the CA the server's certificate is not trusted: closed.
    assert!(closed_without_answer(bad).await);
}

#[tokio::test]
async fn static_tcp_servers_transport_is_the_transport_of_services_naming_none() {
    let backend = TcpBackend::start(Behaviour::TlsEcho("tls:")).await;
    let (ep_default, defaulted) = entrypoint("defaulted");
    let (ep_named, named) = entrypoint("named");
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   defaulted:\n      entryPoints: [defaulted]\n      rule: HostSNI(`*`)\n      service: defaulted\n\
         \x20   named:\n      entryPoints: [named]\n      rule: HostSNI(`*`)\n      service: named\n\
         \x20 services:\n\
         \x20   defaulted:\n      loadBalancer:\n        servers:\n          - address: \"{addr}\"\n            tls: true\n\
         \x20   named:\n      loadBalancer:\n        serversTransport: own\n        servers:\n          - address: \"{addr}\"\n            tls: true\n\
         \x20 serversTransports:\n    own:\n      dialTimeout: 5s\n",
        addr = backend.addr,
    );
    let static_transport =
        "tcpServersTransport:\n  dialTimeout: 5s\n  dialKeepAlive: 20s\n  tls:\n    insecureSkipVerify: true\n";
    let _proxy = Proxy::start_with(
        "tcp-static-transport",
        &dynamic,
        &format!("{ep_default}{ep_named}"),
        static_transport,
    )
    .await;
    // The static transport's `insecureSkipVerify` lets the service that
    // names no transport reach the server by its IP address...
    let got = wait_until("the TLS server", WAIT, || once(defaulted, "secret")).await;
    assert_eq!(got, "tls:secret");
    // ...but not the one that names its own transport (the certificate
    // names no IP address): closed, as in Traefik.
    assert!(closed_without_answer(named).await);
}

/// A PostgreSQL client asking for TLS on `addr`: the `S`, then a TLS
/// connection with `sni`, and one exchange in it.
async fn postgres_client(addr: SocketAddr, sni: &str, msg: &str) -> Option<(Vec<String>, String)> {
    let mut tcp = TcpStream::connect(addr).await.ok()?;
    tcp.write_all(&SSL_REQUEST).await.ok()?;
    let mut yes = [0u8; 1];
    tokio::time::timeout(Duration::from_secs(2), tcp.read_exact(&mut yes))
        .await
        .ok()?
        .ok()?;
    if yes[0] != b'S' {
        return None;
    }
    let config = TlsClient::default().client_config().ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(sni.to_string()).ok()?;
    let mut tls = tokio::time::timeout(Duration::from_secs(2), connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| cert_names(c))
        .unwrap_or_default();
    let answer = exchange(&mut tls, msg).await?;
    Some((names, answer))
}

#[tokio::test]
async fn postgres_starttls_terminated_and_passed_through() {
    let clear = TcpBackend::start(Behaviour::Echo("clear:")).await;
    let pg = TcpBackend::start(Behaviour::PostgresTls("pg:")).await;
    let (ep, addr) = entrypoint("pg");
    let dir = TestDir::new("tcp-pg-certs");
    let (cert, key) = switchyard_testkit::tls::write_cert(dir.path(), "db", &["db.test"]);
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   term:\n      entryPoints: [pg]\n      rule: HostSNI(`db.test`)\n      service: clear\n      tls: {{}}\n\
         \x20   pass:\n      entryPoints: [pg]\n      rule: HostSNI(`backend.test`)\n      service: pg\n      tls:\n        passthrough: true\n\
         \x20 services:\n\
         \x20   clear:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n\
         \x20   pg:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n\
         tls:\n  certificates:\n    - certFile: \"{}\"\n      keyFile: \"{}\"\n",
        clear.addr,
        pg.addr,
        cert.display(),
        key.display()
    );
    let _proxy = Proxy::start_with("tcp-postgres", &dynamic, &ep, "").await;
    // Terminated: our certificate, and the server gets the clear bytes
    // without the SSLRequest.
    let (names, answer) = wait_until("the terminating router", WAIT, || {
        postgres_client(addr, "db.test", "startup")
    })
    .await;
    assert!(names.iter().any(|n| n == "db.test"), "{names:?}");
    assert_eq!(answer, "clear:startup");
    assert_eq!(
        clear.firsts().last().map(Vec::as_slice),
        Some(&b"startup"[..])
    );
    // Passed through: the server is asked for TLS too, and its own
    // certificate reaches the client.
    let (names, answer) = postgres_client(addr, "backend.test", "startup")
        .await
        .expect("passthrough");
    assert!(names.iter().any(|n| n == "backend.test"), "{names:?}");
    assert_eq!(answer, "pg:startup");
}

#[tokio::test]
async fn health_checks_take_a_dead_server_out_of_rotation() {
    let alive = TcpBackend::start(Behaviour::Echo("alive:")).await;
    let dead: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let (ep, addr) = entrypoint("checked");
    let dynamic = format!(
        "tcp:\n  routers:\n    checked:\n      entryPoints: [checked]\n      rule: HostSNI(`*`)\n      service: pool\n\
         \x20 services:\n    pool:\n      loadBalancer:\n        healthCheck:\n          interval: 100ms\n          timeout: 500ms\n\
         \x20       servers:\n          - address: \"{}\"\n          - address: \"{dead}\"\n",
        alive.addr
    );
    let proxy = Proxy::start_with("tcp-health", &dynamic, &ep, "").await;
    let status = wait_until("the dead server to be marked down", WAIT, || async {
        let r = get(proxy.admin, "localhost", "/api/tcp/services/pool@file")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 200)?;
        let v = r.json();
        (v["serverStatus"][dead.to_string()] == "DOWN").then_some(v)
    })
    .await;
    assert_eq!(
        status["serverStatus"][alive.addr.to_string()],
        "UP",
        "{status}"
    );
    // Every new connection now reaches the live server.
    for i in 0..6 {
        assert_eq!(
            once(addr, "x").await.as_deref(),
            Some("alive:x"),
            "connection {i}"
        );
    }
}

#[tokio::test]
async fn tls_health_checks_and_a_health_checked_weighted_service() {
    let tls_server = TcpBackend::start(Behaviour::TlsEcho("tls:")).await;
    let dead: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let (ep, addr) = entrypoint("mixed");
    // `good` and `bad` also have routers that never match: the API shows
    // the server status of the services routers use.
    let check = "        healthCheck:\n          interval: 100ms\n          timeout: 500ms\n          send: ping\n          expect: \"tls:ping\"\n";
    let dynamic = format!(
        "tcp:\n  routers:\n    mixed:\n      entryPoints: [mixed]\n      rule: HostSNI(`*`)\n      service: mix\n\
         \x20   good:\n      entryPoints: [mixed]\n      rule: ClientIP(`192.0.2.1`)\n      service: good\n\
         \x20   bad:\n      entryPoints: [mixed]\n      rule: ClientIP(`192.0.2.1`)\n      service: bad\n\
         \x20 services:\n\
         \x20   mix:\n      weighted:\n        healthCheck: {{}}\n        services:\n          - {{name: good, weight: 1}}\n          - {{name: bad, weight: 3}}\n\
         \x20   good:\n      loadBalancer:\n        serversTransport: ca\n{check}        servers:\n          - address: \"{tls}\"\n            tls: true\n\
         \x20   bad:\n      loadBalancer:\n{check}        servers:\n          - address: \"{dead}\"\n\
         \x20   unchecked:\n      loadBalancer:\n        servers:\n          - address: \"{dead}\"\n\
         \x20   refused:\n      weighted:\n        healthCheck: {{}}\n        services:\n          - {{name: unchecked}}\n\
         \x20 serversTransports:\n    ca:\n      tls:\n        serverName: backend.test\n        rootCAs: [\"{ca}\"]\n",
        tls = tls_server.addr,
        ca = switchyard_testkit::tls::ca_path().display()
    );
    let proxy = Proxy::start_with("tcp-health-tls", &dynamic, &ep, "").await;
    let service = |name: &'static str| {
        let admin = proxy.admin;
        async move {
            let r = get(
                admin,
                "localhost",
                &format!("/api/tcp/services/{name}@file"),
            )
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 200)?;
            Some(r.json())
        }
    };
    // The TLS server answers the check only over TLS: UP proves the
    // check spoke TLS, with the transport's CA and server name.
    wait_until("the dead server marked down", WAIT, || async {
        let v = service("bad").await?;
        (v["serverStatus"][dead.to_string()] == "DOWN").then_some(())
    })
    .await;
    let good = service("good").await.expect("the good service");
    assert_eq!(
        good["serverStatus"][tls_server.addr.to_string()],
        "UP",
        "{good}"
    );
    // The check's `send` reaches the server inside TLS (the first check
    // of `good` may come after `bad` was marked down).
    wait_until("the check's `send` inside TLS", WAIT, || async {
        tls_server
            .firsts()
            .iter()
            .any(|f| f == b"ping")
            .then_some(())
    })
    .await;
    // `bad` (weight 3) has no server up: the weighted service with
    // healthCheck sends every connection to `good`.
    for i in 0..8 {
        assert_eq!(
            once(addr, "x").await.as_deref(),
            Some("tls:x"),
            "connection {i}"
        );
    }
    // A child without healthCheck cannot tell its status: refused, as
    // in Traefik.
    let refused = service("refused").await.expect("the refused service");
    assert_eq!(refused["status"], "disabled", "{refused}");
    assert!(
        refused["error"]
            .to_string()
            .contains("healthCheck not enabled"),
        "{refused}"
    );
}

#[tokio::test]
async fn middlewares_ip_allow_list_and_in_flight_conn() {
    let backend = TcpBackend::start(Behaviour::Echo("ok:")).await;
    let (ep_deny, deny) = entrypoint("deny");
    let (ep_allow, allow) = entrypoint("allow");
    let (ep_cap, cap) = entrypoint("cap");
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   deny:\n      entryPoints: [deny]\n      rule: HostSNI(`*`)\n      service: s\n      middlewares: [others]\n\
         \x20   allow:\n      entryPoints: [allow]\n      rule: HostSNI(`*`)\n      service: s\n      middlewares: [local]\n\
         \x20   cap:\n      entryPoints: [cap]\n      rule: HostSNI(`*`)\n      service: s\n      middlewares: [one]\n\
         \x20 middlewares:\n\
         \x20   others:\n      ipAllowList:\n        sourceRange: [10.0.0.0/8]\n\
         \x20   local:\n      ipAllowList:\n        sourceRange: [127.0.0.1/32]\n\
         \x20   one:\n      inFlightConn:\n        amount: 1\n\
         \x20 services:\n    s:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n",
        backend.addr
    );
    let _proxy = Proxy::start_with(
        "tcp-middlewares",
        &dynamic,
        &format!("{ep_deny}{ep_allow}{ep_cap}"),
        "",
    )
    .await;
    let got = wait_until("the allowed router", WAIT, || once(allow, "hi")).await;
    assert_eq!(got, "ok:hi");
    assert!(
        closed_without_answer(deny).await,
        "a client outside sourceRange is closed"
    );

    let mut held = TcpStream::connect(cap).await.expect("first");
    assert_eq!(exchange(&mut held, "one").await.as_deref(), Some("ok:one"));
    assert!(
        closed_without_answer(cap).await,
        "a second connection is over the amount"
    );
    drop(held);
    let again = wait_until("the slot to free", WAIT, || once(cap, "two")).await;
    assert_eq!(again, "ok:two");
}

#[tokio::test]
async fn reload_keeps_established_connections_on_their_backend() {
    let old = TcpBackend::start(Behaviour::Echo("old:")).await;
    let new = TcpBackend::start(Behaviour::Echo("new:")).await;
    let (ep, addr) = entrypoint("db");
    let config = |backend: SocketAddr| {
        format!(
            "tcp:\n  routers:\n    db:\n      entryPoints: [db]\n      rule: HostSNI(`*`)\n      service: db\n\
             \x20 services:\n    db:\n      loadBalancer:\n        servers:\n          - address: \"{backend}\"\n"
        )
    };
    let proxy = Proxy::start_with("tcp-reload", &config(old.addr), &ep, "").await;
    let got = wait_until("the first backend", WAIT, || once(addr, "a")).await;
    assert_eq!(got, "old:a");
    let mut established = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        exchange(&mut established, "b").await.as_deref(),
        Some("old:b")
    );

    proxy.rewrite(&config(new.addr));
    wait_until("new connections to follow the reload", WAIT, || async {
        once(addr, "c").await.filter(|g| g == "new:c")
    })
    .await;
    assert_eq!(
        exchange(&mut established, "d").await.as_deref(),
        Some("old:d"),
        "the established connection keeps its backend"
    );
}

#[tokio::test]
async fn bad_tcp_elements_are_left_out_and_the_rest_serves() {
    let backend = TcpBackend::start(Behaviour::Echo("ok:")).await;
    let (ep, addr) = entrypoint("db");
    // A router with a HostSNI but no TLS is refused, as Traefik refuses it;
    // one naming a missing service too; the good one serves.
    let dynamic = format!(
        "tcp:\n  routers:\n\
         \x20   nosni:\n      entryPoints: [db]\n      rule: HostSNI(`a.test`)\n      service: s\n      priority: 100\n\
         \x20   missing:\n      entryPoints: [db]\n      rule: ClientIP(`127.0.0.1`)\n      service: nothere\n      priority: 90\n\
         \x20   good:\n      entryPoints: [db]\n      rule: HostSNI(`*`)\n      service: s\n\
         \x20 services:\n    s:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n",
        backend.addr
    );
    let proxy = Proxy::start_with("tcp-errors", &dynamic, &ep, "").await;
    let got = wait_until("the good router", WAIT, || once(addr, "x")).await;
    assert_eq!(got, "ok:x");
    let logged = |needle: &'static str| {
        let sy = &proxy.sy;
        async move { sy.logged(needle).then_some(()) }
    };
    wait_until("the HostSNI error", WAIT, || {
        logged("has HostSNI matcher, but no TLS on router")
    })
    .await;
    wait_until("the missing service error", WAIT, || {
        logged("does not exist")
    })
    .await;
}
