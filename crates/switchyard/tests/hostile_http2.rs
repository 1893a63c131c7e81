//! Hostile HTTP/2 (h2c by prior knowledge), frames written by hand: each
//! attack ends in GOAWAY or a closed connection where the RFC says so,
//! costs the proxy bounded memory (its RSS, before and after, with
//! generous bounds), and a well-behaved client is served all along.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use switchyard_testkit::h2raw::*;

/// The resident memory of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// What one attack may grow the proxy's memory by.
const RSS_BOUND_KIB: u64 = 64 * 1024;

async fn proxy(name: &str, web_extra: &str) -> (Proxy, Backend) {
    let b = Backend::start("b").await;
    let p = Proxy::start_with(name, &host_route("r", "a.test", &b), web_extra, "").await;
    p.wait_status("a.test", "/", 200).await;
    (p, b)
}

/// A well-behaved HTTP/2 request, answered 200 while the attack runs. The
/// bound only catches a starved client (one never served): on a loaded
/// shared machine a debug build may take seconds, which is not a failure.
async fn well_behaved(p: &Proxy, what: &str) {
    let r = tokio::time::timeout(Duration::from_secs(20), h2c_get(p.web, "a.test", "/small"))
        .await
        .unwrap_or_else(|_| panic!("{what}: a well-behaved client was not served in 20 s"))
        .unwrap_or_else(|e| panic!("{what}: well-behaved request failed: {e}"));
    assert_eq!(r.status.as_u16(), 200, "{what}");
}

/// Runs `attack` on a new connection while a well-behaved client keeps
/// asking; returns how the attacker's connection ended.
async fn under_attack<F, Fut>(p: &Proxy, what: &str, attack: F) -> Outcome
where
    F: FnOnce(H2Conn) -> Fut,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    well_behaved(p, what).await;
    let before = rss_kib(p.sy.pid());
    let (conn, _) = H2Conn::connect(p.web, &[]).await;
    let attacker = tokio::spawn(attack(conn));
    // Served all along.
    while !attacker.is_finished() {
        well_behaved(p, what).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcome = attacker.await.unwrap();
    eprintln!(
        "{what}: GOAWAY {:?}, closed {}, {} frames back",
        outcome.goaway,
        outcome.closed,
        outcome.frames.len()
    );
    well_behaved(p, what).await;
    let after = rss_kib(p.sy.pid());
    eprintln!("{what}: RSS {before} KiB before, {after} KiB after");
    assert!(
        after < before + RSS_BOUND_KIB,
        "{what}: RSS grew from {before} KiB to {after} KiB"
    );
    outcome
}

