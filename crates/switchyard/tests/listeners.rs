//! Entrypoints that change without a restart: the real binary started on a
//! static file, the file rewritten (or SIGHUP sent), and real connections
//! to real backends checking which listeners serve afterwards and that the
//! connections of the entrypoints that did not change live on.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::{free_port, get, wait_until, Backend, Switchyard, TestDir, BIN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running switchyard whose static file the test rewrites: the API on
/// `traefik`, and the entrypoints the test names.
struct Setup {
    sy: Switchyard,
    dir: TestDir,
    admin: SocketAddr,
    /// Where the static file is written (`switchyard.yml`, or the target
    /// of that symlink).
    static_file: &'static str,
}

/// `127.0.0.1:port`.
fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Setup {
    /// Starts with the entrypoints `eps` (`name`, YAML of its body indented
    /// by 4) and `dynamic` as the file provider's configuration.
    async fn start(name: &str, eps: &[(&str, String)], dynamic: &str) -> Setup {
        Setup::start_at(name, eps, dynamic, "switchyard.yml").await
    }

    /// As [`Setup::start`], the static file written at `static_file`
    /// (`switchyard.yml` is a symlink to it when it differs).
    async fn start_at(
        name: &str,
        eps: &[(&str, String)],
        dynamic: &str,
        static_file: &'static str,
    ) -> Setup {
        let dir = TestDir::new(name);
        dir.write("dynamic/config.yml", dynamic);
        let admin = local(free_port());
        if let Some(folder) = dir.join(static_file).parent() {
            std::fs::create_dir_all(folder).expect("static file's folder");
        }
        dir.write_atomic(static_file, &static_yaml(&dir, admin, eps, ""));
        if static_file != "switchyard.yml" {
            std::os::unix::fs::symlink(dir.join(static_file), dir.join("switchyard.yml"))
                .expect("symlink");
        }
        let sy = Switchyard::start(Path::new(BIN), dir.path(), &["--configFile=switchyard.yml"]);
        sy.wait_listening(admin).await;
        Setup {
            sy,
            dir,
            admin,
            static_file,
        }
    }

    /// Writes the static file with the entrypoints `eps` and `extra`
    /// (YAML) after them.
    fn write_static_with(&self, eps: &[(&str, String)], extra: &str) {
        let yaml = static_yaml(&self.dir, self.admin, eps, extra);
        self.dir.write_atomic(self.static_file, &yaml);
    }

    fn write_static(&self, eps: &[(&str, String)]) {
        self.write_static_with(eps, "");
    }

    /// The names `/api/entrypoints` lists.
    async fn api_entrypoints(&self) -> Vec<String> {
        let r = get(self.admin, "localhost", "/api/entrypoints")
            .await
            .expect("api");
        assert_eq!(r.status.as_u16(), 200, "{}", r.text());
        let mut names: Vec<String> = r
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|e| e["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    /// Waits until `/api/entrypoints` lists exactly `want` (sorted).
    async fn wait_api_entrypoints(&self, want: &[&str]) {
        wait_until(
            &format!("/api/entrypoints to list {want:?}"),
            Duration::from_secs(10),
            || async { (self.api_entrypoints().await == want).then_some(()) },
        )
        .await;
    }
}

/// The static configuration: the API on `traefik` at `admin`, the
/// entrypoints `eps` (`name`, YAML of its body indented by 4), the file
/// provider on `dir/dynamic`, and `extra` (YAML) at the end.
fn static_yaml(dir: &TestDir, admin: SocketAddr, eps: &[(&str, String)], extra: &str) -> String {
    let mut yaml = format!("entryPoints:\n  traefik:\n    address: \"{admin}\"\n");
    for (name, body) in eps {
        yaml.push_str(&format!("  {name}:\n{body}"));
    }
    yaml.push_str(&format!(
        "api:\n  insecure: true\nlog:\n  level: DEBUG\n\
         providers:\n  providersThrottleDuration: 0s\n  file:\n    directory: \"{}\"\n    watch: true\n{extra}",
        dir.join("dynamic").display()
    ));
    yaml
}

/// An entrypoint body on `port`, with `extra` lines (indented by 4).
fn ep(port: u16, extra: &str) -> String {
    format!("    address: \"127.0.0.1:{port}\"\n{extra}")
}

/// A router for `Host(app)` on every entrypoint, to `backend`.
fn app(backend: &Backend) -> String {
    app_with(backend, "")
}

/// As [`app`], with `routers` (YAML, indented by 4) beside it.
fn app_with(backend: &Backend, routers: &str) -> String {
    format!(
        "http:\n  routers:\n    app:\n      rule: \"Host(`app`)\"\n      service: app\n{routers}\
         \x20 services:\n    app:\n      loadBalancer:\n        servers:\n          - url: \"{}\"\n",
        backend.url()
    )
}

/// Waits until `addr` answers a request for `app` with 200.
async fn wait_serving(addr: SocketAddr) {
    wait_until(
        &format!("{addr} to serve app"),
        Duration::from_secs(10),
        || async move {
            get(addr, "app", "/")
                .await
                .ok()
                .filter(|r| r.status.as_u16() == 200)
        },
    )
    .await;
}

/// Waits until a connection to `addr` is refused.
async fn wait_refused(addr: SocketAddr) {
    wait_until(
        &format!("{addr} to refuse connections"),
        Duration::from_secs(10),
        || async move { TcpStream::connect(addr).await.is_err().then_some(()) },
    )
    .await;
}

/// One HTTP/1.1 keep-alive connection, requests sent one at a time.
struct KeepAlive(TcpStream);

impl KeepAlive {
    async fn open(addr: SocketAddr) -> KeepAlive {
        KeepAlive(TcpStream::connect(addr).await.expect("connect"))
    }

    /// Sends `GET /` for `app` with `headers` and returns the status and
    /// body of the answer; the connection stays open.
    async fn get(&mut self, headers: &str) -> (u16, String) {
        let req = format!("GET / HTTP/1.1\r\nHost: app\r\n{headers}\r\n");
        self.0.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = self.0.read(&mut chunk).await.expect("read");
            assert!(
                n > 0,
                "connection closed: {}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .expect("content-length");
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            let n = self.0.read(&mut chunk).await.expect("read body");
            assert!(n > 0, "connection closed in the body");
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
        (status, body)
    }
}

#[tokio::test]
async fn an_entrypoint_added_to_the_file_serves_and_the_api_lists_it() {
    let backend = Backend::start("app").await;
    let (web, extra) = (free_port(), free_port());
    let s = Setup::start("listeners_add", &[("web", ep(web, ""))], &app(&backend)).await;
    wait_serving(local(web)).await;
    assert!(TcpStream::connect(local(extra)).await.is_err());
    assert_eq!(s.api_entrypoints().await, ["traefik", "web"]);

    s.write_static(&[("web", ep(web, "")), ("extra", ep(extra, ""))]);
    // The router without entryPoints attaches to the new one too.
    wait_serving(local(extra)).await;
    s.wait_api_entrypoints(&["extra", "traefik", "web"]).await;
    wait_serving(local(web)).await;
}

#[tokio::test]
async fn a_removed_entrypoint_refuses_new_connections_and_finishes_its_request() {
    let backend = Backend::start("app").await;
    let (web, extra) = (free_port(), free_port());
    // A router naming `extra`, beside the one on every entrypoint.
    let pinned = "    pinned:\n      rule: \"Host(`pinned`)\"\n      entryPoints: [extra]\n      service: app\n";
    let dynamic = app_with(&backend, pinned);
    let eps = [("web", ep(web, "")), ("extra", ep(extra, ""))];
    let s = Setup::start("listeners_remove", &eps, &dynamic).await;
    wait_serving(local(extra)).await;

    backend.set_delay_ms(1500);
    let hits = backend.hits();
    let in_flight = tokio::spawn(get(local(extra), "app", "/slow"));
    wait_until(
        "the slow request to reach the backend",
        Duration::from_secs(10),
        || async { (backend.hits() > hits).then_some(()) },
    )
    .await;
    s.write_static(&[("web", ep(web, ""))]);
    wait_refused(local(extra)).await;
    let answer = in_flight
        .await
        .expect("task")
        .expect("the in-flight request");
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text());
    backend.set_delay_ms(0);

    s.wait_api_entrypoints(&["traefik", "web"]).await;
    wait_serving(local(web)).await;
    // A router naming the removed entrypoint gets Traefik's error.
    let pinned = get(s.admin, "localhost", "/api/http/routers/pinned@file")
        .await
        .expect("api");
    let errors = pinned.json()["error"].to_string();
    assert!(
        errors.contains("entryPoint \\\"extra\\\" doesn't exist"),
        "{}",
        pinned.text()
    );
}

#[tokio::test]
async fn a_changed_address_moves_and_keep_alive_elsewhere_survives() {
    let backend = Backend::start("app").await;
    let (web, extra, moved) = (free_port(), free_port(), free_port());
    let eps = [("web", ep(web, "")), ("extra", ep(extra, ""))];
    let s = Setup::start("listeners_move", &eps, &app(&backend)).await;
    wait_serving(local(extra)).await;
    let mut kept = KeepAlive::open(local(web)).await;
    assert_eq!(kept.get("").await.0, 200);

    s.write_static(&[("web", ep(web, "")), ("extra", ep(moved, ""))]);
    wait_serving(local(moved)).await;
    wait_refused(local(extra)).await;
    // The same TCP connection to the entrypoint that did not change.
    assert_eq!(kept.get("").await.0, 200);
    assert_eq!(kept.get("").await.0, 200);
}

#[tokio::test]
async fn a_setting_changed_on_the_same_address_applies_without_a_refused_connection() {
    let backend = Backend::start("app").await;
    let web = free_port();
    let s = Setup::start("listeners_same", &[("web", ep(web, ""))], &app(&backend)).await;
    wait_serving(local(web)).await;
    let forwarded = "X-Forwarded-For: 203.0.113.9\r\n";
    let (_, body) = KeepAlive::open(local(web)).await.get(forwarded).await;
    assert!(!body.contains("203.0.113.9"), "{body}");

    // Connection attempts all along the change: none may be refused.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attempts = tokio::spawn({
        let stop = stop.clone();
        async move {
            let (mut ok, mut refused) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match TcpStream::connect(local(web)).await {
                    Ok(_) => ok += 1,
                    Err(_) => refused += 1,
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (ok, refused)
        }
    });
    s.write_static(&[(
        "web",
        ep(web, "    forwardedHeaders:\n      insecure: true\n"),
    )]);
    wait_until(
        "the trusted X-Forwarded-For",
        Duration::from_secs(10),
        || async {
            let mut c = KeepAlive::open(local(web)).await;
            let (status, body) = c.get(forwarded).await;
            (status == 200 && body.contains("203.0.113.9")).then_some(())
        },
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (ok, refused) = attempts.await.expect("task");
    assert_eq!(refused, 0, "{refused} refused, {ok} accepted");
    assert!(ok > 0);
}

#[tokio::test]
async fn sighup_reads_the_static_file_again() {
    let backend = Backend::start("app").await;
    let (web, extra) = (free_port(), free_port());
    // Through a symlink into a folder the watch does not see: only SIGHUP
    // reads the change.
    let s = Setup::start_at(
        "listeners_sighup",
        &[("web", ep(web, ""))],
        &app(&backend),
        "conf/static.yml",
    )
    .await;
    wait_serving(local(web)).await;
    s.write_static(&[("web", ep(web, "")), ("extra", ep(extra, ""))]);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        TcpStream::connect(local(extra)).await.is_err(),
        "applied without SIGHUP: the test sees nothing"
    );
    s.sy.signal("HUP");
    wait_serving(local(extra)).await;
    s.wait_api_entrypoints(&["extra", "traefik", "web"]).await;
}

#[tokio::test]
async fn a_broken_static_file_changes_nothing_and_other_sections_need_a_restart() {
    let backend = Backend::start("app").await;
    let web = free_port();
    let s = Setup::start("listeners_broken", &[("web", ep(web, ""))], &app(&backend)).await;
    wait_serving(local(web)).await;

    s.dir
        .write_atomic("switchyard.yml", "entryPoints:\n  web:\n    address: [\n");
    wait_until("the load error", Duration::from_secs(10), || async {
        s.sy.logged("the static configuration does not load")
            .then_some(())
    })
    .await;
    assert!(
        s.sy.log()
            .iter()
            .any(|l| l.contains("does not load") && l.contains("switchyard.yml")),
        "the error names the file"
    );
    wait_serving(local(web)).await;
    s.wait_api_entrypoints(&["traefik", "web"]).await;

    // An entrypoint whose value is refused: nothing changes either.
    let (extra, dns) = (free_port(), free_port());
    s.write_static(&[
        ("web", ep(web, "")),
        ("extra", ep(extra, "")),
        (
            "dns",
            format!("    address: \"127.0.0.1:{dns}/udp\"\n    udp:\n      timeout: 0s\n"),
        ),
    ]);
    wait_until(
        "the invalid value's error",
        Duration::from_secs(10),
        || async {
            s.sy.log()
                .iter()
                .any(|l| l.contains("nothing changes") && l.contains("entryPoints.dns.udp.timeout"))
                .then_some(())
        },
    )
    .await;
    assert!(TcpStream::connect(local(extra)).await.is_err());

    // Another section changed: logged as needing a restart.
    s.write_static_with(&[("web", ep(web, ""))], "ping: {}\n");
    wait_until("the restart warning", Duration::from_secs(10), || async {
        s.sy.log()
            .iter()
            .any(|l| l.contains("ping") && l.contains("only apply at the next start"))
            .then_some(())
    })
    .await;
    let ping = get(s.admin, "localhost", "/ping").await.expect("request");
    assert_eq!(ping.status.as_u16(), 404, "ping started without a restart");
    wait_serving(local(web)).await;
}

/// Whether a datagram sent to `to` comes back within half a second.
async fn udp_answers(to: SocketAddr) -> bool {
    let Ok(client) = tokio::net::UdpSocket::bind("127.0.0.1:0").await else {
        return false;
    };
    if client.send_to(b"ping", to).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let answer = tokio::time::timeout(Duration::from_millis(500), client.recv(&mut buf)).await;
    matches!(answer, Ok(Ok(4)))
}

#[tokio::test]
async fn a_udp_entrypoint_is_added_and_removed() {
    // A UDP backend echoing each datagram.
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind echo");
    let echo_addr = echo.local_addr().expect("addr");
    let echo_task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..n], from).await;
        }
    });
    let backend = Backend::start("app").await;
    let dynamic = format!(
        "{}udp:\n  routers:\n    dns:\n      service: echo\n  services:\n    echo:\n      loadBalancer:\n        servers:\n          - address: \"{echo_addr}\"\n",
        app(&backend)
    );
    let (web, dns) = (free_port(), free_port());
    let s = Setup::start("listeners_udp", &[("web", ep(web, ""))], &dynamic).await;
    wait_serving(local(web)).await;
    assert!(!udp_answers(local(dns)).await);

    let udp = format!("    address: \"127.0.0.1:{dns}/udp\"\n");
    s.write_static(&[("web", ep(web, "")), ("dns", udp)]);
    wait_until(
        "the UDP entrypoint to relay",
        Duration::from_secs(10),
        || async { udp_answers(local(dns)).await.then_some(()) },
    )
    .await;
    s.wait_api_entrypoints(&["dns", "traefik", "web"]).await;

    s.write_static(&[("web", ep(web, ""))]);
    s.wait_api_entrypoints(&["traefik", "web"]).await;
    wait_until(
        "the UDP entrypoint to stop",
        Duration::from_secs(10),
        || async { (!udp_answers(local(dns)).await).then_some(()) },
    )
    .await;
    wait_serving(local(web)).await;
    echo_task.abort();
}
