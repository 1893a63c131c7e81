#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backups::{self, Backup, Names, Plan, Retention};
use super::{LogFile, Rotation, MEGABYTE};
use switchyard_testkit::TestDir;
use tracing_subscriber::fmt::MakeWriter;

const T0: i64 = 1_478_284_200_000; // 2016-11-04T18:30:00.000Z

#[test]
fn backup_names_follow_lumberjack() {
    // (log path, rotation time, backup path)
    let cases = [
        (
            "/var/log/foo/server.log",
            T0,
            "/var/log/foo/server-2016-11-04T18-30-00.000.log",
        ),
        ("traefik.log", 0, "./traefik-1970-01-01T00-00-00.000.log"),
        (
            "logs/a.b.json",
            1_709_251_199_999,
            "logs/a.b-2024-02-29T23-59-59.999.json",
        ),
        ("noext", 946_598_400_001, "./noext-1999-12-31T00-00-00.001"),
        (
            "/x/.log",
            4_107_585_600_000,
            "/x/-2100-03-01T12-00-00.000.log",
        ),
    ];
    for (path, ms, want) in cases {
        let got = Names::new(Path::new(path)).backup(ms);
        assert_eq!(got, PathBuf::from(want), "{path} at {ms}");
    }
}

#[test]
fn times_round_trip_through_names() {
    // Every 7919 minutes and a few milliseconds, over two centuries.
    let mut ms: i64 = -2_208_988_800_000; // 1900-01-01
    let end: i64 = 4_102_444_800_000; // 2100-01-01
    let mut n = 0;
    while ms < end && n < 100_000 {
        let text = backups::format_time(ms);
        assert_eq!(backups::parse_time(&text), Some(ms), "{text}");
        ms += 7919 * 60_000 + 13;
        n += 1;
    }
    assert!(n > 1000);
}

#[test]
fn only_exact_times_parse() {
    let cases = [
        ("2016-11-04T18-30-00.000", true, "the format itself"),
        ("2016-02-29T00-00-00.000", true, "leap day"),
        ("2015-02-29T00-00-00.000", false, "no leap day in 2015"),
        ("1900-02-29T00-00-00.000", false, "no leap day in 1900"),
        ("2000-02-29T00-00-00.000", true, "leap day in 2000"),
        ("2016-13-01T00-00-00.000", false, "month 13"),
        ("2016-00-01T00-00-00.000", false, "month 0"),
        ("2016-04-31T00-00-00.000", false, "April 31"),
        ("2016-11-04T24-00-00.000", false, "hour 24"),
        ("2016-11-04T18-60-00.000", false, "minute 60"),
        ("2016-11-04T18-30-60.000", false, "second 60"),
        ("2016-11-04T18-30-00.00", false, "two-digit milliseconds"),
        ("2016-11-04T18-30-00.0000", false, "four-digit milliseconds"),
        ("2016-11-04 18-30-00.000", false, "space for T"),
        ("2016-11-04T18:30:00.000", false, "colons"),
        ("+016-11-04T18-30-00.000", false, "sign"),
        ("2016-1a-04T18-30-00.000", false, "letter"),
    ];
    for (text, ok, why) in cases {
        assert_eq!(backups::parse_time(text).is_some(), ok, "{why}: {text}");
    }
}

#[test]
fn backups_are_recognised_by_name() {
    let names = Names::new(Path::new("/var/log/traefik.log"));
    let ts = "2016-11-04T18-30-00.000";
    let cases = [
        (format!("traefik-{ts}.log"), Some((T0, false))),
        (format!("traefik-{ts}.log.gz"), Some((T0, true))),
        ("traefik.log".to_string(), None),
        (format!("other-{ts}.log"), None),
        (format!("traefik-{ts}.txt"), None),
        (format!("traefik-{ts}.log.1"), None),
        (format!("traefik-{ts}x.log"), None),
        ("traefik-.log".to_string(), None),
    ];
    for (name, want) in cases {
        assert_eq!(names.parse(&name), want, "{name}");
    }
    let bare = Names::new(Path::new("app"));
    assert_eq!(bare.parse(&format!("app-{ts}")), Some((T0, false)));
    assert_eq!(bare.parse(&format!("app-{ts}.gz")), Some((T0, true)));
}

fn backup(name: &str, hours_before_t0: i64) -> Backup {
    Backup {
        name: name.to_string(),
        unix_ms: T0 - hours_before_t0 * 3_600_000,
        gz: name.ends_with(".gz"),
    }
}

