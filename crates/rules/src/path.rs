//! Request host and path as the matchers see them.

use std::borrow::Cow;

/// Lower-cases a Host header value and strips its port and trailing dot:
/// `Example.COM:8080` → `example.com`, `[::1]:80` → `::1`.
pub fn normalize_host(raw: &str) -> String {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else {
        match raw.rsplit_once(':') {
            // A single colon separates a port; more colons are a bare IPv6.
            Some((h, port)) if !h.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => raw,
        }
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Escapes that stay encoded in the routing path (upper-case hex only, as
/// Traefik writes its table).
const RESERVED: [&str; 19] = [
    "%3A", "%2F", "%3F", "%23", "%5B", "%5D", "%40", "%21", "%24", "%26", "%27", "%28", "%29",
    "%2A", "%2B", "%2C", "%3B", "%3D", "%25",
];

/// A path whose percent-encoding is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid percent-encoding in URL path")]
pub struct RoutingPathError;

/// The path matchers compare with: escapes of reserved characters kept
/// (`%2F` stays `%2F`), every other escape decoded (`%61` is `a`).
pub fn routing_path(raw: &str) -> Result<Cow<'_, str>, RoutingPathError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let b = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let esc = raw.get(i..i + 3).ok_or(RoutingPathError)?;
        if RESERVED.contains(&esc) {
            out.extend_from_slice(esc.as_bytes());
        } else {
            let v = u8::from_str_radix(&esc[1..], 16).map_err(|_| RoutingPathError)?;
            out.push(v);
        }
        i += 3;
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| RoutingPathError)
}

/// The escapes of unreserved characters (RFC 3986 2.3), which mean the
/// same decoded.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Normalises percent-encoding as Traefik's entrypoints do before anything
/// else: escapes of unreserved characters are decoded (`%41` → `A`, `%2e` →
/// `.`), other escapes upper-cased (`%2f` → `%2F`). A broken escape is an
/// error (Traefik answers 400).
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, RoutingPathError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let b = raw.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let ch_len = raw[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&raw[i..i + ch_len]);
            i += ch_len;
            continue;
        }
        let esc = raw.get(i + 1..i + 3).ok_or(RoutingPathError)?;
        let v = u8::from_str_radix(esc, 16).map_err(|_| RoutingPathError)?;
        if unreserved(v) {
            out.push(char::from(v));
        } else {
            out.push('%');
            out.push_str(&esc.to_ascii_uppercase());
        }
        i += 3;
    }
    Ok(Cow::Owned(out))
}

/// Cleans a request path as the entrypoint's `sanitizePath` does (Go's
/// `url.JoinPath`): `.` and `..` segments resolved, repeated slashes
/// collapsed, a trailing slash kept when the path had one; escapes are left
/// as they are. Run it after [`normalize_path`], which turns `%2e` into `.`.
pub fn sanitize_path(path: &str) -> Cow<'_, str> {
    if !path.starts_with('/') {
        return Cow::Borrowed(path);
    }
    let needs = path.contains("//") || path.split('/').any(|s| s == "." || s == "..");
    if !needs {
        return Cow::Borrowed(path);
    }
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segs.join("/"));
    if path.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    Cow::Owned(out)
}
