//! UDP routing end to end: the real binary with a `dns` UDP entrypoint,
//! UDP echo backends started here that answer with their own id, and
//! clients on their own sockets (one client address each).

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{free_port, wait_until, Proxy};
use tokio::net::UdpSocket;

/// A UDP backend answering each datagram with the datagram itself, its
/// first byte replaced by the backend's id (same size, so the largest
/// datagram comes back whole).
struct Echo {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Echo {
    async fn start(id: u8) -> Echo {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind echo");
        let addr = socket.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                if n > 0 {
                    buf[0] = id;
                }
                let _ = socket.send_to(&buf[..n], from).await;
            }
        });
        Echo { addr, task }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client: one socket, so one client address.
struct Client(UdpSocket);

impl Client {
    async fn new(to: SocketAddr) -> Client {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind client");
        s.connect(to).await.expect("connect");
        Client(s)
    }

    /// Sends `payload` and returns the answer, or None after `wait`.
    async fn ask(&self, payload: &[u8], wait: Duration) -> Option<Vec<u8>> {
        self.0.send(payload).await.ok()?;
        let mut buf = vec![0u8; 65_535];
        let n = tokio::time::timeout(wait, self.0.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        buf.truncate(n);
        Some(buf)
    }

    /// The id of the backend that answers a small datagram (a loaded
    /// machine may take a while: a wait too short would lose a session).
    async fn backend(&self) -> Option<u8> {
        self.ask(b"?hello", Duration::from_secs(1))
            .await
            .map(|a| a[0])
    }
}

/// Switchyard with a `dns` UDP entrypoint (`udp.timeout` = `timeout`)
/// beside the usual `web` one, and `dynamic` as its file configuration.
async fn start(name: &str, dynamic: &str, timeout: &str) -> (Proxy, SocketAddr) {
    let port = free_port();
    let dns: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let extra = format!(
        "  dns:\n    address: \"127.0.0.1:{port}/udp\"\n    udp:\n      timeout: {timeout}\n"
    );
    let proxy = Proxy::start_with(name, dynamic, &extra, "").await;
    (proxy, dns)
}

fn pool(servers: &[&Echo]) -> String {
    let list: Vec<String> = servers
        .iter()
        .map(|e| format!("          - address: \"{}\"\n", e.addr))
        .collect();
    format!(
        "udp:\n  routers:\n    dns:\n      entryPoints: [dns]\n      service: pool\n  services:\n    pool:\n      loadBalancer:\n        servers:\n{}",
        list.concat()
    )
}

/// A new client whose first datagram is answered (the configuration may
/// not be applied yet: until it is, datagrams are dropped).
async fn first_answer(dns: SocketAddr) -> (Client, u8) {
    wait_until("a UDP answer", Duration::from_secs(10), || async {
        let c = Client::new(dns).await;
        let id = c.backend().await?;
        Some((c, id))
    })
    .await
}

#[tokio::test]
async fn sessions_stick_to_a_backend_and_clients_take_turns() {
    let (a, b) = (Echo::start(b'A').await, Echo::start(b'B').await);
    let (_proxy, dns) = start("udp_affinity", &pool(&[&a, &b]), "3s").await;
    let (first, first_id) = first_answer(dns).await;
    for _ in 0..5 {
        assert_eq!(
            first.backend().await,
            Some(first_id),
            "one session, one backend"
        );
    }
    let second = Client::new(dns).await;
    let second_id = second.backend().await.expect("answer");
    assert_ne!(second_id, first_id, "the next client gets the next server");
    let third = Client::new(dns).await;
    assert_eq!(
        third.backend().await,
        Some(first_id),
        "round robin over two"
    );
    // The bytes come back whole, the largest datagram included.
    for size in [1usize, 1400, 9000, 65_507] {
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let answer = first
            .ask(&payload, Duration::from_secs(2))
            .await
            .unwrap_or_else(|| panic!("no answer to {size} bytes"));
        assert_eq!(answer.len(), size);
        assert_eq!(answer[0], first_id);
        assert_eq!(answer[1..], payload[1..], "{size} bytes");
    }
}

#[tokio::test]
async fn weighted_services_share_sessions_by_weight() {
    let (a, b) = (Echo::start(b'A').await, Echo::start(b'B').await);
    let dynamic = format!(
        "udp:\n  routers:\n    dns:\n      service: mix\n  services:\n    mix:\n      weighted:\n        services:\n          - name: a\n            weight: 3\n          - name: b\n            weight: 1\n    a:\n      loadBalancer:\n        servers: [{{address: \"{}\"}}]\n    b:\n      loadBalancer:\n        servers: [{{address: \"{}\"}}]\n",
        a.addr, b.addr
    );
    let (_proxy, dns) = start("udp_weighted", &dynamic, "3s").await;
    let (_first, first_id) = first_answer(dns).await;
    let mut counts: HashMap<u8, usize> = HashMap::from([(first_id, 1)]);
    let mut clients = Vec::new();
    for _ in 0..7 {
        let c = Client::new(dns).await;
        let id = c.backend().await.expect("answer");
        *counts.entry(id).or_default() += 1;
        clients.push(c);
    }
    assert_eq!(counts.get(&b'A'), Some(&6), "{counts:?}");
    assert_eq!(counts.get(&b'B'), Some(&2), "{counts:?}");
}

#[tokio::test]
async fn an_idle_session_ends_after_the_timeout() {
    let (a, b) = (Echo::start(b'A').await, Echo::start(b'B').await);
    let (_proxy, dns) = start("udp_timeout", &pool(&[&a, &b]), "1s").await;
    let (client, id) = first_answer(dns).await;
    // Datagrams closer than the timeout keep the session (2.4 s in all).
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(client.backend().await, Some(id), "active session kept");
    }
    // Idle past the timeout: the next datagram opens a new session, which
    // the round robin gives the other server.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let next = client.backend().await.expect("answer");
    assert_ne!(next, id, "a new session after the timeout");
}

