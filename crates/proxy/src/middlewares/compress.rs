//! `compress`: gzip, brotli or zstd, chosen from `Accept-Encoding` (q-values,
//! ties by the order of `encodings`), for responses of at least
//! `minResponseBodyBytes` whose type is allowed and that are not encoded
//! already. The body is compressed as it streams: output goes out whenever
//! the backend pauses, so event streams keep flowing; nothing is buffered
//! whole.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderValue, Method};
use http_body::{Body as _, Frame};

use crate::body::{self, Body, BoxError};
use crate::{BoxHandler, Handler, HandlerFuture, Request, Response};

/// The encodings Switchyard can produce, by Traefik's names.
pub const SUPPORTED: [&str; 3] = ["gzip", "br", "zstd"];

#[derive(Debug, Clone)]
pub struct CompressSettings {
    /// In preference order.
    pub encodings: Vec<String>,
    pub default_encoding: Option<String>,
    pub excluded_content_types: Vec<String>,
    pub included_content_types: Vec<String>,
    pub min_response_body_bytes: usize,
}

pub struct Compress {
    pool: std::sync::Arc<DeflatePool>,
    s: CompressSettings,
    excludes: Vec<String>,
    next: BoxHandler,
}

fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Compress {
    /// Shares `pool` with the other chains built from the same definition.
    pub fn with_pool(mut self, pool: std::sync::Arc<DeflatePool>) -> Compress {
        self.pool = pool;
        self
    }

    pub fn new(s: CompressSettings, next: BoxHandler) -> Result<Compress, String> {
        if !s.excluded_content_types.is_empty() && !s.included_content_types.is_empty() {
            return Err(
                "excludedContentTypes and includedContentTypes options are mutually exclusive"
                    .into(),
            );
        }
        if s.encodings.is_empty() {
            return Err("at least one encoding must be specified".into());
        }
        if let Some(e) = s
            .encodings
            .iter()
            .find(|e| !SUPPORTED.contains(&e.as_str()))
        {
            return Err(format!("unsupported encoding: {e}"));
        }
        if let Some(d) = s
            .default_encoding
            .as_deref()
            .filter(|d| !s.encodings.iter().any(|e| e == d))
        {
            return Err(format!("unsupported default encoding: {d}"));
        }
        let mut excludes = vec!["application/grpc".to_string()];
        excludes.extend(s.excluded_content_types.iter().map(|t| media_type(t)));
        Ok(Compress {
            pool: std::sync::Arc::new(DeflatePool::default()),
            s,
            excludes,
            next,
        })
    }

    /// The encoding for a request's `Accept-Encoding` lines, if any.
    pub fn choose(&self, accept: &[&str]) -> Option<String> {
        if accept.is_empty() {
            return self.s.default_encoding.clone();
        }
        if accept.len() == 1 && accept[0].trim().is_empty() {
            return None;
        }
        let rank = |t: &str| -> i64 {
            match t {
                "*" => -1,
                "identity" => self.s.encodings.len() as i64,
                _ => self
                    .s
                    .encodings
                    .iter()
                    .position(|e| e == t)
                    .map_or(i64::MAX, |i| i as i64),
            }
        };
        let mut acceptable: Vec<(String, f64)> = Vec::new();
        for line in accept {
            for item in line.replace(' ', "").split(',') {
                let mut parts = item.splitn(2, ';');
                let name = parts.next().unwrap_or("");
                if rank(name) == i64::MAX {
                    continue;
                }
                let mut weight = 1.0;
                if let Some(q) = parts.next().and_then(|p| p.strip_prefix("q=")) {
                    weight = q.parse().unwrap_or(0.0);
                    if weight == 0.0 {
                        continue;
                    }
                }
                acceptable.push((name.to_string(), weight));
            }
        }
        acceptable.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| rank(&a.0).cmp(&rank(&b.0)))
        });
        let (best, _) = acceptable.into_iter().next()?;
        match best.as_str() {
            "*" => Some(
                self.s
                    .default_encoding
                    .clone()
                    .unwrap_or_else(|| self.s.encodings[0].clone()),
            ),
            "identity" => None,
            other => Some(other.to_string()),
        }
    }
}

impl Handler for Compress {
    fn call(&self, req: Request) -> HandlerFuture {
        if req.method() == Method::HEAD {
            return self.next.call(req);
        }
        let req_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        if self.excludes.contains(&req_type) {
            return self.next.call(req);
        }
        let accept: Vec<&str> = req
            .headers()
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let Some(encoding) = self.choose(&accept) else {
            return self.next.call(req);
        };
        let fut = self.next.call(req);
        let min = self.s.min_response_body_bytes;
        // Only the checks that need the response are left for later.
        let allowed_types = (self.s.included_content_types.clone(), self.excludes.clone());
        let pool = self.pool.clone();
        Box::pin(async move {
            let resp = fut.await?;
            let checker = TypeCheck {
                included: allowed_types.0,
                excluded: allowed_types.1,
            };
            Ok(compress_response(resp, &encoding, min, &checker, &pool).await)
        })
    }
}

