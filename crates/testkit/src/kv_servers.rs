//! KV stores the provider tests write to: a real `etcd` (Debian's
//! etcd-server; it ships no etcdctl, so keys are written through etcd's v3
//! JSON gateway).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;
use crate::TestDir;

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

/// Standard base64 with padding.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
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
