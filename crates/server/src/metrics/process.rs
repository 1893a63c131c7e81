//! The `process_*` families of Prometheus' Go client, read from `/proc`
//! (Linux). Traefik's `go_*` families describe Go's runtime and have no
//! meaning here: Switchyard has none of them.

use super::render::{Family, Kind};

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on
/// Linux's supported platforms).
const TICKS: f64 = 100.0;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields of `/proc/self/stat` after the command name.
fn stat_fields() -> Option<Vec<String>> {
    let stat = read("/proc/self/stat")?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// A soft limit of `/proc/self/limits` (`None`: unknown; `unlimited` is
/// `u64::MAX`, as Go reads it).
fn limit(name: &str) -> Option<f64> {
    let text = read("/proc/self/limits")?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse().ok()
}

/// Bytes received and sent over every interface of the process's network
/// namespace (`/proc/self/net/dev`), as the Go client reads them.
fn network() -> Option<(f64, f64)> {
    let text = read("/proc/self/net/dev")?;
    let (mut rx, mut tx) = (0f64, 0f64);
    for line in text.lines().skip(2) {
        let Some((_, counters)) = line.split_once(':') else {
            continue;
        };
        let c: Vec<&str> = counters.split_whitespace().collect();
        rx += c.first().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        tx += c.get(8).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    }
    Some((rx, tx))
}

fn boot_time() -> Option<f64> {
    read("/proc/stat")?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn gauge(name: &'static str, help: &'static str, kind: Kind, value: Option<f64>) -> Option<Family> {
    let mut f = Family::new(name, help, kind);
    f.sample(&[], value?);
    Some(f)
}

/// The families, those that cannot be read left out.
pub fn families() -> Vec<Family> {
    let stat = stat_fields().unwrap_or_default();
    // After the name: state is field 0, utime 11, stime 12, starttime 19,
    // vsize 20 (`proc(5)` numbers them from 1 with pid and comm first).
    let field = |i: usize| stat.get(i).and_then(|v| v.parse::<f64>().ok());
    let cpu = field(11).zip(field(12)).map(|(u, s)| (u + s) / TICKS);
    let start = field(19).zip(boot_time()).map(|(t, boot)| boot + t / TICKS);
    let rss = read("/proc/self/status").and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb * 1024.0)
    });
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as f64);
    let net = network();
    [
        gauge(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            Kind::Counter,
            cpu,
        ),
        gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
            limit("Max open files"),
        ),
        gauge(
            "process_network_receive_bytes_total",
            "Number of bytes received by the process over the network.",
            Kind::Counter,
            net.map(|n| n.0),
        ),
        gauge(
            "process_network_transmit_bytes_total",
            "Number of bytes sent by the process over the network.",
            Kind::Counter,
            net.map(|n| n.1),
        ),
        gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            Kind::Gauge,
            open_fds,
        ),
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Kind::Gauge,
            rss,
        ),
        gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Kind::Gauge,
            start,
        ),
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Kind::Gauge,
            field(20),
        ),
        gauge(
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            Kind::Gauge,
            limit("Max address space"),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}