#[tokio::test]
async fn rapid_reset_ends_in_goaway() {
    let (p, b) = proxy("h2-rapid-reset", "").await;
    let hits = b.hits();
    let outcome = under_attack(&p, "rapid reset", |mut c| async move {
        // Streams opened and cancelled at once, 100 to a write.
        let block = request_block("a.test", "/sleep/200");
        let mut id = 1u32;
        for _ in 0..200 {
            let mut batch = Vec::new();
            for _ in 0..100 {
                batch.extend(frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
                batch.extend(frame(RST_STREAM, 0, id, &CANCEL.to_be_bytes()));
                id += 2;
            }
            if c.send(&batch).await.is_err() {
                break;
            }
        }
        c.drain(Duration::from_secs(2), Duration::from_secs(10))
            .await
    })
    .await;
    assert_eq!(
        outcome.goaway,
        Some(ENHANCE_YOUR_CALM),
        "rapid reset: {outcome:?}"
    );
    assert!(
        b.hits() - hits < 20_000,
        "most cancelled streams never reached the backend"
    );
}

#[tokio::test]
async fn continuation_flood_ends_the_connection() {
    let (p, _b) = proxy("h2-continuation", "").await;
    let outcome = under_attack(&p, "CONTINUATION flood", |mut c| async move {
        let mut first = request_block("a.test", "/");
        hpack_literal(&mut first, "x-a", b"b");
        let mut batch = frame(HEADERS, END_STREAM, 1, &first);
        // Never END_HEADERS: 1 KiB of fields per frame, up to 64 MiB.
        let mut block = Vec::new();
        for i in 0..32 {
            hpack_literal(&mut block, &format!("x-flood-{i:02}"), &[b'v'; 16]);
        }
        let one = frame(CONTINUATION, 0, 1, &block);
        for _ in 0..64 {
            while batch.len() < 1 << 20 {
                batch.extend_from_slice(&one);
            }
            if c.send(&batch).await.is_err() {
                break;
            }
            batch.clear();
        }
        c.drain(Duration::from_secs(2), Duration::from_secs(10))
            .await
    })
    .await;
    assert!(
        outcome.goaway.is_some() || outcome.closed,
        "CONTINUATION flood: {outcome:?}"
    );
    assert_eq!(outcome.count(HEADERS), 0, "no request came of it");
}

#[tokio::test]
async fn hpack_bomb_is_refused_within_the_header_list_limit() {
    // The bomb asks for its own host, served by its own backend.
    let (a_backend, bomb) = (Backend::start("a").await, Backend::start("bomb").await);
    let dynamic = format!(
        "http:\n  routers:\n    a:\n      rule: \"Host(`a.test`)\"\n      service: a\n\
         \x20   bomb:\n      rule: \"Host(`bomb.test`)\"\n      service: bomb\n\
         \x20 services:\n    a:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   bomb:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        a_backend.url(),
        bomb.url()
    );
    let p = Proxy::start_with(
        "h2-hpack-bomb",
        &dynamic,
        "    http:\n      maxHeaderBytes: 65536\n",
        "",
    )
    .await;
    p.wait_status("bomb.test", "/", 200).await;
    let hits = bomb.hits();
    let outcome = under_attack(&p, "HPACK bomb", |mut c| async move {
        // One 4000-byte field into the dynamic table, then referenced
        // (index 62, one byte) 16000 times: 16 KB decoding to 64 MB.
        let mut block = request_block("bomb.test", "/");
        block.push(0x40); // literal with incremental indexing, new name
        hpack_int(&mut block, 0, 7, 5);
        block.extend_from_slice(b"x-big");
        hpack_int(&mut block, 0, 7, 4000);
        block.extend_from_slice(&[b'v'; 4000]);
        block.extend(std::iter::repeat_n(0xbe, 12_000));
        let _ = c
            .send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
            .await;
        c.drain(Duration::from_secs(2), Duration::from_secs(10))
            .await
    })
    .await;
    // The stream is refused (431, a reset) or the connection ended; no
    // request reached the backend.
    let refused = outcome.goaway.is_some()
        || outcome.closed
        || outcome.count(RST_STREAM) > 0
        || outcome
            .frames
            .iter()
            .any(|f| f.kind == HEADERS && f.status() != Some(200));
    let kinds: Vec<(u8, u32, Option<u32>)> = outcome
        .frames
        .iter()
        .map(|f| (f.kind, f.stream, f.error_code()))
        .collect();
    assert!(refused, "HPACK bomb: {kinds:?} closed={}", outcome.closed);
    assert_eq!(bomb.hits(), hits, "HPACK bomb reached the backend");
}

#[tokio::test]
async fn control_frame_floods_cost_bounded_memory() {
    let (p, _b) = proxy("h2-control-floods", "").await;
    // (description, one frame of the flood)
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "SETTINGS flood",
            frame(
                SETTINGS,
                0,
                0,
                &settings_payload(&[(SETTINGS_HEADER_TABLE_SIZE, 4096)]),
            ),
        ),
        ("PING flood", frame(PING, 0, 0, &[7; 8])),
        (
            "WINDOW_UPDATE flood",
            frame(WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes()),
        ),
    ];
    for (what, one) in cases {
        under_attack(&p, what, |mut c| async move {
            // 200k frames, never reading the answers: the server stops
            // reading (or closes) once its answers back up.
            let mut batch = Vec::new();
            while batch.len() < 256 * 1024 {
                batch.extend_from_slice(&one);
            }
            for _ in 0..32 {
                if c.send(&batch).await.is_err() {
                    break;
                }
            }
            c.drain(Duration::from_millis(500), Duration::from_secs(10))
                .await
        })
        .await;
    }
}

