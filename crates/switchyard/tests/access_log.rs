//! `accessLog` on the real binary: the JSON and common lines with their
//! fields, the filters, the field and header modes, 499 for a client that
//! leaves, the router's `observability.accessLogs`, `addInternals`, and
//! `SIGUSR1` reopening the file after a rename.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;
use serde_json::Value;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` has `n` lines, and returns them.
async fn wait_lines(path: &Path, n: usize) -> Vec<String> {
    wait_until(
        &format!("{n} lines in {}", path.display()),
        Duration::from_secs(10),
        || async {
            let lines: Vec<String> = read(path).lines().map(str::to_string).collect();
            (lines.len() >= n).then_some(lines)
        },
    )
    .await
}

/// Waits until a line of the file at `path` contains `needle`; returns it.
async fn wait_line(path: &Path, needle: &str) -> String {
    wait_until(
        &format!("{needle:?} in {}", path.display()),
        Duration::from_secs(10),
        || async {
            read(path)
                .lines()
                .find(|l| l.contains(needle))
                .map(str::to_string)
        },
    )
    .await
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// Two routers on one backend: `r` (Host a.test) and `quiet` (Host
/// q.test) with `observability.accessLogs: false`; `flaky` (Host f.test)
/// retries a server that refuses connections.
fn dynamic(b: &Backend) -> String {
    let dead = free_port();
    format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n\
         \x20   quiet:\n      rule: \"Host(`q.test`)\"\n      service: svc\n      observability:\n        accessLogs: false\n\
         \x20   flaky:\n      rule: \"Host(`f.test`)\"\n      service: dead\n      middlewares: [again]\n\
         \x20 middlewares:\n    again:\n      retry:\n        attempts: 2\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n\
         \x20   dead:\n      loadBalancer:\n        servers:\n          - url: \"http://127.0.0.1:{dead}\"\n",
        b.url()
    )
}

async fn start(name: &str, b: &Backend, access_log: &str) -> Proxy {
    let p = Proxy::start(name, &dynamic(b), &format!("accessLog:\n{access_log}")).await;
    p.wait_status("a.test", "/small", 200).await;
    p
}

#[tokio::test]
async fn json_lines_hold_traefiks_fields() {
    let b = Backend::start("b").await;
    let p = start(
        "alog-json",
        &b,
        "  filePath: access.log\n  format: json\n  fields:\n    headers:\n      defaultMode: keep\n      names:\n        Authorization: redact\n        X-Secret: drop\n",
    )
    .await;
    let path = p.dir.join("access.log");
    request(
        p.web,
        Method::POST,
        "a.test",
        "/echo?x=1",
        &[
            ("authorization", "Basic Ym9iOnB3"),
            ("x-secret", "s3cret"),
            ("user-agent", "ua/1"),
        ],
        Bytes::from_static(b"abcdef"),
    )
    .await
    .unwrap();
    let r = get(p.web, "nowhere.test", "/x").await.unwrap();
    assert_eq!(r.status.as_u16(), 404);

    let v = parse(&wait_line(&path, "/echo?x=1").await);
    let backend_addr = b.addr().to_string();
    let expect = [
        ("RequestMethod", Value::from("POST")),
        ("RequestPath", Value::from("/echo?x=1")),
        ("RequestProtocol", Value::from("HTTP/1.1")),
        ("RequestScheme", Value::from("http")),
        ("RequestAddr", Value::from("a.test")),
        ("RequestHost", Value::from("a.test")),
        ("RequestPort", Value::from("-")),
        ("RequestContentSize", Value::from(6)),
        ("ClientHost", Value::from("127.0.0.1")),
        ("ClientUsername", Value::from("-")),
        ("DownstreamStatus", Value::from(200)),
        ("DownstreamContentSize", Value::from(6)),
        ("OriginStatus", Value::from(200)),
        ("OriginContentSize", Value::from(6)),
        ("RouterName", Value::from("r@file")),
        ("ServiceName", Value::from("svc@file")),
        ("ServiceURL", Value::from(b.url())),
        ("ServiceAddr", Value::from(backend_addr)),
        ("RetryAttempts", Value::from(0)),
        ("entryPointName", Value::from("web")),
        ("level", Value::from("info")),
        ("msg", Value::from("")),
        ("request_Authorization", Value::from("REDACTED")),
        ("request_User-Agent", Value::from("ua/1")),
    ];
    for (k, want) in expect {
        assert_eq!(v[k], want, "{k} in {v}");
    }
    assert!(v.get("request_X-Secret").is_none(), "{v}");
    assert!(v.get("request_Host").is_none(), "Go keeps Host apart: {v}");
    assert!(v.get("GzipRatio").is_none(), "{v}");
    let client = v["ClientAddr"].as_str().unwrap();
    assert_eq!(
        client,
        format!("127.0.0.1:{}", v["ClientPort"].as_str().unwrap())
    );
    let duration = v["Duration"].as_u64().unwrap();
    let origin = v["OriginDuration"].as_u64().unwrap();
    assert!(duration >= origin && origin > 0, "{v}");
    assert_eq!(v["Overhead"].as_u64().unwrap(), duration - origin);
    assert_eq!(v["StartUTC"], v["StartLocal"]);
    assert!(v["StartUTC"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
    let count = v["RequestCount"].as_u64().unwrap();

    // No router: logged all the same, without a router or origin.
    let v = parse(&wait_line(&path, "nowhere.test").await);
    assert_eq!(v["DownstreamStatus"], 404, "{v}");
    assert_eq!(v["OriginStatus"], 0, "{v}");
    assert_eq!(v["RequestCount"].as_u64().unwrap(), count + 1, "{v}");
    assert!(v.get("RouterName").is_none(), "{v}");
    assert!(v.get("ServiceName").is_none(), "{v}");
    assert_eq!(v["downstream_X-Content-Type-Options"], "nosniff", "{v}");
}

#[tokio::test]
async fn common_lines_have_traefiks_layout() {
    let b = Backend::start("b").await;
    let p = start("alog-common", &b, "  filePath: access.log\n").await;
    let path = p.dir.join("access.log");
    get(p.web, "a.test", "/small?common").await.unwrap();
    let line = &wait_line(&path, "/small?common").await;
    // 127.0.0.1 - - [07/Dec/2026:05:52:47 +0000] "GET /small HTTP/1.1" 200 2 "-" "-" 3 "r@file" "http://…" 0ms
    let (head, rest) = line.split_once(" [").unwrap();
    assert_eq!(head, "127.0.0.1 - -");
    let (time, rest) = rest.split_once("] ").unwrap();
    assert_eq!(time.len(), "07/Dec/2026:05:52:47 +0000".len(), "{line}");
    assert!(time.ends_with(" +0000"), "{line}");
    let want = "\"GET /small?common HTTP/1.1\" 200 2 \"-\" \"-\" ";
    assert!(rest.starts_with(want), "{rest:?} vs {want:?}");
    let rest = rest.strip_prefix(want).unwrap();
    // The request count, then router and server.
    let (count, rest) = rest.split_once(' ').unwrap();
    assert!(count.parse::<u64>().unwrap() >= 1, "{line}");
    let want = format!("\"r@file\" \"{}\" ", b.url());
    assert!(rest.starts_with(&want), "{rest:?} vs {want:?}");
    let ms = rest.strip_prefix(&want).unwrap();
    assert!(
        ms.ends_with("ms") && ms.trim_end_matches("ms").parse::<u64>().is_ok(),
        "{line}"
    );
}

#[tokio::test]
async fn filters_keep_only_matching_lines() {
    let b = Backend::start("b").await;
    let p = start(
        "alog-filters",
        &b,
        "  filePath: access.log\n  format: json\n  filters:\n    statusCodes: [\"418\", \"500-502\"]\n    retryAttempts: true\n",
    )
    .await;
    let path = p.dir.join("access.log");
    get(p.web, "a.test", "/small").await.unwrap();
    get(p.web, "a.test", "/status/418").await.unwrap();
    get(p.web, "a.test", "/status/503").await.unwrap();
    // Retried (connection refused, twice): kept for its retry, and its
    // 502 is in the status list too.
    let r = get(p.web, "f.test", "/").await.unwrap();
    assert_eq!(r.status.as_u16(), 502);
    let lines = wait_lines(&path, 2).await;
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let first = parse(&lines[0]);
    assert_eq!(first["RequestPath"], "/status/418");
    let second = parse(&lines[1]);
    assert_eq!(second["RouterName"], "flaky@file");
    assert_eq!(second["RetryAttempts"], 1, "{second}");
    assert_eq!(second["DownstreamStatus"], 502, "{second}");
}

#[tokio::test]
async fn field_modes_drop_keep_and_redact() {
    let b = Backend::start("b").await;
    let p = start(
        "alog-fields",
        &b,
        "  filePath: access.log\n  format: json\n  fields:\n    defaultMode: drop\n    names:\n      RequestPath: keep\n      DownstreamStatus: keep\n    queryParameters:\n      defaultMode: drop\n    headers:\n      defaultMode: drop\n      names:\n        X-Token: redact\n        User-Agent: keep\n",
    )
    .await;
    let path = p.dir.join("access.log");
    request(
        p.web,
        Method::GET,
        "a.test",
        "/small?secret=1",
        &[("x-token", "t0k"), ("user-agent", "ua/2"), ("x-other", "o")],
        Bytes::new(),
    )
    .await
    .unwrap();
    let v = parse(&wait_line(&path, "ua/2").await);
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "DownstreamStatus",
            "RequestPath",
            "level",
            "msg",
            "request_User-Agent",
            "request_X-Token",
            "time"
        ],
        "{v}"
    );
    assert_eq!(v["RequestPath"], "/small", "query dropped: {v}");
    assert_eq!(v["request_X-Token"], "REDACTED");
    assert_eq!(v["request_User-Agent"], "ua/2");
}

#[tokio::test]
async fn a_client_that_leaves_is_logged_499() {
    let b = Backend::start("b").await;
    let p = start("alog-499", &b, "  filePath: access.log\n  format: json\n").await;
    let path = p.dir.join("access.log");
    let gave_up = tokio::time::timeout(
        Duration::from_millis(300),
        get(p.web, "a.test", "/sleep/3000"),
    )
    .await;
    assert!(gave_up.is_err(), "the backend answered too early");
    let v = parse(&wait_line(&path, "/sleep/3000").await);
    assert_eq!(v["DownstreamStatus"], 499, "{v}");
    assert_eq!(v["DownstreamContentSize"], 21, "{v}");
    assert_eq!(v["OriginStatus"], 499, "{v}");
    assert_eq!(v["ServiceName"], "svc@file", "{v}");
}

#[tokio::test]
async fn router_switch_and_internals() {
    let b = Backend::start("b").await;
    // Without addInternals: the API's requests are not logged, nor those
    // of a router with `observability.accessLogs: false`.
    let p = start(
        "alog-switch",
        &b,
        "  filePath: access.log\n  format: json\n",
    )
    .await;
    let path = p.dir.join("access.log");
    p.api("/api/version").await;
    get(p.web, "q.test", "/quiet").await.unwrap();
    get(p.web, "a.test", "/last").await.unwrap();
    // Lines are written in order: once the last is there, the others
    // would be too.
    wait_line(&path, "/last").await;
    let all = read(&path);
    assert!(!all.contains("/api/version"), "{all}");
    assert!(!all.contains("/quiet"), "{all}");

    let p = start(
        "alog-internals",
        &b,
        "  filePath: access.log\n  format: json\n  addInternals: true\n",
    )
    .await;
    let path = p.dir.join("access.log");
    p.api("/api/version").await;
    let v = parse(&wait_line(&path, "/api/version").await);
    assert_eq!(v["RequestPath"], "/api/version", "{v}");
    assert_eq!(v["RouterName"], "api@internal", "{v}");
    assert_eq!(v["entryPointName"], "traefik", "{v}");
}

/// `entryPoints.web.observability.accessLogs: false`: the default of the
/// entrypoint's routers and of its requests no router takes; a router
/// that says `accessLogs: true` is still logged.
#[tokio::test]
async fn entrypoint_switch_is_the_routers_default() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"Host(`a.test`)\"\n      service: svc\n\
         \x20   loud:\n      rule: \"Host(`l.test`)\"\n      service: svc\n      observability:\n        accessLogs: true\n\
         \x20 services:\n    svc:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        b.url()
    );
    let p = Proxy::start_with(
        "alog-ep-switch",
        &dynamic,
        "    observability:\n      accessLogs: false\n",
        "accessLog:\n  filePath: access.log\n  format: json\n",
    )
    .await;
    p.wait_status("a.test", "/small", 200).await;
    let path = p.dir.join("access.log");
    get(p.web, "a.test", "/default-off").await.unwrap();
    get(p.web, "nowhere.test", "/unrouted").await.unwrap();
    get(p.web, "l.test", "/router-on").await.unwrap();
    wait_line(&path, "/router-on").await;
    let all = read(&path);
    assert!(!all.contains("/default-off"), "{all}");
    assert!(!all.contains("/unrouted"), "{all}");
    assert!(!all.contains("/small"), "{all}");
}

/// Lines still queued when the process is told to stop are written
/// before it exits.
#[tokio::test]
async fn queued_lines_are_written_at_shutdown() {
    let b = Backend::start("b").await;
    let mut p = start(
        "alog-shutdown",
        &b,
        "  filePath: access.log\n  format: common\n",
    )
    .await;
    let path = p.dir.join("access.log");
    wait_lines(&path, 1).await;
    for i in 0..40 {
        get(p.web, "a.test", &format!("/before-stop/{i}"))
            .await
            .unwrap();
    }
    p.sy.signal("TERM");
    assert!(
        p.sy.wait_exit(Duration::from_secs(20)).is_some(),
        "it stops"
    );
    let all = read(&path);
    for i in 0..40 {
        assert!(
            all.contains(&format!("/before-stop/{i} ")),
            "line {i} lost: {all}"
        );
    }
}

#[tokio::test]
async fn sigusr1_reopens_the_file_after_a_rename() {
    let b = Backend::start("b").await;
    let p = start(
        "alog-reopen",
        &b,
        "  filePath: logs/access.log\n  format: json\n",
    )
    .await;
    let path = p.dir.join("logs/access.log");
    wait_lines(&path, 1).await;
    let moved = p.dir.join("logs/access.log.1");
    std::fs::rename(&path, &moved).unwrap();
    get(p.web, "a.test", "/to-old").await.unwrap();
    wait_line(&moved, "/to-old").await;
    p.sy.signal("USR1");
    wait_until("the file reopened", Duration::from_secs(10), || async {
        path.exists().then_some(())
    })
    .await;
    get(p.web, "a.test", "/to-new").await.unwrap();
    let lines = wait_lines(&path, 1).await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(parse(&lines[0])["RequestPath"], "/to-new");
    let old = read(&moved);
    assert!(old.contains("/to-old") && !old.contains("/to-new"), "{old}");
}
