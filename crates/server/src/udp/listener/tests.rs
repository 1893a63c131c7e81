use std::collections::HashMap;

use super::*;
use crate::udp::balancer::{Balancer, Member};
use crate::udp::UdpRuntime;
use crate::Runtime;

/// An echo backend answering with its id then the datagram.
async fn echo(id: u8) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut answer = vec![id];
            answer.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&answer, from).await;
        }
    });
    addr
}

/// An entrypoint `dns` serving `servers` (addresses as written), with at
/// most `max_sessions` sessions; its address, its stop switch and its
/// task.
async fn serve(
    servers: &[String],
    max_sessions: usize,
) -> (SocketAddr, watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let members = servers
        .iter()
        .map(|a| {
            let backend = Backend {
                address: Arc::from(a.as_str()),
            };
            (Member::Server(backend), 1)
        })
        .collect();
    let udp = UdpRuntime {
        entrypoints: HashMap::from([("dns".to_string(), Arc::new(Balancer::new(members)))]),
        ..Default::default()
    };
    let switcher = Switcher::new(Runtime {
        udp: Arc::new(udp),
        ..Default::default()
    });
    let ep = UdpEntryPoint::bind(UdpSettings {
        name: "dns".into(),
        address: "127.0.0.1:0".into(),
        timeout: Duration::from_secs(5),
        reuse_port: false,
        request_accept_grace_timeout: Duration::ZERO,
        grace_timeout: Duration::from_secs(1),
        max_sessions,
    })
    .expect("bind");
    let addr = ep.local_addr().expect("addr");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(ep.serve(switcher, stopped));
    (addr, stop, task)
}

async fn ask(to: SocketAddr) -> (UdpSocket, Option<Vec<u8>>) {
    let c = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    c.connect(to).await.expect("connect");
    c.send(b"hi").await.expect("send");
    let mut buf = vec![0u8; 2048];
    let answer = tokio::time::timeout(Duration::from_millis(500), c.recv(&mut buf))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|n| buf[..n].to_vec());
    (c, answer)
}

#[tokio::test]
async fn new_clients_past_the_bound_are_dropped() {
    let a = echo(b'A').await;
    let (ep, _stop, _task) = serve(&[a.to_string()], 2).await;
    let (_c1, first) = ask(ep).await;
    let (_c2, second) = ask(ep).await;
    assert_eq!(first.as_deref(), Some(&b"Ahi"[..]));
    assert_eq!(second.as_deref(), Some(&b"Ahi"[..]));
    let (_c3, third) = ask(ep).await;
    assert_eq!(third, None, "a third session is over the bound");
}

#[tokio::test]
async fn a_server_named_by_host_is_resolved() {
    let a = echo(b'A').await;
    let (ep, _stop, _task) = serve(&[format!("localhost:{}", a.port())], 8).await;
    let (_c, answer) = ask(ep).await;
    assert_eq!(answer.as_deref(), Some(&b"Ahi"[..]));
}

#[tokio::test]
async fn a_stop_refuses_new_sessions_and_ends_after_the_grace_time() {
    let a = echo(b'A').await;
    let (ep, stop, task) = serve(&[a.to_string()], 8).await;
    let (old, answer) = ask(ep).await;
    assert!(answer.is_some());
    stop.send(true).expect("stop");
    // The open session still relays; a new client gets nothing.
    old.send(b"again").await.expect("send");
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_millis(500), old.recv(&mut buf))
        .await
        .expect("the open session answers")
        .expect("recv");
    assert_eq!(&buf[..n], b"Aagain");
    let (_new, none) = ask(ep).await;
    assert_eq!(none, None);
    // The session would idle 5 s: `graceTimeOut` (1 s) ends it first.
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("stopped within the grace time")
        .expect("task");
}
