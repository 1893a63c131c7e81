//! Binary upgrade: the running process hands its listening sockets to a
//! new start of its binary (SIGUSR2, or `switchyard upgrade PID`), drains
//! and exits; requests sent all along, on keep-alive and on new
//! connections, all succeed, and none is refused.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{free_port, get, host_route, wait_until, Backend, Proxy, BIN};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UdpSocket};

/// What the load saw.
#[derive(Default, Debug)]
struct Tally {
    ok: AtomicU64,
    /// Connection attempts refused.
    refused: AtomicU64,
    /// Requests without a 200, after the one retry below.
    failed: AtomicU64,
    /// Requests sent again on a new connection because the server closed
    /// the keep-alive one they were sent on (RFC 9112 §9.3.1, as HTTP
    /// clients do): the old process closes idle ones when it drains.
    retried: AtomicU64,
    /// What the first failures were, for the assertion's message.
    failures: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().expect("failures");
        if failures.len() < 10 {
            failures.push(what);
        }
    }
}

type Sender = SendRequest<Empty<Bytes>>;

/// A new HTTP/1.1 connection; a connection refused is counted as such,
/// another error as a failure.
async fn connect(addr: SocketAddr, tally: &Tally) -> Option<Sender> {
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            tally.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Err(e) => {
            tally.fail(format!("connect: {e}"));
            return None;
        }
    };
    match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
        Ok((sender, conn)) => {
            tokio::spawn(conn);
            Some(sender)
        }
        Err(e) => {
            tally.fail(format!("handshake: {e}"));
            None
        }
    }
}

/// One GET of app.test; its status, and whether the connection stays open.
async fn fetch(sender: &mut Sender, close: bool) -> Result<(u16, bool), hyper::Error> {
    let mut request = http::Request::get("/").header("host", "app.test");
    if close {
        request = request.header("connection", "close");
    }
    let request = request.body(Empty::new()).expect("request");
    let response = sender.send_request(request).await?;
    let open = response
        .headers()
        .get("connection")
        .is_none_or(|v| !v.as_bytes().eq_ignore_ascii_case(b"close"));
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok((status, open))
}

fn count(tally: &Tally, status: u16) {
    if status == 200 {
        tally.ok.fetch_add(1, Ordering::Relaxed);
    } else {
        tally.fail(format!("status {status}"));
    }
}

/// Requests one after another on a keep-alive connection, a new one when
/// the server closed it.
async fn keep_alive_load(addr: SocketAddr, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let mut conn: Option<Sender> = None;
    while !stop.load(Ordering::Relaxed) {
        // Closed while idle: noticed before sending, a new connection.
        if conn.as_mut().is_some_and(|c| c.is_closed()) {
            conn = None;
        }
        let reused = conn.is_some();
        if conn.is_none() {
            conn = connect(addr, &tally).await;
        }
        let Some(sender) = conn.as_mut() else {
            continue;
        };
        match fetch(sender, false).await {
            Ok((status, open)) => {
                count(&tally, status);
                if !open {
                    conn = None;
                }
            }
            Err(_) if reused => {
                tally.retried.fetch_add(1, Ordering::Relaxed);
                conn = connect(addr, &tally).await;
                if let Some(fresh) = conn.as_mut() {
                    match fetch(fresh, false).await {
                        Ok((status, _)) => count(&tally, status),
                        Err(e) => {
                            tally.fail(format!("retried request: {e}"));
                            conn = None;
                        }
                    }
                }
            }
            Err(e) => {
                tally.fail(format!("keep-alive, first request: {e}"));
                conn = None;
            }
        }
    }
}

/// One request per new connection.
async fn new_connection_load(addr: SocketAddr, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        if let Some(mut sender) = connect(addr, &tally).await {
            match fetch(&mut sender, true).await {
                Ok((status, _)) => count(&tally, status),
                Err(e) => tally.fail(format!("new connection: {e}")),
            }
        }
    }
}

/// The process an upgrade started, killed when the test ends.
struct NewProcess(u32);

impl NewProcess {
    /// The pid the old process logged when it last started a new one.
    fn from_log(lines: &[String]) -> Option<NewProcess> {
        let line = lines
            .iter()
            .rfind(|l| l.contains("upgrade: new process started"))?;
        let pid = line.split("pid=").nth(1)?.split_whitespace().next()?;
        pid.parse().ok().map(NewProcess)
    }

