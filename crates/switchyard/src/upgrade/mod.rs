//! Binary upgrade: a new Switchyard binary takes the listening sockets over
//! from the running process, which then drains and exits; no connection
//! attempt is refused meanwhile.
//!
//! ```text
//! old process (SIGUSR2)                      new process
//! 1. a Unix socket in a private directory
//! 2. starts its own binary's path again, with the same arguments and
//!    environment, plus SY_UPGRADE_SOCKET ─────▶ 3. connects (before binding)
//! 4. checks the peer is that child; sends
//!    every listening socket (sockets.rs keys)
//!    and the names of the routers it serves ─▶ 5. binds: the inherited socket
//!                                                 for each key; closes the
//!                                                 inherited ones it does not use
//!    keeps accepting                          6. once its runtime has every
//!                                                router of the old one, accepts
//!                                                too (one kernel queue) and
//! 7. on Ready: stops accepting and drains  ◀──── says Ready
//!    as on SIGTERM (connections accepted
//!    just before get 1 s to send their
//!    first request), then exits
//! ```
//!
//! If the new process exits, does not connect, or is not ready within
//! [`READY_TIMEOUT`], the old one logs why, sends it SIGTERM (it drains what
//! it took) and keeps serving; another SIGUSR2 tries again. The variable
//! is not called `SWITCHYARD_…`: those are static configuration.
//!
//! HTTP/3: the QUIC socket is handed over too, but a QUIC connection lives
//! in the process that has its state, so those open at the switch end (the
//! client reconnects). UDP sessions open in the old process relay their
//! backends' answers until they time out; new datagrams go to the new one.

mod successor;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use switchyard_server::entrypoint::sockets;
use switchyard_server::{Runtime, Switcher};
use tokio::sync::mpsc;

pub use successor::{close_unused_sockets, take_over, Successor};

/// The variable that tells a process it was started by an upgrade: the
/// path of the hand-over socket.
pub const ENV: &str = "SY_UPGRADE_SOCKET";

/// How long the new process may take to connect, and then to serve every
/// router the old one serves.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The old process's side: starts upgrades on SIGUSR2, one at a time.
pub struct Upgrader {
    /// The path this binary was started from, read at start: an upgrade
    /// starts what is at that path then (the new binary).
    binary: Option<PathBuf>,
    switcher: Switcher,
    busy: Arc<AtomicBool>,
    ready_tx: mpsc::Sender<u32>,
    ready_rx: mpsc::Receiver<u32>,
}

impl Upgrader {
    pub fn new(switcher: Switcher) -> Upgrader {
        let binary = std::env::current_exe()
            .map_err(|e| {
                tracing::warn!("the binary's path is unknown, SIGUSR2 cannot upgrade: {e}")
            })
            .ok();
        let (ready_tx, ready_rx) = mpsc::channel(1);
        Upgrader {
            binary,
            switcher,
            busy: Arc::default(),
            ready_tx,
            ready_rx,
        }
    }

    /// Starts an upgrade, unless one is under way.
    pub fn start(&self) {
        let Some(binary) = self.binary.clone() else {
            tracing::error!("SIGUSR2: cannot upgrade, the binary's path is unknown");
            return;
        };
        if self.busy.swap(true, Ordering::AcqRel) {
            tracing::warn!("SIGUSR2: an upgrade is already under way");
            return;
        }
        tracing::info!(binary = %binary.display(), "SIGUSR2: upgrading: starting the new binary");
        let (busy, ready, switcher) = (
            self.busy.clone(),
            self.ready_tx.clone(),
            self.switcher.clone(),
        );
        tokio::spawn(async move {
            match upgrade(binary, &switcher).await {
                Ok(pid) => {
                    sockets::mark_handed_over();
                    tracing::info!(
                        pid,
                        "upgrade: the new process is ready; this one stops accepting and drains"
                    );
                    let _ = ready.send(pid).await;
                }
                Err(e) => {
                    tracing::error!("upgrade failed, this process keeps serving: {e:#}");
                    busy.store(false, Ordering::Release);
                }
            }
        });
    }

    /// Resolves when an upgrade has succeeded (with the new process's pid):
    /// time to stop.
    pub async fn succeeded(&mut self) -> u32 {
        match self.ready_rx.recv().await {
            Some(pid) => pid,
            // Never: `self` keeps a sender.
            None => std::future::pending().await,
        }
    }
}

