//! The entrypoint's forwarded-headers step, as Traefik's: first the
//! `http.aliasHeadersStrategy` (or the older `underscoreHeadersStrategy`)
//! drops or refuses headers whose name aliases another, then the
//! `X-Forwarded-*` headers Traefik manages are removed from peers outside
//! `forwardedHeaders.trustedIPs` (unless `insecure`), together with their
//! aliases spelled with `_` for `-` (`X_Forwarded_For`, `x-forwarded_host`:
//! backends that fold `_` into `-` would read them as the real ones), and
//! last the headers a backend expects are set.

use std::net::IpAddr;

use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use ipnet::IpNet;

use crate::{body, Response};

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

/// What an entrypoint does with a request header whose name aliases
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AliasAction {
    /// Forwarded as is (the default).
    #[default]
    Keep,
    /// Removed before routing.
    Delete,
    /// The request is refused with 400.
    Reject,
}

/// The compiled `http.aliasHeadersStrategy` / `http.underscoreHeadersStrategy`
/// of one entrypoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AliasHeaders {
    pub action: AliasAction,
    /// `underscoreHeadersStrategy` alone: only names with `_` count;
    /// otherwise any name with a character other than a letter, a digit
    /// or `-` (which CGI-style backends turn into `_`).
    pub underscores_only: bool,
}

/// A strategy value Traefik does not know, or the two options at odds.
#[derive(Debug, thiserror::Error)]
pub enum BadAliasStrategy {
    #[error("invalid {option} value {value:?}: expected keep, delete or reject")]
    Invalid { option: &'static str, value: String },
    #[error("cannot have both underscoreHeadersStrategy and aliasHeadersStrategy options configured with different values")]
    Conflict,
}

impl AliasHeaders {
    /// From the entrypoint's `http.underscoreHeadersStrategy` and
    /// `http.aliasHeadersStrategy` (empty: not set). As in Traefik, values
    /// are lowercase, and both may be set only to the same value.
    pub fn from_config(underscore: &str, alias: &str) -> Result<AliasHeaders, BadAliasStrategy> {
        let parse = |option: &'static str, value: &str| match value {
            "" | "keep" => Ok(AliasAction::Keep),
            "delete" => Ok(AliasAction::Delete),
            "reject" => Ok(AliasAction::Reject),
            _ => Err(BadAliasStrategy::Invalid {
                option,
                value: value.to_string(),
            }),
        };
        if !underscore.is_empty() && !alias.is_empty() && underscore != alias {
            return Err(BadAliasStrategy::Conflict);
        }
        let underscore = parse("underscoreHeadersStrategy", underscore)?;
        let alias_set = !alias.is_empty();
        let alias = parse("aliasHeadersStrategy", alias)?;
        Ok(if alias_set {
            AliasHeaders {
                action: alias,
                underscores_only: false,
            }
        } else {
            AliasHeaders {
                action: underscore,
                underscores_only: true,
            }
        })
    }

    fn aliases(&self, name: &str) -> bool {
        if self.underscores_only {
            name.contains('_')
        } else {
            name.bytes()
                .any(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
        }
    }
}

/// A request refused by `aliasHeadersStrategy: reject`.
#[derive(Debug, thiserror::Error)]
#[error("request header {0:?} aliases another header name")]
pub struct AliasRejected(pub HeaderName);

impl AliasRejected {
    /// Traefik's answer: 400 written by Go's `http.Error`.
    pub fn into_response(self) -> Response {
        let mut resp = Response::new(body::full("Bad Request\n"));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        resp
    }
}

/// The compiled `forwardedHeaders` of one entrypoint.
#[derive(Debug, Clone)]
pub struct ForwardedHeaders {
    insecure: bool,
    trusted: Vec<IpNet>,
    hostname: HeaderValue,
    aliases: AliasHeaders,
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
            aliases: AliasHeaders::default(),
        })
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
        port: u16,
        host: Option<&str>,
    ) -> Result<(), AliasRejected> {
        self.apply_alias_strategy(headers)?;
        if !self.trusts(peer) {
            delete_managed(headers);
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
        apply_connection(headers);
        Ok(())
    }

    fn apply_alias_strategy(&self, headers: &mut HeaderMap) -> Result<(), AliasRejected> {
        let rules = self.aliases;
        if rules.action == AliasAction::Keep {
            return Ok(());
        }
        let aliasing: Vec<HeaderName> = headers
            .keys()
            .filter(|k| rules.aliases(k.as_str()))
            .cloned()
            .collect();
        if let (AliasAction::Reject, Some(first)) = (rules.action, aliasing.first()) {
            return Err(AliasRejected(first.clone()));
        }
        for name in aliasing {
            headers.remove(name);
        }
        Ok(())
    }
}