#[tokio::test]
async fn a_reload_applies_to_new_sessions_only() {
    let (a, b) = (Echo::start(b'A').await, Echo::start(b'B').await);
    let (proxy, dns) = start("udp_reload", &pool(&[&a]), "5s").await;
    let (old, id) = first_answer(dns).await;
    assert_eq!(id, b'A');
    proxy.rewrite(&pool(&[&b]));
    wait_until("new sessions on B", Duration::from_secs(10), || async {
        // The old session stays active meanwhile.
        assert_eq!(old.backend().await, Some(b'A'), "established session moved");
        let c = Client::new(dns).await;
        (c.backend().await? == b'B').then_some(())
    })
    .await;
    assert_eq!(old.backend().await, Some(b'A'), "established session kept");
    // An entrypoint whose router goes away answers no new client.
    proxy.rewrite("http:\n  routers: {}\n");
    wait_until(
        "no answer to new clients",
        Duration::from_secs(10),
        || async {
            let c = Client::new(dns).await;
            c.backend().await.is_none().then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn the_api_lists_udp_routers_and_services() {
    let a = Echo::start(b'A').await;
    let dynamic = format!(
        "udp:\n  routers:\n    dns:\n      entryPoints: [dns]\n      service: pool\n    other:\n      entryPoints: [web]\n      service: pool\n  services:\n    pool:\n      loadBalancer:\n        servers:\n          - address: \"{}\"\n",
        a.addr
    );
    let (proxy, dns) = start("udp_api", &dynamic, "3s").await;
    first_answer(dns).await;
    let routers = proxy.api("/api/udp/routers").await;
    let by_name = |list: &serde_json::Value, name: &str| -> serde_json::Value {
        list.as_array()
            .and_then(|l| l.iter().find(|r| r["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {list}"))
    };
    let dns_router = by_name(&routers, "dns@file");
    assert_eq!(dns_router["status"], "enabled");
    assert_eq!(dns_router["provider"], "file");
    assert_eq!(dns_router["service"], "pool");
    assert_eq!(dns_router["entryPoints"], serde_json::json!(["dns"]));
    assert_eq!(dns_router["using"], serde_json::json!(["dns"]));
    let other = by_name(&routers, "other@file");
    assert_eq!(other["status"], "disabled", "web is not a UDP entrypoint");
    let services = proxy.api("/api/udp/services").await;
    let pool = by_name(&services, "pool@file");
    assert_eq!(pool["type"], "loadbalancer");
    // Every router naming it, the disabled one too (as Traefik).
    assert_eq!(
        pool["usedBy"],
        serde_json::json!(["dns@file", "other@file"])
    );
    assert_eq!(
        pool["loadBalancer"]["servers"][0]["address"],
        a.addr.to_string()
    );
    let one = proxy.api("/api/udp/routers/dns@file").await;
    assert_eq!(one["name"], "dns@file");
    let overview = proxy.api("/api/overview").await;
    assert_eq!(overview["udp"]["routers"]["total"], 2);
    assert_eq!(overview["udp"]["routers"]["errors"], 1);
    let entrypoints = proxy.api("/api/entrypoints/dns").await;
    assert_eq!(entrypoints["udp"]["timeout"], "3s");
}

#[tokio::test]
async fn a_backend_that_refuses_ends_the_session() {
    let a = Echo::start(b'A').await;
    // A port nothing listens on: its ICMP "port unreachable" ends the
    // session, and the client's next datagram opens one on the next server.
    let dead = {
        let s = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        s.local_addr().expect("addr")
    };
    let dynamic = format!(
        "udp:\n  routers:\n    dns:\n      service: pool\n  services:\n    pool:\n      loadBalancer:\n        servers:\n          - address: \"{dead}\"\n          - address: \"{}\"\n",
        a.addr
    );
    let (_proxy, dns) = start("udp_refused", &dynamic, "3s").await;
    first_answer(dns).await;
    for _ in 0..4 {
        let c = Client::new(dns).await;
        let answers = [c.backend().await, c.backend().await, c.backend().await];
        let first = answers
            .iter()
            .position(|a| a.is_some())
            .unwrap_or_else(|| panic!("never answered: {answers:?}"));
        assert!(first <= 1, "{answers:?}");
        assert!(
            answers[first..].iter().all(|a| *a == Some(b'A')),
            "{answers:?}"
        );
    }
}
