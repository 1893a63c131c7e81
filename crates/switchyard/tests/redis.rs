//! rateLimit with Redis: a real `redis-server` shared by two Switchyard
//! instances, and both failure modes when Redis goes away.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use common::*;
use switchyard_testkit::{RedisCluster, RedisServer};

fn limited(backend: &Backend, redis: &str, extra: &str) -> String {
    format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: app
      middlewares: [limit]
  middlewares:
    limit:
      rateLimit:
        average: 2
        period: 1m
        burst: 2
        redis:
          endpoints: ["{redis}"]
          dialTimeout: 200ms
          readTimeout: 200ms
{extra}
  services:
    app: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        backend.url()
    )
}

async fn statuses(p: &Proxy, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(get(p.web, "app.test", "/").await.unwrap().status.as_u16());
    }
    out
}

#[tokio::test]
async fn instances_share_buckets_in_redis() {
    let redis = RedisServer::start();
    let a = Backend::start("a").await;
    let config = limited(&a, &redis.endpoint(), "");
    let one = Proxy::start("redis-one", &config, "").await;
    let two = Proxy::start("redis-two", &config, "").await;
    one.wait_status("app.test", "/", 200).await;
    // One token of the burst is spent by the wait above; the second here.
    assert_eq!(statuses(&one, 1).await, [200]);
    // The other instance sees the same, empty, bucket.
    wait_until("two routed", Duration::from_secs(10), || async {
        let r = get(two.web, "app.test", "/").await.ok()?;
        (r.status != 404).then_some(())
    })
    .await;
    let r = get(two.web, "app.test", "/").await.unwrap();
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert_eq!(statuses(&one, 1).await, [429]);
    // Traefik's key and fields, so mixed fleets share buckets too.
    let keys = redis.cli(&["KEYS", "rate:*"]).unwrap();
    assert_eq!(keys, "rate:limit@file:127.0.0.1");
    let fields = redis.cli(&["HKEYS", "rate:limit@file:127.0.0.1"]).unwrap();
    assert_eq!(fields, "last\ntokens");
    let ttl: i64 = redis
        .cli(&["TTL", "rate:limit@file:127.0.0.1"])
        .unwrap()
        .parse()
        .unwrap();
    assert!(ttl > 0, "keys expire");
}

#[tokio::test]
async fn redis_down_fails_open_to_local_limits_by_default() {
    let mut redis = RedisServer::start();
    let a = Backend::start("a").await;
    let p = Proxy::start("redis-open", &limited(&a, &redis.endpoint(), ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    assert_eq!(statuses(&p, 2).await, [200, 429]);
    redis.stop();
    // Without Redis, this instance limits on its own: a fresh local
    // bucket lets the burst through, then refuses.
    assert_eq!(statuses(&p, 3).await, [200, 200, 429]);
    assert!(p.sy.logged("Redis unreachable"));
}

#[tokio::test]
async fn redis_down_fails_closed_when_asked() {
    let mut redis = RedisServer::start();
    let a = Backend::start("a").await;
    let p = Proxy::start(
        "redis-closed",
        &limited(&a, &redis.endpoint(), "          failOpen: false"),
        "",
    )
    .await;
    p.wait_status("app.test", "/", 200).await;
    redis.stop();
    let r = get(p.web, "app.test", "/").await.unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.body, "Could not insert/update bucket\n");
    // Redis back: limiting resumes (after the one-second rest).
    let redis = RedisServer::start_on(redis.port);
    wait_until("limiting resumed", Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (r.status == 200).then_some(())
    })
    .await;
    drop(redis);
}

#[tokio::test]
async fn redis_over_tls_with_a_client_certificate() {
    let redis = RedisServer::start_tls();
    let a = Backend::start("a").await;
    let fixture = |name: &str| {
        switchyard_testkit::tls::fixture_path(name)
            .display()
            .to_string()
    };
    let tls = format!(
        "          tls:\n            ca: \"{}\"\n            cert: \"{}\"\n            key: \"{}\"",
        fixture("ca.pem"),
        fixture("client.pem"),
        fixture("client.key")
    );
    let config = limited(&a, &redis.endpoint(), &tls);
    let p = Proxy::start("redis-tls", &config, "").await;
    p.wait_status("app.test", "/", 200).await;
    assert_eq!(statuses(&p, 2).await, [200, 429]);
    // The bucket is the one in Redis, not the in-memory fallback.
    let keys = redis.cli(&["KEYS", "rate:*"]).unwrap();
    assert_eq!(keys, "rate:limit@file:127.0.0.1");
    assert!(!p.sy.logged("Redis unreachable"), "{:#?}", p.sy.log());
}

/// Several endpoints are a Redis Cluster, as in Traefik (go-redis'
/// universal client): the bucket lands on the node owning its slot.
#[tokio::test]
async fn several_endpoints_are_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let a = Backend::start("a").await;
    let endpoints = cluster.endpoints().join("\", \"");
    let p = Proxy::start("redis-cluster", &limited(&a, &endpoints, ""), "").await;
    p.wait_status("app.test", "/", 200).await;
    assert_eq!(statuses(&p, 2).await, [200, 429]);
    let exists = cluster.cli(cluster.ports[0], &["EXISTS", "rate:limit@file:127.0.0.1"]);
    assert_eq!(exists.as_deref(), Some("1"));
    assert!(!p.sy.logged("Redis unreachable"), "{:#?}", p.sy.log());
}
