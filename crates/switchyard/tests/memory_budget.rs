//! The memory budget of many routers: the real binary started on a file of
//! 1,000 and on one of 5,000 `Host` routers, each with its own service,
//! grows its resident memory by a bounded amount per added router and
//! service, and routes every Host to its own service.
//!
//! What is asserted is growth per router, not a time: the two processes
//! differ only in the number of routers, so what the process needs anyway
//! (code, threads, buffers) cancels out.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{free_port, get, wait_until, Backend, Switchyard, TestDir, BIN};

const SMALL: usize = 1_000;
const LARGE: usize = 5_000;

/// Resident bytes each router with its own service may add. Switchyard
/// needed about 21 KiB before the routers' and services' runtime state
/// and the configuration's elements were made compact, about 7 KiB after
/// (debug build), 4.3-4.7 KiB once the configuration's routers and
/// services were shared between the file provider, the watcher and the
/// builder instead of copied, and about 6.3 KiB since the builder keeps
/// each router's built parts for reuse by the next build (6,261 bytes
/// measured); 4.3-4.8 KiB (three runs: 4,381-4,811 bytes) once the API's
/// JSON of routers and services was written on demand, decoded lists took
/// their exact length and the allocator gave freed memory back after a
/// build; 5.5 KiB leaves about 15 % for the allocator's moods.
const BUDGET_PER_ROUTER: u64 = 5 * 1024 + 512;

/// Routers `rN` with rule `Host(`hN.example`)`, each to its own service
/// `sN`, whose server is `backend/sN` with its path kept, so that the
/// backend sees which service forwarded.
fn dynamic(n: usize, backend: &str) -> String {
    let mut out = String::from("http:\n  routers:\n");
    for i in 0..n {
        out.push_str(&format!(
            "    r{i}:\n      rule: \"Host(`h{i}.example`)\"\n      service: s{i}\n"
        ));
    }
    out.push_str("  services:\n");
    for i in 0..n {
        out.push_str(&format!(
            "    s{i}:\n      loadBalancer:\n        servers:\n          - url: \"{backend}/s{i}\"\n            preservePath: true\n"
        ));
    }
    out
}

/// The resident memory of `pid`, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

/// Every Host `h0..hn` answers 200 from its own service `sN`.
async fn check_every_host(web: SocketAddr, n: usize) {
    const TASKS: usize = 8;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        tasks.push(tokio::spawn(async move {
            for i in (t..n).step_by(TASKS) {
                let host = format!("h{i}.example");
                let reply = get(web, &host, "/check")
                    .await
                    .unwrap_or_else(|e| panic!("{host}: {e}"));
                assert_eq!(reply.status.as_u16(), 200, "{host}: {}", reply.text());
                let path = reply.json()["path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                assert_eq!(
                    path,
                    format!("/s{i}/check"),
                    "{host} reached the wrong service"
                );
            }
        }));
    }
    for t in tasks {
        t.await.expect("routing check");
    }
}

/// Starts the binary on `n` routers, waits until the last Host routes,
/// checks every Host, and returns its resident memory then.
async fn resident_with(n: usize, backend: &Backend) -> u64 {
    let dir = TestDir::new(&format!("memory-budget-{n}"));
    dir.write("dynamic.yml", &dynamic(n, &backend.url()));
    let port = free_port();
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{port}\"\nlog:\n  level: ERROR\n\
             providers:\n  file:\n    filename: \"{}\"\n    watch: false\n",
            dir.join("dynamic.yml").display()
        ),
    );
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    let web: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let last = format!("h{}.example", n - 1);
    wait_until(
        &format!("{last} to be routed"),
        Duration::from_secs(60),
        || {
            let last = last.clone();
            async move {
                get(web, &last, "/")
                    .await
                    .ok()
                    .filter(|r| r.status.as_u16() == 200)
            }
        },
    )
    .await;
    check_every_host(web, n).await;
    rss_bytes(sy.pid())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_memory_grows_boundedly_per_router_and_service() {
    let backend = Backend::start("budget").await;
    let small = resident_with(SMALL, &backend).await;
    let large = resident_with(LARGE, &backend).await;
    let per_router = large.saturating_sub(small) / (LARGE - SMALL) as u64;
    eprintln!(
        "resident: {SMALL} routers {} KiB, {LARGE} routers {} KiB, {per_router} bytes per router and service",
        small / 1024,
        large / 1024
    );
    assert!(
        per_router <= BUDGET_PER_ROUTER,
        "each router with its service costs {per_router} bytes of resident memory (budget {BUDGET_PER_ROUTER})"
    );
}