#[test]
fn pruning_and_compression_plans() {
    let r = |max_backups, max_age_days, compress| Retention {
        max_backups,
        max_age_days,
        compress,
    };
    let files = || {
        vec![
            backup("l-c.log", 30),
            backup("l-a.log", 1),
            backup("l-d.log.gz", 100),
            backup("l-b.log.gz", 5),
        ]
    };
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases: Vec<(&str, Retention, Vec<Backup>, Plan)> = vec![
        (
            "nothing asked: nothing done",
            r(0, 0, false),
            files(),
            Plan::default(),
        ),
        (
            "keep the newest two",
            r(2, 0, false),
            files(),
            Plan {
                remove: names(&["l-c.log", "l-d.log.gz"]),
                compress: vec![],
            },
        ),
        (
            "a file and its .gz count once",
            r(1, 0, false),
            vec![
                backup("l-a.log.gz", 1),
                backup("l-a.log", 1),
                backup("l-b.log", 2),
            ],
            Plan {
                remove: names(&["l-b.log"]),
                compress: vec![],
            },
        ),
        (
            "older than two days",
            r(0, 2, false),
            files(),
            Plan {
                remove: names(&["l-d.log.gz"]),
                compress: vec![],
            },
        ),
        (
            "older than one day",
            r(0, 1, false),
            files(),
            Plan {
                remove: names(&["l-c.log", "l-d.log.gz"]),
                compress: vec![],
            },
        ),
        (
            "compress what is not yet",
            r(0, 0, true),
            files(),
            Plan {
                remove: vec![],
                compress: names(&["l-a.log", "l-c.log"]),
            },
        ),
        (
            "count first, then age, then compress the rest",
            r(3, 1, true),
            files(),
            Plan {
                remove: names(&["l-d.log.gz", "l-c.log"]),
                compress: names(&["l-a.log"]),
            },
        ),
    ];
    for (why, retention, files, want) in cases {
        assert_eq!(backups::plan(files, &retention, T0), want, "{why}");
    }
}

#[test]
fn rotation_settings_from_the_log_section() {
    use switchyard_config::static_config::Log;
    let log = |max_size, max_backups, max_age, compress| Log {
        max_size,
        max_backups,
        max_age,
        compress,
        ..Log::default()
    };
    let cases = [
        (log(0, 0, 0, false), 100 * MEGABYTE, Retention::default()),
        (
            log(1, 3, 7, true),
            MEGABYTE,
            Retention {
                max_backups: 3,
                max_age_days: 7,
                compress: true,
            },
        ),
        (log(-5, -1, -1, false), 100 * MEGABYTE, Retention::default()),
        (log(i64::MAX, 0, 0, false), u64::MAX, Retention::default()),
    ];
    for (log, max_bytes, retention) in cases {
        let got = Rotation::from_config(&log);
        assert_eq!(
            got,
            Rotation {
                max_bytes,
                retention
            },
            "{log:?}"
        );
    }
}

/// A clock that moves one second each time it is read.
fn ticking_clock() -> Arc<dyn Fn() -> i64 + Send + Sync> {
    let t = Arc::new(AtomicI64::new(T0));
    Arc::new(move || t.fetch_add(1000, Ordering::Relaxed))
}

