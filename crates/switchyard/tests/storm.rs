//! Storms of changes: with no `providersThrottleDuration` written, every
//! change is applied (changes arriving during a build are coalesced into
//! the next one) and none is lost; with one written, a provider's burst is
//! coalesced as Traefik does it, and its intermediate states are never
//! served. In a watched directory, new, rewritten and removed files are
//! each seen.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// Switchyard reading `source` (`filename: ...` or `directory: ...`,
/// relative to its folder), with `throttle` written when given.
async fn start(
    name: &str,
    files: &[(&str, String)],
    source: &str,
    throttle: Option<&str>,
) -> (Switchyard, TestDir, SocketAddr) {
    let dir = TestDir::new(name);
    let (web, admin) = (free_port(), free_port());
    for (rel, text) in files {
        dir.write(rel, text);
    }
    let throttle = throttle
        .map(|t| format!("  providersThrottleDuration: {t}\n"))
        .unwrap_or_default();
    let static_yaml = format!(
        "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\n  traefik:\n    address: \"127.0.0.1:{admin}\"\n\
         ping: {{}}\nlog:\n  level: DEBUG\n\
         providers:\n{throttle}  file:\n    {}: \"{}\"\n    watch: true\n",
        source.split_once(' ').unwrap().0,
        dir.join(source.split_once(' ').unwrap().1).display()
    );
    dir.write("switchyard.yml", &static_yaml);
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    sy.wait_listening(format!("127.0.0.1:{admin}").parse().unwrap())
        .await;
    (sy, dir, format!("127.0.0.1:{web}").parse().unwrap())
}

/// Routers `h<i>.test` for each `i` in `hosts`, and `probe.test`, each
/// with its own service; `probe.test` goes to `probe`.
fn routes(
    hosts: impl Iterator<Item = usize> + Clone,
    backend: &Backend,
    probe: &Backend,
) -> String {
    let mut out = String::from("http:\n  routers:\n");
    out += "    probe:\n      rule: \"Host(`probe.test`)\"\n      service: probe\n";
    for i in hosts.clone() {
        out += &format!("    r{i}:\n      rule: \"Host(`h{i}.test`)\"\n      service: s{i}\n");
    }
    out += "  services:\n";
    out += &format!(
        "    probe:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        probe.url()
    );
    for i in hosts {
        out += &format!(
            "    s{i}:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
            backend.url()
        );
    }
    out
}

/// The backend that answers `host`, if any answers 200.
async fn backend_of(web: SocketAddr, host: &str) -> Option<String> {
    let r = get(web, host, "/").await.ok()?;
    (r.status.as_u16() == 200).then(|| r.header("x-backend").unwrap_or("").to_string())
}

