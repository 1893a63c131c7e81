//! The entrypoint's forwarded-headers step, as Traefik's: first the
//! `http.aliasHeadersStrategy` (or the older `underscoreHeadersStrategy`)
//! drops or refuses headers whose name aliases another, then the
//! `X-Forwarded-*` headers Traefik manages are removed from peers outside
//! `forwardedHeaders.trustedIPs` (unless `insecure`), together with their
//! aliases spelled with `_` for `-` (`X_Forwarded_For`, `x-forwarded_host`:
//! backends that fold `_` into `-` would read them as the real ones), and
//! last the headers a backend expects are set.

use std::net::IpAddr;

use http::{header, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

mod aliases;
pub use aliases::{AliasAction, AliasHeaders, AliasRejected, BadAliasStrategy};

pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_SERVER: HeaderName = HeaderName::from_static("x-forwarded-server");
pub const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The headers Traefik 3.7 manages: only a trusted peer may set them
/// (lowercase, dash form).
const MANAGED: &[&str] = &[
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

/// Whether `name` (lowercase, as `http` keeps names) is a header Traefik
/// manages, reading each `_` as `-`.
pub fn is_managed(name: &str) -> bool {
    if !name.starts_with('x') {
        return false;
    }
    MANAGED.iter().any(|m| {
        m.len() == name.len()
            && m.bytes()
                .zip(name.bytes())
                .all(|(m, n)| m == n || (m == b'-' && n == b'_'))
    })
}

/// Removes the headers Traefik manages and their `_` aliases (Traefik's
/// `DeleteXForwardedHeaders`).
pub fn delete_managed(headers: &mut HeaderMap) {
    let doomed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| is_managed(k.as_str()))
        .cloned()
        .collect();
    for name in doomed {
        headers.remove(name);
    }
}

/// The compiled `forwardedHeaders` of one entrypoint.
#[derive(Debug, Clone)]
pub struct ForwardedHeaders {
    insecure: bool,
    trusted: Vec<IpNet>,
    hostname: HeaderValue,
    aliases: AliasHeaders,
    /// `connection`: headers a request's `Connection` names that stay for
    /// the middlewares (the reverse proxy still drops them, as hop-by-hop).
    connection: Vec<HeaderName>,
    /// `notAppendXForwardedFor`.
    not_append_forwarded_for: bool,
}

/// A `connection` entry that is not a header name.
#[derive(Debug, thiserror::Error)]
#[error("invalid header name {0:?}")]
pub struct BadHeaderName(pub String);

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
            aliases: AliasHeaders::default(),
            connection: Vec::new(),
            not_append_forwarded_for: false,
        })
    }

    /// With `connection`: the names a request's `Connection` header may keep
    /// through the middlewares. Names that are not header names are errors.
    pub fn with_connection(mut self, names: &[String]) -> Result<Self, BadHeaderName> {
        self.connection = names
            .iter()
            .map(|n| {
                HeaderName::from_bytes(n.trim().as_bytes()).map_err(|_| BadHeaderName(n.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// With `notAppendXForwardedFor`: the client is not appended to
    /// `X-Forwarded-For` on the way to the backend.
    pub fn with_not_append_forwarded_for(mut self, not_append: bool) -> Self {
        self.not_append_forwarded_for = not_append;
        self
    }

    /// Whether requests keep `X-Forwarded-For` as it came.
    pub fn not_append_forwarded_for(&self) -> bool {
        self.not_append_forwarded_for
    }

    /// With the entrypoint's alias-headers strategy (default: keep).
    pub fn with_alias_headers(mut self, aliases: AliasHeaders) -> Self {
        self.aliases = aliases;
        self
    }

    fn trusts(&self, peer: IpAddr) -> bool {
        self.insecure || self.trusted.iter().any(|n| n.contains(&peer))
    }

    /// Rewrites `headers` of a request from `peer` that arrived on a
    /// connection with `tls` to local `port`. `host` is the request's host as
    /// sent (Host header or :authority). An `Upgrade: websocket` request
    /// is told ws/wss rather than http/https. Errs when the alias strategy
    /// refuses the request (answer it with [`AliasRejected::into_response`]).
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        peer: IpAddr,
        tls: bool,
        _local_port: u16,
        host: Option<&str>,
    ) -> Result<(), AliasRejected> {
        self.aliases.apply(headers)?;
        if !self.trusts(peer) {
            delete_managed(headers);
        }
        let websocket = headers
            .get(http::header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        // One lookup per header: `entry` finds the slot or the place for it.
        let secure_proto = match headers.entry(X_FORWARDED_PROTO) {
            header::Entry::Vacant(slot) => {
                let proto = match (websocket, tls) {
                    (true, true) => "wss",
                    (true, false) => "ws",
                    (false, true) => "https",
                    (false, false) => "http",
                };
                slot.insert(HeaderValue::from_static(proto));
                tls
            }
            header::Entry::Occupied(slot) => is_secure_proto(slot.get().as_bytes()),
        };
        if !headers.contains_key(&X_FORWARDED_HOST) {
            if let Some(h) = host {
                // The Host header's own value when that is where the host
                // came from (no copy), else the host as given.
                let value = match headers.get(header::HOST) {
                    Some(v) if v.as_bytes() == h.as_bytes() => Some(v.clone()),
                    _ => HeaderValue::from_str(h).ok(),
                };
                if let Some(value) = value {
                    headers.insert(X_FORWARDED_HOST, value);
                }
            }
        }
        if let header::Entry::Vacant(slot) = headers.entry(X_FORWARDED_PORT) {
            let port = match host.and_then(port_of_host) {
                Some(p) => p,
                None if secure_proto || tls => 443,
                None => 80,
            };
            slot.insert(HeaderValue::from(port));
        }
        let mut xff = headers.get_all(&X_FORWARDED_FOR).iter();
        if xff.next().is_some() && xff.next().is_some() {
            let joined: Vec<&str> = headers
                .get_all(&X_FORWARDED_FOR)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if joined.len() > 1 {
                if let Ok(joined) = HeaderValue::from_str(&joined.join(", ")) {
                    headers.insert(X_FORWARDED_FOR, joined);
                }
            }
        }
        headers.insert(X_FORWARDED_SERVER, self.hostname.clone());
        if let header::Entry::Vacant(slot) = headers.entry(X_REAL_IP) {
            slot.insert(ip_value(peer));
        }
        apply_connection(headers, &self.connection);
        Ok(())
    }
}

/// Applies the request's `Connection` header here, as Traefik's entrypoint
/// does: the headers it names are removed, except those Traefik manages
/// (a client cannot name `X-Forwarded-For` away) and those the entrypoint's
/// `connection` list keeps; `Connection` then names only the kept ones (and
/// `Upgrade` for an upgrade), or goes.
fn apply_connection(headers: &mut HeaderMap, keep: &[HeaderName]) {
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let mut upgrade = false;
    let mut named: Vec<HeaderName> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if token.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
            match HeaderName::from_bytes(token.as_bytes()) {
                Ok(name) if is_managed(name.as_str()) => {}
                Ok(name) if keep.contains(&name) => kept.push(canonical_name(name.as_str())),
                Ok(name) => named.push(name),
                _ => {}
            }
        }
    }
    let upgrade_to = headers.get(header::UPGRADE).filter(|_| upgrade).cloned();
    for name in named {
        headers.remove(name);
    }
    headers.remove(header::CONNECTION);
    if let Some(to) = upgrade_to {
        kept.push("Upgrade".into());
        headers.insert(header::UPGRADE, to);
    }
    if !kept.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&kept.join(",")) {
            headers.insert(header::CONNECTION, v);
        }
    }
}

