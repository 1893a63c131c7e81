//! The bytes of an upgraded connection (a WebSocket, say), copied both
//! ways between the client and the backend.
//!
//! `tokio::io::copy_bidirectional` keeps an 8 KiB buffer per direction for
//! as long as the connection lives, silent or not. Here each direction
//! reads into one buffer per thread and writes on at once; only bytes the
//! other side cannot take yet are kept, in a buffer of their size, until
//! they are written. A silent connection holds no buffer.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The read buffer shared by every tunnel of a thread.
const SCRATCH: usize = 16 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH].into_boxed_slice());
}

/// Copies `a` to `b` and `b` to `a` until both have ended (each end shuts
/// the other's write side, as `copy_bidirectional` does) or one fails;
/// returns the bytes copied each way.
pub async fn copy_both<A, B>(a: &mut A, b: &mut B) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (mut a_to_b, mut b_to_a) = (Direction::default(), Direction::default());
    let (mut a_done, mut b_done) = (None, None);
    std::future::poll_fn(|cx| {
        if a_done.is_none() {
            if let Poll::Ready(r) = a_to_b.poll_copy(cx, Pin::new(&mut *a), Pin::new(&mut *b)) {
                a_done = Some(r?);
            }
        }
        if b_done.is_none() {
            if let Poll::Ready(r) = b_to_a.poll_copy(cx, Pin::new(&mut *b), Pin::new(&mut *a)) {
                b_done = Some(r?);
            }
        }
        match (a_done, b_done) {
            (Some(x), Some(y)) => Poll::Ready(Ok((x, y))),
            _ => Poll::Pending,
        }
    })
    .await
}

/// One direction of a tunnel.
#[derive(Default)]
struct Direction {
    /// Bytes read that the writer has not taken yet, and how many of them
    /// it has.
    pending: Option<(Box<[u8]>, usize)>,
    read_done: bool,
    unflushed: bool,
    copied: u64,
}

impl Direction {
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<u64>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if let Some((bytes, written)) = &mut self.pending {
                while *written < bytes.len() {
                    let n = ready!(writer.as_mut().poll_write(cx, &bytes[*written..]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    *written += n;
                    self.copied += n as u64;
                }
                self.pending = None;
                self.unflushed = true;
            }
            if self.read_done {
                if self.unflushed {
                    ready!(writer.as_mut().poll_flush(cx))?;
                    self.unflushed = false;
                }
                ready!(writer.as_mut().poll_shutdown(cx))?;
                return Poll::Ready(Ok(self.copied));
            }
            let step = SCRATCH_BUF.with(|scratch| match scratch.try_borrow_mut() {
                Ok(mut scratch) => self.read_and_write(cx, &mut scratch, &mut reader, &mut writer),
                // Not expected (a tunnel polled inside another on the same
                // thread); a buffer of its own then.
                Err(_) => {
                    let mut own = vec![0; SCRATCH];
                    self.read_and_write(cx, &mut own, &mut reader, &mut writer)
                }
            });
            match step {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if self.unflushed {
                        ready!(writer.as_mut().poll_flush(cx))?;
                        self.unflushed = false;
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Reads what is there into `scratch` and writes as much of it as the
    /// writer takes; keeps the rest in `pending`.
    fn read_and_write<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        scratch: &mut [u8],
        reader: &mut Pin<&mut R>,
        writer: &mut Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        let mut buf = ReadBuf::new(scratch);
        ready!(reader.as_mut().poll_read(cx, &mut buf))?;
        let data = buf.filled();
        if data.is_empty() {
            self.read_done = true;
            return Poll::Ready(Ok(()));
        }
        let mut written = 0;
        while written < data.len() {
            match writer.as_mut().poll_write(cx, &data[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => break,
            }
        }
        self.copied += written as u64;
        if written < data.len() {
            self.pending = Some((data[written..].into(), 0));
        }
        self.unflushed = true;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Both ways, a writer slower than the reader (a small duplex pipe that
    /// fills), and each end's close passed on.
    #[tokio::test]
    async fn copies_both_ways_through_a_slow_writer() {
        let (mut client, mut client_far) = tokio::io::duplex(64);
        let (mut backend, mut backend_far) = tokio::io::duplex(64);
        let tunnel = tokio::spawn(async move { copy_both(&mut client_far, &mut backend).await });
        let up: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let down: Vec<u8> = (0..50_000u32).map(|i| (i % 241) as u8).collect();
        let (up2, down2) = (up.clone(), down.clone());
        let backend_side = tokio::spawn(async move {
            let mut got = vec![0; up2.len()];
            backend_far.read_exact(&mut got).await?;
            backend_far.write_all(&down2).await?;
            backend_far.shutdown().await?;
            let mut rest = Vec::new();
            backend_far.read_to_end(&mut rest).await?;
            Ok::<_, io::Error>((got, rest))
        });
        client.write_all(&up).await.unwrap();
        let mut back = vec![0; down.len()];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(back, down, "backend to client");
        client.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "the backend's close reaches the client");
        let (got, after) = backend_side.await.unwrap().unwrap();
        assert_eq!(got, up, "client to backend");
        assert!(after.is_empty(), "the client's close reaches the backend");
        let (a, b) = tunnel.await.unwrap().unwrap();
        assert_eq!((a, b), (up.len() as u64, down.len() as u64));
    }
}
