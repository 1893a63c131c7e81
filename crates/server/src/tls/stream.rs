//! The transport of accepted connections: the first bytes decide between
//! plain HTTP and TLS (no peek: the bytes read are replayed), and TLS is
//! rustls's server connection driven straight over the socket.
//!
//! Driving rustls here rather than through a generic adapter lets a
//! connection spend fewer system calls and packets: what the TLS layer has to
//! say after a TLS 1.3 handshake (the session ticket) waits in rustls's buffer
//! and leaves with the first response in one `writev`, and writes are
//! encrypted into that buffer and reach the socket when the HTTP layer
//! flushes, once per response.

use std::io::{self, BufRead, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustls::server::{Accepted, Acceptor};
use rustls::{ProtocolVersion, ServerConfig, ServerConnection};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The first record type of a TLS connection (handshake).
const TLS_HANDSHAKE: u8 = 0x16;

/// How much of a new connection is read before deciding what it speaks:
/// enough for a ClientHello with a post-quantum key share.
const FIRST_READ: usize = 4096;

/// A new connection, classified by its first bytes.
pub(crate) enum Opening {
    Plain(Prefixed),
    /// A TLS connection whose ClientHello has been read.
    Tls(Box<Hello>),
}

/// Reads the first bytes of `io` (waiting for them without a deadline: the
/// caller bounds it) and reads on to the whole ClientHello when they open a
/// TLS handshake. `Ok(None)`: the client closed before sending anything.
/// `first`: bytes already read from `io` (after a PROXY protocol header),
/// read before anything else.
pub(crate) async fn open(mut io: TcpStream, mut first: Vec<u8>) -> io::Result<Option<Opening>> {
    if first.is_empty() {
        first.reserve(FIRST_READ);
        if io.read_buf(&mut first).await? == 0 {
            return Ok(None);
        }
    }
    if first[0] != TLS_HANDSHAKE {
        return Ok(Some(Opening::Plain(Prefixed {
            prefix: first,
            pos: 0,
            io,
        })));
    }
    let mut acceptor = Acceptor::default();
    let mut rest = &first[..];
    while !rest.is_empty() {
        if acceptor.read_tls(&mut rest)? == 0 {
            break;
        }
    }
    loop {
        match acceptor.accept() {
            Ok(Some(accepted)) => return Ok(Some(Opening::Tls(Box::new(Hello { io, accepted })))),
            Ok(None) => {}
            Err((err, mut alert)) => {
                let _ = alert.write(&mut NoWait(&io));
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        }
        let n = std::future::poll_fn(|cx| {
            let mut sync = SyncIo { io: &io, cx };
            match acceptor.read_tls(&mut sync) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                other => Poll::Ready(other),
            }
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// A TLS connection at its ClientHello, before a configuration is chosen.
pub(crate) struct Hello {
    io: TcpStream,
    accepted: Accepted,
}

impl Hello {
    pub(crate) fn client_hello(&self) -> rustls::server::ClientHello<'_> {
        self.accepted.client_hello()
    }

    /// Continues the handshake with `config` and completes it.
    pub(crate) async fn handshake(
        self: Box<Self>,
        config: Arc<ServerConfig>,
    ) -> io::Result<TlsStream> {
        let Hello { io, accepted } = *self;
        let conn = match accepted.into_connection(config) {
            Ok(conn) => conn,
            Err((err, mut alert)) => {
                let _ = alert.write(&mut NoWait(&io));
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        };
        let mut stream = TlsStream {
            io,
            conn,
            closing: false,
        };
        std::future::poll_fn(|cx| stream.poll_handshake(cx)).await?;
        Ok(stream)
    }
}

/// Writes what it can without waiting: for a last alert before closing.
struct NoWait<'a>(&'a TcpStream);

impl Write for NoWait<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as blocking I/O for rustls, with `Pending` as `WouldBlock`.
struct SyncIo<'a, 'b> {
    io: &'a TcpStream,
    cx: &'a mut Context<'b>,
}

/// Tries `op` on the socket; when the socket is not ready, waits for
/// `ready` (registering the task's waker), and says `WouldBlock` if that
/// is pending.
fn when_ready<T>(
    mut op: impl FnMut() -> io::Result<T>,
    mut ready: impl FnMut() -> Poll<io::Result<()>>,
) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match ready() {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Err(e),
                Poll::Pending => return Err(io::ErrorKind::WouldBlock.into()),
            },
            other => return other,
        }
    }
}

impl Read for SyncIo<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (io, cx) = (self.io, &mut *self.cx);
        when_ready(|| io.try_read(buf), || io.poll_read_ready(cx))
    }
}

