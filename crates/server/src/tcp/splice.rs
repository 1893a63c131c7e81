//! The copy between two plain TCP connections (no TLS on either side): on
//! Linux, splice(2) moves the bytes from one socket into a pipe and from
//! the pipe into the other socket inside the kernel, as Go's `io.Copy`
//! between two TCP connections does, instead of reading them into a
//! buffer of ours and writing them out again. Each direction has its own
//! pipe; both directions share the two sockets without a lock (readiness
//! is waited for on `&TcpStream`). Elsewhere, or when no pipe can be
//! made, the buffered copy ([`super::service::copy_both`]) does the work.

use std::time::Duration;

use tokio::net::TcpStream;

/// Copies `a` to `b` and `b` to `a` as [`super::service::copy_both`] does
/// (half-close passed on, the other direction bounded by `delay`).
pub async fn copy_both(a: TcpStream, b: TcpStream, delay: Option<Duration>) {
    #[cfg(target_os = "linux")]
    {
        if let (Ok(forward_pipe), Ok(backward_pipe)) = (linux::Pipe::new(), linux::Pipe::new()) {
            let forward = async {
                let r = linux::copy(&a, &b, &forward_pipe).await;
                linux::shutdown_write(&b);
                r
            };
            let backward = async {
                let r = linux::copy(&b, &a, &backward_pipe).await;
                linux::shutdown_write(&a);
                r
            };
            super::service::both_ways(forward, backward, delay).await;
            return;
        }
    }
    super::service::copy_both(a, b, delay).await;
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

    use rustix::pipe::{PipeFlags, SpliceFlags};

    use tokio::io::Interest;
    use tokio::net::TcpStream;

    /// How much one splice(2) asks to move, and the size asked for the
    /// pipes (Go's `maxSpliceSize`); the kernel may keep them smaller
    /// (`/proc/sys/fs/pipe-max-size`, a user's pipe-pages limits), which
    /// only costs more calls.
    const CHUNK: usize = 1 << 20;

    /// A pipe between the two splice(2) calls of one direction.
    pub struct Pipe {
        read: OwnedFd,
        write: OwnedFd,
    }

    impl Pipe {
        pub fn new() -> io::Result<Pipe> {
            let (read, write) = rustix::pipe::pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
            // Best effort: a smaller pipe works too.
            let _ = rustix::pipe::fcntl_setpipe_size(&write, CHUNK);
            Ok(Pipe { read, write })
        }
    }

    /// Moves bytes from `from` to `to` through `pipe` until `from` ends
    /// (its peer's half-close); the bytes moved.
    pub async fn copy(from: &TcpStream, to: &TcpStream, pipe: &Pipe) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            // The pipe is empty here: EAGAIN can only mean that the
            // socket has nothing to read, and waits for it.
            let n = from
                .async_io(Interest::READABLE, || {
                    splice(from.as_fd(), pipe.write.as_fd(), CHUNK)
                })
                .await?;
            if n == 0 {
                return Ok(total);
            }
            // Drain the pipe whole before reading again; EAGAIN: the
            // socket's send buffer is full.
            let mut left = n;
            while left > 0 {
                let m = to
                    .async_io(Interest::WRITABLE, || {
                        splice(pipe.read.as_fd(), to.as_fd(), left)
                    })
                    .await?;
                if m == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                left -= m;
            }
            total += n as u64;
        }
    }

    /// Ends the writing side of `stream` (its peer reads the end).
    pub fn shutdown_write(stream: &TcpStream) {
        let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    }

    /// splice(2) of up to `len` bytes from `from` to `to`, neither
    /// blocking (the sockets are non-blocking, and SPLICE_F_NONBLOCK
    /// makes the pipe side so).
    fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
        Ok(rustix::pipe::splice(from, None, to, None, len, flags)?)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// Two connected sockets: (the end we keep, the end handed to the copy).
    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (ours, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        (ours.expect("connect"), accepted.expect("accept").0)
    }

    #[tokio::test]
    async fn bytes_both_ways_half_close_and_the_delay() {
        let (mut client, a) = pair().await;
        let (mut server, b) = pair().await;
        let copying = tokio::spawn(copy_both(a, b, Some(Duration::from_secs(2))));
        // More than a pipe's worth, so that the copy loops and the pipe
        // drains in several writes.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = big.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.expect("write");
            client.shutdown().await.expect("half-close");
            client
        });
        let mut got = Vec::new();
        server
            .read_to_end(&mut got)
            .await
            .expect("the server reads to the end");
        assert!(got == big, "the bytes arrive whole and in order");
        let mut client = writer.await.expect("joined");
        // After the client's half-close, the server's answer still
        // reaches it within the delay.
        server.write_all(b"pong").await.expect("answer");
        let mut back = [0u8; 4];
        client.read_exact(&mut back).await.expect("the answer");
        assert_eq!(&back, b"pong");
        // The server never closes: the delay ends the copy, and the
        // client's side is closed.
        tokio::time::timeout(Duration::from_secs(20), copying)
            .await
            .expect("the delay ends the copy")
            .expect("joined");
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.expect("closed");
        assert!(rest.is_empty());
    }
}