fn write_line(log: &LogFile, line: &str) -> std::io::Result<()> {
    log.make_writer().write_all(line.as_bytes())
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Polls `check` (every 10 ms, up to 5 s) until it holds.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn rotation(max_bytes: u64, max_backups: usize, compress: bool) -> Rotation {
    Rotation {
        max_bytes,
        retention: Retention {
            max_backups,
            max_age_days: 0,
            compress,
        },
    }
}

#[test]
fn a_full_file_is_renamed_and_a_new_one_started() {
    let dir = TestDir::new("logfile-rotate");
    let path = dir.join("app.log");
    let log = LogFile::open_with_clock(&path, rotation(100, 0, false), ticking_clock()).unwrap();
    let lines: Vec<String> = (0..7)
        .map(|i| format!("{i:02} {}\n", "x".repeat(36)))
        .collect();
    for l in &lines {
        write_line(&log, l).unwrap();
    }
    // 40-byte lines, 100 bytes a file: two lines a file.
    let names = sorted_names(dir.path());
    assert_eq!(
        names,
        vec![
            "app-2016-11-04T18-30-00.000.log",
            "app-2016-11-04T18-30-01.000.log",
            "app-2016-11-04T18-30-02.000.log",
            "app.log",
        ]
    );
    let all: String = names
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
        .collect();
    assert_eq!(all, lines.concat(), "every line once, in order");
    for n in &names {
        assert!(std::fs::metadata(dir.join(n)).unwrap().len() <= 100, "{n}");
    }
}

#[test]
fn a_write_bigger_than_the_limit_is_refused() {
    let dir = TestDir::new("logfile-big");
    let path = dir.join("app.log");
    let log = LogFile::open_with_clock(&path, rotation(10, 0, false), ticking_clock()).unwrap();
    let err = write_line(&log, "eleven byte").unwrap_err();
    assert!(
        err.to_string().contains("exceeds maximum file size 10"),
        "{err}"
    );
    write_line(&log, "ten bytes\n").unwrap();
    assert_eq!(sorted_names(dir.path()), vec!["app.log"]);
}

#[test]
fn a_file_already_full_is_rotated_at_open_and_its_mode_kept() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("logfile-full");
    let path = dir.write("sub/app.log", &"o".repeat(100));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let log = LogFile::open_with_clock(&path, rotation(100, 0, false), ticking_clock()).unwrap();
    write_line(&log, "new\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    let backup = dir.join("sub/app-2016-11-04T18-30-00.000.log");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "o".repeat(100));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "the new file has the old one's mode");
}

#[test]
fn missing_directories_are_created() {
    let dir = TestDir::new("logfile-dirs");
    let path = dir.join("a/b/app.log");
    let log = LogFile::open(&path, rotation(100, 0, false)).unwrap();
    write_line(&log, "hello\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
}

#[test]
fn old_backups_beyond_max_backups_are_removed() {
    let dir = TestDir::new("logfile-prune");
    let path = dir.join("app.log");
    let log = LogFile::open_with_clock(&path, rotation(20, 2, false), ticking_clock()).unwrap();
    for i in 0..8 {
        write_line(&log, &format!("line {i:02} of eight\n")).unwrap();
    }
    // The last two rotations keep their backups; the mill runs behind.
    let want = vec![
        "app-2016-11-04T18-30-05.000.log".to_string(),
        "app-2016-11-04T18-30-06.000.log".to_string(),
        "app.log".to_string(),
    ];
    eventually("two backups left", || sorted_names(dir.path()) == want);
    assert_eq!(
        std::fs::read_to_string(dir.join(&want[1])).unwrap(),
        "line 06 of eight\n"
    );
}

#[test]
fn backups_are_gzipped_with_compress() {
    let dir = TestDir::new("logfile-gzip");
    let path = dir.join("app.log");
    let log = LogFile::open_with_clock(&path, rotation(20, 0, true), ticking_clock()).unwrap();
    for i in 0..3 {
        write_line(&log, &format!("line {i:02} of three\n")).unwrap();
    }
    let want = vec![
        "app-2016-11-04T18-30-00.000.log.gz".to_string(),
        "app-2016-11-04T18-30-01.000.log.gz".to_string(),
        "app.log".to_string(),
    ];
    eventually("two gzipped backups", || sorted_names(dir.path()) == want);
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dir.join(&want[1])).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "line 01 of three\n");
}

#[test]
fn reopen_follows_a_renamed_file() {
    let dir = TestDir::new("logfile-reopen");
    let path = dir.join("app.log");
    let log = LogFile::open(&path, rotation(MEGABYTE, 0, false)).unwrap();
    write_line(&log, "before\n").unwrap();
    std::fs::rename(&path, dir.join("app.log.1")).unwrap();
    write_line(&log, "still the old file\n").unwrap();
    log.reopen().unwrap();
    write_line(&log, "after\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("app.log.1")).unwrap(),
        "before\nstill the old file\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
}

#[test]
fn reopen_counts_what_others_wrote() {
    let dir = TestDir::new("logfile-reopen-size");
    let path = dir.join("app.log");
    let log = LogFile::open_with_clock(&path, rotation(100, 0, false), ticking_clock()).unwrap();
    write_line(&log, "mine\n").unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all("z".repeat(90).as_bytes())
        .unwrap();
    log.reopen().unwrap();
    write_line(&log, "rotates\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "rotates\n");
    assert_eq!(sorted_names(dir.path()).len(), 2);
}

#[test]
fn a_failed_reopen_keeps_the_file_it_had() {
    let dir = TestDir::new("logfile-reopen-fails");
    let path = dir.join("logs/app.log");
    let log = LogFile::open(&path, rotation(MEGABYTE, 0, false)).unwrap();
    write_line(&log, "one\n").unwrap();
    // The directory moves away and a plain file takes its name: nothing
    // can be opened at the path any more.
    std::fs::rename(dir.join("logs"), dir.join("moved")).unwrap();
    dir.write("logs", "not a directory");
    assert!(log.reopen().is_err());
    write_line(&log, "two\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("moved/app.log")).unwrap(),
        "one\ntwo\n"
    );
}
