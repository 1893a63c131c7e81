//! Reloading from watched files: in-place writes, atomic renames, files added
//! and removed in a directory, broken files, SIGHUP, and a rewrite storm
//! under load that must fail no request.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test]
async fn in_place_rename_add_and_remove() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start("reload-basic", &host_route("one", "one.test", &a), "").await;
    p.wait_status("one.test", "/", 200).await;

    // In place: the router now points at b.
    p.rewrite(&host_route("one", "one.test", &b));
    wait_until(
        "in-place rewrite applied",
        Duration::from_secs(5),
        || async {
            get(p.web, "one.test", "/")
                .await
                .ok()
                .filter(|r| r.header("x-backend") == Some("b"))
        },
    )
    .await;

    // By rename over the file: back to a, with another host.
    p.dir
        .write_atomic("dynamic/config.yml", &host_route("one", "renamed.test", &a));
    let r = p.wait_status("renamed.test", "/", 200).await;
    assert_eq!(r.header("x-backend"), Some("a"));
    assert_eq!(
        get(p.web, "one.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // A second file in the directory adds a router; removing it takes it away.
    p.dir
        .write("dynamic/more/two.yml", &host_route("two", "two.test", &b));
    p.wait_status("two.test", "/", 200).await;
    p.dir.remove("dynamic/more/two.yml");
    p.wait_status("two.test", "/", 404).await;
    assert_eq!(
        get(p.web, "renamed.test", "/")
            .await
            .unwrap()
            .status
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_broken_file_keeps_the_last_good_configuration() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let p = Proxy::start("reload-broken", &host_route("one", "one.test", &a), "").await;
    p.wait_status("one.test", "/", 200).await;
    p.dir
        .write("dynamic/other.yml", &host_route("other", "other.test", &b));
    p.wait_status("other.test", "/", 200).await;

    p.rewrite(
        "http:\n  routers:\n    one:\n      rule: \"Host(`one.test`)\"\n     service: [broken\n",
    );
    wait_until(
        "the parse error is logged with file and line",
        Duration::from_secs(5),
        || async {
            p.sy.log()
                .iter()
                .any(|l| l.contains("config.yml") && l.contains(":5"))
                .then_some(())
        },
    )
    .await;
    // Both files keep serving: the broken one with its last good content.
    assert_eq!(
        get(p.web, "one.test", "/")
            .await
            .unwrap()
            .header("x-backend"),
        Some("a")
    );
    assert_eq!(
        get(p.web, "other.test", "/")
            .await
            .unwrap()
            .header("x-backend"),
        Some("b")
    );

    // Fixing the file applies the fix.
    p.rewrite(&host_route("one", "one.test", &b));
    wait_until("fix applied", Duration::from_secs(5), || async {
        get(p.web, "one.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
}

#[tokio::test]
async fn unchanged_services_keep_their_state_across_reloads() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let lb = format!(
        "  services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n          - url: \"{}\"\n",
        a.url(),
        b.url()
    );
    let v1 = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`x.test`)\"\n      service: svc\n{lb}"
    );
    let p = Proxy::start("reload-state", &v1, "").await;
    p.wait_status("x.test", "/", 200).await;
    // Move the round robin until the last pick was `a`.
    let mut before = None;
    for _ in 0..4 {
        before = get(p.web, "x.test", "/")
            .await
            .unwrap()
            .header("x-backend")
            .map(String::from);
        if before.as_deref() == Some("a") {
            break;
        }
    }
    assert_eq!(before.as_deref(), Some("a"));
    // A reload that only adds an unrelated router.
    let v2 = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`x.test`)\"\n      service: svc\n    extra:\n      rule: \"Host(`extra.test`)\"\n      service: svc\n{lb}"
    );
    p.rewrite(&v2);
    p.wait_status("extra.test", "/", 200).await;
    // That request went to `b`; a kept balancer then picks `a` again, where a
    // rebuilt one would have started over (a for that request, then b).
    let after = get(p.web, "x.test", "/")
        .await
        .unwrap()
        .header("x-backend")
        .map(String::from);
    assert_eq!(before, after, "balancer position survived the reload");
    assert!(
        p.sy.logged("reused_services=1"),
        "the builder reports the reuse"
    );
}

