//! `contentType`: when the backend sends no `Content-Type`, one is derived
//! from the first bytes of the body, as Go's `http.DetectContentType` does
//! (the WHATWG sniffing rules). Without this middleware Traefik, and so
//! Switchyard, leaves such answers without a type.

use http::header::{HeaderValue, CONTENT_TYPE};
use http_body_util::BodyExt;

use crate::body::Body;
use crate::{BoxHandler, Handler, HandlerFuture, Request, Response};

/// How many leading bytes are looked at.
const SNIFF_LEN: usize = 512;

fn is_ws(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ')
}

/// `pattern` at the start of `data` (after whitespace when `skip_ws`),
/// comparing only the bits `mask` keeps.
fn masked(data: &[u8], mask: &[u8], pattern: &[u8], skip_ws: bool) -> bool {
    let data = if skip_ws {
        let start = data.iter().position(|b| !is_ws(*b)).unwrap_or(data.len());
        &data[start..]
    } else {
        data
    };
    data.len() >= pattern.len()
        && data
            .iter()
            .zip(mask.iter().zip(pattern))
            .all(|(d, (m, p))| d & m == *p)
}

/// An HTML tag opening the document (case-insensitive, after whitespace),
/// followed by a space or `>`.
fn html_tag(data: &[u8], tag: &[u8]) -> bool {
    let start = data.iter().position(|b| !is_ws(*b)).unwrap_or(data.len());
    let data = &data[start..];
    if data.len() < tag.len() + 1 {
        return false;
    }
    let same = data.iter().zip(tag).all(|(d, t)| {
        if t.is_ascii_alphabetic() {
            d & 0xDF == *t
        } else {
            d == t
        }
    });
    same && matches!(data[tag.len()], b' ' | b'>')
}

fn mp4(data: &[u8]) -> bool {
    if data.len() < 12 {
        return false;
    }
    let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if data.len() < size || !size.is_multiple_of(4) || &data[4..8] != b"ftyp" {
        return false;
    }
    (8..size)
        .step_by(4)
        .filter(|st| *st != 12)
        .any(|st| data.get(st..st + 3) == Some(b"mp4".as_slice()))
}

const HTML_TAGS: &[&[u8]] = &[
    b"<!DOCTYPE HTML",
    b"<HTML",
    b"<HEAD",
    b"<SCRIPT",
    b"<IFRAME",
    b"<H1",
    b"<DIV",
    b"<FONT",
    b"<TABLE",
    b"<A",
    b"<STYLE",
    b"<TITLE",
    b"<B",
    b"<BODY",
    b"<BR",
    b"<P",
    b"<!--",
];

/// Exact prefixes and their types, in Go's order after HTML and XML.
const PREFIXES: &[(&[u8], &str)] = &[
    (b"%PDF-", "application/pdf"),
    (b"%!PS-Adobe-", "application/postscript"),
    (b"\xFE\xFF", "text/plain; charset=utf-16be"),
    (b"\xFF\xFE", "text/plain; charset=utf-16le"),
    (b"\xEF\xBB\xBF", "text/plain; charset=utf-8"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x00\x00\x02\x00", "image/x-icon"),
    (b"BM", "image/bmp"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
];

/// Masked signatures: (mask, pattern, type).
const MASKED: &[(&[u8], &[u8], &str)] = &[
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00WEBPVP",
        "image/webp",
    ),
    (
        b"\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        b"\x89PNG\x0D\x0A\x1A\x0A",
        "image/png",
    ),
    (b"\xFF\xFF\xFF", b"\xFF\xD8\xFF", "image/jpeg"),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"FORM\x00\x00\x00\x00AIFF",
        "audio/aiff",
    ),
    (b"\xFF\xFF\xFF", b"ID3", "audio/mpeg"),
    (b"\xFF\xFF\xFF\xFF\xFF", b"OggS\x00", "application/ogg"),
    (
        b"\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF",
        b"MThd\x00\x00\x00\x06",
        "audio/midi",
    ),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00AVI ",
        "video/avi",
    ),
    (
        b"\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF",
        b"RIFF\x00\x00\x00\x00WAVE",
        "audio/wave",
    ),
];

