//! A look at each HTTP/1 request head on its way to hyper, for the few
//! things hyper cannot tell afterwards, because its parser drops or refuses
//! them before the request exists:
//!
//! - a version `HTTP/1.x` other than 1.0 and 1.1 is served as HTTP/1.1, as
//!   Go does (httparse refuses it: hyper would answer 400); any other
//!   `HTTP/d.d` gets Go's 505;
//! - a `#` in the request target is a 400, as Traefik answers (the `http`
//!   crate drops the fragment silently);
//! - `Content-Length` beside `Transfer-Encoding` is a 400: hyper drops the
//!   length and closes the connection after the answer, which is safe but
//!   forwards a request that a proxy in front may have framed the other way.
//!
//! The scan is not a second parser: it finds line ends with `memchr` and
//! looks at a header's name only, a few nanoseconds per head. A head is
//! looked at when one is due: the connection's first bytes and the first
//! read after each write (a response), except after `100 Continue`. A
//! request pipelined behind another in the same read is not looked at;
//! hyper's own rules answer it (400 for the versions, the fragment
//! dropped, `Content-Length` ignored beside chunked and the connection
//! closed after it). Bytes that do not open like a request line (a body
//! read after an early response) end the scan at once.
//!
//! A refused head never reaches hyper: the guard writes the answer itself,
//! closes, and reports the end of the stream to hyper.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[cfg(test)]
mod tests;

/// What the scan of some bytes decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Pass,
    /// Answer this and close; the bytes are not handed on.
    Refuse(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `HTTP/d.d` with a major version other than 1.
    Version,
    /// A `#` in the request target.
    Fragment,
    /// `Content-Length` and `Transfer-Encoding` in one head.
    LengthAndChunked,
}

impl Refusal {
    /// The whole answer, as Go writes its own (a plain text body, the
    /// connection closed).
    fn response(self) -> &'static [u8] {
        match self {
            Refusal::Version => b"HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n505 HTTP Version Not Supported: unsupported protocol version",
            Refusal::Fragment => b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: fragment in request target",
            Refusal::LengthAndChunked => b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: Content-Length with Transfer-Encoding",
        }
    }
}

/// The longest header name the scan looks at (`transfer-encoding`).
const NAME_MAX: usize = 17;
/// The end of a request line the scan keeps: ` HTTP/d.d\r`.
const TAIL: usize = 10;

/// Where the scan is in a head.
#[derive(Debug, Clone)]
enum Scan {
    /// Not in a head (a body, or bytes that are no request).
    Off,
    /// Before or in the method (empty lines before it are skipped).
    Method { len: usize },
    /// In the request target and version, until the line's end.
    Target {
        fragment: bool,
        tail: [u8; TAIL],
        tail_len: usize,
    },
    /// In the header fields.
    Fields(Fields),
}

#[derive(Debug, Clone)]
struct Fields {
    /// At the start of a line, or in a line's name (`name_len` bytes so
    /// far, `None` once it is longer than any name of interest or the line
    /// is past its colon).
    name: [u8; NAME_MAX],
    name_len: Option<usize>,
    /// The line so far is `\r` only (a blank line on its way).
    only_cr: bool,
    length: bool,
    chunked: bool,
}

impl Fields {
    fn new() -> Fields {
        Fields {
            name: [0; NAME_MAX],
            name_len: Some(0),
            only_cr: false,
            length: false,
            chunked: false,
        }
    }
}