/// A header name as Go's `CanonicalHeaderKey` writes it: `x-keep-me` →
/// `X-Keep-Me`.
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// The port a client used, as Traefik derives it: the Host's port, else 443
/// when the (possibly trusted) `X-Forwarded-Proto` says https/wss or the
/// connection is TLS, else 80.
pub fn forwarded_port(headers: &HeaderMap, host: Option<&str>, tls: bool, _local: u16) -> u16 {
    if let Some(p) = host.and_then(port_of_host) {
        return p;
    }
    let secure = headers
        .get(&X_FORWARDED_PROTO)
        .is_some_and(|v| is_secure_proto(v.as_bytes()));
    if secure || tls {
        443
    } else {
        80
    }
}

/// The port written in a Host (`h:8080`, `[::1]:8080`).
fn port_of_host(h: &str) -> Option<u16> {
    let h = h.trim();
    let port = if let Some(rest) = h.strip_prefix('[') {
        rest.split_once(']')?.1.strip_prefix(':')?
    } else {
        h.rsplit_once(':')?.1
    };
    port.parse().ok()
}

/// `X-Forwarded-Proto: https` or `wss` (as written, case included).
fn is_secure_proto(proto: &[u8]) -> bool {
    proto == b"https" || proto == b"wss"
}

/// Appends the peer to `X-Forwarded-For` (the reverse proxy's last step).
pub fn append_forwarded_for(headers: &mut HeaderMap, peer: IpAddr) {
    match headers.entry(X_FORWARDED_FOR) {
        header::Entry::Vacant(slot) => {
            slot.insert(ip_value(peer));
        }
        header::Entry::Occupied(mut slot) => {
            let value = match slot.get().to_str() {
                Ok(prior) if !prior.is_empty() => {
                    let mut joined = String::with_capacity(prior.len() + 2 + 39);
                    joined.push_str(prior);
                    joined.push_str(", ");
                    write_ip(&mut joined, peer);
                    HeaderValue::from_str(&joined).ok()
                }
                _ => Some(ip_value(peer)),
            };
            if let Some(v) = value {
                slot.insert(v);
            }
        }
    }
}

/// `ip` as a header value, written as `Display` writes it (dotted quad;
/// IPv6 in its short form) without going through the formatter for IPv4.
pub fn ip_value(ip: IpAddr) -> HeaderValue {
    if let IpAddr::V4(v4) = ip {
        let mut buf = [0u8; 15];
        let mut n = 0;
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            if octet >= 100 {
                buf[n] = b'0' + octet / 100;
                n += 1;
            }
            if octet >= 10 {
                buf[n] = b'0' + octet / 10 % 10;
                n += 1;
            }
            buf[n] = b'0' + octet % 10;
            n += 1;
        }
        if let Ok(v) = HeaderValue::from_bytes(&buf[..n]) {
            return v;
        }
    }
    let mut text = String::with_capacity(39);
    write_ip(&mut text, ip);
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Appends `ip` to `out` as `Display` writes it.
fn write_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write;
            let _ = write!(out, "{ip}");
        }
    }
}

#[cfg(test)]
mod tests;
