//! The PROXY protocol (HAProxy's, versions 1 and 2) on entrypoints: a load
//! balancer in front of Switchyard opens each connection with a header
//! naming the real client. With `proxyProtocol` set on an entrypoint, a
//! connection that opens with such a header has it read and taken off the
//! stream; its client address replaces the peer's when the peer is trusted
//! (`trustedIPs`, or any peer with `insecure`), and is ignored otherwise, as
//! Traefik does. A connection without a header is served as it is; one
//! whose header is malformed is closed.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The twelve bytes every version 2 header starts with.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// The longest version 1 header, CRLF included.
const V1_MAX: usize = 107;
/// The fixed part of a version 2 header; its length field follows.
const V2_FIXED: usize = 16;

/// An entrypoint's `proxyProtocol` settings.
#[derive(Debug, Clone, Default)]
pub struct ProxyProtocol {
    /// Every peer may send a header that is believed.
    pub insecure: bool,
    pub trusted: Vec<IpNet>,
}

impl ProxyProtocol {
    /// From `trustedIPs` (addresses or CIDR ranges) and `insecure`.
    pub fn new(insecure: bool, trusted_ips: &[String]) -> Result<ProxyProtocol, String> {
        let trusted = trusted_ips
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("invalid trusted IP or range {s:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(ProxyProtocol { insecure, trusted })
    }

    /// Whether a header from `peer` is believed.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.insecure || self.trusted.iter().any(|net| net.contains(&peer))
    }
}

/// What a connection's first bytes said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// No PROXY header: the connection is served as it is.
    Absent,
    /// A header that names the client.
    Client(SocketAddr),
    /// A header that names no client (`UNKNOWN`, `LOCAL`, a family other
    /// than TCP over IPv4 or IPv6): the peer's address stands.
    Local,
}

/// The outcome of parsing what was read so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed to decide.
    Incomplete,
    /// The header (or its absence) and how many bytes it took.
    Done(Header, usize),
}

/// A header that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed PROXY protocol header: {0}")]
pub struct Malformed(pub &'static str);

/// Parses the start of a connection.
pub fn parse(buf: &[u8]) -> Result<Parsed, Malformed> {
    if buf.is_empty() {
        return Ok(Parsed::Incomplete);
    }
    let n = buf.len().min(V1_PREFIX.len());
    if buf[..n] == V1_PREFIX[..n] {
        return if n < V1_PREFIX.len() {
            Ok(Parsed::Incomplete)
        } else {
            parse_v1(buf)
        };
    }
    let n = buf.len().min(V2_SIGNATURE.len());
    if buf[..n] == V2_SIGNATURE[..n] {
        return if n < V2_SIGNATURE.len() {
            Ok(Parsed::Incomplete)
        } else {
            parse_v2(buf)
        };
    }
    Ok(Parsed::Done(Header::Absent, 0))
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, Malformed> {
    // The line ends at its first LF, which must follow a CR (as in Traefik's
    // go-proxyproto): a bare LF is refused wherever a CRLF comes later, so
    // the answer does not depend on how the bytes were split into reads.
    let Some(lf) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() >= V1_MAX {
            return Err(Malformed("version 1 line longer than 107 bytes"));
        }
        return Ok(Parsed::Incomplete);
    };
    let end = match lf.checked_sub(1) {
        Some(cr) if buf[cr] == b'\r' => cr,
        _ => return Err(Malformed("version 1 line not ended by CRLF")),
    };
    if end + 2 > V1_MAX {
        return Err(Malformed("version 1 line longer than 107 bytes"));
    }
    let line = std::str::from_utf8(&buf[V1_PREFIX.len()..end])
        .map_err(|_| Malformed("version 1 line is not text"))?;
    let fields: Vec<&str> = line.split(' ').collect();
    let header = match fields.as_slice() {
        ["UNKNOWN", ..] => Header::Local,
        [proto @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let src: IpAddr = src.parse().map_err(|_| Malformed("bad source address"))?;
            let _: IpAddr = dst
                .parse()
                .map_err(|_| Malformed("bad destination address"))?;
            if (*proto == "TCP4") != src.is_ipv4() {
                return Err(Malformed("address family does not match the protocol"));
            }
            let sport = port(sport)?;
            port(dport)?;
            Header::Client(SocketAddr::new(src, sport))
        }
        _ => return Err(Malformed("version 1 line has an unknown shape")),
    };
    Ok(Parsed::Done(header, end + 2))
}

/// A decimal port without sign or leading zeros, as the specification
/// writes them.
fn port(s: &str) -> Result<u16, Malformed> {
    if s.is_empty() || (s.len() > 1 && s.starts_with('0')) || !s.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Malformed("bad port"));
    }
    s.parse().map_err(|_| Malformed("bad port"))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Malformed> {
    if buf.len() < V2_FIXED {
        return Ok(Parsed::Incomplete);
    }
    let version_command = buf[12];
    if version_command >> 4 != 2 {
        return Err(Malformed("version 2 signature with another version"));
    }
    let local = match version_command & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(Malformed("unknown version 2 command")),
    };
    let family = buf[13];
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = V2_FIXED + len;
    if buf.len() < total {
        return Ok(Parsed::Incomplete);
    }
    let body = &buf[V2_FIXED..total];
    if local {
        return Ok(Parsed::Done(Header::Local, total));
    }
    let header = match family {
        // TCP over IPv4: source, destination, source port, destination port.
        0x11 => {
            if body.len() < 12 {
                return Err(Malformed("IPv4 addresses cut short"));
            }
            let ip = Ipv4Addr::new(body[0], body[1], body[2], body[3]);
            let port = u16::from_be_bytes([body[8], body[9]]);
            Header::Client(SocketAddr::new(IpAddr::V4(ip), port))
        }
        0x21 => {
            if body.len() < 36 {
                return Err(Malformed("IPv6 addresses cut short"));
            }
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&body[..16]);
            let port = u16::from_be_bytes([body[32], body[33]]);
            Header::Client(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        // UNSPEC, UDP, UNIX: nothing that names a TCP client.
        0x00 | 0x12 | 0x22 | 0x31 | 0x32 => Header::Local,
        _ => return Err(Malformed("unknown address family")),
    };
    Ok(Parsed::Done(header, total))
}