/// Polls `hosts` until stopped; the ones it ever saw answer 200.
fn watch_hosts(
    web: SocketAddr,
    hosts: Vec<String>,
) -> (
    Arc<Mutex<BTreeSet<String>>>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let (stop_tx, mut stop) = tokio::sync::oneshot::channel();
    let record = seen.clone();
    let task = tokio::spawn(async move {
        // Bounded: stopped by the test, and at most 60 s in any case.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while stop.try_recv().is_err() && tokio::time::Instant::now() < deadline {
            for h in &hosts {
                if backend_of(web, h).await.is_some() {
                    record.lock().unwrap().insert(h.clone());
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (seen, stop_tx, task)
}

#[tokio::test]
async fn a_storm_of_rewrites_loses_no_change_and_the_last_state_wins() {
    let backend = Backend::start("backend").await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let (_sy, dir, web) = start(
        "storm-file",
        &[("dyn/routes.yml", routes(0..1, &backend, &a))],
        "filename dyn/routes.yml",
        None,
    )
    .await;
    wait_until("h0 routed", Duration::from_secs(10), || async move {
        backend_of(web, "h0.test").await
    })
    .await;
    // 50 rewrites, 100 ms apart, each adding a host; probe.test goes to
    // a and b in turn, b last.
    let hosts: Vec<String> = (1..=50).map(|i| format!("h{i}.test")).collect();
    let (seen, stop, poller) = watch_hosts(web, hosts.clone());
    for i in 1..=50 {
        let probe = if i % 2 == 0 { &b } else { &a };
        dir.write_atomic("dyn/routes.yml", &routes(0..=i, &backend, probe));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for h in &hosts {
        let h = h.clone();
        wait_until(&format!("{h} routed"), Duration::from_secs(20), || {
            let h = h.clone();
            async move { backend_of(web, &h).await }
        })
        .await;
    }
    wait_until(
        "the last state: probe.test to b",
        Duration::from_secs(20),
        || async move { backend_of(web, "probe.test").await.filter(|n| n == "b") },
    )
    .await;
    let _ = stop.send(());
    poller.await.unwrap();
    // Changes were applied while the storm went on, not only at its end:
    // the poller, which ran during it, saw hosts routed one after another.
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.len() > 1,
        "hosts seen routed while the storm went on: {seen:?}"
    );
}

#[tokio::test]
async fn a_written_throttle_coalesces_a_burst_and_never_serves_its_intermediate_states() {
    let backend = Backend::start("backend").await;
    let probe = Backend::start("probe").await;
    let (sy, dir, web) = start(
        "storm-throttle",
        &[("dyn/routes.yml", routes(0..1, &backend, &probe))],
        "filename dyn/routes.yml",
        Some("4s"),
    )
    .await;
    wait_until("h0 routed", Duration::from_secs(10), || async move {
        backend_of(web, "h0.test").await
    })
    .await;
    // One change: taken at once or at the end of the window the start
    // opened. Once it is routed, a new window of 4 s has begun.
    dir.write_atomic("dyn/routes.yml", &routes(1..2, &backend, &probe));
    wait_until("h1 routed", Duration::from_secs(20), || async move {
        backend_of(web, "h1.test").await
    })
    .await;
    // A burst well within that window: each state has one host of its own.
    let burst: Vec<String> = (2..=6).map(|i| format!("h{i}.test")).collect();
    let (seen, stop, poller) = watch_hosts(web, burst.clone());
    for i in 2..=6 {
        dir.write_atomic("dyn/routes.yml", &routes(i..i + 1, &backend, &probe));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_until("h6 routed", Duration::from_secs(20), || async move {
        backend_of(web, "h6.test").await
    })
    .await;
    let _ = stop.send(());
    poller.await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|h| h == "h6.test"),
        "only the burst's last state is served, never the ones between: {seen:?}"
    );
    assert!(backend_of(web, "h1.test").await.is_none(), "h1 is gone");
    drop(sy);
}

#[tokio::test]
async fn in_a_directory_new_rewritten_and_removed_files_are_each_seen() {
    let backend = Backend::start("backend").await;
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let one = |i: usize, to: &Backend| {
        routes(i..i + 1, &backend, to).replace("probe", &format!("probe{i}"))
    };
    let (_sy, dir, web) = start(
        "storm-dir",
        &[("dyn/f0.yml", one(0, &a))],
        "directory dyn",
        None,
    )
    .await;
    wait_until("h0 routed", Duration::from_secs(10), || async move {
        backend_of(web, "h0.test").await
    })
    .await;
    // 30 new files, 50 ms apart, each renamed into place from a hidden
    // temporary file; one in a new sub-folder.
    for i in 1..=30 {
        dir.write_atomic(&format!("dyn/f{i}.yml"), &one(i, &a));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dir.write("dyn/sub/g.yml", &one(31, &a));
    for i in 1..=31 {
        wait_until(
            &format!("h{i} routed"),
            Duration::from_secs(20),
            || async move { backend_of(web, &format!("h{i}.test")).await },
        )
        .await;
    }
    // A rewrite in place is seen, a removal too.
    dir.write("dyn/f5.yml", &one(5, &b));
    dir.remove("dyn/f7.yml");
    wait_until("f5 rewritten", Duration::from_secs(20), || async move {
        backend_of(web, "probe5.test").await.filter(|n| n == "b")
    })
    .await;
    wait_until("f7 removed", Duration::from_secs(20), || async move {
        get(web, "h7.test", "/")
            .await
            .ok()
            .filter(|r| r.status.as_u16() == 404)
    })
    .await;
    // The other files' routers are untouched.
    for i in [0, 6, 8, 30, 31] {
        assert!(
            backend_of(web, &format!("h{i}.test")).await.is_some(),
            "h{i}"
        );
    }
}
