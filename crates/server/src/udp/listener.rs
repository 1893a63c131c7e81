//! A UDP entrypoint: one socket, a table of sessions by client address,
//! and the relay both ways.
//!
//! One task reads the entrypoint's socket. A datagram from a client with a
//! session goes straight to that session's backend socket (a socket of its
//! own, connected to the backend, as Traefik dials one per session); a
//! datagram from a new client loads the live runtime once, asks the
//! entrypoint's service for a backend and opens the session. Each session
//! has a task that reads its backend socket and answers the client from
//! the entrypoint's socket, and ends the session after `udp.timeout`
//! without a datagram either way, or when the backend's socket reports an
//! error (an ICMP port unreachable: the next datagram opens a new session,
//! on the next backend, as in Traefik).
//!
//! What is dropped, as UDP allows: datagrams for an entrypoint without a
//! working router or a service without a server, datagrams a backend
//! socket cannot take at once, and new clients beyond [`MAX_SESSIONS`]
//! (Traefik has no bound).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::balancer::Backend;
use crate::entrypoint::sockets::{self, Key, Registration};
use crate::entrypoint::{socket_for, AddressError};
use crate::Switcher;

/// The most sessions an entrypoint holds at once; datagrams from further
/// clients are dropped until sessions end.
pub const MAX_SESSIONS: usize = 65_536;

/// The largest datagram read: 65,535 bytes (an IPv4 payload is at most
/// 65,507 of them).
const MAX_DATAGRAM: usize = 65_535;

/// A UDP entrypoint's settings, from the static configuration.
#[derive(Debug, Clone)]
pub struct UdpSettings {
    pub name: String,
    /// The socket address (`:5353`, `127.0.0.1:53`), without `/udp`.
    pub address: String,
    /// `udp.timeout`: how long a session lives without a datagram.
    pub timeout: Duration,
    pub reuse_port: bool,
    /// `transport.lifeCycle.requestAcceptGraceTimeout`: new sessions are
    /// still opened this long after a stop is asked.
    pub request_accept_grace_timeout: Duration,
    /// `transport.lifeCycle.graceTimeOut`: how long open sessions may run
    /// on after that.
    pub grace_timeout: Duration,
    /// The most sessions at once ([`MAX_SESSIONS`]).
    pub max_sessions: usize,
}

/// A bound UDP entrypoint, not yet serving.
pub struct UdpEntryPoint {
    settings: UdpSettings,
    socket: Arc<UdpSocket>,
    /// The socket's entry in [`sockets`], dropped when serving ends.
    registration: Registration,
}

