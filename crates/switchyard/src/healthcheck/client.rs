//! The one HTTP request the healthcheck makes: `HEAD` over HTTP/1.1 on a
//! plain TCP connection, with one deadline for everything (name lookup,
//! connect, redirects) and redirects followed as Go's `http.Client` does (10
//! requests at most). Errors are worded as Go words them where Traefik's output is
//! known.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Answer, Error};

/// Go's `http.Client` sends at most 10 requests of a redirect chain.
const MAX_REQUESTS: usize = 10;
/// Response heads larger than this are refused.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const TIMED_OUT: &str =
    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";

/// An `http://` URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host[:port]` as written: the `Host` header.
    pub authority: String,
    /// The host without brackets; empty for `:8082`.
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let Some(rest) = url.strip_prefix("http://") else {
            if url.starts_with("https://") {
                return Err(
                    "redirect to https not followed: the healthcheck speaks plain HTTP only".into(),
                );
            }
            let scheme = url.split("://").next().unwrap_or_default();
            return Err(format!("unsupported protocol scheme {scheme:?}"));
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("missing ']' in host {authority:?}"))?;
            let port = match after {
                "" => "",
                p => p
                    .strip_prefix(':')
                    .ok_or_else(|| format!("invalid port {after:?} after host"))?,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(format!("invalid host {authority:?}: IPv6 needs brackets"))
                }
                Some((h, p)) => (h, p),
                None => (authority, ""),
            }
        };
        let port = if port.is_empty() {
            80
        } else {
            port.parse::<u16>()
                .map_err(|_| format!("invalid port {port:?} in {url:?}"))?
        };
        Ok(Target {
            authority: authority.to_string(),
            host: host.to_string(),
            port,
            path,
        })
    }

    /// Where `location` (a redirect's `Location`) points from here.
    pub fn resolve(&self, location: &str) -> String {
        if location.contains("://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("http://{rest}")
        } else if location.starts_with('/') {
            format!("http://{}{location}", self.authority)
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("http://{}{dir}{location}", self.authority)
        }
    }
}

/// Sends `HEAD url`, following redirects, all within `timeout`.
pub fn head(url: &str, timeout: Duration) -> Result<Answer, Error> {
    let deadline = Instant::now() + timeout;
    let mut url = url.to_string();
    let mut sent = 0;
    loop {
        let fail = |cause: String| Error::Request {
            url: url.clone(),
            cause,
        };
        let target = Target::parse(&url).map_err(fail)?;
        let head = request(&target, deadline).map_err(fail)?;
        sent += 1;
        let follow = matches!(head.code, 301 | 302 | 303 | 307 | 308);
        match head.location {
            Some(location) if follow => {
                if sent == MAX_REQUESTS {
                    // Go names the Location as the server wrote it.
                    return Err(Error::Request {
                        url: location,
                        cause: format!("stopped after {MAX_REQUESTS} redirects"),
                    });
                }
                url = target.resolve(&location);
            }
            _ => {
                return Ok(Answer {
                    url,
                    code: head.code,
                    status: head.status,
                })
            }
        }
    }
}

/// A response head: the code, the status line after the protocol, and the
/// `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub code: u16,
    pub status: String,
    pub location: Option<String>,
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(TIMED_OUT.to_string())
    } else {
        Ok(left)
    }
}

/// Go's wording of an OS error: no `(os error N)`, lower-case.
fn go_words(e: &io::Error) -> String {
    if matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return TIMED_OUT.to_string();
    }
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// The addresses to dial for `target`: no host or an unspecified one means
/// this machine (as Go dials it); a name is looked up within the deadline.
fn addresses(target: &Target, deadline: Instant) -> Result<Vec<SocketAddr>, String> {
    let ip = match target.host.parse::<IpAddr>() {
        _ if target.host.is_empty() => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Ok(IpAddr::V4(v4)) if v4.is_unspecified() => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Ok(IpAddr::V6(v6)) if v6.is_unspecified() => Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Ok(ip) => Some(ip),
        Err(_) => None,
    };
    if let Some(ip) = ip {
        return Ok(vec![SocketAddr::new(ip, target.port)]);
    }
    let (host, port) = (target.host.clone(), target.port);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send((host.as_str(), port).to_socket_addrs());
    });
    match rx.recv_timeout(remaining(deadline)?) {
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(format!("dial tcp: lookup {}: no such host", target.host))
            } else {
                Ok(addrs)
            }
        }
        Ok(Err(e)) => Err(format!(
            "dial tcp: lookup {}: {}",
            target.host,
            go_words(&e)
        )),
        Err(_) => Err(TIMED_OUT.to_string()),
    }
}

fn connect(target: &Target, deadline: Instant) -> Result<TcpStream, String> {
    let mut last = String::from("no address");
    for addr in addresses(target, deadline)? {
        match TcpStream::connect_timeout(&addr, remaining(deadline)?) {
            Ok(s) => return Ok(s),
            Err(e) => {
                // Go names the address as written when there is no host.
                let shown = if target.host.is_empty() {
                    format!(":{}", target.port)
                } else {
                    addr.to_string()
                };
                last = match e.kind() {
                    io::ErrorKind::TimedOut => TIMED_OUT.to_string(),
                    _ => format!("dial tcp {shown}: connect: {}", go_words(&e)),
                };
            }
        }
    }
    Err(last)
}

/// One `HEAD` exchange on a new connection.
fn request(target: &Target, deadline: Instant) -> Result<Head, String> {
    let mut stream = connect(target, deadline)?;
    let text = format!(
        "HEAD {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: switchyard-healthcheck/{}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        env!("CARGO_PKG_VERSION")
    );
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .map_err(|e| go_words(&e))?;
    stream
        .write_all(text.as_bytes())
        .map_err(|e| go_words(&e))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        // A head ends with an empty line; informational (1xx) heads but 101
        // are skipped, as Go does.
        while let Some(end) = find_head_end(&buf) {
            let head = parse_head(&buf[..end])?;
            if (100..200).contains(&head.code) && head.code != 101 {
                buf.drain(..end);
                continue;
            }
            return Ok(head);
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(format!(
                "net/http: server response headers exceeded {MAX_HEAD_BYTES} bytes; aborted"
            ));
        }
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(|e| go_words(&e))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err("EOF".to_string()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(go_words(&e)),
        }
    }
}

/// The length of the first head in `buf` (its empty line included).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a response head: `HTTP/1.x NNN reason`, then headers.
pub fn parse_head(raw: &[u8]) -> Result<Head, String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let malformed = || {
        format!("net/http: HTTP/1.x transport connection broken: malformed HTTP response {first:?}")
    };
    let (proto, status) = first.split_once(' ').ok_or_else(malformed)?;
    if !proto.starts_with("HTTP/1.") {
        return Err(malformed());
    }
    let status = status.trim_start_matches(' ').to_string();
    let code_text = status.split(' ').next().unwrap_or_default();
    let code = Some(code_text)
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "net/http: HTTP/1.x transport connection broken: malformed HTTP status code {code_text:?}"
            )
        })?;
    let location = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().to_string());
    Ok(Head {
        code,
        status,
        location,
    })
}