struct TypeCheck {
    included: Vec<String>,
    excluded: Vec<String>,
}

impl TypeCheck {
    fn allows(&self, headers: &HeaderMap) -> bool {
        let t = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(media_type)
            .unwrap_or_default();
        if !self.included.is_empty() {
            return self.included.iter().any(|i| media_type(i) == t);
        }
        !self.excluded.contains(&t)
    }
}

fn add_vary(headers: &mut HeaderMap) {
    let has = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("accept-encoding"));
    if !has {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

async fn compress_response(
    resp: Response,
    encoding: &str,
    min: usize,
    types: &TypeCheck,
    pool: &std::sync::Arc<DeflatePool>,
) -> Response {
    let (mut parts, mut inner) = resp.into_parts();
    let skip = parts.headers.contains_key(header::CONTENT_ENCODING)
        || !types.allows(&parts.headers)
        || parts.status.is_informational()
        || parts.status == http::StatusCode::NO_CONTENT
        || parts.status == http::StatusCode::NOT_MODIFIED
        || parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n < min);
    if skip {
        return Response::from_parts(parts, inner);
    }
    // Read up to `min` bytes before deciding, as Traefik does.
    let mut prefix = BytesMut::new();
    let mut trailers = None;
    let mut ended = false;
    while prefix.len() < min {
        match std::future::poll_fn(|cx| Pin::new(&mut inner).poll_frame(cx)).await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => prefix.extend_from_slice(&data),
                Err(frame) => {
                    trailers = frame.into_trailers().ok();
                    ended = true;
                    break;
                }
            },
            Some(Err(e)) => {
                // Hand the error on after what was read.
                let rest = futures_util::stream::iter([Err::<Frame<Bytes>, BoxError>(e)]);
                let body = prefixed(
                    prefix.freeze(),
                    None,
                    body::boxed(http_body_util::StreamBody::new(rest)),
                );
                return Response::from_parts(parts, body);
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    if ended && prefix.len() < min {
        let body = prefixed(prefix.freeze(), trailers, body::empty());
        return Response::from_parts(parts, body);
    }
    let Some(encoder) = Encoder::new(encoding, pool) else {
        return Response::from_parts(parts, prefixed(prefix.freeze(), trailers, inner));
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ACCEPT_RANGES);
    if let Ok(v) = HeaderValue::from_str(encoding) {
        parts.headers.insert(header::CONTENT_ENCODING, v);
    }
    add_vary(&mut parts.headers);
    let source = prefixed(
        prefix.freeze(),
        trailers,
        if ended { body::empty() } else { inner },
    );
    let body = Compressing {
        source,
        encoder: Some(encoder),
        pending_input: false,
        trailers: None,
        done: false,
    };
    Response::from_parts(parts, body::boxed(body))
}

/// `prefix`, then `rest`, then `trailers`.
fn prefixed(prefix: Bytes, trailers: Option<HeaderMap>, rest: Body) -> Body {
    use futures_util::StreamExt;
    let head = futures_util::stream::iter(
        (!prefix.is_empty()).then(|| Ok::<_, BoxError>(Frame::data(prefix))),
    );
    let tail = futures_util::stream::iter(trailers.map(|t| Ok::<_, BoxError>(Frame::trailers(t))));
    let middle = http_body_util::BodyStream::new(rest);
    body::boxed(http_body_util::StreamBody::new(
        head.chain(middle).chain(tail),
    ))
}

/// Deflate compressors kept for reuse: a new one costs an allocation and a
/// clear of several hundred KiB of tables, a reset one nothing.
#[derive(Default)]
pub struct DeflatePool {
    idle: std::sync::Mutex<Vec<flate2::write::DeflateEncoder<Vec<u8>>>>,
}

impl DeflatePool {
    fn get(&self) -> flate2::write::DeflateEncoder<Vec<u8>> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        pooled.unwrap_or_else(|| {
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default())
        })
    }

    fn put(&self, mut encoder: flate2::write::DeflateEncoder<Vec<u8>>) {
        if encoder.reset(Vec::new()).is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < 256 {
                idle.push(encoder);
            }
        }
    }
}

