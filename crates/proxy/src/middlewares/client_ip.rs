//! `ipStrategy`: which address a middleware takes as the client's.
//!
//! - `depth: N` — the N-th address from the right of `X-Forwarded-For`
//!   (none when the header has fewer);
//! - `excludedIPs` — the right-most address of `X-Forwarded-For` that is not
//!   excluded;
//! - otherwise the peer address of the connection.
//!
//! `ipv6Subnet` then narrows an IPv6 address to its subnet.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv6Net};

use crate::forwarded::parse_ip_or_cidr;
use crate::{Request, RequestContext};

#[derive(Debug, Clone, Default)]
pub struct IpStrategy {
    depth: usize,
    excluded: Vec<IpNet>,
    ipv6_subnet: Option<u8>,
}

impl IpStrategy {
    pub fn new(
        depth: i64,
        excluded_ips: &[String],
        ipv6_subnet: Option<u8>,
    ) -> Result<IpStrategy, String> {
        let excluded = excluded_ips
            .iter()
            .map(|s| {
                parse_ip_or_cidr(s)
                    .ok_or_else(|| format!("ipStrategy.excludedIPs: invalid IP or CIDR {s:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if ipv6_subnet.is_some_and(|s| s > 128) {
            return Err("ipStrategy.ipv6Subnet must be at most 128".into());
        }
        Ok(IpStrategy {
            depth: usize::try_from(depth).unwrap_or(0),
            excluded,
            ipv6_subnet,
        })
    }

    /// The client's address for `req`, or None when the strategy finds none.
    pub fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let ip = if self.depth > 0 || !self.excluded.is_empty() {
            let xff: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            if self.depth > 0 {
                let i = xff.len().checked_sub(self.depth)?;
                xff.get(i)?.parse().ok()?
            } else {
                xff.iter()
                    .rev()
                    .filter_map(|s| s.parse::<IpAddr>().ok())
                    .find(|ip| !self.excluded.iter().any(|n| n.contains(ip)))?
            }
        } else {
            RequestContext::of(req).client_addr.ip()
        };
        Some(match (ip, self.ipv6_subnet) {
            (IpAddr::V6(v6), Some(bits)) => Ipv6Net::new(v6, bits)
                .map(|n| IpAddr::V6(n.network()))
                .unwrap_or(ip),
            _ => ip,
        })
    }
}

/// The strategy an `ipStrategy` section describes (the default without one).
pub fn strategy_from_config(
    s: Option<&switchyard_config::middlewares::IpStrategy>,
) -> Result<IpStrategy, String> {
    match s {
        Some(s) => IpStrategy::new(s.depth, &s.excluded_ips, s.ipv6_subnet),
        None => Ok(IpStrategy::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(xff: &[&str]) -> Request {
        let mut b = http::Request::builder().uri("/");
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut r = b.body(crate::body::empty()).unwrap();
        r.extensions_mut().insert(RequestContext {
            client_addr: "10.9.9.9:1234".parse().unwrap(),
            local_addr: "127.0.0.1:80".parse().unwrap(),
            entrypoint: "web".into(),
            tls: false,
            peer_certificates: None,
            tls_session: None,
        });
        r
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table of cases
    fn strategy_table() {
        let cases: &[(&str, i64, &[&str], Option<u8>, &[&str], Option<&str>)] = &[
            (
                "remote address by default",
                0,
                &[],
                None,
                &["1.1.1.1"],
                Some("10.9.9.9"),
            ),
            (
                "depth 1 is the right-most",
                1,
                &[],
                None,
                &["1.1.1.1, 2.2.2.2, 3.3.3.3"],
                Some("3.3.3.3"),
            ),
            (
                "depth 2",
                2,
                &[],
                None,
                &["1.1.1.1, 2.2.2.2, 3.3.3.3"],
                Some("2.2.2.2"),
            ),
            (
                "depth beyond the list",
                4,
                &[],
                None,
                &["1.1.1.1, 2.2.2.2, 3.3.3.3"],
                None,
            ),
            (
                "depth across header lines",
                2,
                &[],
                None,
                &["1.1.1.1", "2.2.2.2"],
                Some("1.1.1.1"),
            ),
            ("no header with depth", 1, &[], None, &[], None),
            (
                "excluded skips from the right",
                0,
                &["3.3.3.0/24", "2.2.2.2"],
                None,
                &["1.1.1.1, 2.2.2.2, 3.3.3.3"],
                Some("1.1.1.1"),
            ),
            ("all excluded", 0, &["0.0.0.0/0"], None, &["1.1.1.1"], None),
            (
                "ipv6 subnet",
                1,
                &[],
                Some(64),
                &["2001:db8:1:2:3:4:5:6"],
                Some("2001:db8:1:2::"),
            ),
            (
                "ipv6 subnet leaves ipv4",
                1,
                &[],
                Some(64),
                &["1.2.3.4"],
                Some("1.2.3.4"),
            ),
        ];
        for (what, depth, excluded, subnet, xff, want) in cases {
            let excluded: Vec<String> = excluded.iter().map(|s| s.to_string()).collect();
            let s = IpStrategy::new(*depth, &excluded, *subnet).unwrap();
            let got = s.client_ip(&req(xff)).map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), *want, "{what}");
        }
        assert!(IpStrategy::new(0, &["bad".into()], None).is_err());
        assert!(IpStrategy::new(0, &[], Some(129)).is_err());
    }
}