/// The scanner of request heads, fed the bytes of a connection in order.
#[derive(Debug, Clone)]
pub(crate) struct HeadScan {
    scan: Scan,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl HeadScan {
    pub(crate) fn new() -> HeadScan {
        HeadScan {
            scan: Scan::Method { len: 0 },
        }
    }

    /// A scanner that never looks (HTTP/2 connections).
    fn off() -> HeadScan {
        HeadScan { scan: Scan::Off }
    }

    /// A head is due next (the connection is between requests).
    pub(crate) fn expect_head(&mut self) {
        if matches!(self.scan, Scan::Off) {
            self.scan = Scan::Method { len: 0 };
        }
    }

    pub(crate) fn is_off(&self) -> bool {
        matches!(self.scan, Scan::Off)
    }

    /// Scans `buf`, the next bytes of the connection; may rewrite a minor
    /// version in place (`HTTP/1.2` → `HTTP/1.1`).
    pub(crate) fn feed(&mut self, buf: &mut [u8]) -> Verdict {
        let mut i = 0;
        while i < buf.len() {
            match &mut self.scan {
                Scan::Off => return Verdict::Pass,
                Scan::Method { len } => {
                    let b = buf[i];
                    if *len == 0 && (b == b'\r' || b == b'\n') {
                        i += 1;
                    } else if is_tchar(b) {
                        *len += 1;
                        i += 1;
                    } else if b == b' ' && *len > 0 {
                        self.scan = Scan::Target {
                            fragment: false,
                            tail: [0; TAIL],
                            tail_len: 0,
                        };
                        i += 1;
                    } else {
                        self.scan = Scan::Off;
                    }
                }
                Scan::Target {
                    fragment,
                    tail,
                    tail_len,
                } => {
                    let rest = &buf[i..];
                    let end = memchr::memchr(b'\n', rest);
                    let line = &rest[..end.unwrap_or(rest.len())];
                    *fragment |= memchr::memchr(b'#', line).is_some();
                    // Keep the line's last bytes, across reads.
                    if line.len() >= TAIL {
                        tail.copy_from_slice(&line[line.len() - TAIL..]);
                        *tail_len = TAIL;
                    } else {
                        let keep = (TAIL - line.len()).min(*tail_len);
                        tail.copy_within(*tail_len - keep..*tail_len, 0);
                        tail[keep..keep + line.len()].copy_from_slice(line);
                        *tail_len = keep + line.len();
                    }
                    let Some(end) = end else {
                        return Verdict::Pass;
                    };
                    let fragment = *fragment;
                    let ending = &tail[..*tail_len];
                    let ending = ending.strip_suffix(b"\r").unwrap_or(ending);
                    let version = match ending.len().checked_sub(9).map(|at| &ending[at..]) {
                        Some([b' ', b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
                            if major.is_ascii_digit() && minor.is_ascii_digit() =>
                        {
                            Some((*major, *minor))
                        }
                        _ => None,
                    };
                    let line_end = i + end;
                    match version {
                        // Not a request line hyper would take: it answers.
                        None => {
                            self.scan = Scan::Off;
                            return Verdict::Pass;
                        }
                        Some((b'1', b'0' | b'1')) => {}
                        Some((b'1', _)) => {
                            // The minor digit is just before `\r\n` or `\n`;
                            // rewritten when it is in these bytes.
                            let cr = usize::from(line_end > 0 && buf[line_end - 1] == b'\r');
                            if let Some(at) = line_end.checked_sub(1 + cr) {
                                if buf[at].is_ascii_digit() {
                                    buf[at] = b'1';
                                }
                            }
                        }
                        Some(_) => return Verdict::Refuse(Refusal::Version),
                    }
                    if fragment {
                        return Verdict::Refuse(Refusal::Fragment);
                    }
                    self.scan = Scan::Fields(Fields::new());
                    i = line_end + 1;
                }
                Scan::Fields(f) => {
                    let b = buf[i];
                    match f.name_len {
                        Some(0) if b == b'\n' => {
                            // The blank line: the head is complete.
                            self.scan = Scan::Off;
                            return Verdict::Pass;
                        }
                        Some(0) if b == b'\r' && !f.only_cr => {
                            f.only_cr = true;
                            i += 1;
                        }
                        Some(n) if b == b':' => {
                            let name = &f.name[..n];
                            if name.eq_ignore_ascii_case(b"content-length") {
                                f.length = true;
                            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                                f.chunked = true;
                            }
                            if f.length && f.chunked {
                                return Verdict::Refuse(Refusal::LengthAndChunked);
                            }
                            f.name_len = None;
                            i += 1;
                        }
                        // Only names opening with `c` or `t` can be of
                        // interest: any other line is skipped whole.
                        Some(n)
                            if n < NAME_MAX
                                && b != b'\n'
                                && !f.only_cr
                                && (n > 0 || matches!(b | 0x20, b'c' | b't')) =>
                        {
                            f.name[n] = b;
                            f.name_len = Some(n + 1);
                            i += 1;
                        }
                        _ => {
                            // The rest of the line is of no interest.
                            match memchr::memchr(b'\n', &buf[i..]) {
                                Some(end) => {
                                    f.name_len = Some(0);
                                    f.only_cr = false;
                                    i += end + 1;
                                }
                                None => {
                                    f.name_len = None;
                                    return Verdict::Pass;
                                }
                            }
                        }
                    }
                }
            }
        }
        Verdict::Pass
    }
}

/// A connection's transport with the head scan on its reads (HTTP/1
/// only); `prefix` (bytes already read from `io`) comes first.
pub(crate) struct Guarded<I> {
    io: I,
    prefix: Option<bytes::Bytes>,
    scan: HeadScan,
    enabled: bool,
    /// Set by a write: the next read starts a head.
    wrote: bool,
    /// A refusal being written (its bytes and how many are out).
    refusing: Option<(&'static [u8], usize)>,
}

impl<I> Guarded<I> {
    pub(crate) fn new(io: I, prefix: bytes::Bytes, http1: bool) -> Guarded<I> {
        Guarded {
            io,
            prefix: (!prefix.is_empty()).then_some(prefix),
            scan: if http1 {
                HeadScan::new()
            } else {
                HeadScan::off()
            },
            enabled: http1,
            wrote: false,
            refusing: None,
        }
    }

    /// The transport back, with the prefix bytes not yet read; `None` once
    /// a refusal has been written (the connection is over).
    pub(crate) fn into_inner(self) -> Option<(I, Option<bytes::Bytes>)> {
        self.refusing.is_none().then_some((self.io, self.prefix))
    }
}

/// hyper's own interim answer to `Expect: 100-continue`: the body follows.
const CONTINUE: &[u8] = b"HTTP/1.1 100 ";

impl<I: AsyncRead + AsyncWrite + Unpin> Guarded<I> {
    /// Writes the refusal out and shuts the write side; then the stream
    /// ends for hyper.
    fn poll_refuse(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, done)) = &mut self.refusing {
            if *done == bytes.len() {
                ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                return Poll::Ready(Ok(()));
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &bytes[*done..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *done += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for Guarded<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return this.poll_refuse(cx);
        }
        if this.enabled && std::mem::take(&mut this.wrote) {
            this.scan.expect_head();
        }
        let before = buf.filled().len();
        if let Some(prefix) = &mut this.prefix {
            let n = prefix.len().min(buf.remaining());
            buf.put_slice(&prefix.split_to(n));
            if prefix.is_empty() {
                this.prefix = None;
            }
        } else {
            ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        }
        if this.scan.is_off() {
            return Poll::Ready(Ok(()));
        }
        match this.scan.feed(&mut buf.filled_mut()[before..]) {
            Verdict::Pass => Poll::Ready(Ok(())),
            Verdict::Refuse(why) => {
                tracing::debug!(refusal = ?why, "HTTP/1 request head refused");
                buf.set_filled(before);
                this.refusing = Some((why.response(), 0));
                this.poll_refuse(cx)
            }
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Guarded<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            // hyper has nothing more to say on a refused connection.
            return Poll::Ready(Ok(buf.len()));
        }
        if this.enabled && !this.wrote && !buf.starts_with(CONTINUE) {
            this.wrote = true;
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        if this.enabled && !this.wrote && !bufs.first().is_some_and(|b| b.starts_with(CONTINUE)) {
            this.wrote = true;
        }
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusing.is_some() {
            return this.poll_refuse(cx);
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