/// Applies the request's `Connection` header here, as Traefik's entrypoint
/// does: the headers it names are removed, except those Traefik manages
/// (a client cannot name `X-Forwarded-For` away), and it is itself removed,
/// or left as `Connection: Upgrade` for an upgrade.
fn apply_connection(headers: &mut HeaderMap) {
    if !headers.contains_key(header::CONNECTION) {
        return;
    }
    let mut upgrade = false;
    let mut named: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if token.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
            match HeaderName::from_bytes(token.as_bytes()) {
                Ok(name) if !is_managed(name.as_str()) => named.push(name),
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
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, to);
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
                what: "untrusted peer cannot set them with `_` for `-` either",
                insecure: false,
                trusted: &[],
                peer: "10.0.0.1",
                tls: false,
                host: "example.com",
                given: &[
                    ("x_forwarded_for", "1.1.1.1"),
                    ("x_forwarded_host", "evil.test"),
                    ("x-forwarded_proto", "https"),
                    ("x_forwarded_port", "444"),
                    ("x_forwarded_server", "s"),
                    ("x_forwarded_uri", "/u"),
                    ("x_forwarded_method", "PUT"),
                    ("x_forwarded_prefix", "/p"),
                    ("x_forwarded_tls_client_cert", "c"),
                    ("x_forwarded_tls_client_cert_info", "i"),
                    ("x_real_ip", "2.2.2.2"),
                    ("x_auth_user", "kept: not managed"),
                    ("x.forwarded.for", "kept: only `_` is read as `-`"),
                    ("x-scheme", "kept: not managed in 3.7"),
                ],
                want: &[
                    ("x_forwarded_for", ""),
                    ("x_forwarded_host", ""),
                    ("x-forwarded_proto", ""),
                    ("x_forwarded_port", ""),
                    ("x_forwarded_server", ""),
                    ("x_forwarded_uri", ""),
                    ("x_forwarded_method", ""),
                    ("x_forwarded_prefix", ""),
                    ("x_forwarded_tls_client_cert", ""),
                    ("x_forwarded_tls_client_cert_info", ""),
                    ("x_real_ip", ""),
                    ("x_auth_user", "kept: not managed"),
                    ("x.forwarded.for", "kept: only `_` is read as `-`"),
                    ("x-scheme", "kept: not managed in 3.7"),
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-host", "example.com"),
                    ("x-forwarded-port", "80"),
                    ("x-real-ip", "10.0.0.1"),
                ],
            },
            Case {
                what: "trusted peer keeps its `_` headers beside the real ones",
                insecure: false,
                trusted: &["10.0.0.0/8"],
                peer: "10.0.0.1",
                tls: false,
                host: "example.com",
                given: &[("x_forwarded_for", "1.1.1.1"), ("x_real_ip", "2.2.2.2")],
                want: &[
                    ("x_forwarded_for", "1.1.1.1"),
                    ("x_real_ip", "2.2.2.2"),
                    ("x-real-ip", "10.0.0.1"),
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
            fh.apply(&mut h, c.peer.parse().unwrap(), c.tls, 8000, Some(c.host))
                .unwrap();
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
    fn connection_cannot_name_managed_headers_away() {
        let cases: [(&str, &[(&str, &str)], &[(&str, &str)]); 4] = [
            (
                "named headers go, managed ones stay",
                &[
                    ("connection", "X-Forwarded-Host, x-real-ip, X-Drop"),
                    ("x-drop", "1"),
                    ("x-keep", "1"),
                ],
                &[
                    ("connection", ""),
                    ("x-drop", ""),
                    ("x-keep", "1"),
                    ("x-forwarded-host", "example.com"),
                    ("x-real-ip", "10.0.0.1"),
                ],
            ),
            (
                "an upgrade keeps Connection: Upgrade",
                &[
                    ("connection", "keep-alive, Upgrade"),
                    ("upgrade", "websocket"),
                ],
                &[("connection", "Upgrade"), ("upgrade", "websocket")],
            ),
            (
                "Upgrade named away without the token",
                &[("connection", "close, upgrade-x"), ("upgrade", "h2c")],
                &[("connection", ""), ("upgrade", "h2c")],
            ),
            (
                "no Connection: nothing changes",
                &[("x-drop", "1")],
                &[("x-drop", "1")],
            ),
        ];
        let fh = ForwardedHeaders::new(false, &[], "proxy").unwrap();
        for (what, given, want) in cases {
            let mut h = hdrs(given);
            fh.apply(
                &mut h,
                "10.0.0.1".parse().unwrap(),
                false,
                80,
                Some("example.com"),
            )
            .unwrap();
            for (k, v) in want {
                let got = h
                    .get(*k)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                assert_eq!(&got, v, "{what}: header {k}");
            }
        }
    }

    #[test]
    fn managed_names() {
        let cases = [
            ("x-forwarded-for", true),
            ("x_forwarded_for", true),
            ("x-forwarded_host", true),
            ("x_forwarded_tls_client_cert_info", true),
            ("x_real_ip", true),
            ("x-forwarded-fo", false),
            ("x_forwarded_forx", false),
            ("x.forwarded.for", false),
            ("x-scheme", false),
            ("x_auth_user", false),
            ("forwarded", false),
        ];
        for (name, want) in cases {
            assert_eq!(is_managed(name), want, "{name}");
        }
    }

    #[test]
    fn alias_strategy_from_config() {
        use AliasAction::*;
        let cases: [(&str, &str, Option<(AliasAction, bool)>); 10] = [
            ("", "", Some((Keep, true))),
            ("keep", "", Some((Keep, true))),
            ("delete", "", Some((Delete, true))),
            ("reject", "", Some((Reject, true))),
            ("", "delete", Some((Delete, false))),
            ("", "reject", Some((Reject, false))),
            ("delete", "delete", Some((Delete, false))),
            ("delete", "keep", None),
            ("", "Delete", None),
            ("drop", "", None),
        ];
        for (underscore, alias, want) in cases {
            let got = AliasHeaders::from_config(underscore, alias)
                .ok()
                .map(|a| (a.action, a.underscores_only));
            assert_eq!(got, want, "underscore {underscore:?}, alias {alias:?}");
        }
    }

    #[test]
    fn alias_strategy_applies_before_the_forwarded_headers() {
        let given: &[(&str, &str)] = &[
            ("x_forwarded_for", "1.1.1.1"),
            ("x.forwarded.proto", "https"),
            ("a!b", "1"),
            ("x-plain-9", "kept"),
        ];
        let run = |underscore: &str, alias: &str| {
            let fh = ForwardedHeaders::new(true, &[], "proxy")
                .unwrap()
                .with_alias_headers(AliasHeaders::from_config(underscore, alias).unwrap());
            let mut h = hdrs(given);
            let peer = "10.0.0.1".parse().unwrap();
            fh.apply(&mut h, peer, false, 80, Some("example.com"))
                .map(|()| {
                    let mut names: Vec<String> = h
                        .keys()
                        .map(|k| k.as_str().to_string())
                        .filter(|k| !k.starts_with("x-forwarded-") && k != "x-real-ip")
                        .collect();
                    names.sort();
                    names
                })
                .map_err(|e| e.0.as_str().to_string())
        };
        let names = |list: &[&str]| -> Result<Vec<String>, String> {
            Ok(list.iter().map(|s| s.to_string()).collect())
        };
        assert_eq!(
            run("", ""),
            names(&["a!b", "x-plain-9", "x.forwarded.proto", "x_forwarded_for"]),
            "keep: a trusted peer's aliases go on"
        );
        assert_eq!(
            run("delete", ""),
            names(&["a!b", "x-plain-9", "x.forwarded.proto"]),
            "underscores only"
        );
        assert_eq!(run("", "delete"), names(&["x-plain-9"]), "every alias");
        assert!(run("", "reject").is_err(), "any alias refuses the request");
        assert_eq!(
            run("reject", ""),
            Err("x_forwarded_for".to_string()),
            "an underscore refuses the request"
        );
        let resp = AliasRejected(HeaderName::from_static("a_b")).into_response();
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
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
