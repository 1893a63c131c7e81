//! `h3-load ADDR HOST PATH CONNECTIONS SECONDS` — a closed-loop HTTP/3 load
//! for the benchmark (wrk cannot speak QUIC): CONNECTIONS QUIC connections,
//! each sending one GET after another for SECONDS; prints
//! `{"requests", "errors", "seconds", "rps", "p50_ms", "p99_ms"}` as JSON.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Buf;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let addr: SocketAddr = args.first()?.parse().ok()?;
        let host = args.get(1)?.clone();
        let path = args.get(2)?.clone();
        let connections: usize = args.get(3)?.parse().ok()?;
        let seconds: u64 = args.get(4)?.parse().ok()?;
        Some((addr, host, path, connections, seconds))
    })();
    let Some((addr, host, path, connections, seconds)) = parsed else {
        eprintln!("usage: h3-load ADDR HOST PATH CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    let endpoint = match switchyard_testkit::tls_client::TlsClient::default().quic_endpoint(addr) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("h3-load: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (endpoint, host, path) = (endpoint.clone(), host.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            one_connection(endpoint, addr, &host, &path, deadline).await
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0u64);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            latencies.extend(l);
            errors += e;
        }
    }
    let report =
        switchyard_testkit::load::report(latencies, errors, started.elapsed().as_secs_f64());
    println!("{report}");
}

/// Requests one after another on one connection until `deadline`: the
/// latencies (µs) and the number of failed requests.
async fn one_connection(
    endpoint: quinn::Endpoint,
    addr: SocketAddr,
    host: &str,
    path: &str,
    deadline: Instant,
) -> (Vec<u32>, u64) {
    let (mut latencies, mut errors) = (Vec::new(), 0);
    let Ok(connecting) = endpoint.connect(addr, host) else {
        return (latencies, 1);
    };
    let Ok(conn) = connecting.await else {
        return (latencies, 1);
    };
    let Ok((mut driver, mut sender)) = h3::client::new(h3_quinn::Connection::new(conn)).await
    else {
        return (latencies, 1);
    };
    let driving = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let uri = format!("https://{host}{path}");
    while Instant::now() < deadline {
        let start = Instant::now();
        let ok = async {
            let req = http::Request::get(uri.as_str()).body(()).ok()?;
            let mut stream = sender.send_request(req).await.ok()?;
            stream.finish().await.ok()?;
            let resp = stream.recv_response().await.ok()?;
            while let Some(mut chunk) = stream.recv_data().await.ok()? {
                chunk.advance(chunk.remaining());
            }
            Some(resp.status().is_success())
        }
        .await;
        match ok {
            Some(true) => latencies.push(switchyard_testkit::load::micros(start.elapsed())),
            Some(false) => errors += 1,
            // The connection broke: this one is done.
            None => {
                errors += 1;
                break;
            }
        }
    }
    driving.abort();
    (latencies, errors)
}
