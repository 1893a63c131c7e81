//! A raw HTTP/2 client (h2c by prior knowledge) that writes frames by
//! hand, for the attacks a well-behaved client library never sends:
//! streams reset at once, endless CONTINUATION, HPACK bombs, floods of
//! SETTINGS, PING or empty DATA frames, a flow-control window kept shut.
//!
//! Every read and write is bounded in time; writes that the server stops
//! taking (it closed, or stopped reading) end the attack instead of
//! blocking.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;

pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

pub const CANCEL: u32 = 0x8;
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame as read.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// A GOAWAY's or RST_STREAM's error code.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            GOAWAY => 4,
            RST_STREAM => 0,
            _ => return None,
        };
        let b = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A SETTINGS frame's (identifier, value) pairs.
    pub fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|c| {
                (
                    u16::from_be_bytes([c[0], c[1]]),
                    u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                )
            })
            .collect()
    }

    /// The `:status` of a HEADERS frame whose block starts with one from
    /// HPACK's static table (how servers answer the usual codes).
    pub fn status(&self) -> Option<u16> {
        if self.kind != HEADERS {
            return None;
        }
        match self.payload.first()? {
            0x88 => Some(200),
            0x89 => Some(204),
            0x8a => Some(206),
            0x8b => Some(304),
            0x8c => Some(400),
            0x8d => Some(404),
            0x8e => Some(500),
            // A literal `:status` (indexed name 8): its value follows.
            b if b & 0xf0 == 0x00 || b & 0xf0 == 0x10 || b & 0xc0 == 0x40 => {
                let len = usize::from(*self.payload.get(1)? & 0x7f);
                std::str::from_utf8(self.payload.get(2..2 + len)?)
                    .ok()?
                    .parse()
                    .ok()
            }
            _ => None,
        }
    }
}

/// How an exchange ended.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// The GOAWAY's error code, when one came.
    pub goaway: Option<u32>,
    /// The server closed the connection (or reset it).
    pub closed: bool,
    /// Every frame read, by kind.
    pub frames: Vec<Frame>,
}

impl Outcome {
    pub fn count(&self, kind: u8) -> usize {
        self.frames.iter().filter(|f| f.kind == kind).count()
    }
}

/// A raw HTTP/2 connection.
pub struct H2Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// HPACK's integer with an `n`-bit prefix; `first` holds the bits above it.
pub fn hpack_int(out: &mut Vec<u8>, first: u8, n: u32, mut v: usize) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A literal field without indexing, its name a new literal.
pub fn hpack_literal(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(0x00);
    hpack_int(out, 0, 7, name.len());
    out.extend_from_slice(name.as_bytes());
    hpack_int(out, 0, 7, value.len());
    out.extend_from_slice(value);
}

/// A request's header block: `GET` `http` `path` on `authority`.
pub fn request_block(authority: &str, path: &str) -> Vec<u8> {
    let mut out = vec![0x82, 0x86]; // :method GET, :scheme http
    out.push(0x04); // :path, literal value (indexed name 4)
    hpack_int(&mut out, 0, 7, path.len());
    out.extend_from_slice(path.as_bytes());
    out.push(0x01); // :authority, literal value (indexed name 1)
    hpack_int(&mut out, 0, 7, authority.len());
    out.extend_from_slice(authority.as_bytes());
    out
}

/// One frame's bytes.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = Vec::with_capacity(9 + len);
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A SETTINGS frame's payload.
pub fn settings_payload(settings: &[(u16, u32)]) -> Vec<u8> {
    settings
        .iter()
        .flat_map(|(id, v)| {
            let mut s = id.to_be_bytes().to_vec();
            s.extend_from_slice(&v.to_be_bytes());
            s
        })
        .collect()
}

impl H2Conn {
    /// Connects, sends the preface and `settings`, and acknowledges the
    /// server's SETTINGS once it comes (returned with the connection).
    pub async fn connect(addr: SocketAddr, settings: &[(u16, u32)]) -> (H2Conn, Frame) {
        H2Conn::try_connect(addr, settings)
            .await
            .expect("HTTP/2 connection")
    }

    /// [`H2Conn::connect`], failing instead of panicking.
    pub async fn try_connect(
        addr: SocketAddr,
        settings: &[(u16, u32)],
    ) -> std::io::Result<(H2Conn, Frame)> {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let _ = stream.set_nodelay(true);
        let mut c = H2Conn {
            stream,
            buf: Vec::new(),
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &settings_payload(settings)));
        c.send(&hello).await?;
        let server = loop {
            let f = c.read_frame(Duration::from_secs(5)).await.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no SETTINGS")
            })?;
            if f.kind == SETTINGS && f.flags & ACK == 0 {
                break f;
            }
        };
        c.send(&frame(SETTINGS, ACK, 0, &[])).await?;
        Ok((c, server))
    }

    /// Writes `bytes`, failing after 5 s if the server stops taking them.
    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match tokio::time::timeout(Duration::from_secs(5), self.stream.write_all(bytes)).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// The next frame, or `None` when the connection ends or nothing comes
    /// for `wait`.
    pub async fn read_frame(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = (usize::from(self.buf[0]) << 16)
                    | (usize::from(self.buf[1]) << 8)
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes([
                            self.buf[5],
                            self.buf[6],
                            self.buf[7],
                            self.buf[8],
                        ]) & 0x7fff_ffff,
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Some(f);
                }
            }
            let mut chunk = [0u8; 16384];
            match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(n)) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads frames until GOAWAY, the connection's end, or `wait` without
    /// anything (at most `limit` in all).
    pub async fn drain(&mut self, wait: Duration, limit: Duration) -> Outcome {
        let deadline = tokio::time::Instant::now() + limit;
        let mut out = Outcome::default();
        while tokio::time::Instant::now() < deadline {
            match self.read_frame(wait).await {
                Some(f) => {
                    if f.kind == GOAWAY {
                        out.goaway = f.error_code();
                    }
                    out.frames.push(f);
                }
                None => {
                    out.closed = self.is_closed().await;
                    return out;
                }
            }
        }
        out
    }

    /// True when the server has closed (a read sees the end at once).
    pub async fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 16384];
        for _ in 0..10_000 {
            match tokio::time::timeout(Duration::from_millis(50), self.stream.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
        false
    }
}
