//! The real `switchyard` binary as a child process.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where [`free_port`] looks: below Linux's ephemeral range (32768 and
/// up), which the kernel hands out as the source port of every outgoing
/// connection, so that no connection made meanwhile (by any process) can
/// take the port before the test's server binds it.
const PORTS: std::ops::Range<u16> = 10_000..32_000;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    take_port(0)
}

/// A free port whose neighbour `offset` above is free too (and given to no
/// one else): a Redis cluster node listens on its port and on port + 10000.
pub fn free_port_with(offset: u16) -> u16 {
    take_port(offset)
}

fn take_port(offset: u16) -> u16 {
    // A port is given to one caller of this process only (a test that
    // asked for two must not get one twice); processes start at different
    // places of the range.
    static GIVEN: Mutex<Option<(u16, std::collections::BTreeSet<u16>)>> = Mutex::new(None);
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (next, seen) = given.get_or_insert_with(|| {
        let span = u32::from(PORTS.end - PORTS.start);
        let seed = std::process::id().wrapping_mul(7919)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
        let start = PORTS.start + u16::try_from(seed % span).unwrap_or(0);
        (start, std::collections::BTreeSet::new())
    });
    for _ in PORTS {
        let port = *next;
        *next = if port + 1 >= PORTS.end {
            PORTS.start
        } else {
            port + 1
        };
        let Some(other) = port.checked_add(offset) else {
            continue;
        };
        if seen.contains(&port) || seen.contains(&other) {
            continue;
        }
        let bindable = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if bindable(port) && (offset == 0 || bindable(other)) {
            seen.insert(port);
            seen.insert(other);
            return port;
        }
    }
    // The whole range taken: what the kernel gives.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr").port()
}

/// A running switchyard; killed when dropped. Its log lines are kept.
pub struct Switchyard {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    pub dir: PathBuf,
}

impl Switchyard {
    /// Starts `bin` with `args` in `dir`, with the environment cleared of
    /// SWITCHYARD_/TRAEFIK_ variables.
    pub fn start(bin: &Path, dir: &Path, args: &[&str]) -> Switchyard {
        Switchyard::start_with_env(bin, dir, args, &[])
    }

    /// Like [`Switchyard::start`], with extra environment variables.
    pub fn start_with_env(
        bin: &Path,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Switchyard {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("SWITCHYARD_") || k.starts_with("TRAEFIK_") {
                cmd.env_remove(k);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start switchyard");
        let log = Arc::new(Mutex::new(Vec::new()));
        for out in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if std::env::var_os("SWITCHYARD_TEST_LOG").is_some() {
                        eprintln!("[switchyard] {line}");
                    }
                    log.lock().expect("log lock").push(line);
                }
            });
        }
        Switchyard {
            child,
            log,
            dir: dir.to_path_buf(),
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log lock").clone()
    }

    /// True once a logged line contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .any(|l| l.contains(needle))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`"TERM"`, `"HUP"`, `"INT"`) with the `kill` command.
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits up to `timeout` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits until `addr` accepts TCP connections.
    pub async fn wait_listening(&self, addr: SocketAddr) {
        crate::wait_until(
            &format!("switchyard listening on {addr}"),
            Duration::from_secs(10),
            || async move { tokio::net::TcpStream::connect(addr).await.ok().map(|_| ()) },
        )
        .await;
    }
}

impl Drop for Switchyard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- switchyard log ----");
            for line in self.log() {
                eprintln!("{line}");
            }
        }
    }
}
