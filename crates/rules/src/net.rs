//! `ClientIP` addresses and networks, read as Traefik's `ip.Checker` reads
//! them (Go's `net.ParseIP`, then `net.ParseCIDR`).

use std::net::IpAddr;

use ipnet::IpNet;

/// One address or network of a `ClientIP` matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IpMatcher {
    Addr(IpAddr),
    Net(IpNet),
}

impl IpMatcher {
    /// Parses an address (`10.0.0.1`, `::1`) or a network (`10.0.0.0/8`,
    /// `fd00::/8`), as Go does:
    ///
    /// - no surrounding spaces, no IPv6 zone, no leading zeros in IPv4;
    /// - the prefix length is decimal and may have leading zeros (`/08`);
    /// - host bits may be set (`10.0.0.1/8` is `10.0.0.0/8`);
    /// - an IPv4-mapped IPv6 address is that IPv4 address, and an
    ///   IPv4-mapped network of prefix 96 or more is the IPv4 network of
    ///   the remaining bits (`::ffff:10.0.0.0/104` is `10.0.0.0/8`), which
    ///   is how Go's `IPNet.Contains` treats them.
    pub(crate) fn parse(s: &str) -> Option<IpMatcher> {
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Some(IpMatcher::Addr(addr.to_canonical()));
        }
        let (addr, bits) = s.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        if bits.is_empty() || bits.len() > 6 || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let bits: u8 = bits.parse::<u32>().ok()?.try_into().ok()?;
        let net = match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) if bits >= 96 => IpNet::new(IpAddr::V4(v4), bits - 96),
                _ => IpNet::new(addr, bits),
            },
            IpAddr::V4(_) => IpNet::new(addr, bits),
        };
        Some(IpMatcher::Net(net.ok()?.trunc()))
    }

    /// Whether the peer address is this address or in this network; an
    /// IPv4-mapped peer address counts as the IPv4 address.
    pub(crate) fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        match self {
            IpMatcher::Addr(a) => *a == peer,
            IpMatcher::Net(n) => n.contains(&peer),
        }
    }
}