/// Starts Switchyard on the single file `dyn.yml` of `dir` (written with
/// `dynamic`), `static_extra` appended to the static configuration, and
/// waits until `one.test` is routed.
async fn single_file_proxy(
    dir: &TestDir,
    dynamic: &str,
    watch: bool,
    static_extra: &str,
) -> (Switchyard, std::net::SocketAddr) {
    let web = free_port();
    dir.write("dyn.yml", dynamic);
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\nproviders:\n  file:\n    filename: \"{}\"\n    watch: {watch}\n{static_extra}",
            dir.join("dyn.yml").display()
        ),
    );
    let sy = Switchyard::start(
        std::path::Path::new(BIN),
        dir.path(),
        &["--configFile=switchyard.yml"],
    );
    let addr: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    wait_until("first config", Duration::from_secs(10), || async {
        get(addr, "one.test", "/")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 200)
    })
    .await;
    (sy, addr)
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_rereads_the_files() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dir = TestDir::new("sighup");
    let (sy, addr) = single_file_proxy(&dir, &host_route("one", "one.test", &a), false, "").await;
    dir.write("dyn.yml", &host_route("one", "one.test", &b));
    // Not watched: nothing changes until SIGHUP.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(addr, "one.test", "/")
            .await
            .unwrap()
            .header("x-backend"),
        Some("a")
    );
    sy.signal("HUP");
    wait_until("SIGHUP re-read", Duration::from_secs(5), || async {
        get(addr, "one.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
}

/// A single watched file is read again for its own changes, not for those
/// of the other files in its folder (a busy log file beside it).
#[tokio::test]
async fn a_single_file_ignores_its_neighbours() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let dir = TestDir::new("single-neighbours");
    let (sy, addr) = single_file_proxy(
        &dir,
        &host_route("one", "one.test", &a),
        true,
        "log:\n  level: TRACE\n",
    )
    .await;
    let reads = || {
        sy.log()
            .iter()
            .filter(|l| l.contains("reading configuration files"))
            .count()
    };
    // Let the start-up's events settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_start = reads();
    assert!(at_start >= 1, "no read logged at start");
    for i in 0..10 {
        dir.write("access.log", &format!("line {i}\n"));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        reads(),
        at_start,
        "a neighbour's writes made the file be read again"
    );
    // Its own change is read (and the log line above does show reads).
    dir.write("dyn.yml", &host_route("one", "one.test", &b));
    wait_until("own change applied", Duration::from_secs(5), || async {
        get(addr, "one.test", "/")
            .await
            .ok()
            .filter(|r| r.header("x-backend") == Some("b"))
    })
    .await;
    assert!(reads() > at_start);
}

/// 200+ rewrites, half in place and half by rename, while clients keep
/// requesting: no request may fail, and every change shows within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_storm_under_load_fails_no_request() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let version = |i: usize| {
        let backend = if i.is_multiple_of(2) { &a } else { &b };
        format!(
            "http:\n  routers:\n    stable:\n      rule: \"Host(`stable.test`)\"\n      service: svc\n    marker:\n      rule: \"Host(`v{i}.test`)\"\n      service: svc\n  services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
            backend.url()
        )
    };
    let p = Proxy::start("storm", &version(0), "").await;
    p.wait_status("stable.test", "/", 200).await;

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed, web) = (stop.clone(), ok.clone(), failed.clone(), p.web);
        clients.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match get(web, "stable.test", "/").await {
                    Ok(r) if r.status.as_u16() == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        if failures.len() < 5 {
                            failures.push(format!("{:?}", other.map(|r| (r.status, r.text()))));
                        }
                    }
                }
            }
            failures
        }));
    }

    let mut worst = Duration::ZERO;
    for i in 1..=200 {
        let text = version(i);
        if i.is_multiple_of(2) {
            p.rewrite(&text);
        } else {
            p.dir.write_atomic("dynamic/config.yml", &text);
        }
        let started = Instant::now();
        let host = format!("v{i}.test");
        let web = p.web;
        wait_until(
            &format!("change {i} visible"),
            Duration::from_secs(1),
            || {
                let host = host.clone();
                async move {
                    get(web, &host, "/")
                        .await
                        .ok()
                        .filter(|r| r.status.as_u16() == 200)
                }
            },
        )
        .await;
        worst = worst.max(started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(c.await.unwrap());
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("storm: {ok} requests ok, {failed} failed, slowest change visible after {worst:?}");
    assert_eq!(failed, 0, "requests failed during reloads: {failures:?}");
    assert!(ok > 200, "the clients kept requesting ({ok})");
}
