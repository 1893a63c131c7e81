//! KV stores the provider tests write to: a real `etcd` (Debian's
//! etcd-server; it ships no etcdctl, so keys are written through etcd's v3
//! JSON gateway) and a real ZooKeeper (Debian's; keys written with the
//! `zookeeper-client` crate, as the `zk-cli` helper does).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;
use crate::TestDir;
use zookeeper_client::{Acls, Client, CreateMode};

/// An `etcd` on 127.0.0.1 with its own data directory; killed when
/// dropped. Stopped and started again, it keeps its keys.
pub struct EtcdServer {
    child: Option<Child>,
    pub port: u16,
    peer_port: u16,
    dir: TestDir,
}

impl EtcdServer {
    /// Starts one on free ports and waits until it answers. Panics when
    /// `etcd` is not installed: the suite needs it.
    pub fn start() -> EtcdServer {
        let mut server = EtcdServer {
            child: None,
            port: free_port(),
            peer_port: free_port(),
            dir: TestDir::new("etcd"),
        };
        server.restart();
        server
    }

    /// Starts it again (after [`EtcdServer::stop`]) on the same ports and
    /// data.
    pub fn restart(&mut self) {
        self.stop();
        let client = format!("http://127.0.0.1:{}", self.port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new("etcd")
            .args(["--name", "default", "--data-dir"])
            .arg(self.dir.join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd (scripts/test installs Debian's etcd-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self
            .call("range", &format!("{{\"key\":\"{}\"}}", base64("ready")))
            .is_none()
        {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &str, value: &str) {
        let body = format!(
            "{{\"key\":\"{}\",\"value\":\"{}\"}}",
            base64(key),
            base64(value)
        );
        self.call("put", &body).expect("etcd put");
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        let body = format!("{{\"key\":\"{}\"}}", base64(key));
        self.call("deleterange", &body).expect("etcd delete");
    }

    /// POSTs `body` to `/v3/kv/<op>`; the answer's body when it is a 200.
    fn call(&self, op: &str, body: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let request = format!(
            "POST /v3/kv/{op} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).ok()?;
        let (head, rest) = answer.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.1 200").then(|| rest.to_string())
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `zk-cli` does: `put` (KEY, VALUE) or `delete` (KEY) on the znode
/// `/KEY`, parents created as needed; a delete removes the parents it
/// leaves empty, down to the first segment.
pub async fn zk_write(
    endpoint: &str,
    op: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), String> {
    let client = Client::connect(endpoint)
        .await
        .map_err(|e| format!("connect {endpoint}: {e}"))?;
    let path = format!("/{}", key.trim_matches('/'));
    match (op, value) {
        ("put", Some(value)) => {
            let options = CreateMode::Persistent.with_acls(Acls::anyone_all());
            match client.set_data(&path, value.as_bytes(), None).await {
                Ok(_) => Ok(()),
                Err(zookeeper_client::Error::NoNode) => {
                    // Parents first (one may exist already), then the key.
                    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
                    for n in 1..segments.len() {
                        let parent = format!("/{}", segments[..n].join("/"));
                        match client.create(&parent, b"", &options).await {
                            Ok(_) | Err(zookeeper_client::Error::NodeExists) => {}
                            Err(e) => return Err(format!("create {parent}: {e}")),
                        }
                    }
                    client
                        .create(&path, value.as_bytes(), &options)
                        .await
                        .map(|_| ())
                        .map_err(|e| format!("create {path}: {e}"))
                }
                Err(e) => Err(format!("set {path}: {e}")),
            }
        }
        ("delete", None) => {
            client
                .delete(&path, None)
                .await
                .map_err(|e| format!("delete {path}: {e}"))?;
            // Parents left empty go too (a KV store has no folders).
            let mut parent = path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                if up.is_empty() || up.matches('/').count() < 2 {
                    break;
                }
                match client.delete(up, None).await {
                    Ok(()) => parent = up,
                    Err(_) => break,
                }
            }
            Ok(())
        }
        _ => Err("usage: zk-cli HOST:PORT put KEY VALUE | delete KEY".into()),
    }
}

/// A ZooKeeper server (Debian's `zkServer.sh start-foreground`) on
/// 127.0.0.1 with its own data directory; killed when dropped. Stopped and
/// started again, it keeps its znodes.
pub struct ZooKeeperServer {
    child: Option<Child>,
    pub port: u16,
    dir: TestDir,
}

impl ZooKeeperServer {
    /// Starts one on a free port and waits until it answers `ruok`. Panics
    /// when ZooKeeper is not installed: the suite needs it.
    pub fn start() -> ZooKeeperServer {
        let mut server = ZooKeeperServer {
            child: None,
            port: free_port(),
            dir: TestDir::new("zookeeper"),
        };
        server.restart();
        server
    }

    /// Starts it again (after [`ZooKeeperServer::stop`]) on the same port
    /// and data.
    pub fn restart(&mut self) {
        self.stop();
        let config = format!(
            "tickTime=500\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=ruok\n",
            self.dir.join("data").display(),
            self.port
        );
        let config = self.dir.write("zoo.cfg", &config);
        let child = Command::new("/usr/share/zookeeper/bin/zkServer.sh")
            .arg("start-foreground")
            .arg(&config)
            .env("ZOO_LOG_DIR", self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ZooKeeper (scripts/test installs Debian's zookeeper)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.ruok() {
            assert!(Instant::now() < deadline, "zookeeper did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ruok(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let mut answer = String::new();
        s.write_all(b"ruok").is_ok() && s.read_to_string(&mut answer).is_ok() && answer == "imok"
    }

    /// `127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sets `key` (the znode `/key`) to `value`.
    pub fn put(&self, key: &str, value: &str) {
        self.write("put", key, Some(value));
    }

    /// Deletes `key` and the parents it leaves empty.
    pub fn delete(&self, key: &str) {
        self.write("delete", key, None);
    }

    /// Runs [`zk_write`] on a thread of its own (callable from any test).
    fn write(&self, op: &str, key: &str, value: Option<&str>) {
        let (endpoint, op, key) = (self.endpoint(), op.to_string(), key.to_string());
        let value = value.map(str::to_string);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let write = zk_write(&endpoint, &op, &key, value.as_deref());
            runtime.block_on(async { tokio::time::timeout(Duration::from_secs(10), write).await })
        })
        .join()
        .expect("zookeeper writer thread")
        .expect("zookeeper write timed out")
        .expect("zookeeper write");
    }

    /// Stops the server now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ZooKeeperServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Standard base64 with padding.
fn base64(text: &str) -> String {
    base64_bytes(text.as_bytes())
}

/// Standard base64 with padding.
pub(crate) fn base64_bytes(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_table() {
        for (text, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("traefik/http", "dHJhZWZpay9odHRw"),
        ] {
            assert_eq!(super::base64(text), want, "{text:?}");
        }
    }
}
