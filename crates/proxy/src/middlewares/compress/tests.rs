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
        assert_eq!(c.choose(accept), *want, "{what}");
    }
    let with_default =
        Compress::new(settings(&["gzip", "br"], Some("br")), Arc::new(Next)).unwrap();
    assert_eq!(
        with_default.choose(&[]),
        Some("br"),
        "defaultEncoding without a header"
    );
    assert_eq!(
        with_default.choose(&["*"]),
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

/// A body fed by the test, piece by piece; `None` ends it.
fn fed() -> (tokio::sync::mpsc::UnboundedSender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, BoxError>(Frame::data(b)), rx))
    });
    (tx, body::boxed(http_body_util::StreamBody::new(frames)))
}

fn decode(encoding: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(data)
            .read_to_end(&mut plain)
            .map(|_| ()),
        "br" => brotli::Decompressor::new(data, 4096)
            .read_to_end(&mut plain)
            .map(|_| ()),
        _ => zstd::stream::read::Decoder::new(data)
            .and_then(|mut d| d.read_to_end(&mut plain))
            .map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{encoding}: {e}"));
    plain
}

fn text(len: usize) -> Vec<u8> {
    let mut t = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while t.len() < len {
        // Some repetition, some variety: compresses like real text.
        t.extend_from_slice(
            format!(
                "{{\"id\":{i},\"v\":{}}}\n",
                i.wrapping_mul(2654435761) % 9973
            )
            .as_bytes(),
        );
        i += 1;
    }
    t.truncate(len);
    t
}

fn types() -> TypeCheck {
    TypeCheck {
        included: vec![],
        excluded: vec!["application/grpc".into()],
    }
}

/// Every encoding, every size class (under the minimum, just over it, taken
/// whole, too large to take whole), the body in one piece or in many:
/// decompresses to the original; a body taken whole carries its length,
/// a larger one streams.
#[tokio::test]
async fn every_encoding_every_size() {
    use http_body_util::BodyExt;
    let pools = Arc::new(Pools::default());
    for enc in SUPPORTED {
        for (what, len, whole) in [
            ("under the minimum", 1000, None),
            ("just over the minimum", 1025, Some(true)),
            ("64 KiB", 65536, Some(true)),
            ("larger than taken whole", 3 * WHOLE_MAX + 5, Some(false)),
        ] {
            for pieces in [1, 7] {
                let data = text(len);
                let frames: Vec<Result<Frame<Bytes>, BoxError>> = data
                    .chunks(len.div_ceil(pieces))
                    .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                    .collect();
                let mut resp = Response::new(body::boxed(http_body_util::StreamBody::new(
                    futures_util::stream::iter(frames),
                )));
                resp.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                let out = compress_response(resp, enc, 1024, &types(), &pools).await;
                let case = format!("{enc}, {what}, {pieces} piece(s)");
                let length = out.headers().get(header::CONTENT_LENGTH).cloned();
                let encoded = out.headers().get(header::CONTENT_ENCODING).cloned();
                let got = out.into_body().collect().await.unwrap().to_bytes();
                match whole {
                    None => {
                        assert!(encoded.is_none(), "{case}: not encoded");
                        assert_eq!(got, data, "{case}");
                        continue;
                    }
                    Some(true) => assert_eq!(
                        length.as_ref().and_then(|v| v.to_str().ok()),
                        Some(got.len().to_string().as_str()),
                        "{case}: sent with its length"
                    ),
                    Some(false) => assert!(length.is_none(), "{case}: streamed"),
                }
                assert_eq!(
                    encoded.as_ref().and_then(|v| v.to_str().ok()),
                    Some(enc),
                    "{case}"
                );
                assert!(
                    got.len() < len / 2,
                    "{case}: compresses ({} bytes)",
                    got.len()
                );
                assert!(decode(enc, &got) == data, "{case}: round trip");
            }
        }
    }
}

/// A body of known length whose backend pauses is held at most
/// FLUSH_INTERVAL, then what came is sent (flushed) and the rest streams;
/// a stream without a length is flushed at once.
#[tokio::test(start_paused = true)]
async fn paused_bodies_flush() {
    use http_body_util::BodyExt;
    for (what, length, waits) in [
        ("known length", Some(5000usize), true),
        ("no length", None, false),
    ] {
        let (tx, source) = fed();
        let mut resp = Response::new(source);
        if let Some(n) = length {
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
        let data = text(5000);
        tx.send(Bytes::copy_from_slice(&data[..2000])).unwrap();
        let started = tokio::time::Instant::now();
        let out = compress_response(resp, "gzip", 1024, &types(), &Default::default()).await;
        assert_eq!(
            started.elapsed() >= stream::FLUSH_INTERVAL,
            waits,
            "{what}: waited {:?}",
            started.elapsed()
        );
        assert_eq!(out.headers()[header::CONTENT_ENCODING], "gzip", "{what}");
        assert!(
            out.headers().get(header::CONTENT_LENGTH).is_none(),
            "{what}"
        );
        let mut body = out.into_body();
        // What came before the pause is out, decodable, before the rest.
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        let mut partial = Vec::new();
        let mut d = flate2::write::GzDecoder::new(&mut partial);
        std::io::Write::write_all(&mut d, &first).unwrap();
        std::io::Write::flush(&mut d).unwrap();
        drop(d);
        assert_eq!(partial, &data[..2000], "{what}: flushed before the rest");
        tx.send(Bytes::copy_from_slice(&data[2000..])).unwrap();
        drop(tx);
        let rest = body.collect().await.unwrap().to_bytes();
        let all = [&first[..], &rest[..]].concat();
        assert_eq!(decode("gzip", &all), data, "{what}: whole stream");
    }
}

/// Server-sent events are a stream even with a length: flushed at once.
#[tokio::test(start_paused = true)]
async fn event_streams_are_not_held() {
    let (tx, source) = fed();
    let mut resp = Response::new(source);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(100_000));
    tx.send(Bytes::from(text(3000))).unwrap();
    let started = tokio::time::Instant::now();
    let out = compress_response(resp, "br", 1024, &types(), &Default::default()).await;
    assert!(started.elapsed() < stream::FLUSH_INTERVAL);
    assert_eq!(out.headers()[header::CONTENT_ENCODING], "br");
    drop(tx);
}

/// The encoders reused from the pool give the same output as new ones.
#[test]
fn pooled_encoders_are_clean() {
    let pools = Arc::new(Pools::default());
    let a = [Bytes::from(text(50_000))];
    let b = [Bytes::from(vec![b'a'; 65536])];
    for enc in SUPPORTED {
        let first = encode::whole(enc, &a, &pools).unwrap();
        let other = encode::whole(enc, &b, &pools).unwrap();
        assert_eq!(encode::whole(enc, &a, &pools).unwrap(), first, "{enc}");
        assert_eq!(decode(enc, &other), b[0], "{enc}");
    }
}