/// gzip framing (RFC 1952) around a pooled raw deflate stream.
struct Gzip {
    deflate: Option<flate2::write::DeflateEncoder<Vec<u8>>>,
    crc: crc32fast::Hasher,
    size: u32,
    pool: std::sync::Arc<DeflatePool>,
}

impl Gzip {
    const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

    fn new(pool: std::sync::Arc<DeflatePool>) -> Gzip {
        let mut deflate = pool.get();
        deflate.get_mut().extend_from_slice(&Self::HEADER);
        Gzip {
            deflate: Some(deflate),
            crc: crc32fast::Hasher::new(),
            size: 0,
            pool,
        }
    }

    fn inner(&mut self) -> &mut flate2::write::DeflateEncoder<Vec<u8>> {
        // Present until `finish`, which consumes the value.
        self.deflate.get_or_insert_with(|| {
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default())
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.crc.update(data);
        self.size = self.size.wrapping_add(data.len() as u32);
        self.inner().write_all(data)
    }

    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        let deflate = self.inner();
        deflate.try_finish()?;
        let mut out = std::mem::take(deflate.get_mut());
        out.extend_from_slice(&self.crc.clone().finalize().to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        Ok(out)
    }
}

impl Drop for Gzip {
    fn drop(&mut self) {
        if let Some(d) = self.deflate.take() {
            self.pool.put(d);
        }
    }
}

enum Encoder {
    Gzip(Gzip),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    fn new(name: &str, pool: &std::sync::Arc<DeflatePool>) -> Option<Encoder> {
        Some(match name {
            "gzip" => Encoder::Gzip(Gzip::new(pool.clone())),
            "br" => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                4096,
                5,
                22,
            ))),
            "zstd" => Encoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), 3).ok()?),
            _ => return None,
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.write(data),
            Encoder::Brotli(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.inner().flush(),
            Encoder::Brotli(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }

    /// How many compressed bytes wait to be taken.
    fn produced(&self) -> usize {
        match self {
            Encoder::Gzip(e) => e.deflate.as_ref().map_or(0, |d| d.get_ref().len()),
            Encoder::Brotli(e) => e.get_ref().len(),
            Encoder::Zstd(e) => e.get_ref().len(),
        }
    }

    /// The compressed bytes produced so far.
    fn take(&mut self) -> Bytes {
        let buf = match self {
            Encoder::Gzip(e) => e.inner().get_mut(),
            Encoder::Brotli(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
        };
        Bytes::from(std::mem::take(buf))
    }

    fn finish(self) -> std::io::Result<Bytes> {
        let out = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Brotli(e) => e.into_inner(),
            Encoder::Zstd(e) => e.finish()?,
        };
        Ok(Bytes::from(out))
    }
}

/// Output is handed on once 16 KiB have gathered, or when the source pauses.
const CHUNK: usize = 16 * 1024;