/// Reads a connection's PROXY header, if it has one, within what the
/// caller's deadline allows. Returns the header and the bytes read past it
/// (to be served). `Ok(None)`: the client closed before sending anything.
pub async fn read(io: &mut TcpStream) -> io::Result<Option<(Header, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(512);
    loop {
        if io.read_buf(&mut buf).await? == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a PROXY protocol header",
            ));
        }
        match parse(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))? {
            Parsed::Incomplete => {
                // A v2 header may carry TLVs up to 64 KiB.
                if buf.len() > V2_FIXED + usize::from(u16::MAX) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "PROXY protocol header too long",
                    ));
                }
            }
            Parsed::Done(header, used) => {
                buf.drain(..used);
                return Ok(Some((header, buf)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(0x20 | command);
        out.push(family);
        out.extend_from_slice(&u16::try_from(body.len()).expect("short").to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn client(s: &str) -> Header {
        Header::Client(s.parse().expect("address"))
    }

    #[test]
    fn version_1_table() {
        let cases: &[(&[u8], Result<Parsed, Malformed>)] = &[
            (
                b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\nGET /",
                Ok(Parsed::Done(client("203.0.113.7:51000"), 42)),
            ),
            (
                b"PROXY TCP6 2001:db8::1 2001:db8::2 443 8443\r\n",
                Ok(Parsed::Done(client("[2001:db8::1]:443"), 45)),
            ),
            (b"PROXY UNKNOWN\r\n", Ok(Parsed::Done(Header::Local, 15))),
            (
                b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
                Ok(Parsed::Done(Header::Local, 35)),
            ),
            (b"PROXY TCP4 1.2.3.4", Ok(Parsed::Incomplete)),
            (b"PRO", Ok(Parsed::Incomplete)),
            (b"GET / HTTP/1.1\r\n", Ok(Parsed::Done(Header::Absent, 0))),
            (b"\x16\x03\x01", Ok(Parsed::Done(Header::Absent, 0))),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                Err(Malformed("version 1 line not ended by CRLF")),
            ),
            (
                b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n",
                Err(Malformed("address family does not match the protocol")),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
                Err(Malformed("bad port")),
            ),
            (
                b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n",
                Err(Malformed("bad port")),
            ),
            (
                b"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
                Err(Malformed("bad source address")),
            ),
            (
                b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
                Err(Malformed("version 1 line has an unknown shape")),
            ),
            (
                b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                Err(Malformed("version 1 line has an unknown shape")),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(&parse(input), want, "{:?}", String::from_utf8_lossy(input));
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 120]].concat();
        assert!(parse(&long).is_err(), "an endless line is refused");
    }

    /// Found by the fuzz target `proxy_protocol`: a version 1 `UNKNOWN` line
    /// with a bare LF before its CRLF was refused when the LF arrived in an
    /// earlier read than the CRLF, and accepted when both came in one.
    #[test]
    fn bare_lf_before_crlf_is_refused_however_the_reads_split() {
        let line = b"PROXY UNKNOWN ffff::1 \n ffff::2 1 2\r\n";
        let lf = line.iter().position(|&b| b == b'\n').expect("LF");
        for end in [lf + 1, line.len()] {
            assert_eq!(
                parse(&line[..end]),
                Err(Malformed("version 1 line not ended by CRLF")),
                "on the first {end} bytes"
            );
        }
        assert_eq!(
            parse(b"PROXY UNKNOWN\r"),
            Ok(Parsed::Incomplete),
            "a CR may be the last byte of a read"
        );
    }

    #[test]
    fn version_2_table() {
        let v4 = [203, 0, 113, 7, 10, 0, 0, 1, 0xc7, 0x38, 0, 80];
        let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
        v6.extend_from_slice(&[0; 11]);
        v6.push(1);
        v6.extend_from_slice(&[0; 16]);
        v6.extend_from_slice(&[0x01, 0xbb, 0x20, 0xfb]);
        let with_tlv = [v4.as_slice(), &[0x04, 0x00, 0x01, 0x00]].concat();
        let cases: Vec<(Vec<u8>, Result<Parsed, Malformed>)> = vec![
            (
                v2(1, 0x11, &v4),
                Ok(Parsed::Done(client("203.0.113.7:51000"), 28)),
            ),
            (
                v2(1, 0x21, &v6),
                Ok(Parsed::Done(client("[2001:db8::1]:443"), 52)),
            ),
            (
                v2(1, 0x11, &with_tlv),
                Ok(Parsed::Done(client("203.0.113.7:51000"), 32)),
            ),
            (v2(0, 0x11, &v4), Ok(Parsed::Done(Header::Local, 28))),
            (v2(1, 0x00, &[]), Ok(Parsed::Done(Header::Local, 16))),
            (v2(1, 0x12, &v4), Ok(Parsed::Done(Header::Local, 28))),
            (
                v2(1, 0x11, &v4[..6]),
                Err(Malformed("IPv4 addresses cut short")),
            ),
            (
                v2(2, 0x11, &v4),
                Err(Malformed("unknown version 2 command")),
            ),
            (v2(1, 0x99, &v4), Err(Malformed("unknown address family"))),
            (v2(1, 0x11, &v4)[..20].to_vec(), Ok(Parsed::Incomplete)),
            (V2_SIGNATURE[..5].to_vec(), Ok(Parsed::Incomplete)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(&input), want, "{input:?}");
        }
        let mut wrong_version = v2(1, 0x11, &v4);
        wrong_version[12] = 0x11;
        assert_eq!(
            parse(&wrong_version),
            Err(Malformed("version 2 signature with another version"))
        );
    }

    #[test]
    fn trust_table() {
        let p = ProxyProtocol::new(false, &["10.0.0.0/8".into(), "127.0.0.1".into()])
            .expect("valid ranges");
        let cases = [
            ("10.1.2.3", true),
            ("127.0.0.1", true),
            ("127.0.0.2", false),
            ("::1", false),
        ];
        for (ip, want) in cases {
            assert_eq!(p.trusts(ip.parse().expect("ip")), want, "{ip}");
        }
        let any = ProxyProtocol::new(true, &[]).expect("insecure");
        assert!(any.trusts("192.0.2.1".parse().expect("ip")));
        assert!(ProxyProtocol::new(false, &["10.0.0.0/33".into()]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_never_overreads(input in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            if let Ok(Parsed::Done(_, used)) = parse(&input) {
                proptest::prop_assert!(used <= input.len());
            }
        }

        #[test]
        fn prefixes_of_a_header_are_incomplete(cut in 0usize..42) {
            let full = b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 80\r\n";
            let parsed = parse(&full[..cut]);
            let incomplete = matches!(parsed, Ok(Parsed::Incomplete));
            proptest::prop_assert!(incomplete);
        }
    }
}
