//! The entrypoint's forwarded-headers step: distrust `X-Forwarded-*` from
//! peers outside `forwardedHeaders.trustedIPs` (unless `insecure`), then set the
//! headers a backend expects, as Traefik does.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers that only a trusted peer may set.
const DISTRUSTED: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-server",
    "x-forwarded-uri",
    "x-forwarded-method",
    "x-forwarded-prefix",
    "x-forwarded-tls-client-cert",
    "x-forwarded-tls-client-cert-info",
    "x-real-ip",
];

/// The compiled `forwardedHeaders` of one entrypoint.
#[derive(Debug, Clone)]
pub struct ForwardedHeaders {
    insecure: bool,
    trusted: Vec<IpNet>,
    hostname: HeaderValue,
}

/// A `trustedIPs` entry that is neither an IP nor a CIDR.
#[derive(Debug, thiserror::Error)]
#[error("invalid trusted IP {0:?}: expected an IP address or a CIDR range")]
pub struct BadTrustedIp(pub String);

/// Parses `1.2.3.4`, `1.2.3.0/24`, `::1`, `fd00::/8`.
pub fn parse_ip_or_cidr(s: &str) -> Option<IpNet> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Some(net);
    }
    s.parse::<IpAddr>().ok().map(IpNet::from)
}

