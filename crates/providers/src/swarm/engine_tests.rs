//! The provider's polling against a stand-in engine on 127.0.0.1 (plain
//! HTTP, one answer per connection): the raw reads, what is sent and what
//! is not, an engine that fails and comes back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::{run, SwarmProvider};
use crate::Message;

#[derive(Default)]
struct Fake {
    /// Path (without query) → body.
    bodies: HashMap<String, String>,
    /// Answered to the Swarm lists when not 200.
    status: u16,
    /// Path → requests seen.
    hits: HashMap<String, u64>,
    /// Every request head seen.
    heads: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn lock(f: &Shared) -> std::sync::MutexGuard<'_, Fake> {
    f.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn serve(listener: TcpListener, fake: Shared) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let fake = fake.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            let target = head.split(' ').nth(1).unwrap_or("/").to_string();
            let path = target.split('?').next().unwrap_or("/").to_string();
            let (status, body) = {
                let mut f = lock(&fake);
                *f.hits.entry(path.clone()).or_default() += 1;
                f.heads.push(head);
                let body = f.bodies.get(&path).cloned().unwrap_or_default();
                if path == "/version" {
                    (200, r#"{"Version":"fake","ApiVersion":"1.41"}"#.to_string())
                } else if f.status != 200 {
                    (
                        f.status,
                        r#"{"message":"this node is not a swarm manager"}"#.to_string(),
                    )
                } else {
                    (200, body)
                }
            };
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

const SERVICES: &str = r#"[{"ID":"s1","Spec":{"Name":"web","Labels":{
    "traefik.http.services.web.loadbalancer.server.port":"80"},"Mode":{"Replicated":{}},
    "EndpointSpec":{"Mode":"vip"}},"Endpoint":{"VirtualIPs":null}}]"#;
const NETWORKS: &str = r#"[{"Name":"net","Id":"n1"}]"#;

fn tasks(ips: &[&str]) -> String {
    let tasks: Vec<String> = ips
        .iter()
        .enumerate()
        .map(|(i, ip)| {
            format!(
                r#"{{"ID":"t{i}","ServiceID":"s1","Slot":{i},"Status":{{"State":"running"}},"DesiredState":"running",
                "NetworksAttachments":[{{"Network":{{"ID":"n1"}},"Addresses":["{ip}/24"]}}]}}"#
            )
        })
        .collect();
    format!("[{}]", tasks.join(","))
}

fn urls(m: &Message) -> Vec<String> {
    let mut urls: Vec<String> = m
        .config
        .http
        .as_ref()
        .and_then(|h| h.services.get("web"))
        .and_then(|s| s.load_balancer.as_ref())
        .map(|lb| lb.servers.iter().map(|s| s.url.clone()).collect())
        .unwrap_or_default();
    urls.sort();
    urls
}

fn hits(f: &Shared, path: &str) -> u64 {
    lock(f).hits.get(path).copied().unwrap_or(0)
}

/// Waits (bounded) until `/tasks` was asked `more` more times.
async fn polls(f: &Shared, more: u64) {
    let target = hits(f, "/tasks") + more;
    for _ in 0..200 {
        if hits(f, "/tasks") >= target {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the provider did not poll {more} more times");
}

async fn next(rx: &mut mpsc::Receiver<Message>) -> Message {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a configuration within 10 s")
        .expect("the provider runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_sends_changes_only_and_outlives_an_engine_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let fake: Shared = Arc::new(Mutex::new(Fake {
        status: 200,
        ..Fake::default()
    }));
    {
        let mut f = lock(&fake);
        f.bodies.insert("/services".into(), SERVICES.into());
        f.bodies.insert("/networks".into(), NETWORKS.into());
        f.bodies.insert("/tasks".into(), tasks(&["10.0.0.3"]));
    }
    let server = tokio::spawn(serve(listener, fake.clone()));
    let config = SwarmProvider {
        endpoint: format!("tcp://{addr}"),
        username: "u".into(),
        password: "p".into(),
        refresh_seconds: switchyard_config::Duration::from_secs(1),
        ..SwarmProvider::default()
    };
    let (tx, mut rx) = mpsc::channel(8);
    let provider = tokio::spawn(run(config, tx));

    // The first listing is sent, named for the swarm provider.
    let first = next(&mut rx).await;
    assert_eq!(first.provider, "swarm");
    assert_eq!(urls(&first), ["http://10.0.0.3:80"]);
    // The raw reads carry the client's headers and the filters.
    {
        let f = lock(&fake);
        let tasks_head = f
            .heads
            .iter()
            .find(|h| h.starts_with("GET /tasks"))
            .cloned()
            .unwrap_or_default();
        let lower = tasks_head.to_ascii_lowercase();
        assert!(
            tasks_head
                .starts_with("GET /tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D "),
            "{tasks_head}"
        );
        assert!(lower.contains("authorization: basic dtpw"), "{tasks_head}");
        assert!(lower.contains("user-agent: switchyard/"), "{tasks_head}");
        assert!(
            f.heads
                .iter()
                .any(|h| h
                    .starts_with("GET /networks?filters=%7B%22scope%22%3A%5B%22swarm%22%5D%7D ")),
            "{:?}",
            f.heads
        );
    }
    // Polls that find nothing new send nothing.
    polls(&fake, 2).await;
    assert!(rx.try_recv().is_err(), "an unchanged listing was sent");
    // A new task: sent at the next poll.
    lock(&fake)
        .bodies
        .insert("/tasks".into(), tasks(&["10.0.0.3", "10.0.0.4"]));
    let second = next(&mut rx).await;
    assert_eq!(urls(&second), ["http://10.0.0.3:80", "http://10.0.0.4:80"]);
    // The engine answers errors: nothing is sent (the last configuration
    // keeps serving), and the provider keeps trying.
    lock(&fake).status = 503;
    let before = hits(&fake, "/services");
    for _ in 0..200 {
        if hits(&fake, "/services") >= before + 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hits(&fake, "/services") >= before + 3, "no retries");
    assert!(
        rx.try_recv().is_err(),
        "something was sent during the outage"
    );
    // Back, unchanged: still nothing; then a change is sent.
    lock(&fake).status = 200;
    polls(&fake, 2).await;
    assert!(
        rx.try_recv().is_err(),
        "the same configuration was sent again"
    );
    lock(&fake)
        .bodies
        .insert("/tasks".into(), tasks(&["10.0.0.5"]));
    let third = next(&mut rx).await;
    assert_eq!(urls(&third), ["http://10.0.0.5:80"]);

    // The provider stops when its channel closes.
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), provider)
        .await
        .expect("the provider ends when the channel closes")
        .expect("no panic");
    server.abort();
}