struct Compressing {
    source: Body,
    encoder: Option<Encoder>,
    /// Input written since the last flush.
    pending_input: bool,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl http_body::Body for Compressing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let Some(encoder) = this.encoder.as_mut() else {
                this.done = true;
                continue;
            };
            match Pin::new(&mut this.source).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        encoder.write(&data)?;
                        this.pending_input = true;
                        if encoder.produced() >= CHUNK {
                            return Poll::Ready(Some(Ok(Frame::data(encoder.take()))));
                        }
                    }
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                    }
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let out = this
                        .encoder
                        .take()
                        .map(Encoder::finish)
                        .transpose()?
                        .unwrap_or_default();
                    this.done = true;
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                }
                Poll::Pending => {
                    if this.pending_input {
                        // The backend paused: send what we have.
                        encoder.flush()?;
                        this.pending_input = false;
                        let out = encoder.take();
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

/// Translates a `compress` definition. Every router using it shares one
/// pool of compressors.
pub fn from_config(
    c: switchyard_config::middlewares::Compress,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let settings = CompressSettings {
        encodings: c.encodings,
        default_encoding: c.default_encoding.filter(|d| !d.is_empty()),
        excluded_content_types: c.excluded_content_types,
        included_content_types: c.included_content_types,
        min_response_body_bytes: usize::try_from(c.min_response_body_bytes)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(1024),
    };
    Compress::new(settings.clone(), super::noop()).map_err(|e| format!("compress: {e}"))?;
    let pool = std::sync::Arc::new(DeflatePool::default());
    Ok(super::validated(move |next| {
        Compress::new(settings.clone(), next).map(|m| m.with_pool(pool.clone()))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Next;
    impl Handler for Next {
        fn call(&self, _req: Request) -> HandlerFuture {
            Box::pin(async { Ok(Response::new(body::empty())) })
        }
    }

    fn settings(encodings: &[&str], default: Option<&str>) -> CompressSettings {
        CompressSettings {
            encodings: encodings.iter().map(|s| s.to_string()).collect(),
            default_encoding: default.map(String::from),
            excluded_content_types: vec![],
            included_content_types: vec![],
            min_response_body_bytes: 1024,
        }
    }

    #[test]
    fn negotiation_table() {
        let c = Compress::new(settings(&["gzip", "br", "zstd"], None), Arc::new(Next)).unwrap();
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            ("no header, no default", &[], None),
            ("empty header means identity", &[""], None),
            ("plain gzip", &["gzip"], Some("gzip")),
            (
                "order of encodings breaks ties",
                &["br, gzip"],
                Some("gzip"),
            ),
            ("q-values win", &["gzip;q=0.5, br;q=0.9"], Some("br")),
            ("q=0 refuses", &["gzip;q=0, zstd"], Some("zstd")),
            ("identity preferred", &["identity, gzip;q=0.5"], None),
            ("wildcard takes the first encoding", &["*"], Some("gzip")),
            ("unknown only", &["compress, deflate"], None),
            ("several header lines", &["deflate", "br"], Some("br")),
            ("spaces", &["zstd ; q=0.8 , br ; q=0.7"], Some("zstd")),
        ];
        for (what, accept, want) in cases {
            assert_eq!(c.choose(accept).as_deref(), *want, "{what}");
        }
        let with_default =
            Compress::new(settings(&["gzip", "br"], Some("br")), Arc::new(Next)).unwrap();
        assert_eq!(
            with_default.choose(&[]).as_deref(),
            Some("br"),
            "defaultEncoding without a header"
        );
        assert_eq!(
            with_default.choose(&["*"]).as_deref(),
            Some("br"),
            "defaultEncoding for a wildcard"
        );
    }

    #[test]
    fn bad_settings() {
        let mut s = settings(&["gzip"], None);
        s.excluded_content_types = vec!["text/html".into()];
        s.included_content_types = vec!["text/plain".into()];
        assert!(Compress::new(s, Arc::new(Next)).is_err());
        assert!(Compress::new(settings(&[], None), Arc::new(Next)).is_err());
        assert!(Compress::new(settings(&["lzma"], None), Arc::new(Next)).is_err());
        assert!(Compress::new(settings(&["gzip"], Some("br")), Arc::new(Next)).is_err());
    }

    #[tokio::test]
    async fn round_trips_for_every_encoding() {
        use http_body_util::BodyExt;
        use std::io::Read;
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        for enc in SUPPORTED {
            let mut resp = Response::new(body::full(text.clone()));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            let types = TypeCheck {
                included: vec![],
                excluded: vec!["application/grpc".into()],
            };
            let out = compress_response(resp, enc, 1024, &types, &Default::default()).await;
            assert_eq!(out.headers()[header::CONTENT_ENCODING], enc);
            assert_eq!(out.headers()[header::VARY], "Accept-Encoding");
            let compressed = out.into_body().collect().await.unwrap().to_bytes();
            assert!(compressed.len() < text.len() / 3, "{enc} compresses");
            let mut plain = Vec::new();
            match enc {
                "gzip" => flate2::read::GzDecoder::new(&compressed[..])
                    .read_to_end(&mut plain)
                    .unwrap(),
                "br" => brotli::Decompressor::new(&compressed[..], 4096)
                    .read_to_end(&mut plain)
                    .unwrap(),
                _ => zstd::stream::read::Decoder::new(&compressed[..])
                    .unwrap()
                    .read_to_end(&mut plain)
                    .unwrap(),
            };
            assert_eq!(plain, text.as_bytes(), "{enc} round trip");
        }
        // Small, already encoded, or excluded responses pass untouched.
        let types = TypeCheck {
            included: vec![],
            excluded: vec!["image/png".into()],
        };
        let small = compress_response(
            Response::new(body::full("tiny")),
            "gzip",
            1024,
            &types,
            &Default::default(),
        )
        .await;
        assert!(small.headers().get(header::CONTENT_ENCODING).is_none());
        let mut png = Response::new(body::full(text.clone()));
        png.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert!(
            compress_response(png, "gzip", 10, &types, &Default::default())
                .await
                .headers()
                .get(header::CONTENT_ENCODING)
                .is_none()
        );
        let mut encoded = Response::new(body::full(text));
        encoded
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
        let out = compress_response(encoded, "gzip", 10, &types, &Default::default()).await;
        assert_eq!(
            out.headers()[header::CONTENT_ENCODING],
            "br",
            "no double compression"
        );
    }
}