impl ForwardedHeaders {
    pub fn new(
        insecure: bool,
        trusted_ips: &[String],
        hostname: &str,
    ) -> Result<Self, BadTrustedIp> {
        let trusted = trusted_ips
            .iter()
            .map(|s| parse_ip_or_cidr(s).ok_or_else(|| BadTrustedIp(s.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ForwardedHeaders {
            insecure,
            trusted,
            hostname: HeaderValue::from_str(hostname)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
        })
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        self.insecure || self.trusted.iter().any(|n| n.contains(&peer))
    }

    /// Rewrites `headers` of a request from `peer` that arrived on a
    /// connection with `tls` to local `port`. `host` is the request's host as
    /// sent (Host header or :authority). `upgrade` tells ws/wss from http/https.
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        peer: IpAddr,
        tls: bool,
        port: u16,
        host: Option<&str>,
    ) {
        if !self.trusts(peer) {
            for name in DISTRUSTED {
                headers.remove(*name);
            }
        }
        let websocket = headers
            .get(http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !headers.contains_key(&X_FORWARDED_PROTO) {
            let proto = match (websocket, tls) {
                (true, true) => "wss",
                (true, false) => "ws",
                (false, true) => "https",
                (false, false) => "http",
            };
            headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
        }
        if !headers.contains_key(&X_FORWARDED_HOST) {
            if let Some(h) = host.and_then(|h| HeaderValue::from_str(h).ok()) {
                headers.insert(X_FORWARDED_HOST, h);
            }
        }
        if !headers.contains_key(&X_FORWARDED_PORT) {
            let port = forwarded_port(headers, host, tls, port);
            headers.insert(X_FORWARDED_PORT, HeaderValue::from(port));
        }
        let xff: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if xff.len() > 1 {
            if let Ok(joined) = HeaderValue::from_str(&xff.join(", ")) {
                headers.insert(X_FORWARDED_FOR, joined);
            }
        }
        headers.insert(X_FORWARDED_SERVER, self.hostname.clone());
        if !headers.contains_key(&X_REAL_IP) {
            if let Ok(v) = HeaderValue::from_str(&peer.to_string()) {
                headers.insert(X_REAL_IP, v);
            }
        }
    }
}

/// The port a client used, as Traefik derives it: the Host's port, else 443
/// when the (possibly trusted) `X-Forwarded-Proto` says https/wss or the
/// connection is TLS, else 80.
fn forwarded_port(headers: &HeaderMap, host: Option<&str>, tls: bool, _local: u16) -> u16 {
    let from_host = |h: &str| -> Option<u16> {
        let h = h.trim();
        let port = if let Some(rest) = h.strip_prefix('[') {
            rest.split_once(']')?.1.strip_prefix(':')?
        } else {
            h.rsplit_once(':')?.1
        };
        port.parse().ok()
    };
    if let Some(p) = host.and_then(from_host) {
        return p;
    }
    let proto = headers
        .get(&X_FORWARDED_PROTO)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if proto == "https" || proto == "wss" || tls {
        443
    } else {
        80
    }
}

/// Appends the peer to `X-Forwarded-For` (the reverse proxy's last step).
pub fn append_forwarded_for(headers: &mut HeaderMap, peer: IpAddr) {
    let peer = peer.to_string();
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.is_empty() => format!("{prior}, {peer}"),
        _ => peer,
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn forwarded_headers_table() {
        struct Case {
            what: &'static str,
            insecure: bool,
            trusted: &'static [&'static str],
            peer: &'static str,
            tls: bool,
            host: &'static str,
            given: &'static [(&'static str, &'static str)],
            want: &'static [(&'static str, &'static str)],
        }
        let cases = [
            Case {
                what: "plain request gets every header",
                insecure: false,
                trusted: &[],
                peer: "10.0.0.1",
                tls: false,
                host: "example.com",
                given: &[],
                want: &[
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-host", "example.com"),
                    ("x-forwarded-port", "80"),
                    ("x-forwarded-server", "proxy"),
                    ("x-real-ip", "10.0.0.1"),
                ],
            },
            Case {
                what: "untrusted peer cannot set X-Forwarded-*",
                insecure: false,
                trusted: &["192.168.0.0/16"],
                peer: "10.0.0.1",
                tls: false,
                host: "example.com:8000",
                given: &[
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-real-ip", "1.1.1.1"),
                ],
                want: &[
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-port", "8000"),
                    ("x-real-ip", "10.0.0.1"),
                    ("x-forwarded-for", ""),
                ],
            },
            Case {
                what: "trusted peer keeps its headers",
                insecure: false,
                trusted: &["10.0.0.0/8"],
                peer: "10.0.0.1",
                tls: false,
                host: "example.com",
                given: &[
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "a.com:444"),
                    ("x-real-ip", "1.1.1.1"),
                ],
                want: &[
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "a.com:444"),
                    ("x-forwarded-port", "443"),
                    ("x-real-ip", "1.1.1.1"),
                ],
            },
            Case {
                what: "insecure trusts everyone",
                insecure: true,
                trusted: &[],
                peer: "10.0.0.1",
                tls: true,
                host: "example.com",
                given: &[("x-forwarded-for", "1.1.1.1")],
                want: &[
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-port", "443"),
                ],
            },
            Case {
                what: "websocket is ws",
                insecure: false,
                trusted: &[],
                peer: "::1",
                tls: false,
                host: "[::1]:9000",
                given: &[("upgrade", "websocket")],
                want: &[
                    ("x-forwarded-proto", "ws"),
                    ("x-forwarded-port", "9000"),
                    ("x-real-ip", "::1"),
                ],
            },
        ];
        for c in cases {
            let trusted: Vec<String> = c.trusted.iter().map(|s| s.to_string()).collect();
            let fh = ForwardedHeaders::new(c.insecure, &trusted, "proxy").unwrap();
            let mut h = hdrs(c.given);
            fh.apply(&mut h, c.peer.parse().unwrap(), c.tls, 8000, Some(c.host));
            for (k, v) in c.want {
                let got = h
                    .get(*k)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                assert_eq!(&got, v, "{}: header {k}", c.what);
            }
        }
    }

    #[test]
    fn forwarded_for_appends() {
        let mut h = hdrs(&[("x-forwarded-for", "1.1.1.1")]);
        append_forwarded_for(&mut h, "10.0.0.2".parse().unwrap());
        assert_eq!(h.get("x-forwarded-for").unwrap(), "1.1.1.1, 10.0.0.2");
        let mut h = HeaderMap::new();
        append_forwarded_for(&mut h, "::1".parse().unwrap());
        assert_eq!(h.get("x-forwarded-for").unwrap(), "::1");
    }

    #[test]
    fn bad_trusted_ip_is_an_error() {
        assert!(ForwardedHeaders::new(false, &["nope".into()], "h").is_err());
        assert!(ForwardedHeaders::new(false, &["10.0.0.0/8".into(), "::1".into()], "h").is_ok());
    }
}