    fn running(&self) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", self.0)).is_ok_and(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
    }
}

impl Drop for NewProcess {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0.to_string()])
            .status();
    }
}

/// A UDP backend answering every datagram with `echo:` and the datagram.
async fn udp_echo() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = socket.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let answer = [b"echo:", &buf[..n]].concat();
            let _ = socket.send_to(&answer, from).await;
        }
    });
    (addr, task)
}

/// Whether a new client's datagram to `dns` is answered.
async fn udp_answers(dns: SocketAddr) -> bool {
    let Ok(client) = UdpSocket::bind("127.0.0.1:0").await else {
        return false;
    };
    if client.send_to(b"ping", dns).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let answer = tokio::time::timeout(Duration::from_secs(1), client.recv(&mut buf)).await;
    matches!(answer, Ok(Ok(n)) if &buf[..n] == b"echo:ping")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upgrade_under_load_refuses_and_fails_no_request() {
    let backend = Backend::start("app").await;
    let (echo, _echo_task) = udp_echo().await;
    let dns_port = free_port();
    let dns: SocketAddr = format!("127.0.0.1:{dns_port}").parse().expect("addr");
    let dynamic = format!(
        "{}udp:\n  routers:\n    dns:\n      entryPoints: [dns]\n      service: echo\n  services:\n    echo:\n      loadBalancer:\n        servers:\n          - address: \"{echo}\"\n",
        host_route("app", "app.test", &backend)
    );
    let udp_entrypoint = format!("  dns:\n    address: \"127.0.0.1:{dns_port}/udp\"\n");
    let mut proxy = Proxy::start_with("upgrade-load", &dynamic, &udp_entrypoint, "").await;
    proxy.wait_status("app.test", "/", 200).await;
    wait_until("a UDP answer", Duration::from_secs(10), || async {
        udp_answers(dns).await.then_some(())
    })
    .await;
    let old_pid = proxy.sy.pid();

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..3 {
        load.push(tokio::spawn(keep_alive_load(
            proxy.web,
            tally.clone(),
            stop.clone(),
        )));
        load.push(tokio::spawn(new_connection_load(
            proxy.web,
            tally.clone(),
            stop.clone(),
        )));
    }
    wait_until(
        "load before the upgrade",
        Duration::from_secs(10),
        || async { (tally.ok.load(Ordering::Relaxed) >= 50).then_some(()) },
    )
    .await;

    // `switchyard upgrade PID` signals the process and waits until it has
    // exited.
    let upgrade = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(["upgrade", &old_pid.to_string()])
            .output()
            .expect("run switchyard upgrade")
    });
    let output = upgrade.await.expect("upgrade command");
    let new = NewProcess::from_log(&proxy.sy.log());
    assert!(
        output.status.success(),
        "switchyard upgrade: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        proxy.sy.wait_exit(Duration::from_secs(5)).is_some(),
        "the old process has exited"
    );
    let new = new.expect("the old process logged the new one's pid");
    assert_ne!(new.0, old_pid);
    assert!(new.running(), "the new process runs");

    // The new process alone serves now, on the same port.
    let served_before = tally.ok.load(Ordering::Relaxed);
    wait_until(
        "load after the upgrade",
        Duration::from_secs(10),
        || async { (tally.ok.load(Ordering::Relaxed) >= served_before + 50).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("load task");
    }
    eprintln!("load across the upgrade: {tally:?}");
    assert_eq!(
        tally.refused.load(Ordering::Relaxed),
        0,
        "refused connections: {tally:?}"
    );
    assert_eq!(
        tally.failed.load(Ordering::Relaxed),
        0,
        "failed requests: {tally:?}"
    );
    assert!(proxy
        .sy
        .logged("took the listening sockets over from the previous process"));
    let reply = get(proxy.web, "app.test", "/")
        .await
        .expect("request to the new process");
    assert_eq!(reply.status.as_u16(), 200);
    // The UDP entrypoint answers new clients from the new process.
    assert!(
        udp_answers(dns).await,
        "the UDP entrypoint answers after the upgrade"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_that_fails_leaves_the_old_one_serving() {
    let backend = Backend::start("app").await;
    let mut proxy = Proxy::start(
        "upgrade-fails",
        &host_route("app", "app.test", &backend),
        "",
    )
    .await;
    proxy.wait_status("app.test", "/", 200).await;
    let good = std::fs::read_to_string(proxy.dir.join("switchyard.yml")).expect("static file");
    // The new process reads the same static file: broken, it does not start.
    proxy
        .dir
        .write("switchyard.yml", &format!("{good}notAnOption: true\n"));
    proxy.sy.signal("USR2");
    wait_until("the upgrade to fail", Duration::from_secs(30), || async {
        proxy
            .sy
            .logged("upgrade failed, this process keeps serving")
            .then_some(())
    })
    .await;
    assert!(proxy
        .sy
        .logged("the new process exited before it was ready"));
    let reply = get(proxy.web, "app.test", "/").await.expect("request");
    assert_eq!(reply.status.as_u16(), 200, "the old process still serves");
    assert_eq!(
        proxy.sy.wait_exit(Duration::from_millis(100)),
        None,
        "the old process runs"
    );

    // Mended, the next SIGUSR2 upgrades.
    proxy.dir.write("switchyard.yml", &good);
    proxy.sy.signal("USR2");
    wait_until(
        "the new process to be ready",
        Duration::from_secs(30),
        || async {
            proxy
                .sy
                .logged("upgrade: the new process is ready")
                .then_some(())
        },
    )
    .await;
    let new = NewProcess::from_log(&proxy.sy.log()).expect("the new process's pid");
    assert!(
        proxy.sy.wait_exit(Duration::from_secs(30)).is_some(),
        "the old process exits"
    );
    assert!(new.running());
    let reply = get(proxy.web, "app.test", "/")
        .await
        .expect("request to the new process");
    assert_eq!(reply.status.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_the_new_configuration_does_not_use_is_closed() {
    let backend = Backend::start("app").await;
    let extra_port = free_port();
    let extra: SocketAddr = format!("127.0.0.1:{extra_port}").parse().expect("addr");
    let entrypoint = format!("  extra:\n    address: \"127.0.0.1:{extra_port}\"\n");
    let mut proxy = Proxy::start_with(
        "upgrade-unused",
        &host_route("app", "app.test", &backend),
        &entrypoint,
        "",
    )
    .await;
    proxy.wait_status("app.test", "/", 200).await;
    assert!(TcpStream::connect(extra).await.is_ok());
    // The new process's static configuration has no `extra` entrypoint.
    let good = std::fs::read_to_string(proxy.dir.join("switchyard.yml")).expect("static file");
    proxy
        .dir
        .write("switchyard.yml", &good.replace(&entrypoint, ""));
    proxy.sy.signal("USR2");
    assert!(
        proxy.sy.wait_exit(Duration::from_secs(30)).is_some(),
        "the old process exits"
    );
    let _new = NewProcess::from_log(&proxy.sy.log()).expect("the new process's pid");
    let closed =
        proxy.sy.log().iter().any(|l| {
            l.contains("not in this configuration: closed") && l.contains("socket=extra tcp")
        });
    assert!(closed, "the unused socket is closed and named");
    let refused = TcpStream::connect(extra).await.err().map(|e| e.kind());
    assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
    let reply = get(proxy.web, "app.test", "/")
        .await
        .expect("request to the new process");
    assert_eq!(reply.status.as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_old_process_accepted_gets_its_answer_after_the_switch() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = Backend::start("app").await;
    let mut proxy = Proxy::start(
        "upgrade-first-request",
        &host_route("app", "app.test", &backend),
        "",
    )
    .await;
    proxy.wait_status("app.test", "/", 200).await;
    // Accepted by the old process (the only one yet); nothing sent.
    let mut stream = TcpStream::connect(proxy.web).await.expect("connect");
    proxy.sy.signal("USR2");
    wait_until(
        "the old process to drain",
        Duration::from_secs(30),
        || async { proxy.sy.logged("stops accepting and drains").then_some(()) },
    )
    .await;
    let _new = NewProcess::from_log(&proxy.sy.log()).expect("the new process's pid");
    // Its first request comes after the switch: still answered.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(matches!(read, Ok(Ok(_))), "read: {read:?}");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "answer: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        proxy.sy.wait_exit(Duration::from_secs(30)).is_some(),
        "the old process exits"
    );
}