impl Write for SyncIo<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[io::IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let (io, cx) = (self.io, &mut *self.cx);
        when_ready(|| io.try_write_vectored(bufs), || io.poll_write_ready(cx))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server-side TLS connection over a TCP socket.
pub(crate) struct TlsStream {
    io: TcpStream,
    conn: ServerConnection,
    /// `close_notify` has been queued.
    closing: bool,
}

fn would_block<T>(r: io::Result<T>) -> Poll<io::Result<T>> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
        other => Poll::Ready(other),
    }
}

impl TlsStream {
    pub(crate) fn connection(&self) -> &ServerConnection {
        &self.conn
    }

    /// Whether what rustls has queued may wait for the next flush. After a
    /// TLS 1.3 handshake only session tickets and key updates are queued
    /// unprompted, and no client waits for those; a TLS 1.2 client waits for
    /// the server's last handshake flight, which must go out at once.
    fn may_hold_writes(&self) -> bool {
        self.conn.protocol_version() == Some(ProtocolVersion::TLSv1_3)
    }

    /// Whether the client has sent application data already.
    fn has_plaintext(&mut self) -> bool {
        matches!(self.conn.reader().into_first_chunk(), Ok(chunk) if !chunk.is_empty())
    }

    /// Writes everything rustls has queued.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut sync = SyncIo { io: &self.io, cx };
            if ready!(would_block(self.conn.write_tls(&mut sync)))? == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads from the socket into rustls and processes what arrived;
    /// `Ok(0)` at the end of the socket's stream. A TLS error is sent to the
    /// peer as an alert (as far as the socket takes it) and returned.
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let n = {
            let mut sync = SyncIo { io: &self.io, cx };
            ready!(would_block(self.conn.read_tls(&mut sync)))?
        };
        if let Err(err) = self.conn.process_new_packets() {
            // The alert rustls queued for the error.
            let _ = self.conn.write_tls(&mut NoWait(&self.io));
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, err)));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            // The session ticket of TLS 1.3 rides with the first response
            // when the request came with the client's Finished. Otherwise it
            // goes now: it acknowledges the Finished at once, and a client
            // with Nagle's algorithm on would hold its request until then.
            if !self.conn.is_handshaking() && self.may_hold_writes() && self.has_plaintext() {
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_write_tls(cx))?;
            if !self.conn.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            if ready!(self.poll_read_tls(cx))? == 0 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the client closed the connection during the TLS handshake",
                )));
            }
        }
    }

    /// Completes what an ACME TLS-ALPN-01 validation needs: the handshake's
    /// every byte sent, then a clean close.
    pub(crate) async fn finish(mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| Pin::new(&mut self).poll_shutdown(cx)).await
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let taken = match this.conn.reader().into_first_chunk() {
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                // A client that closes without close_notify ends the stream
                // like one that sends it: HTTP's framing tells a cut request.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Ok(()));
                }
                Err(e) => return Poll::Ready(Err(e)),
            };
            if taken > 0 {
                this.conn.reader().consume(taken);
                return Poll::Ready(Ok(()));
            }
            if this.conn.wants_read() {
                // Nothing to read yet. Anything queued that a peer might be
                // waiting for goes out before this waits.
                if this.conn.wants_write() && !this.may_hold_writes() {
                    ready!(this.poll_write_tls(cx))?;
                }
                // At the socket's end rustls reports the cut on the next
                // turn (see above).
                ready!(this.poll_read_tls(cx))?;
            } else {
                // close_notify received: the end of the stream.
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            let n = this.conn.writer().write(buf)?;
            if n == buf.len() || buf.is_empty() {
                return Poll::Ready(Ok(n));
            }
            // rustls's buffer is at its limit: send what it holds.
            match this.poll_write_tls(cx) {
                Poll::Ready(Ok(())) if n == 0 => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if n == 0 => return Poll::Pending,
                _ => return Poll::Ready(Ok(n)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.writer().flush()?;
        this.poll_write_tls(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.closing {
            this.conn.send_close_notify();
            this.closing = true;
        }
        ready!(this.poll_write_tls(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// A plain connection whose first bytes were read to classify it: they are
/// read again first.
pub(crate) struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    io: TcpStream,
}

impl Prefixed {
    /// The bytes read to classify the connection and not yet read again.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.prefix[self.pos..]
    }

    /// The socket and [`Prefixed::unread`], taken apart.
    pub(crate) fn into_parts(mut self) -> (TcpStream, Vec<u8>) {
        self.prefix.drain(..self.pos);
        (self.io, self.prefix)
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let rest = &this.prefix[this.pos..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
