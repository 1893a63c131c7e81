//! What matchers look at in a request, and how the parts are prepared.

use std::borrow::Cow;

/// What matchers look at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a http::Method,
    /// The request host as [`normalize_host`] makes it: lower-cased, port
    /// and one trailing dot removed.
    pub host: &'a str,
    /// The routing path as [`crate::routing_path`] makes it from the
    /// normalised (and, with `sanitizePath`, cleaned) request path:
    /// escapes of reserved characters kept as upper-case `%XX`, every other
    /// escape decoded. `Path`, `PathPrefix` and `PathRegexp` see this.
    pub path: &'a str,
    /// The raw query string, without `?`, after the entrypoint's handling
    /// of `;` (Traefik turns `;` into `&` unless `encodeQuerySemicolons`).
    pub query: Option<&'a str>,
    pub headers: &'a http::HeaderMap,
    /// The peer address (not `X-Forwarded-For`).
    pub client_ip: std::net::IpAddr,
}

/// The request host as Traefik's matchers see it: the port removed as Go's
/// `net.SplitHostPort` does (brackets of an IPv6 literal too), spaces
/// trimmed, lower-cased; and, unlike Traefik, one trailing dot removed so
/// that the host index finds `example.com.` under `example.com`.
///
/// `Example.COM:8080` → `example.com`, `[::1]:80` → `::1`, `::1` → `::1`.
pub fn normalize_host(raw: &str) -> String {
    let host = split_host_port(raw);
    let host = host.trim();
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Traefik's `parseHost` (`pkg/middlewares/requestdecorator`): no colon,
/// the whole; else the host part of `net.SplitHostPort`, or on its error the
/// inside of `[...]`, or the whole.
fn split_host_port(addr: &str) -> &str {
    if !addr.contains(':') {
        return addr;
    }
    if let Some(host) = go_split_host_port(addr) {
        return host;
    }
    match addr.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        Some(inside) => inside,
        None => addr,
    }
}

/// The host of Go's `net.SplitHostPort`, None where Go returns an error.
fn go_split_host_port(hp: &str) -> Option<&str> {
    let colon = hp.rfind(':')?;
    let (host, j, k) = if hp.starts_with('[') {
        // The first ']' must come just before the last ':'.
        let end = hp.find(']')?;
        if end + 1 != colon {
            return None;
        }
        (&hp[1..end], 1, end + 1)
    } else {
        let host = &hp[..colon];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if hp[j..].contains('[') || hp[k..].contains(']') {
        return None;
    }
    Some(host)
}

/// Go's `url.ParseQuery` gives up on a query of more than this many
/// parameters (`&` count + 1; GODEBUG `urlmaxqueryparams`, Go 1.24+), and
/// `URL.Query()` then has no values at all.
const MAX_QUERY_PARAMS: usize = 10_000;

/// The values of `key` in a raw query, decoded as Go's `url.ParseQuery`
/// does: pairs split on `&`; a pair holding `;` or a bad escape skipped;
/// `+` is a space; `%XX` any byte.
pub(crate) fn query_values<'q>(
    query: Option<&'q str>,
    key: &'q [u8],
) -> impl Iterator<Item = Cow<'q, [u8]>> + 'q {
    let query = query.unwrap_or("");
    let too_many = query.bytes().filter(|&b| b == b'&').count() >= MAX_QUERY_PARAMS;
    let query = if too_many { "" } else { query };
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.contains(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = query_unescape(k)?;
            if *k != *key {
                return None;
            }
            query_unescape(v)
        })
}

fn query_unescape(s: &str) -> Option<Cow<'_, [u8]>> {
    if !s.contains(['%', '+']) {
        return Some(Cow::Borrowed(s.as_bytes()));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                out.push(hex_byte(b.get(i + 1..i + 3)?)?);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(Cow::Owned(out))
}

/// The byte two hex digits stand for.
pub(crate) fn hex_byte(two: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match two {
        [h, l] => Some(u8::try_from(digit(*h)? * 16 + digit(*l)?).ok()?),
        _ => None,
    }
}
