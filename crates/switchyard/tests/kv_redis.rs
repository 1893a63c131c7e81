//! `providers.redis`: a real `redis-server` (with keyspace notifications
//! off, as it starts: the provider turns them on), keys written with
//! `redis-cli` before and while Switchyard runs, the server stopped and
//! started again.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::{Duration, Instant};

use common::*;
use switchyard_testkit::RedisServer;

const WAIT: Duration = Duration::from_secs(10);

fn provider(redis: &RedisServer) -> String {
    format!("  redis:\n    endpoints: [\"{}\"]\n", redis.endpoint())
}

/// Writes the keys of a router `name` for `Host(name.test)` to `backend`.
fn set_route(redis: &RedisServer, name: &str, backend: &Backend) {
    let host_rule = format!("Host(`{name}.test`)");
    let url = backend.url();
    let keys = [
        (
            format!("traefik/http/routers/{name}/rule"),
            host_rule.as_str(),
        ),
        (format!("traefik/http/routers/{name}/service"), name),
        (
            format!("traefik/http/services/{name}/loadBalancer/servers/0/url"),
            url.as_str(),
        ),
    ];
    let mut args = vec!["MSET"];
    for (k, v) in &keys {
        args.push(k);
        args.push(v);
    }
    assert_eq!(redis.cli(&args).as_deref(), Some("OK"));
}

/// Waits until `host` is answered by `backend` (`None`: 404).
async fn wait_backend(p: &Proxy, host: &str, backend: Option<&str>) {
    let web = p.web;
    wait_until(
        &format!("{host} answered by {backend:?}"),
        WAIT,
        || async move {
            let r = get(web, host, "/").await.ok()?;
            let got = match r.status.as_u16() {
                404 => None,
                200 => r.header("x-backend").map(str::to_string),
                _ => return None,
            };
            (got.as_deref() == backend).then_some(())
        },
    )
    .await;
}

fn count(p: &Proxy, needle: &str) -> usize {
    p.sy.log().iter().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn keys_before_start_and_changes_while_running_are_routed() {
    let redis = RedisServer::start();
    assert_eq!(
        redis
            .cli(&["CONFIG", "GET", "notify-keyspace-events"])
            .as_deref(),
        Some("notify-keyspace-events"),
        "redis-server starts with keyspace notifications off"
    );
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    set_route(&redis, "one", &a);
    let p = Proxy::start("kv-redis-changes", "", &provider(&redis)).await;
    wait_backend(&p, "one.test", Some("a")).await;

    // Added while running.
    set_route(&redis, "two", &b);
    wait_backend(&p, "two.test", Some("b")).await;

    // Changed.
    let url = b.url();
    redis.cli(&[
        "SET",
        "traefik/http/services/one/loadBalancer/servers/0/url",
        &url,
    ]);
    wait_backend(&p, "one.test", Some("b")).await;

    // Deleted.
    redis.cli(&[
        "DEL",
        "traefik/http/routers/two/rule",
        "traefik/http/routers/two/service",
    ]);
    wait_backend(&p, "two.test", None).await;
    wait_backend(&p, "one.test", Some("b")).await;

    // The API shows the router under the provider's name.
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"one@redis"), "{names:?}");
}

#[tokio::test]
async fn a_malformed_key_is_an_error_on_its_element_only() {
    let redis = RedisServer::start();
    let a = Backend::start("a").await;
    set_route(&redis, "good", &a);
    set_route(&redis, "bad", &a);
    redis.cli(&["SET", "traefik/http/routers/bad/priority", "very-high"]);
    let p = Proxy::start("kv-redis-malformed", "", &provider(&redis)).await;
    wait_backend(&p, "good.test", Some("a")).await;
    wait_until("the error logged", WAIT, || async {
        p.sy.logged("http/routers/bad").then_some(())
    })
    .await;
    assert_eq!(
        get(p.web, "bad.test", "/").await.unwrap().status.as_u16(),
        404
    );

    // Fixed while running: routed.
    redis.cli(&["SET", "traefik/http/routers/bad/priority", "5"]);
    wait_backend(&p, "bad.test", Some("a")).await;
}

#[tokio::test]
async fn a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again() {
    let mut redis = RedisServer::start();
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    set_route(&redis, "one", &a);
    let p = Proxy::start("kv-redis-restart", "", &provider(&redis)).await;
    wait_backend(&p, "one.test", Some("a")).await;

    redis.stop();
    wait_until("the loss logged", WAIT, || async {
        p.sy.logged("KV store unreachable").then_some(())
    })
    .await;
    // Several reconnection attempts later, still serving, logged once.
    let until = Instant::now() + Duration::from_millis(1600);
    while Instant::now() < until {
        let r = get(p.web, "one.test", "/").await.unwrap();
        assert_eq!(r.status.as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&p, "KV store unreachable"), 1, "{:#?}", p.sy.log());

    // Back (empty: no persistence), then written to: read again.
    let redis = RedisServer::start_on(redis.port);
    wait_until("the return logged", Duration::from_secs(20), || async {
        p.sy.logged("KV store reachable again").then_some(())
    })
    .await;
    wait_backend(&p, "one.test", None).await;
    set_route(&redis, "two", &b);
    wait_backend(&p, "two.test", Some("b")).await;
}
