//! The hand-over's connection: a Unix `SOCK_SEQPACKET` socket (message
//! boundaries kept), one JSON [`Message`] per packet, with the descriptors
//! it carries attached (`SCM_RIGHTS`). Every call blocks; each side sets a
//! receive timeout, so none waits for ever.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};
use switchyard_server::entrypoint::sockets::Key;

/// The largest message; larger lists are sent in parts.
pub const MAX_MESSAGE: usize = 32 * 1024;
/// The most descriptors one message carries.
pub const MAX_FDS: usize = 64;

/// What the two processes tell each other.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Message {
    /// Old → new: listening sockets, one descriptor attached per key, in
    /// the keys' order.
    Sockets { keys: Vec<Key> },
    /// Old → new: some of the routers the old process serves.
    Routers { names: Vec<String> },
    /// Old → new: all was sent.
    End,
    /// New → old: it serves every router the old one does.
    Ready { pid: u32 },
}

fn socket() -> std::io::Result<OwnedFd> {
    Ok(rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// A socket listening at `path` for the one connection of a hand-over.
pub fn listen(path: &Path) -> std::io::Result<OwnedFd> {
    let fd = socket()?;
    rustix::net::bind(&fd, &SocketAddrUnix::new(path)?)?;
    rustix::net::listen(&fd, 1)?;
    Ok(fd)
}

/// The hand-over connection, waiting up to `timeout` for it; and the pid
/// of the process that connected.
pub fn accept(listener: &OwnedFd, timeout: Duration) -> std::io::Result<(OwnedFd, u32)> {
    rustix::net::sockopt::set_socket_timeout(
        listener,
        rustix::net::sockopt::Timeout::Recv,
        Some(timeout),
    )?;
    let fd = rustix::net::accept_with(listener, SocketFlags::CLOEXEC)?;
    let peer = rustix::net::sockopt::socket_peercred(&fd)?;
    let pid = u32::try_from(peer.pid.as_raw_pid()).unwrap_or(0);
    Ok((fd, pid))
}

/// Connects to the hand-over socket at `path`.
pub fn connect(path: &Path) -> std::io::Result<OwnedFd> {
    let fd = socket()?;
    rustix::net::connect(&fd, &SocketAddrUnix::new(path)?)?;
    Ok(fd)
}

/// How long [`recv`] waits for a message.
pub fn set_timeout(fd: &OwnedFd, timeout: Duration) -> std::io::Result<()> {
    rustix::net::sockopt::set_socket_timeout(
        fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(timeout),
    )?;
    Ok(())
}

/// Sends `message` with `fds` attached (at most [`MAX_FDS`]).
pub fn send(fd: &OwnedFd, message: &Message, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(message)?;
    if bytes.len() > MAX_MESSAGE || fds.len() > MAX_FDS {
        return Err(std::io::Error::other("hand-over message too large"));
    }
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len().max(1)))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("hand-over: descriptors do not fit"));
    }
    let sent = rustix::net::sendmsg(
        fd,
        &[IoSlice::new(&bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    if sent != bytes.len() {
        return Err(std::io::Error::other("hand-over message sent in part"));
    }
    Ok(())
}

/// The next message and the descriptors attached to it; `None` when the
/// other side closed. A timeout is an error of kind `WouldBlock`.
pub fn recv(fd: &OwnedFd) -> std::io::Result<Option<(Message, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = rustix::net::recvmsg(
        fd,
        &mut [IoSliceMut::new(&mut buf)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    // Owned first, so that they are closed whatever follows.
    let mut fds = Vec::new();
    for received in control.drain() {
        if let RecvAncillaryMessage::ScmRights(rights) = received {
            fds.extend(rights);
        }
    }
    if got
        .flags
        .intersects(ReturnFlags::TRUNC | ReturnFlags::CTRUNC)
    {
        return Err(std::io::Error::other("hand-over message truncated"));
    }
    if got.bytes == 0 {
        return Ok(None);
    }
    let message = serde_json::from_slice(&buf[..got.bytes])?;
    Ok(Some((message, fds)))
}

/// Sends `names` in messages of at most [`MAX_MESSAGE`] bytes.
pub fn send_routers(fd: &OwnedFd, names: &[String]) -> std::io::Result<()> {
    let mut part = Vec::new();
    let mut size = 0;
    for name in names {
        // A name's JSON: quoted, escaped at most 6 bytes a byte, a comma.
        let cost = name.len() * 6 + 3;
        if cost > MAX_MESSAGE / 2 {
            continue;
        }
        if size + cost > MAX_MESSAGE / 2 {
            send(
                fd,
                &Message::Routers {
                    names: std::mem::take(&mut part),
                },
                &[],
            )?;
            size = 0;
        }
        part.push(name.clone());
        size += cost;
    }
    if !part.is_empty() {
        send(fd, &Message::Routers { names: part }, &[])?;
    }
    Ok(())
}

/// Sends `sockets`, [`MAX_FDS`] a message.
pub fn send_sockets(fd: &OwnedFd, sockets: &[(Key, OwnedFd)]) -> std::io::Result<()> {
    for part in sockets.chunks(MAX_FDS) {
        let keys = part.iter().map(|(k, _)| k.clone()).collect();
        let fds: Vec<BorrowedFd<'_>> = part.iter().map(|(_, f)| f.as_fd()).collect();
        send(fd, &Message::Sockets { keys }, &fds)?;
    }
    Ok(())
}
