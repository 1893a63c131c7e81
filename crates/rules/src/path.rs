//! The request path as Traefik's entrypoint and router see it.
//!
//! Traefik runs three steps, and the server calls the three functions here
//! in the same order:
//!
//! 1. [`normalize_path`] (`normalizePath` in `pkg/server/server_entrypoint_tcp.go`,
//!    together with what Go's `URL.EscapedPath` does): the path forwarded
//!    from here on;
//! 2. [`sanitize_path`] (`sanitizePath`, on by default): dot segments and
//!    repeated slashes cleaned;
//! 3. [`routing_path`] (`withRoutingPath` in `pkg/muxer/http/mux.go`): the
//!    text `Path`, `PathPrefix` and `PathRegexp` compare with.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::request::hex_byte;

/// A path whose percent-encoding is broken (`%` not followed by two hex
/// digits); Traefik answers 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid percent-encoding in URL path")]
pub struct RoutingPathError;

/// RFC 3986 unreserved characters, which mean the same escaped or not.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Bytes Go's `validEncoded` accepts in a raw path.
fn go_valid_in_path(b: u8) -> bool {
    unreserved(b) || b"$&+,/:;=@!'()*[]%".contains(&b)
}

/// Bytes Go's `escape(s, encodePath)` leaves alone.
fn go_kept_in_path(b: u8) -> bool {
    unreserved(b) || b"$&+,/:;=@".contains(&b)
}

fn push_escape(out: &mut String, b: u8) {
    let _ = write!(out, "%{b:02X}");
}

/// Checks every escape; returns whether there is any.
fn check_escapes(raw: &str) -> Result<bool, RoutingPathError> {
    let b = raw.as_bytes();
    let mut any = false;
    for (i, _) in raw.match_indices('%') {
        b.get(i + 1..i + 3)
            .and_then(hex_byte)
            .ok_or(RoutingPathError)?;
        any = true;
    }
    Ok(any)
}

/// The request path as Traefik forwards it and routes on it, before
/// sanitizing: escapes of unreserved characters decoded (`%41` → `A`,
/// `%2e` → `.`), other escapes upper-cased (`%2f` → `%2F`).
///
/// When the path holds a character Go does not accept as already encoded
/// (`{`, `}`, `|`, `"`, `\`, `^`, non-ASCII), Go's `URL.EscapedPath` instead
/// escapes the decoded path afresh, and so does this: `/a{b}` →
/// `/a%7Bb%7D`, `/é` → `/%C3%A9`, `/x(y)|` → `/x%28y%29%7C`, and
/// `/a%2Fb|` → `/a/b%7C` (the escaped slash is lost, as in Traefik).
pub fn normalize_path(raw: &str) -> Result<Cow<'_, str>, RoutingPathError> {
    let has_escapes = check_escapes(raw)?;
    let b = raw.as_bytes();
    if !b.iter().all(|&c| go_valid_in_path(c)) {
        let mut out = String::with_capacity(raw.len() + 8);
        let mut i = 0;
        while i < b.len() {
            let (byte, used) = match b[i] {
                b'%' => (b.get(i + 1..i + 3).and_then(hex_byte).unwrap_or(b'%'), 3),
                c => (c, 1),
            };
            if go_kept_in_path(byte) {
                out.push(char::from(byte));
            } else {
                push_escape(&mut out, byte);
            }
            i += used;
        }
        return Ok(Cow::Owned(out));
    }
    if !has_escapes {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(char::from(b[i]));
            i += 1;
            continue;
        }
        let v = b.get(i + 1..i + 3).and_then(hex_byte).unwrap_or(b'%');
        if unreserved(v) {
            out.push(char::from(v));
        } else {
            push_escape(&mut out, v);
        }
        i += 3;
    }
    Ok(if out == raw {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(out)
    })
}

/// Cleans a path as the entrypoint's `sanitizePath` does (Go's
/// `URL.JoinPath()`, that is `path.Join` on the escaped path): `.` and `..`
/// segments resolved (never above the root), repeated slashes collapsed,
/// a trailing slash kept when the path had one. Escapes are left as they
/// are: `/a%2F..%2Fb` stays, `%2e%2e` is not `..` (run [`normalize_path`]
/// first, which decodes it). A path not starting with `/` is cleaned as if
/// it did, then the `/` is taken off again (`*` stays `*`).
pub fn sanitize_path(path: &str) -> Cow<'_, str> {
    let rooted = path.starts_with('/');
    let dirty = path.contains("//")
        || path.split('/').any(|seg| seg == "." || seg == "..")
        || path.is_empty();
    if rooted && !dirty {
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
    let mut out = String::with_capacity(path.len() + 1);
    if rooted {
        out.push('/');
    }
    out.push_str(&segs.join("/"));
    // JoinPath keeps one trailing slash (for an empty relative path the
    // `/` it prefixed counts).
    if (path.ends_with('/') || path.is_empty()) && !out.ends_with('/') {
        out.push('/');
    }
    if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    }
}

/// Escapes that stay encoded in the routing path: the reserved characters
/// of RFC 3986 and `%` itself, written in upper case exactly (a lower-case
/// `%2f` is decoded, as in Traefik; [`normalize_path`] has upper-cased them
/// all by then).
const RESERVED: [&[u8]; 19] = [
    b"%3A", b"%2F", b"%3F", b"%23", b"%5B", b"%5D", b"%40", b"%21", b"%24", b"%26", b"%27", b"%28",
    b"%29", b"%2A", b"%2B", b"%2C", b"%3B", b"%3D", b"%25",
];

/// The routing path: escapes of reserved characters kept (`%2F` stays
/// `%2F`), every other escape decoded (`%20` is a space, `%C3%A9` is `é`).
///
/// Where decoding would give bytes that are not UTF-8 (`%FF`), those
/// escapes stay encoded, and `Path`/`PathPrefix` values holding such bytes
/// (written `"\xff"`) are compared in the same encoded form. Traefik
/// decodes them (Go strings hold any bytes); only a `PathRegexp` run on
/// such a path can tell the difference.
pub fn routing_path(path: &str) -> Result<Cow<'_, str>, RoutingPathError> {
    if !check_escapes(path)? {
        return Ok(Cow::Borrowed(path));
    }
    let b = path.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let esc = b.get(i..i + 3).ok_or(RoutingPathError)?;
        if RESERVED.contains(&esc) {
            out.extend_from_slice(esc);
        } else {
            out.push(hex_byte(&esc[1..]).ok_or(RoutingPathError)?);
        }
        i += 3;
    }
    Ok(Cow::Owned(bytes_as_routing_path(&out)))
}

/// Bytes as routing-path text: UTF-8 as is, any byte that is not part of
/// valid UTF-8 as `%XX`.
pub(crate) fn bytes_as_routing_path(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for &b in chunk.invalid() {
            push_escape(&mut out, b);
        }
    }
    out
}