/// One client's session.
struct Session {
    id: u64,
    backend: Arc<UdpSocket>,
    /// Milliseconds since the entrypoint started, at the last datagram.
    last: Arc<AtomicU64>,
    /// Set by the session's task when it has ended.
    ended: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// What every session's task shares.
#[derive(Clone)]
struct Shared {
    front: Arc<UdpSocket>,
    clock: Instant,
    timeout: Duration,
    ended: mpsc::UnboundedSender<(SocketAddr, u64)>,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The entrypoint `name`'s socket: the one taken over from the process
/// this one upgrades, else a new one.
fn bind(
    name: &str,
    addr: SocketAddr,
    reuse_port: bool,
) -> std::io::Result<(UdpSocket, Registration)> {
    let key = Key::new(name, "udp", addr);
    let (socket, registration) = sockets::inherited_or(key, socket2::Type::DGRAM, || {
        let socket = socket_for(addr, socket2::Type::DGRAM, socket2::Protocol::UDP)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        Ok(socket)
    })?;
    Ok((UdpSocket::from_std(socket.into())?, registration))
}

impl UdpEntryPoint {
    /// Binds the entrypoint's socket.
    pub fn bind(settings: UdpSettings) -> Result<UdpEntryPoint, AddressError> {
        let addr = crate::entrypoint::parse_address(&settings.name, &settings.address)?;
        let (socket, registration) =
            bind(&settings.name, addr, settings.reuse_port).map_err(|source| {
                AddressError::Bind {
                    name: settings.name.clone(),
                    address: addr,
                    source,
                }
            })?;
        Ok(UdpEntryPoint {
            settings,
            socket: Arc::new(socket),
            registration,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub fn name(&self) -> &str {
        &self.settings.name
    }

    /// Relays until `shutdown` turns true; then opens new sessions for
    /// `requestAcceptGraceTimeout` more, and lets open ones run until they
    /// end or `graceTimeOut` passes.
    pub async fn serve(self, switcher: Switcher, mut shutdown: watch::Receiver<bool>) {
        let UdpEntryPoint {
            settings,
            socket,
            registration,
        } = self;
        let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            front: socket.clone(),
            clock: Instant::now(),
            timeout: settings.timeout,
            ended: ended_tx,
        };
        let mut sessions: HashMap<SocketAddr, Session> = HashMap::new();
        let mut next_id = 0u64;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        // Set when a stop is asked: new sessions until the first, open
        // ones until the second.
        let mut stop_at: Option<(Instant, Instant)> = None;
        let mut asked = false;
        loop {
            let now = Instant::now();
            let accepting = stop_at.is_none_or(|(accept_until, _)| now < accept_until);
            // Handed over to a new process: what arrives is its to read
            // (open sessions still relay their backends' answers).
            let reading = accepting || !sockets::handed_over();
            if let Some((accept_until, end)) = stop_at {
                if now >= end || (now >= accept_until && sessions.is_empty()) {
                    break;
                }
            }
            let wake = async {
                match stop_at {
                    Some((accept_until, _)) if now < accept_until => {
                        tokio::time::sleep_until(accept_until).await
                    }
                    Some((_, end)) => tokio::time::sleep_until(end).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = socket.recv_from(&mut buf), if reading => {
                    let Ok((n, client)) = received else { continue };
                    let datagram = &buf[..n];
                    if let Some(s) = sessions.get(&client) {
                        if !s.ended.load(Ordering::Acquire) && forward(&s.backend, datagram) {
                            s.last.store(shared.now_ms(), Ordering::Relaxed);
                            continue;
                        }
                        // Ended, or its backend refused: this datagram
                        // opens a new session.
                        if let Some(old) = sessions.remove(&client) {
                            old.task.abort();
                        }
                    }
                    if !accepting || sessions.len() >= settings.max_sessions {
                        tracing::debug!(entrypoint = %settings.name, %client, "UDP datagram dropped: no new session accepted now");
                        continue;
                    }
                    let Some(session) = open(&settings.name, &switcher, &shared, client, next_id) else {
                        continue;
                    };
                    next_id += 1;
                    let _ = forward(&session.backend, datagram);
                    sessions.insert(client, session);
                }
                Some((client, id)) = ended_rx.recv() => {
                    if sessions.get(&client).is_some_and(|s| s.id == id) {
                        sessions.remove(&client);
                    }
                }
                changed = shutdown.changed(), if !asked => {
                    if changed.is_err() || *shutdown.borrow() {
                        asked = true;
                        let accept_until = Instant::now() + settings.request_accept_grace_timeout;
                        stop_at = Some((accept_until, accept_until + settings.grace_timeout));
                    }
                }
                _ = wake => {}
            }
        }
        drop(registration);
        for s in sessions.values() {
            s.task.abort();
        }
        tracing::info!(entrypoint = %settings.name, "UDP entrypoint stopped");
    }
}

/// Sends `datagram` to a session's backend with one system call, never
/// waiting: a full socket buffer drops it, as the network would. (Straight
/// to the socket: tokio's own `try_send` reports a socket not yet seen
/// writable by its reactor, a new session's, as full.) False when the
/// backend refused an earlier datagram (an ICMP port unreachable came
/// back): the session is over, as in Traefik, whose session ends on that
/// error.
fn forward(backend: &UdpSocket, datagram: &[u8]) -> bool {
    match socket2::SockRef::from(backend).send(datagram) {
        Err(e) => e.kind() != std::io::ErrorKind::ConnectionRefused,
        Ok(_) => true,
    }
}

/// Opens a session for `client`: the live runtime's service for the
/// entrypoint chooses the backend. `None` (the datagram is dropped) when
/// the entrypoint has no working router, the service no server, or the
/// backend's socket cannot be opened.
fn open(
    entrypoint: &str,
    switcher: &Switcher,
    shared: &Shared,
    client: SocketAddr,
    id: u64,
) -> Option<Session> {
    let runtime = switcher.load();
    let Some(service) = runtime.udp.entrypoints.get(entrypoint) else {
        tracing::debug!(entrypoint, %client, "UDP datagram dropped: no router on this entrypoint");
        return None;
    };
    let Some(backend) = service.pick() else {
        tracing::error!(
            entrypoint,
            "Error during load balancing: no servers in the pool"
        );
        return None;
    };
    let socket = match connect(&backend) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::error!(entrypoint, backend = %backend.address, "Error while dialing backend: {e}");
            return None;
        }
    };
    tracing::debug!(entrypoint, %client, backend = %backend.address, "UDP session opened");
    let last = Arc::new(AtomicU64::new(shared.now_ms()));
    let ended = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(relay_back(
        shared.clone(),
        socket.clone(),
        client,
        id,
        last.clone(),
        ended.clone(),
    ));
    Some(Session {
        id,
        backend: socket,
        last,
        ended,
        task,
    })
}

/// A socket connected to `backend`. A host name is resolved here, on the
/// entrypoint's task (an IP address, the usual case, costs nothing).
fn connect(backend: &Backend) -> std::io::Result<UdpSocket> {
    let target = match backend.address.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => backend
            .address
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("the host resolves to no address"))?,
    };
    let local = match target.ip() {
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    };
    let socket = std::net::UdpSocket::bind(local)?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

/// A session's task: the backend's datagrams to the client, until the
/// session has been idle for the timeout or the backend socket fails.
async fn relay_back(
    shared: Shared,
    backend: Arc<UdpSocket>,
    client: SocketAddr,
    id: u64,
    last: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
) {
    let timeout_ms = u64::try_from(shared.timeout.as_millis()).unwrap_or(u64::MAX);
    'session: loop {
        let idle_until = last.load(Ordering::Relaxed).saturating_add(timeout_ms);
        let deadline = shared.clock + Duration::from_millis(idle_until);
        tokio::select! {
            ready = backend.readable() => {
                if ready.is_err() {
                    break;
                }
                // Held only while datagrams are there to read (an idle
                // session holds no buffer), and never zeroed: the datagram
                // is received into its spare capacity.
                let mut buf = Vec::with_capacity(MAX_DATAGRAM);
                loop {
                    buf.clear();
                    match backend.try_recv_buf(&mut buf) {
                        Ok(_) => {
                            last.store(shared.now_ms(), Ordering::Relaxed);
                            let _ = shared.front.send_to(&buf, client).await;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::debug!(%client, "UDP session ends: the backend socket failed: {e}");
                            break 'session;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let idle_until = last.load(Ordering::Relaxed).saturating_add(timeout_ms);
                if shared.now_ms() >= idle_until {
                    break;
                }
            }
        }
    }
    ended.store(true, Ordering::Release);
    let _ = shared.ended.send((client, id));
}

#[cfg(test)]
mod tests;
