//! `log.filePath` under an outside rotator (`SIGUSR1` reopens the file) and
//! with Traefik's own rotation (`log.maxSize`, `maxBackups`, `compress`), on
//! the real binary.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;

const MEGABYTE: usize = 1024 * 1024;

/// Starts switchyard logging at INFO to `out.log` in `dir`, routing
/// `host` to `b`; `log_extra` is added to the `log` section (YAML, indented
/// by 2).
async fn start_logging(
    dir: &TestDir,
    b: &Backend,
    host: &str,
    log_extra: &str,
) -> (Switchyard, std::net::SocketAddr) {
    let web = free_port();
    dir.write("dyn.yml", &host_route("r", host, b));
    dir.write(
        "switchyard.yml",
        &format!(
            "entryPoints:\n  web:\n    address: \"127.0.0.1:{web}\"\nlog:\n  level: INFO\n  filePath: out.log\n{log_extra}providers:\n  file:\n    filename: dyn.yml\n"
        ),
    );
    let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    wait_file_line(&dir.join("out.log"), "waiting for signals").await;
    wait_routed(addr, host).await;
    (sy, addr)
}

async fn wait_routed(addr: std::net::SocketAddr, host: &str) {
    wait_until(
        &format!("{host} routed"),
        Duration::from_secs(10),
        || async move {
            get(addr, host, "/")
                .await
                .ok()
                .filter(|r| r.status.as_u16() == 200)
        },
    )
    .await;
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` has a line containing `needle`.
async fn wait_file_line(path: &Path, needle: &str) {
    wait_until(
        &format!("{needle:?} in {}", path.display()),
        Duration::from_secs(10),
        || async { read(path).contains(needle).then_some(()) },
    )
    .await;
}

/// The rotated backups of `out.log` in `dir`, sorted.
fn backups(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out-"))
        .collect();
    v.sort();
    v
}

/// Appends `n` bytes of filler lines to `path`.
fn append_filler(path: &Path, n: usize) {
    let line = format!("{}\n", "FILLER".repeat(16));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut left = n;
    while left >= line.len() {
        f.write_all(line.as_bytes()).unwrap();
        left -= line.len();
    }
    f.write_all("F".repeat(left).as_bytes()).unwrap();
}

#[tokio::test]
async fn sigusr1_reopens_a_renamed_log_file() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("usr1");
    let (sy, web) = start_logging(&dir, &b, "usr1.test", "").await;
    get(web, "usr1.test", "/").await.unwrap();
    let log = dir.join("out.log");
    let moved = dir.join("out.log.1");
    std::fs::rename(&log, &moved).unwrap();
    sy.signal("USR1");
    wait_file_line(&log, "SIGUSR1: log files closed and reopened").await;
    // Lines after the signal go to the new file only.
    sy.signal("HUP");
    wait_file_line(&log, "SIGHUP: re-reading").await;
    let old = read(&moved);
    assert!(old.contains("waiting for signals"), "{old}");
    assert!(
        !old.contains("SIGUSR1: log files") && !old.contains("SIGHUP: re-reading"),
        "{old}"
    );
    let r = get(web, "usr1.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 200, "still serving");
}

#[tokio::test]
async fn sigusr1_without_a_log_file_does_no_harm() {
    let b = Backend::start("b").await;
    let dir = TestDir::new("usr1-stdout");
    let web = free_port();
    dir.write("dyn.yml", &host_route("r", "stdout.test", &b));
    let sy = Switchyard::start(
        Path::new(BIN),
        dir.path(),
        &[
            &format!("--entryPoints.web.address=127.0.0.1:{web}"),
            "--providers.file.filename=dyn.yml",
            "--log.level=INFO",
        ],
    );
    wait_until("signal handlers", Duration::from_secs(10), || async {
        sy.logged("waiting for signals").then_some(())
    })
    .await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    wait_routed(addr, "stdout.test").await;
    sy.signal("USR1");
    wait_until("SIGUSR1 handled", Duration::from_secs(10), || async {
        sy.logged("SIGUSR1: log files closed and reopened")
            .then_some(())
    })
    .await;
    let r = get(addr, "stdout.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 200, "still serving");
}

fn gunzip(path: &PathBuf) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// maxSize 1 (MB): a log file filled to just under 1 MB is rotated by the
/// next line; refilled and reopened, it is rotated again and the older
/// backup pruned (maxBackups 1); the one left is gzipped when `compress`.
#[tokio::test]
async fn max_size_rotates_and_max_backups_prunes() {
    for compress in [true, false] {
        let b = Backend::start("b").await;
        let dir = TestDir::new(&format!("rotate-{compress}"));
        let log = dir.join("out.log");
        append_filler(&log, MEGABYTE - 10);
        let extra = format!("  maxSize: 1\n  maxBackups: 1\n  compress: {compress}\n");
        let (sy, web) = start_logging(&dir, &b, "rotate.test", &extra).await;
        let first = wait_until("a first backup", Duration::from_secs(10), || async {
            let v = backups(dir.path());
            (v.len() == 1 && v[0].ends_with(if compress { ".log.gz" } else { ".log" }))
                .then(|| v[0].clone())
        })
        .await;
        let current = read(&log);
        assert!(!current.contains("FILLER"), "the filler was rotated away");
        assert!(current.contains("waiting for signals"), "{current}");

        // Someone else fills the file; reopened, it is rotated at once.
        append_filler(&log, MEGABYTE);
        sy.signal("USR1");
        wait_file_line(&log, "SIGUSR1: log files closed").await;
        let second = wait_until(
            "the older backup pruned",
            Duration::from_secs(10),
            || async {
                let v = backups(dir.path());
                (v.len() == 1 && v[0] != first).then(|| v[0].clone())
            },
        )
        .await;
        let text = if compress {
            assert!(second.ends_with(".log.gz"), "{second}");
            gunzip(&dir.join(&second))
        } else {
            assert!(second.ends_with(".log"), "{second}");
            read(&dir.join(&second))
        };
        assert!(
            text.contains("waiting for signals") && text.contains("FILLER"),
            "compress {compress}"
        );
        assert!(!read(&log).contains("FILLER"));
        // The name is lumberjack's: out-YYYY-MM-DDTHH-MM-SS.mmm.log[.gz]
        let stamp = second
            .trim_start_matches("out-")
            .split(".log")
            .next()
            .unwrap();
        assert_eq!(stamp.len(), 23, "{second}");
        assert_eq!(&stamp[10..11], "T", "{second}");
        let r = get(web, "rotate.test", "/").await.unwrap();
        assert_eq!(r.status.as_u16(), 200, "still serving");
    }
}
