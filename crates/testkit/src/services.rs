//! Real third-party servers the tests talk to, started from the system's
//! packages (`.ci/run` installs them): Redis (and its Sentinel).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;

/// A `redis-server` on 127.0.0.1 with no persistence; killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    /// Serving TLS only, with the fixture certificates.
    tls: bool,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    /// Panics when `redis-server` is not installed: the suite needs it.
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    /// Starts one on `port` (to bring a stopped server back).
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer::spawn(port, false)
    }

    /// Starts one speaking only TLS (the fixture `server.pem`, trusting
    /// `ca.pem`) that requires a client certificate signed by that CA.
    pub fn start_tls() -> RedisServer {
        RedisServer::spawn(free_port(), true)
    }

    fn spawn(port: u16, tls: bool) -> RedisServer {
        let fixture = |name: &str| crate::tls::fixture_path(name).display().to_string();
        let port_args: Vec<String> = if tls {
            vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                fixture("server.pem"),
                "--tls-key-file".into(),
                fixture("server.key"),
                "--tls-ca-cert-file".into(),
                fixture("ca.pem"),
                "--tls-auth-clients".into(),
                "yes".into(),
            ]
        } else {
            vec!["--port".into(), port.to_string()]
        };
        let child = Command::new("redis-server")
            .args(&port_args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/test installs Debian's redis-server)");
        let server = RedisServer {
            child: Some(child),
            port,
            tls,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.cli(&["PING"]).as_deref() != Some("PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against it; its trimmed output, if it ran.
    pub fn cli(&self, args: &[&str]) -> Option<String> {
        let fixture = |name: &str| crate::tls::fixture_path(name).display().to_string();
        let tls_args: Vec<String> = if self.tls {
            vec![
                "--tls".into(),
                "--cacert".into(),
                fixture("ca.pem"),
                "--cert".into(),
                fixture("client.pem"),
                "--key".into(),
                fixture("client.key"),
            ]
        } else {
            Vec::new()
        };
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(&tls_args)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Cluster of three masters (no replicas) on free ports; killed
/// when dropped.
pub struct RedisCluster {
    children: Vec<Child>,
    pub ports: Vec<u16>,
    _dir: crate::TestDir,
}

impl RedisCluster {
    /// Starts the three nodes, joins them with `redis-cli --cluster
    /// create`, and waits until the cluster says `cluster_state:ok`.
    pub fn start() -> RedisCluster {
        let dir = crate::TestDir::new("redis-cluster");
        // Each node also listens on its port + 10000 (the cluster bus).
        let ports: Vec<u16> = (0..3).map(|_| crate::free_port_with(10_000)).collect();
        let mut children = Vec::new();
        for port in &ports {
            let nodes = dir.join(&format!("nodes-{port}.conf"));
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .arg("--cluster-config-file")
                .arg(&nodes)
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server (scripts/test installs Debian's redis-server)");
            children.push(child);
        }
        let cluster = RedisCluster {
            children,
            ports,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in &cluster.ports {
            while cluster.cli(*port, &["PING"]).as_deref() != Some("PONG") {
                assert!(
                    Instant::now() < deadline,
                    "redis cluster node did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let nodes: Vec<String> = cluster.endpoints();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed"
        );
        for port in &cluster.ports {
            while !cluster
                .cli(*port, &["CLUSTER", "INFO"])
                .is_some_and(|i| i.contains("cluster_state:ok"))
            {
                assert!(Instant::now() < deadline, "redis cluster did not form");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// `127.0.0.1:PORT` of each node.
    pub fn endpoints(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// Runs `redis-cli -c` (following redirections) against node `port`.
    pub fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .args(["-c", "-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Redis Sentinel watching a master (as `master_name`); killed when
/// dropped.
pub struct RedisSentinel {
    child: Option<Child>,
    pub port: u16,
    _dir: crate::TestDir,
}

impl RedisSentinel {
    /// Starts one on a free port watching `master` and waits until it
    /// names that master.
    pub fn start(master: &RedisServer, master_name: &str) -> RedisSentinel {
        let port = free_port();
        let dir = crate::TestDir::new("sentinel");
        let config = dir.write(
            "sentinel.conf",
            &format!(
                "port {port}\nbind 127.0.0.1\nsentinel monitor {master_name} 127.0.0.1 {} 1\n",
                master.port
            ),
        );
        let child = Command::new("redis-server")
            .arg(&config)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server --sentinel (scripts/test installs Debian's redis-server)");
        let sentinel = RedisSentinel {
            child: Some(child),
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let want = master.port.to_string();
        loop {
            let out = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["SENTINEL", "get-master-addr-by-name", master_name])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            if out.is_some_and(|o| o.lines().any(|l| l.trim() == want)) {
                break;
            }
            assert!(Instant::now() < deadline, "redis sentinel did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        sentinel
    }

    /// `127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Debian's `pebble` ACME test server with `pebble-challtestsrv` as its DNS
/// (every name resolves to 127.0.0.1), validating HTTP-01 on `http_port`
/// and TLS-ALPN-01 on `tls_port`; its API is HTTPS with the fixture
/// certificate (trust `tls::ca_path()`). Killed when dropped.
pub struct Pebble {
    children: Vec<Child>,
    pub port: u16,
    /// pebble's management API (HTTPS): `/roots/N` is chain N's root.
    pub management: u16,
    /// pebble-challtestsrv's management API (`/set-txt`, `/clear-txt`).
    pub dns_management: u16,
    /// pebble-challtestsrv's DNS server (UDP).
    pub dns: u16,
    _dir: crate::TestDir,
}

impl Pebble {
    pub fn start(http_port: u16, tls_port: u16) -> Pebble {
        Pebble::start_with_validity(http_port, tls_port, 0)
    }

    /// Like [`Pebble::start`], issuing certificates valid `seconds` (0:
    /// pebble's default of five years).
    pub fn start_with_validity(http_port: u16, tls_port: u16, seconds: u64) -> Pebble {
        Pebble::start_with(
            http_port,
            tls_port,
            PebbleOptions {
                validity: seconds,
                ..PebbleOptions::default()
            },
        )
    }

    /// Like [`Pebble::start`], with `options`.
    pub fn start_with(http_port: u16, tls_port: u16, options: PebbleOptions) -> Pebble {
        let PebbleOptions {
            validity: seconds,
            eab,
            alternate_roots,
        } = options;
        let eab_required = !eab.is_empty();
        let eab_keys = eab
            .iter()
            .map(|(kid, mac)| format!("{kid:?}: {mac:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let dir = crate::TestDir::new("pebble");
        let (port, mgmt, dns, dns_mgmt) = (free_port(), free_port(), free_port(), free_port());
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{port}", "managementListenAddress": "127.0.0.1:{mgmt}",
 "certificate": "{cert}", "privateKey": "{key}", "httpPort": {http_port}, "tlsPort": {tls_port},
 "ocspResponderURL": "", "externalAccountBindingRequired": {eab_required},
 "externalAccountMACKeys": {{{eab_keys}}},
 "certificateValidityPeriod": {seconds}}}}}"#,
            cert = crate::tls::fixture_path("server.pem").display(),
            key = crate::tls::fixture_path("server.key").display(),
        );
        let config_path = dir.write("pebble.json", &config);
        let quiet = || Stdio::null();
        let dns_child = Command::new("pebble-challtestsrv")
            .args([
                "-dns01",
                &format!("127.0.0.1:{dns}"),
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{dns_mgmt}"),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .expect("start pebble-challtestsrv (scripts/test installs Debian's pebble)");
        let pebble = Command::new("pebble")
            .args([
                "-config",
                &config_path.display().to_string(),
                "-dnsserver",
                &format!("127.0.0.1:{dns}"),
            ])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_ALTERNATE_ROOTS", alternate_roots.to_string())
            .stdout(quiet())
            .stderr(quiet())
            .spawn()
            .expect("start pebble (scripts/test installs Debian's pebble)");
        let server = Pebble {
            children: vec![dns_child, pebble],
            port,
            management: mgmt,
            dns_management: dns_mgmt,
            dns,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The directory URL.
    pub fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.port)
    }
}

/// How [`Pebble::start_with`] sets pebble up.
#[derive(Debug, Clone, Default)]
pub struct PebbleOptions {
    /// Certificate lifetime in seconds (0: five years).
    pub validity: u64,
    /// External account keys (kid, base64url MAC key); when any is given,
    /// accounts must be bound to one.
    pub eab: Vec<(String, String)>,
    /// Chains besides the default one, each under its own root.
    pub alternate_roots: u32,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
