//! The new process's side of an upgrade: take the sockets over before
//! binding, close those it does not use, and say when it is ready.

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::time::Duration;

use anyhow::{bail, Context};
use switchyard_server::entrypoint::sockets;
use switchyard_server::Switcher;

use super::{router_names, wire, ENV, READY_TIMEOUT};

/// How long the old process may take to send the sockets.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A process started by an upgrade, connected to the old process.
pub struct Successor {
    conn: OwnedFd,
    /// The routers the old process serves.
    routers: Vec<String>,
}

/// When this process was started by an upgrade: connects to the old
/// process and keeps its sockets for the bind functions. A hand-over that
/// fails is logged and the process binds as on any start (which fails for
/// the addresses the old process still listens on).
pub fn take_over() -> Option<Successor> {
    let path = std::env::var_os(ENV)?;
    let path = std::path::PathBuf::from(path);
    match receive(&path) {
        Ok((successor, inherited)) => {
            tracing::info!(
                sockets = inherited.len(),
                routers = successor.routers.len(),
                "upgrade: took the listening sockets over from the previous process"
            );
            sockets::inherit(inherited);
            Some(successor)
        }
        Err(e) => {
            tracing::error!(socket = %path.display(), "upgrade: no sockets taken over: {e:#}");
            None
        }
    }
}

fn receive(path: &std::path::Path) -> anyhow::Result<(Successor, Vec<(sockets::Key, OwnedFd)>)> {
    let conn = wire::connect(path).context("cannot connect")?;
    wire::set_timeout(&conn, RECEIVE_TIMEOUT)?;
    let (mut inherited, mut routers) = (Vec::new(), Vec::new());
    loop {
        match wire::recv(&conn).context("receiving")? {
            Some((wire::Message::Sockets { keys }, fds)) => {
                if keys.len() != fds.len() {
                    bail!("{} sockets named but {} received", keys.len(), fds.len());
                }
                inherited.extend(keys.into_iter().zip(fds));
            }
            Some((wire::Message::Routers { names }, _)) => routers.extend(names),
            Some((wire::Message::End, _)) => break,
            Some((other, _)) => bail!("unexpected message {other:?}"),
            None => bail!("the previous process closed the hand-over"),
        }
    }
    Ok((Successor { conn, routers }, inherited))
}

/// Closes the sockets taken over that no entrypoint of this process's
/// configuration took; run once every entrypoint is bound.
pub fn close_unused_sockets() {
    for key in sockets::close_unused() {
        tracing::info!(socket = %key, "upgrade: socket of the previous process not in this configuration: closed");
    }
}

impl Successor {
    /// Waits until this process's runtime has every router the old process
    /// serves: until then the old one takes every connection (this one
    /// does not accept yet). An error after [`READY_TIMEOUT`]: the old
    /// process has given up by then.
    pub async fn routed(&self, switcher: &Switcher) -> anyhow::Result<()> {
        let wanted: HashSet<&String> = self.routers.iter().collect();
        let started = tokio::time::Instant::now();
        loop {
            let names = router_names(&switcher.load());
            let have: HashSet<&String> = names.iter().collect();
            let mut missing: Vec<&&String> = wanted.difference(&have).collect();
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                missing.sort();
                bail!("upgrade: routers of the previous process still missing after {READY_TIMEOUT:?}: {missing:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Tells the old process that this one serves (it stops accepting).
    pub async fn report_ready(self) {
        let conn = self.conn;
        let pid = std::process::id();
        let sent = tokio::task::spawn_blocking(move || {
            wire::send(&conn, &wire::Message::Ready { pid }, &[])
        })
        .await;
        match sent {
            Ok(Ok(())) => {
                tracing::info!("upgrade: serving every router; the previous process stops")
            }
            Ok(Err(e)) => {
                tracing::warn!("upgrade: the previous process was not told it may stop: {e}")
            }
            Err(e) => tracing::warn!("upgrade: the ready message was not sent: {e}"),
        }
    }
}