#[tokio::test]
async fn empty_data_frames_cost_bounded_memory() {
    let (p, _b) = proxy("h2-empty-frames", "").await;
    under_attack(&p, "empty DATA flood", |mut c| async move {
        let block = request_block("a.test", "/echo");
        let _ = c.send(&frame(HEADERS, END_HEADERS, 1, &block)).await;
        let one = frame(DATA, 0, 1, &[]);
        let mut batch = Vec::new();
        while batch.len() < 256 * 1024 {
            batch.extend_from_slice(&one);
        }
        for _ in 0..32 {
            if c.send(&batch).await.is_err() {
                break;
            }
        }
        let _ = c.send(&frame(DATA, END_STREAM, 1, &[])).await;
        c.drain(Duration::from_millis(500), Duration::from_secs(10))
            .await
    })
    .await;
}

#[tokio::test]
async fn a_window_kept_shut_holds_bounded_memory() {
    let (p, _b) = proxy("h2-zero-window", "").await;
    let before = rss_kib(p.sy.pid());
    // 100 streams of 1 MB responses, to a peer whose windows are 0.
    let (mut c, _) = H2Conn::connect(p.web, &[(SETTINGS_INITIAL_WINDOW_SIZE, 0)]).await;
    let block = request_block("a.test", "/bytes/1000000");
    let mut batch = Vec::new();
    for i in 0..100u32 {
        batch.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, &block));
    }
    c.send(&batch).await.unwrap();
    // Their heads come; no data can.
    let outcome = c
        .drain(Duration::from_secs(1), Duration::from_secs(10))
        .await;
    assert_eq!(outcome.count(DATA), 0, "nothing past a shut window");
    well_behaved(&p, "shut window").await;
    let after = rss_kib(p.sy.pid());
    assert!(
        after < before + RSS_BOUND_KIB,
        "a shut window: RSS grew from {before} KiB to {after} KiB"
    );
    drop(c);
}

/// `maxConcurrentStreams` is advertised, and a stream past it is refused
/// while the others are served.
#[tokio::test]
async fn max_concurrent_streams_limits_a_client() {
    let (p, _b) = proxy(
        "h2-max-streams",
        "    http2:\n      maxConcurrentStreams: 5\n",
    )
    .await;
    let (mut c, settings) = H2Conn::connect(p.web, &[]).await;
    assert!(
        settings
            .settings()
            .contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 5)),
        "{:?}",
        settings.settings()
    );
    let block = request_block("a.test", "/sleep/1000");
    let mut batch = Vec::new();
    for i in 0..6u32 {
        batch.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1 + 2 * i, &block));
    }
    c.send(&batch).await.unwrap();
    let outcome = c
        .drain(Duration::from_secs(3), Duration::from_secs(10))
        .await;
    let mut answered: Vec<u32> = outcome
        .frames
        .iter()
        .filter(|f| f.kind == HEADERS)
        .map(|f| f.stream)
        .collect();
    answered.sort_unstable();
    let reset: Vec<u32> = outcome
        .frames
        .iter()
        .filter(|f| f.kind == RST_STREAM)
        .map(|f| f.stream)
        .collect();
    assert_eq!(answered, [1, 3, 5, 7, 9], "the first five are served");
    assert_eq!(reset, [11], "the sixth stream is refused");

    // The default is Go's 250.
    let (p, _b) = proxy("h2-default-streams", "").await;
    let (_c, settings) = H2Conn::connect(p.web, &[]).await;
    assert!(
        settings
            .settings()
            .contains(&(SETTINGS_MAX_CONCURRENT_STREAMS, 250)),
        "{:?}",
        settings.settings()
    );
    assert!(
        settings
            .settings()
            .contains(&(SETTINGS_HEADER_TABLE_SIZE, 4096))
            || !settings
                .settings()
                .iter()
                .any(|(id, _)| *id == SETTINGS_HEADER_TABLE_SIZE),
        "the decoder table is HPACK's default 4096: {:?}",
        settings.settings()
    );
}

/// `maxDecoderHeaderTableSize` is the table size the server advertises.
#[tokio::test]
async fn decoder_table_size_is_advertised() {
    let (p, _b) = proxy(
        "h2-table-size",
        "    http2:\n      maxDecoderHeaderTableSize: 1024\n",
    )
    .await;
    let (_c, settings) = H2Conn::connect(p.web, &[]).await;
    assert!(
        settings
            .settings()
            .contains(&(SETTINGS_HEADER_TABLE_SIZE, 1024)),
        "{:?}",
        settings.settings()
    );
}
