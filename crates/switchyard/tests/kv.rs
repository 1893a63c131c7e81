//! The KV store providers against real servers: `redis-server` (which
//! starts with keyspace notifications off: the provider turns them on) and
//! `etcd`, ZooKeeper, and the testkit's stand-in for Consul's KV API. Keys are written before and while Switchyard runs, the server is
//! stopped and started again; each scenario runs on each store.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::{Duration, Instant};

use common::*;
use switchyard_testkit::{ConsulDouble, EtcdServer, RedisSentinel, RedisServer, ZooKeeperServer};

const WAIT: Duration = Duration::from_secs(10);

/// A store the tests write to.
trait Kv {
    /// The provider's name and its static configuration (under `providers`).
    fn provider(&self) -> (&'static str, String);
    fn put_all(&self, pairs: &[(String, String)]);
    fn delete(&self, key: &str);
    fn stop(&mut self);
    /// Starts it again on the same port; true when it kept its keys.
    fn restart(&mut self) -> bool;
}

struct Redis(RedisServer);

/// A Redis speaking only TLS, which wants a client certificate.
struct RedisTls(Redis);

impl Kv for RedisTls {
    fn provider(&self) -> (&'static str, String) {
        let fixture = |name: &str| {
            switchyard_testkit::tls::fixture_path(name)
                .display()
                .to_string()
        };
        let (name, yaml) = self.0.provider();
        let tls = format!(
            "    tls:\n      ca: \"{}\"\n      cert: \"{}\"\n      key: \"{}\"\n",
            fixture("ca.pem"),
            fixture("client.pem"),
            fixture("client.key")
        );
        (name, yaml + &tls)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        self.0.put_all(pairs);
    }
    fn delete(&self, key: &str) {
        self.0.delete(key);
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        unimplemented!("not used over TLS")
    }
}

/// A Redis found through a Sentinel.
struct RedisViaSentinel(Redis, RedisSentinel);

impl Kv for RedisViaSentinel {
    fn provider(&self) -> (&'static str, String) {
        let yaml = format!(
            "  redis:\n    endpoints: [\"{}\"]\n    sentinel:\n      masterName: mymaster\n",
            self.1.endpoint()
        );
        ("redis", yaml)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        self.0.put_all(pairs);
    }
    fn delete(&self, key: &str) {
        self.0.delete(key);
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        unimplemented!("not used through a sentinel")
    }
}

impl Kv for Redis {
    fn provider(&self) -> (&'static str, String) {
        let yaml = format!("  redis:\n    endpoints: [\"{}\"]\n", self.0.endpoint());
        ("redis", yaml)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        let mut args = vec!["MSET"];
        for (k, v) in pairs {
            args.push(k);
            args.push(v);
        }
        assert_eq!(self.0.cli(&args).as_deref(), Some("OK"));
    }
    fn delete(&self, key: &str) {
        self.0.cli(&["DEL", key]).unwrap();
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        self.0 = RedisServer::start_on(self.0.port);
        false
    }
}

struct Etcd(EtcdServer);

impl Kv for Etcd {
    fn provider(&self) -> (&'static str, String) {
        let yaml = format!("  etcd:\n    endpoints: [\"{}\"]\n", self.0.endpoint());
        ("etcd", yaml)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        for (k, v) in pairs {
            self.0.put(k, v);
        }
    }
    fn delete(&self, key: &str) {
        self.0.delete(key);
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        self.0.restart();
        true
    }
}

struct Zk(ZooKeeperServer);

impl Kv for Zk {
    fn provider(&self) -> (&'static str, String) {
        let yaml = format!("  zooKeeper:\n    endpoints: [\"{}\"]\n", self.0.endpoint());
        ("zookeeper", yaml)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        for (k, v) in pairs {
            self.0.put(k, v);
        }
    }
    fn delete(&self, key: &str) {
        self.0.delete(key);
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        self.0.restart();
        true
    }
}

struct Consul(ConsulDouble);

impl Kv for Consul {
    fn provider(&self) -> (&'static str, String) {
        let yaml = format!("  consul:\n    endpoints: [\"{}\"]\n", self.0.endpoint());
        ("consul", yaml)
    }
    fn put_all(&self, pairs: &[(String, String)]) {
        for (k, v) in pairs {
            self.0.put(k, v);
        }
    }
    fn delete(&self, key: &str) {
        self.0.delete(key);
    }
    fn stop(&mut self) {
        self.0.stop();
    }
    fn restart(&mut self) -> bool {
        self.0.restart();
        true
    }
}

fn put(kv: &impl Kv, key: &str, value: &str) {
    kv.put_all(&[(key.to_string(), value.to_string())]);
}

/// Writes the keys of a router `name` for `Host(name.test)` to `backend`.
fn set_route(kv: &impl Kv, name: &str, backend: &Backend) {
    kv.put_all(&[
        (
            format!("traefik/http/routers/{name}/rule"),
            format!("Host(`{name}.test`)"),
        ),
        (format!("traefik/http/routers/{name}/service"), name.into()),
        (
            format!("traefik/http/services/{name}/loadBalancer/servers/0/url"),
            backend.url(),
        ),
    ]);
}

async fn start(kv: &impl Kv, test: &str) -> Proxy {
    let (name, yaml) = kv.provider();
    Proxy::start(&format!("kv-{name}-{test}"), "", &yaml).await
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

async fn keys_before_start_and_changes_while_running_are_routed(kv: impl Kv) {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    set_route(&kv, "one", &a);
    let p = start(&kv, "changes").await;
    wait_backend(&p, "one.test", Some("a")).await;

    // Added while running.
    set_route(&kv, "two", &b);
    wait_backend(&p, "two.test", Some("b")).await;

    // Changed.
    put(
        &kv,
        "traefik/http/services/one/loadBalancer/servers/0/url",
        &b.url(),
    );
    wait_backend(&p, "one.test", Some("b")).await;

    // Deleted.
    kv.delete("traefik/http/routers/two/rule");
    kv.delete("traefik/http/routers/two/service");
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
    let want = format!("one@{}", kv.provider().0);
    assert!(names.contains(&want.as_str()), "{names:?}");
}

async fn a_malformed_key_is_an_error_on_its_element_only(kv: impl Kv) {
    let a = Backend::start("a").await;
    set_route(&kv, "good", &a);
    set_route(&kv, "bad", &a);
    put(&kv, "traefik/http/routers/bad/priority", "very-high");
    let p = start(&kv, "malformed").await;
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
    put(&kv, "traefik/http/routers/bad/priority", "5");
    wait_backend(&p, "bad.test", Some("a")).await;
}

async fn a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again(
    mut kv: impl Kv,
) {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    set_route(&kv, "one", &a);
    let p = start(&kv, "restart").await;
    wait_backend(&p, "one.test", Some("a")).await;

    kv.stop();
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

    // Back, then written to: read again.
    let kept = kv.restart();
    wait_until("the return logged", Duration::from_secs(20), || async {
        p.sy.logged("KV store reachable again").then_some(())
    })
    .await;
    set_route(&kv, "two", &b);
    wait_backend(&p, "two.test", Some("b")).await;
    // What the store holds now is what routes (Redis here keeps nothing).
    wait_backend(&p, "one.test", kept.then_some("a")).await;
}

#[tokio::test]
async fn redis_keys_before_start_and_changes_while_running_are_routed() {
    let redis = RedisServer::start();
    assert_eq!(
        redis
            .cli(&["CONFIG", "GET", "notify-keyspace-events"])
            .as_deref(),
        Some("notify-keyspace-events"),
        "redis-server starts with keyspace notifications off"
    );
    keys_before_start_and_changes_while_running_are_routed(Redis(redis)).await;
}

#[tokio::test]
async fn redis_over_tls_with_a_client_certificate() {
    let redis = RedisTls(Redis(RedisServer::start_tls()));
    keys_before_start_and_changes_while_running_are_routed(redis).await;
}

#[tokio::test]
async fn redis_through_a_sentinel() {
    let master = RedisServer::start();
    let sentinel = RedisSentinel::start(&master, "mymaster");
    keys_before_start_and_changes_while_running_are_routed(RedisViaSentinel(
        Redis(master),
        sentinel,
    ))
    .await;
}

#[tokio::test]
async fn redis_a_malformed_key_is_an_error_on_its_element_only() {
    a_malformed_key_is_an_error_on_its_element_only(Redis(RedisServer::start())).await;
}

#[tokio::test]
async fn redis_stopped_and_restarted() {
    a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again(Redis(
        RedisServer::start(),
    ))
    .await;
}

#[tokio::test]
async fn etcd_keys_before_start_and_changes_while_running_are_routed() {
    keys_before_start_and_changes_while_running_are_routed(Etcd(EtcdServer::start())).await;
}

#[tokio::test]
async fn etcd_a_malformed_key_is_an_error_on_its_element_only() {
    a_malformed_key_is_an_error_on_its_element_only(Etcd(EtcdServer::start())).await;
}

#[tokio::test]
async fn etcd_stopped_and_restarted() {
    a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again(Etcd(
        EtcdServer::start(),
    ))
    .await;
}

#[tokio::test]
async fn zookeeper_keys_before_start_and_changes_while_running_are_routed() {
    keys_before_start_and_changes_while_running_are_routed(Zk(ZooKeeperServer::start())).await;
}

#[tokio::test]
async fn zookeeper_a_malformed_key_is_an_error_on_its_element_only() {
    a_malformed_key_is_an_error_on_its_element_only(Zk(ZooKeeperServer::start())).await;
}

#[tokio::test]
async fn zookeeper_stopped_and_restarted() {
    a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again(Zk(
        ZooKeeperServer::start(),
    ))
    .await;
}

#[tokio::test]
async fn consul_keys_before_start_and_changes_while_running_are_routed() {
    keys_before_start_and_changes_while_running_are_routed(Consul(ConsulDouble::start())).await;
}

#[tokio::test]
async fn consul_a_malformed_key_is_an_error_on_its_element_only() {
    a_malformed_key_is_an_error_on_its_element_only(Consul(ConsulDouble::start())).await;
}

#[tokio::test]
async fn consul_stopped_and_restarted() {
    a_stopped_store_keeps_the_last_configuration_and_a_restarted_one_is_read_again(Consul(
        ConsulDouble::start(),
    ))
    .await;
}

/// With `namespaces`, one provider per namespace (`consul-<ns>`), each
/// reading its own keys, with the ACL token.
#[tokio::test]
async fn consul_namespaces_and_token() {
    let consul = ConsulDouble::start_on(free_port(), Some("s3cret"));
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    for (ns, name, backend) in [("team-a", "one", &a), ("team-b", "two", &b)] {
        consul.put_in(
            ns,
            &format!("traefik/http/routers/{name}/rule"),
            &format!("Host(`{name}.test`)"),
        );
        consul.put_in(ns, &format!("traefik/http/routers/{name}/service"), name);
        consul.put_in(
            ns,
            &format!("traefik/http/services/{name}/loadBalancer/servers/0/url"),
            &backend.url(),
        );
    }
    let yaml = format!(
        "  consul:\n    endpoints: [\"{}\"]\n    token: s3cret\n    namespaces: [team-a, team-b]\n",
        consul.endpoint()
    );
    let p = Proxy::start("kv-consul-namespaces", "", &yaml).await;
    wait_backend(&p, "one.test", Some("a")).await;
    wait_backend(&p, "two.test", Some("b")).await;
    let routers = p.api("/api/http/routers").await;
    let names: Vec<&str> = routers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(names.contains(&"one@consul-team-a"), "{names:?}");
    assert!(names.contains(&"two@consul-team-b"), "{names:?}");
    // A change in one namespace is routed.
    consul.put_in(
        "team-b",
        "traefik/http/services/two/loadBalancer/servers/0/url",
        &a.url(),
    );
    wait_backend(&p, "two.test", Some("a")).await;
}

#[tokio::test]
async fn consul_a_wrong_token_is_logged() {
    let consul = ConsulDouble::start_on(free_port(), Some("s3cret"));
    let yaml = format!(
        "  consul:\n    endpoints: [\"{}\"]\n    token: wrong\n",
        consul.endpoint()
    );
    let p = Proxy::start("kv-consul-token", "", &yaml).await;
    wait_until("the refusal logged", WAIT, || async {
        p.sy.logged("403 Forbidden").then_some(())
    })
    .await;
}