/// Signatures checked after the mp4 matcher.
const LATE: &[(&[u8], &str)] = &[
    (b"\x1A\x45\xDF\xA3", "video/webm"),
    (b"\x00\x01\x00\x00", "font/ttf"),
    (b"OTTO", "font/otf"),
    (b"ttcf", "font/collection"),
    (b"wOFF", "font/woff"),
    (b"wOF2", "font/woff2"),
    (b"\x1F\x8B\x08", "application/x-gzip"),
    (b"PK\x03\x04", "application/zip"),
    (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    (b"Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    (b"\x00\x61\x73\x6D", "application/wasm"),
];

/// The type Go's `DetectContentType` gives `data`.
pub fn detect(data: &[u8]) -> &'static str {
    let data = &data[..data.len().min(SNIFF_LEN)];
    if HTML_TAGS.iter().any(|t| html_tag(data, t)) {
        return "text/html; charset=utf-8";
    }
    if masked(data, b"\xFF\xFF\xFF\xFF\xFF", b"<?xml", true) {
        return "text/xml; charset=utf-8";
    }
    for (prefix, ct) in PREFIXES {
        if data.starts_with(prefix) {
            return ct;
        }
    }
    for (mask, pattern, ct) in MASKED {
        if masked(data, mask, pattern, false) {
            return ct;
        }
    }
    if mp4(data) {
        return "video/mp4";
    }
    // Embedded OpenType: "LP" at offset 34.
    if data.get(34..36) == Some(b"LP".as_slice()) {
        return "application/vnd.ms-fontobject";
    }
    for (prefix, ct) in LATE {
        if data.starts_with(prefix) {
            return ct;
        }
    }
    let binary = data
        .iter()
        .any(|b| matches!(b, 0x00..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F));
    if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

pub struct ContentType {
    next: BoxHandler,
}

impl ContentType {
    pub fn new(next: BoxHandler) -> ContentType {
        ContentType { next }
    }
}

/// Whether a response with `status` to `method` carries a body.
fn may_have_body(status: http::StatusCode, method: &http::Method) -> bool {
    !(status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
        || method == http::Method::HEAD)
}

impl Handler for ContentType {
    fn call(&self, req: Request) -> HandlerFuture {
        let method = req.method().clone();
        let call = self.next.call(req);
        Box::pin(async move {
            let resp = call.await?;
            if resp.headers().contains_key(CONTENT_TYPE) || !may_have_body(resp.status(), &method) {
                return Ok(resp);
            }
            let (mut parts, mut body) = resp.into_parts();
            // The first bytes decide; they are then sent on, in front of
            // the rest of the stream.
            let first = loop {
                match body.frame().await {
                    None => break None,
                    Some(Err(e)) => break Some(Err(e)),
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) if data.is_empty() => continue,
                        Ok(data) => break Some(Ok(http_body::Frame::data(data))),
                        Err(trailers) => break Some(Ok(trailers)),
                    },
                }
            };
            let Some(first) = first else {
                return Ok(Response::from_parts(parts, crate::body::empty()));
            };
            if let Ok(frame) = &first {
                if let Some(data) = frame.data_ref() {
                    parts
                        .headers
                        .insert(CONTENT_TYPE, HeaderValue::from_static(detect(data)));
                }
            }
            let head = futures_util::stream::iter([first]);
            use futures_util::StreamExt;
            let rest = http_body_util::BodyStream::new(body);
            let stream = head.chain(rest);
            let body: Body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
            Ok(Response::from_parts(parts, body))
        })
    }
}

/// Translates a `contentType` definition (`autoDetect: false` leaves the
/// chain unchanged).
pub fn from_config(
    c: switchyard_config::middlewares::ContentType,
    ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let enabled = match c.auto_detect {
        Some(on) => {
            ctx.warnings.push("contentType.autoDetect is deprecated: the middleware only enables detection; remove the option".to_string());
            on
        }
        None => true,
    };
    Ok(std::sync::Arc::new(move |next| {
        if enabled {
            std::sync::Arc::new(ContentType::new(next)) as BoxHandler
        } else {
            next
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_table() {
        // (input, Go's answer)
        let cases: &[(&[u8], &str)] = &[
            (b"", "text/plain; charset=utf-8"),
            (b"Hello, world", "text/plain; charset=utf-8"),
            (b"\x01\x02binary", "application/octet-stream"),
            (b"<!DOCTYPE html><html>", "text/html; charset=utf-8"),
            (b"  \n<HtMl><body>", "text/html; charset=utf-8"),
            (b"<html", "text/plain; charset=utf-8"),
            (b"<htmlx>", "text/plain; charset=utf-8"),
            (b"<p>para</p>", "text/html; charset=utf-8"),
            (b"<!-- c -->", "text/html; charset=utf-8"),
            (b"<br/>", "text/plain; charset=utf-8"),
            (b"<?xml version=\"1.0\"?>", "text/xml; charset=utf-8"),
            (b"   <?xml ", "text/xml; charset=utf-8"),
            (b"%PDF-1.4", "application/pdf"),
            (b"%!PS-Adobe-3.0", "application/postscript"),
            (b"\xFE\xFFx", "text/plain; charset=utf-16be"),
            (b"\xFF\xFEx", "text/plain; charset=utf-16le"),
            (b"\xEF\xBB\xBFtext", "text/plain; charset=utf-8"),
            (b"GIF89a...", "image/gif"),
            (b"\x89PNG\x0D\x0A\x1A\x0A....", "image/png"),
            (b"\xFF\xD8\xFF\xE0", "image/jpeg"),
            (b"BM....", "image/bmp"),
            (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
            (b"RIFF\x10\x00\x00\x00WAVEfmt ", "audio/wave"),
            (b"RIFF\x10\x00\x00\x00AVI LIST", "video/avi"),
            (b"ID3\x03", "audio/mpeg"),
            (b"OggS\x00\x02", "application/ogg"),
            (b"MThd\x00\x00\x00\x06\x00", "audio/midi"),
            (
                b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
                "video/mp4",
            ),
            (b"\x1A\x45\xDF\xA3\x01", "video/webm"),
            (b"wOFF\x00\x01", "font/woff"),
            (b"wOF2\x00\x01", "font/woff2"),
            (b"\x1F\x8B\x08\x00", "application/x-gzip"),
            (b"PK\x03\x04\x14", "application/zip"),
            (b"Rar!\x1A\x07\x00", "application/x-rar-compressed"),
            (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
            (b"{\"json\": true}", "text/plain; charset=utf-8"),
        ];
        for (input, want) in cases {
            assert_eq!(detect(input), *want, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn only_the_first_512_bytes_count() {
        let mut data = vec![b'a'; 600];
        data[550] = 0x01;
        assert_eq!(detect(&data), "text/plain; charset=utf-8");
        data[100] = 0x01;
        assert_eq!(detect(&data), "application/octet-stream");
    }
}
