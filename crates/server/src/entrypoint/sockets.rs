//! The process's listening sockets, for a binary upgrade.
//!
//! Every socket an entrypoint listens on — an entrypoint's TCP listener,
//! its QUIC socket (`http3`), a UDP entrypoint's socket — is registered
//! here under a [`Key`] with a duplicate of its descriptor, by the bind
//! functions themselves, for as long as the entrypoint listens: the
//! [`Registration`] they keep beside the socket takes the entry out when
//! it is dropped, with the socket.
//!
//! ```text
//! old process                         new process (started by the old one)
//! snapshot(): (Key, dup fd) ...  ──▶  inherit(...)          before binding
//!                                     bind: take_inherited(key) or bind anew
//!                                     close_unused()        after binding
//! ```
//!
//! An inherited socket is the very socket the old process listens on (one
//! open file shared by both processes): connections wait in one kernel
//! queue whichever process accepts them, so none is refused while both
//! run, and the old one's close leaves the queue to the new one.

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Set once a new process has taken the sockets over and is serving.
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// Says that a new process serves on these sockets from now on: a
/// stopping UDP entrypoint leaves what arrives to it instead of reading
/// (and dropping) new clients' datagrams.
pub fn mark_handed_over() {
    HANDED_OVER.store(true, Ordering::Release);
}

/// Whether [`mark_handed_over`] was called.
pub fn handed_over() -> bool {
    HANDED_OVER.load(Ordering::Acquire)
}

/// What a socket is for, as the upgrade matches them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Key {
    /// The entrypoint's name.
    pub entrypoint: String,
    /// `tcp`, `udp` (a UDP entrypoint) or `quic` (an entrypoint's HTTP/3).
    pub kind: String,
    /// The address as configured (before the kernel chose a port for `:0`).
    pub address: SocketAddr,
}

impl Key {
    pub fn new(entrypoint: &str, kind: &str, address: SocketAddr) -> Key {
        Key {
            entrypoint: entrypoint.to_string(),
            kind: kind.to_string(),
            address,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.entrypoint, self.kind, self.address)
    }
}

struct Entry {
    id: u64,
    key: Key,
    fd: OwnedFd,
}

struct Registry {
    live: Vec<Entry>,
    inherited: Vec<(Key, OwnedFd)>,
    next_id: u64,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    live: Vec::new(),
    inherited: Vec::new(),
    next_id: 0,
});

fn registry() -> MutexGuard<'static, Registry> {
    // The registry's lists stay whole whatever panicked while holding it.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A registered socket's entry; dropping it takes the entry out (and
/// closes the registry's duplicate of the descriptor).
#[derive(Debug)]
pub struct Registration {
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        registry().live.retain(|e| e.id != self.id);
    }
}

/// Registers `socket` under `key`, with a duplicate of its descriptor.
pub fn register(key: Key, socket: &impl AsFd) -> std::io::Result<Registration> {
    let fd = socket.as_fd().try_clone_to_owned()?;
    let mut registry = registry();
    let id = registry.next_id;
    registry.next_id += 1;
    registry.live.push(Entry { id, key, fd });
    Ok(Registration { id })
}

/// Duplicates of every registered socket's descriptor, with their keys:
/// what an upgrade hands to the new process.
pub fn snapshot() -> std::io::Result<Vec<(Key, OwnedFd)>> {
    registry()
        .live
        .iter()
        .map(|e| Ok((e.key.clone(), e.fd.try_clone()?)))
        .collect()
}

/// Keeps sockets received from the process this one upgrades, for the
/// bind functions to take.
pub fn inherit(sockets: Vec<(Key, OwnedFd)>) {
    registry().inherited.extend(sockets);
}

/// The inherited socket for `key`: the one with the same entrypoint, kind
/// and address, else one of the same kind and address (a renamed
/// entrypoint keeps its socket).
pub fn take_inherited(key: &Key) -> Option<OwnedFd> {
    let mut registry = registry();
    let inherited = &mut registry.inherited;
    let at = inherited.iter().position(|(k, _)| k == key).or_else(|| {
        inherited
            .iter()
            .position(|(k, _)| k.kind == key.kind && k.address == key.address)
    })?;
    Some(inherited.swap_remove(at).1)
}

/// Closes the inherited sockets no entrypoint took; their keys.
pub fn close_unused() -> Vec<Key> {
    std::mem::take(&mut registry().inherited)
        .into_iter()
        .map(|(key, _closed)| key)
        .collect()
}

/// The socket for `key`: the inherited one when there is one that is
/// bound where `key` says (checked: the kind of socket and its address),
/// else a new one from `bind`. The result is registered.
pub(crate) fn inherited_or(
    key: Key,
    kind: socket2::Type,
    bind: impl FnOnce() -> std::io::Result<socket2::Socket>,
) -> std::io::Result<(socket2::Socket, Registration)> {
    let socket = match take_inherited(&key).map(socket2::Socket::from) {
        Some(socket) if fits(&socket, &key, kind) => {
            tracing::info!(socket = %key, "listening on the socket taken over from the previous process");
            socket.set_nonblocking(true)?;
            socket
        }
        Some(_) => {
            tracing::warn!(socket = %key, "the socket taken over is not bound as configured: closed, binding anew");
            bind()?
        }
        None => bind()?,
    };
    let registration = register(key, &socket)?;
    Ok((socket, registration))
}

/// Whether an inherited socket is of `kind` and bound to `key`'s address
/// (any port for `:0`).
fn fits(socket: &socket2::Socket, key: &Key, kind: socket2::Type) -> bool {
    let bound = socket.local_addr().ok().and_then(|a| a.as_socket());
    socket.r#type().is_ok_and(|t| t == kind)
        && bound.is_some_and(|b| {
            b.ip() == key.address.ip()
                && (key.address.port() == 0 || b.port() == key.address.port())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_lives_as_long_as_its_socket_is_kept() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = socket.local_addr().expect("addr");
        let key = Key::new("registration-test", "udp", addr);
        let registration = register(key.clone(), &socket).expect("register");
        let listed = |k: &Key| snapshot().expect("snapshot").iter().any(|(s, _)| s == k);
        assert!(listed(&key));
        drop(registration);
        assert!(!listed(&key));
    }

    #[test]
    fn an_inherited_socket_is_taken_once_and_the_rest_closed() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let (addr_a, addr_b) = (a.local_addr().expect("a"), b.local_addr().expect("b"));
        inherit(vec![
            (Key::new("inherit-a", "udp", addr_a), OwnedFd::from(a)),
            (Key::new("inherit-b", "udp", addr_b), OwnedFd::from(b)),
        ]);
        // Renamed: found by kind and address.
        let renamed = Key::new("inherit-renamed", "udp", addr_a);
        let taken = take_inherited(&renamed).map(socket2::Socket::from);
        let bound = taken
            .and_then(|s| s.local_addr().ok())
            .and_then(|a| a.as_socket());
        assert_eq!(bound, Some(addr_a));
        assert!(take_inherited(&renamed).is_none());
        assert!(take_inherited(&Key::new("inherit-b", "tcp", addr_b)).is_none());
        let closed = close_unused();
        assert!(closed.iter().any(|k| k.entrypoint == "inherit-b"));
        // Closed: its port can be bound again.
        assert!(std::net::UdpSocket::bind(addr_b).is_ok());
    }
}
