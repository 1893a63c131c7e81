//! The UDP benchmark's two ends, on 127.0.0.1:
//!
//! - `udp-load echo ADDR` — a backend answering each datagram with itself,
//!   until killed;
//! - `udp-load ADDR CLIENTS SECONDS [SIZE]` — a closed loop: CLIENTS
//!   clients, each on its own socket (so each its own session in a proxy),
//!   sending a SIZE-byte datagram (64 by default) and waiting for its
//!   answer (a datagram not answered within 1 s counts as lost), again and
//!   again for SECONDS. Prints `{"datagrams", "lost", "seconds", "rate",
//!   "p50_us", "p99_us"}` as JSON (`datagrams`: answered round trips).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn echo(addr: SocketAddr) -> std::io::Result<()> {
    let socket = std::net::UdpSocket::bind(addr)?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = socket.recv_from(&mut buf)?;
        socket.send_to(&buf[..n], from)?;
    }
}

async fn client(to: SocketAddr, until: Instant, size: usize) -> (Vec<u32>, u64) {
    let mut latencies = Vec::new();
    let mut lost = 0u64;
    let Ok(socket) = tokio::net::UdpSocket::bind("127.0.0.1:0").await else {
        return (latencies, 1);
    };
    if socket.connect(to).await.is_err() {
        return (latencies, 1);
    }
    let payload = vec![b'x'; size];
    let mut buf = vec![0u8; 65_535];
    while Instant::now() < until {
        let start = Instant::now();
        if socket.send(&payload).await.is_err() {
            lost += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
            Ok(Ok(_)) => {
                let us = start.elapsed().as_micros();
                latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
            }
            _ => lost += 1,
        }
    }
    (latencies, lost)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("echo") {
        let Some(addr) = args.get(1).and_then(|a| a.parse().ok()) else {
            eprintln!("usage: udp-load echo ADDR");
            std::process::exit(2);
        };
        if let Err(e) = echo(addr) {
            eprintln!("udp-load echo: {e}");
            std::process::exit(1);
        }
        return;
    }
    let parsed = (|| {
        let addr: SocketAddr = args.first()?.parse().ok()?;
        let clients: usize = args.get(1)?.parse().ok()?;
        let seconds: u64 = args.get(2)?.parse().ok()?;
        let size: usize = match args.get(3) {
            Some(s) => s.parse().ok()?,
            None => 64,
        };
        Some((addr, clients, seconds, size))
    })();
    let Some((addr, clients, seconds, size)) = parsed else {
        eprintln!("usage: udp-load ADDR CLIENTS SECONDS [SIZE] | udp-load echo ADDR");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("udp-load: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let results = runtime.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(client(addr, until, size)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(r) = t.await {
                all.push(r);
            }
        }
        all
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies: Vec<u32> = results
        .iter()
        .flat_map(|(l, _)| l.iter().copied())
        .collect();
    let lost: u64 = results.iter().map(|(_, l)| l).sum();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(i).copied().unwrap_or(0)
    };
    println!(
        "{}",
        serde_json::json!({
            "datagrams": latencies.len(),
            "lost": lost,
            "seconds": elapsed,
            "rate": latencies.len() as f64 / elapsed,
            "p50_us": at(0.5),
            "p99_us": at(0.99),
        })
    );
}
