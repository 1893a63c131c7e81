//! `tls-load ADDR HOST PATH CONNECTIONS SECONDS [SNI]` — a closed-loop load of new
//! TLS connections for the benchmark's handshake cases: CONNECTIONS
//! concurrent clients, each opening a connection (SNI: HOST, or SNI when
//! given; an IP address sends none), handshaking,
//! sending one `GET PATH` with `Connection: close` and reading the answer to
//! its end, again and again for SECONDS. Sessions are resumed with the
//! tickets servers send (each client its own), as browsers and wrk do; key shares are X25519 then
//! P-256, as wrk (OpenSSL 3.0) offers them. Prints
//! `{"requests", "resumed", "errors", "seconds", "rps", "p50_ms", "p99_ms"}`
//! as JSON (`resumed`: the good requests whose handshake resumed a session).
//!
//! It exists because wrk's OpenSSL 3.0 spends twice the proxy's CPU on each
//! handshake, so on a shared machine wrk, not the proxy, sets the pace.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let addr: SocketAddr = args.first()?.parse().ok()?;
        let host = args.get(1)?.clone();
        let path = args.get(2)?.clone();
        let connections: usize = args.get(3)?.parse().ok()?;
        let seconds: u64 = args.get(4)?.parse().ok()?;
        let sni = args.get(5).unwrap_or(&host).clone();
        Some((addr, host, path, connections, seconds, sni))
    })();
    let Some((addr, host, path, connections, seconds, sni)) = parsed else {
        eprintln!("usage: tls-load ADDR HOST PATH CONNECTIONS SECONDS [SNI]");
        std::process::exit(2);
    };
    let client = switchyard_testkit::tls_client::TlsClient {
        sni: Some(sni.clone()),
        key_shares: vec![rustls::NamedGroup::X25519, rustls::NamedGroup::secp256r1],
        ..Default::default()
    };
    let (config, name) = match client.client_config().and_then(|c| {
        let name = ServerName::try_from(sni.clone()).map_err(|e| e.to_string())?;
        Ok((c, name))
    }) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tls-load: {e}");
            std::process::exit(1);
        }
    };
    // Two threads, as the benchmark runs wrk with two.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tls-load: {e}");
            std::process::exit(1);
        }
    };
    let request: Arc<[u8]> =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .into_bytes()
            .into();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let (latencies, resumed, errors) = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            // Each client keeps its own sessions, as a browser tab or a wrk
            // connection does (one shared cache holds too few tickets per
            // server for this many clients at once).
            let mut config = config.clone();
            config.resumption = rustls::client::Resumption::in_memory_sessions(4);
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let (name, request) = (name.clone(), request.clone());
            tasks.push(tokio::spawn(async move {
                client_loop(connector, addr, name, &request, deadline).await
            }));
        }
        let (mut latencies, mut resumed, mut errors) = (Vec::new(), 0u64, 0u64);
        for t in tasks {
            if let Ok(run) = t.await {
                latencies.extend(run.latencies);
                resumed += run.resumed;
                errors += run.errors;
            }
        }
        (latencies, resumed, errors)
    });
    let mut report =
        switchyard_testkit::load::report(latencies, errors, started.elapsed().as_secs_f64());
    report["resumed"] = resumed.into();
    println!("{report}");
}

/// What one client saw.
#[derive(Default)]
struct Run {
    /// Of the good requests, in µs.
    latencies: Vec<u32>,
    /// Good requests whose handshake resumed a session.
    resumed: u64,
    errors: u64,
}

/// New connections one after another until `deadline`.
async fn client_loop(
    connector: tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: ServerName<'static>,
    request: &[u8],
    deadline: Instant,
) -> Run {
    let mut run = Run::default();
    let mut answer = Vec::with_capacity(1024);
    while Instant::now() < deadline {
        let start = Instant::now();
        answer.clear();
        let ok = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
            tcp.set_nodelay(true).ok()?;
            let mut tls = connector.connect(name.clone(), tcp).await.ok()?;
            let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            tls.write_all(request).await.ok()?;
            // The end of the answer is the server's close (with or without
            // close_notify).
            let _ = tls.read_to_end(&mut answer).await;
            Some((answer.starts_with(b"HTTP/1.1 2"), resumed))
        }
        .await;
        match ok {
            Some((true, resumed)) => {
                run.latencies
                    .push(switchyard_testkit::load::micros(start.elapsed()));
                run.resumed += u64::from(resumed);
            }
            _ => run.errors += 1,
        }
    }
    run
}