/// Runs one upgrade to the binary at `binary`; the new process's pid once
/// it is ready.
async fn upgrade(binary: PathBuf, switcher: &Switcher) -> anyhow::Result<u32> {
    let dir = private_dir()?;
    let path = dir.join("handover.sock");
    let result = async {
        let listener = wire::listen(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        let mut child = tokio::process::Command::new(&binary)
            .args(std::env::args_os().skip(1))
            .env(ENV, &path)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the new process has no pid")?;
        tracing::info!(pid, "upgrade: new process started");
        let routers = router_names(&switcher.load());
        let exchange = tokio::task::spawn_blocking(move || hand_over(&listener, pid, &routers));
        let outcome = tokio::select! {
            done = exchange => done.context("the hand-over task failed").and_then(|r| r),
            status = child.wait() => {
                // The blocking half may still wait for a connection: one
                // from this process ends it (not the child: refused).
                let _ = wire::connect(&path);
                match status {
                    Ok(s) => Err(anyhow::anyhow!("the new process exited before it was ready ({s})")),
                    Err(e) => Err(anyhow::anyhow!("the new process cannot be waited for: {e}")),
                }
            }
        };
        if outcome.is_err() && child.try_wait().ok().flatten().is_none() {
            // It drains what it may have accepted, as on any stop.
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
            }
            tokio::spawn(async move { child.wait().await });
        }
        outcome.map(|()| pid)
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The blocking half of the exchange: accept the new process (and no
/// other), send it the sockets and the routers, wait for `Ready`.
fn hand_over(
    listener: &std::os::fd::OwnedFd,
    child: u32,
    routers: &[String],
) -> anyhow::Result<()> {
    let (conn, peer) = wire::accept(listener, READY_TIMEOUT).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => {
            anyhow::anyhow!("the new process did not connect within {READY_TIMEOUT:?}")
        }
        _ => anyhow::Error::new(e).context("hand-over socket"),
    })?;
    if peer != child {
        bail!("process {peer} connected to the hand-over socket, not the new process {child}");
    }
    let sockets = sockets::snapshot().context("duplicating the listening sockets")?;
    wire::send_sockets(&conn, &sockets).context("sending the listening sockets")?;
    drop(sockets);
    wire::send_routers(&conn, routers).context("sending the router names")?;
    wire::send(&conn, &wire::Message::End, &[]).context("hand-over")?;
    wire::set_timeout(&conn, READY_TIMEOUT)?;
    match wire::recv(&conn) {
        Ok(Some((wire::Message::Ready { .. }, _))) => Ok(()),
        Ok(Some((other, _))) => bail!("unexpected hand-over message {other:?}"),
        Ok(None) => bail!("the new process closed the hand-over before it was ready"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            bail!("the new process did not serve every router within {READY_TIMEOUT:?}")
        }
        Err(e) => Err(anyhow::Error::new(e).context("hand-over")),
    }
}

/// A new directory only this user can enter, for the hand-over socket.
fn private_dir() -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir =
        std::env::temp_dir().join(format!("switchyard-upgrade-{}-{nanos}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The routers `runtime` serves (HTTP, TCP, UDP), but those of the
/// internal provider, which follow the static configuration.
fn router_names(runtime: &Runtime) -> Vec<String> {
    let info = &runtime.info;
    info.routers
        .keys()
        .chain(info.tcp_routers.keys())
        .chain(runtime.udp.routers.keys())
        .filter(|n| !n.ends_with("@internal"))
        .cloned()
        .collect()
}

pub const USAGE: &str = "\
Usage: switchyard upgrade PID

Asks the Switchyard process PID to upgrade (sends it SIGUSR2): it starts the
binary at the path it was started from, with the same arguments and
environment, hands it its listening sockets, and once the new process serves
every router it served, stops accepting, drains and exits. This command waits
until the process PID has exited (the upgrade is done) or 90 s have passed.";

/// `switchyard upgrade PID`.
pub fn command(args: &[String]) -> ExitCode {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(pid) = args
        .first()
        .and_then(|a| a.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw)
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::USR2) {
        eprintln!(
            "switchyard upgrade: cannot signal process {}: {e}",
            pid.as_raw_pid()
        );
        return ExitCode::from(1);
    }
    println!(
        "switchyard upgrade: SIGUSR2 sent to process {}",
        pid.as_raw_pid()
    );
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        if !running(pid.as_raw_pid()) {
            println!(
                "switchyard upgrade: process {} has exited; the new one serves",
                pid.as_raw_pid()
            );
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "switchyard upgrade: process {} still runs after 90 s: the upgrade failed (see its log) or it is still draining",
        pid.as_raw_pid()
    );
    ExitCode::from(1)
}

/// Whether process `pid` runs (exists and is not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command's closing parenthesis.
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}
