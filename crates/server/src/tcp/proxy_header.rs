//! The PROXY protocol header a TCP service sends its server first
//! (`proxyProtocol.version` 1 or 2), naming the client and the address it
//! connected to.

use std::net::{IpAddr, SocketAddr};

/// The v2 signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The header of `version` (1; anything else is 2) for a connection from
/// `client` to `local`. Addresses of two families are sent as IPv6.
pub fn encode(version: u8, client: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let (src, dst) = same_family(client, local);
    if version == 1 {
        let family = if src.is_ipv4() { "TCP4" } else { "TCP6" };
        return format!(
            "PROXY {family} {} {} {} {}\r\n",
            src.ip(),
            dst.ip(),
            src.port(),
            dst.port()
        )
        .into_bytes();
    }
    let mut out = V2_SIGNATURE.to_vec();
    out.push(0x21); // version 2, PROXY
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.push(0x11); // TCP over IPv4
            out.extend(12u16.to_be_bytes());
            out.extend(s.octets());
            out.extend(d.octets());
        }
        (s, d) => {
            out.push(0x21); // TCP over IPv6
            out.extend(36u16.to_be_bytes());
            out.extend(v6(s).octets());
            out.extend(v6(d).octets());
        }
    }
    out.extend(src.port().to_be_bytes());
    out.extend(dst.port().to_be_bytes());
    out
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Both addresses in one family: IPv4 when both are (or map to) IPv4.
fn same_family(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    let (ca, cb) = (a.ip().to_canonical(), b.ip().to_canonical());
    if ca.is_ipv4() && cb.is_ipv4() {
        return (SocketAddr::new(ca, a.port()), SocketAddr::new(cb, b.port()));
    }
    (
        SocketAddr::new(IpAddr::V6(v6(ca)), a.port()),
        SocketAddr::new(IpAddr::V6(v6(cb)), b.port()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entrypoint::proxy_protocol::{parse, Header, Parsed};

    #[test]
    fn headers_read_back_as_written() {
        let cases = [
            ("v1, IPv4", 1u8, "10.0.0.1:5000", "127.0.0.1:80"),
            ("v2, IPv4", 2, "10.0.0.1:5000", "127.0.0.1:80"),
            ("v1, IPv6", 1, "[2001:db8::1]:5000", "[::1]:80"),
            ("v2, IPv6", 2, "[2001:db8::1]:5000", "[::1]:80"),
        ];
        for (what, version, client, local) in cases {
            let (client, local): (SocketAddr, SocketAddr) = (
                client.parse().expect("client"),
                local.parse().expect("local"),
            );
            let bytes = encode(version, client, local);
            match parse(&bytes) {
                Ok(Parsed::Done(Header::Client(got), used)) => {
                    assert_eq!(got, client, "{what}");
                    assert_eq!(used, bytes.len(), "{what}");
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        let v1 = encode(
            1,
            "10.0.0.1:5000".parse().expect("a"),
            "127.0.0.1:80".parse().expect("b"),
        );
        assert_eq!(v1, b"PROXY TCP4 10.0.0.1 127.0.0.1 5000 80\r\n");
    }
}
