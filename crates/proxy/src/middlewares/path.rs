//! Path helpers shared by the path middlewares. Switchyard keeps a request's
//! path as it came (percent-escapes intact, like Go's `RawPath`); these give
//! the decoded form that prefixes are compared with, and the clean-up check
//! that makes Traefik answer 400 when a rewrite would change the path under
//! dot-segment normalisation.

use std::borrow::Cow;

use http::uri::PathAndQuery;
use http::Uri;

use crate::{ProxyError, Request};

/// Decodes `%XX` escapes; invalid escapes are kept as written.
pub fn percent_decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains('%') {
        return Cow::Borrowed(raw);
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Like Go's `url.PathUnescape`: fails on a malformed escape.
pub fn strict_percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let pair = bytes
                .get(i + 1)
                .copied()
                .and_then(hex)
                .zip(bytes.get(i + 2).copied().and_then(hex));
            let Some((h, l)) = pair else {
                let end = (i + 3).min(bytes.len());
                return Err(format!("invalid URL escape {:?}", &raw[i..end]));
            };
            out.push(h * 16 + l);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Go's `path.Clean`, keeping a trailing slash as `url.JoinPath` does.
pub fn clean_keep_trailing(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(p.len());
    if rooted {
        out.push('/');
    }
    out.push_str(&parts.join("/"));
    if out.is_empty() {
        out.push('.');
    }
    if p.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// How many bytes of `raw` encode the first `decoded_len` decoded characters.
pub fn encoded_prefix_len(raw: &str, decoded_len: usize) -> usize {
    let bytes = raw.as_bytes();
    let (mut i, mut decoded) = (0, 0);
    while i < bytes.len() && decoded < decoded_len {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            i += 3;
        } else {
            i += 1;
        }
        decoded += 1;
    }
    i
}

pub fn ensure_leading_slash(s: String) -> String {
    if s.is_empty() || s.starts_with('/') {
        s
    } else {
        format!("/{s}")
    }
}

/// Replaces the path of `req`'s URI, keeping its query.
pub fn set_path(req: &mut Request, raw_path: &str) -> Result<(), ProxyError> {
    let uri = req.uri();
    let pq = match uri.query() {
        Some(q) => format!("{raw_path}?{q}"),
        None => raw_path.to_string(),
    };
    let pq = PathAndQuery::try_from(pq)
        .map_err(|e| ProxyError::BadRequest(format!("rewritten path is invalid: {e}")))?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    *req.uri_mut() = Uri::from_parts(parts)
        .map_err(|e| ProxyError::BadRequest(format!("rewritten URI is invalid: {e}")))?;
    Ok(())
}

/// The 400 Traefik answers when a rewritten path is not clean.
pub fn require_clean(decoded: &str) -> Result<(), ProxyError> {
    if !decoded.is_empty() && clean_keep_trailing(decoded) != decoded {
        return Err(ProxyError::Status {
            status: http::StatusCode::BAD_REQUEST,
            message: "Bad Request\n".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_table() {
        let cases = [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b/"),
            ("//a", "/a"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("/a/..", "/"),
            ("/a/../", "/"),
            ("a/../..", ".."),
        ];
        for (input, want) in cases {
            assert_eq!(clean_keep_trailing(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn decode_table() {
        let cases = [
            ("/a%2Fb", "/a/b"),
            ("/a%2fb", "/a/b"),
            ("/%zz", "/%zz"),
            ("/a%", "/a%"),
            ("/caf%C3%A9", "/café"),
            ("/plain", "/plain"),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input), want, "decode({input:?})");
        }
        assert!(strict_percent_decode("/%zz").is_err());
        assert_eq!(strict_percent_decode("/a%20b").unwrap(), "/a b");
    }

    #[test]
    fn encoded_prefix_len_counts_escapes_as_one() {
        assert_eq!(encoded_prefix_len("/a%2Fb/c", 4), 6);
        assert_eq!(encoded_prefix_len("/abc", 2), 2);
        assert_eq!(encoded_prefix_len("/a", 5), 2);
    }
}
