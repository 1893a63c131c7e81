//! compress through the real binary: every encoding round-trips, whole or
//! streamed, streams keep streaming, small and excluded answers pass
//! untouched.

#![allow(clippy::unwrap_used)] // test helpers

mod common;
use std::io::Read;

use bytes::Bytes;
use common::*;
use http::Method;

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => flate2::read::GzDecoder::new(body)
            .read_to_end(&mut out)
            .unwrap(),
        Some("br") => brotli::Decompressor::new(body, 4096)
            .read_to_end(&mut out)
            .unwrap(),
        Some("zstd") => zstd::stream::read::Decoder::new(body)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap(),
        _ => {
            out.extend_from_slice(body);
            0
        }
    };
    out
}

#[tokio::test]
async fn compress_encodings_and_streams() {
    let b = Backend::start("b").await;
    let dynamic = format!(
        "http:\n  routers:\n    r:\n      rule: \"PathPrefix(`/`)\"\n      service: s\n      middlewares: [c]\n  middlewares:\n    c:\n      compress:\n        minResponseBodyBytes: 20\n  services:\n    s:\n      loadBalancer:\n        servers: [{{url: \"{}\"}}]\n",
        b.url()
    );
    let p = Proxy::start("compress", &dynamic, "").await;
    p.wait_status("x.test", "/small", 200).await;
    for encoding in ["gzip", "br", "zstd"] {
        let r = request(
            p.web,
            Method::GET,
            "x.test",
            "/bytes/65536",
            &[("accept-encoding", encoding)],
            Bytes::new(),
        )
        .await
        .unwrap();
        assert_eq!(r.header("content-encoding"), Some(encoding));
        assert!(
            r.body.len() < 65536 / 10,
            "{encoding}: {} bytes",
            r.body.len()
        );
        assert_eq!(
            decode(Some(encoding), &r.body),
            vec![b'a'; 65536],
            "{encoding} round trip"
        );
        // Taken whole: sent with its length, in one deflate block (Traefik
        // sends 107 bytes of gzip, 13 of brotli for this body).
        assert_eq!(
            r.header("content-length"),
            Some(r.body.len().to_string().as_str()),
            "{encoding}: length of a body compressed whole"
        );
        let most = match encoding {
            "gzip" => 112,
            "br" => 13,
            _ => 24,
        };
        assert!(r.body.len() <= most, "{encoding}: {} bytes", r.body.len());
        // Larger than what is taken whole, with or without a length: streams.
        for path in ["/bytes/300000", "/chunked/300000"] {
            let r = request(
                p.web,
                Method::GET,
                "x.test",
                path,
                &[("accept-encoding", encoding)],
                Bytes::new(),
            )
            .await
            .unwrap();
            assert_eq!(r.header("content-encoding"), Some(encoding), "{path}");
            assert_eq!(r.header("content-length"), None, "{encoding} {path}");
            assert_eq!(
                decode(Some(encoding), &r.body),
                vec![b'a'; 300000],
                "{encoding} {path} round trip"
            );
        }
    }
    // A stream of small chunks arrives whole and in order.
    let r = request(
        p.web,
        Method::GET,
        "x.test",
        "/stream/20",
        &[("accept-encoding", "gzip")],
        Bytes::new(),
    )
    .await
    .unwrap();
    let text = String::from_utf8(decode(r.header("content-encoding"), &r.body)).unwrap();
    let want: String = (0..20).map(|i| format!("chunk {i}\n")).collect();
    assert_eq!(text, want);
    // Under the minimum size: untouched.
    let r = request(
        p.web,
        Method::GET,
        "x.test",
        "/small",
        &[("accept-encoding", "gzip")],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), "ok");
    // No Accept-Encoding: untouched.
    let r = get(p.web, "x.test", "/bytes/1000").await.unwrap();
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.body.len(), 1000);
}
