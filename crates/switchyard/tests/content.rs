//! contentType, encodedCharacters, buffering, circuitBreaker and digestAuth
//! against the real binary and real backends.

#![allow(clippy::unwrap_used)] // tests and their helpers unwrap freely

mod common;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Method;
use md5::{Digest, Md5};

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn encoded_characters_and_content_type() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    strict:
      rule: "Host(`strict.test`)"
      service: a
      middlewares: [strict]
    slashes:
      rule: "Host(`slashes.test`)"
      service: a
      middlewares: [slashes]
    sniff:
      rule: "Host(`sniff.test`)"
      service: a
      middlewares: [sniff]
  middlewares:
    strict:
      encodedCharacters: {{allowEncodedHash: false}}
    slashes:
      encodedCharacters: {{allowEncodedSlash: true}}
    sniff:
      contentType: {{}}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    );
    let p = Proxy::start("encoded", &dynamic, "").await;
    p.wait_status("strict.test", "/ok", 200).await;
    for (host, path, status) in [
        ("strict.test", "/a%2Fb", 400),
        ("strict.test", "/a%2fb", 400),
        ("strict.test", "/a%5Cb", 400),
        ("strict.test", "/a%00", 400),
        ("strict.test", "/a%3B", 400),
        ("strict.test", "/a%25", 400),
        ("strict.test", "/a%3F", 400),
        ("strict.test", "/a%23", 400),
        ("strict.test", "/caf%C3%A9", 200),
        ("slashes.test", "/a%2Fb", 200),
        ("slashes.test", "/a%25", 400),
    ] {
        let r = get(p.web, host, path).await.unwrap();
        assert_eq!(r.status.as_u16(), status, "{host}{path}");
    }
    let hits = a.hits();
    assert_eq!(
        get(p.web, "strict.test", "/x%2F").await.unwrap().status,
        400
    );
    assert_eq!(a.hits(), hits, "a refused request reached the backend");

    // The test backend's /echo answers without a Content-Type.
    let sniffed = |body: &'static [u8]| {
        let web = p.web;
        async move {
            let r = request(
                web,
                Method::POST,
                "sniff.test",
                "/echo",
                &[],
                Bytes::from_static(body),
            )
            .await
            .unwrap();
            assert_eq!(r.body, body, "the body crosses whole");
            r.header("content-type").map(str::to_string)
        }
    };
    assert_eq!(
        sniffed(b"<html><body>x</body></html>").await.as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        sniffed(b"\x89PNG\r\n\x1a\n\x00\x00").await.as_deref(),
        Some("image/png")
    );
    assert_eq!(
        sniffed(b"plain words").await.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(sniffed(b"").await, None, "no body, no type");
    // Without the middleware the type stays absent, as in Traefik.
    let r = request(
        p.web,
        Method::POST,
        "strict.test",
        "/echo",
        &[],
        Bytes::from_static(b"<html></html>"),
    )
    .await
    .unwrap();
    assert_eq!(r.header("content-type"), None);
}

#[tokio::test]
async fn buffering_limits_spills_and_retries() {
    let a = Backend::start("a").await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dynamic = format!(
        r#"
http:
  routers:
    limited:
      rule: "Host(`limited.test`)"
      service: a
      middlewares: [limited]
    spill:
      rule: "Host(`spill.test`)"
      service: a
      middlewares: [spill]
    retried:
      rule: "Host(`retried.test`)"
      service: flaky
      middlewares: [retried]
    unretried:
      rule: "Host(`unretried.test`)"
      service: flaky
    broken:
      rule: "Host(`broken.test`)"
      service: a
      middlewares: [broken]
  middlewares:
    limited:
      buffering:
        maxRequestBodyBytes: 16
        maxResponseBodyBytes: 2000
    spill:
      buffering:
        memRequestBodyBytes: 1000
        memResponseBodyBytes: 1000
    retried:
      buffering:
        retryExpression: "IsNetworkError() && Attempts() < 3"
    broken:
      buffering:
        retryExpression: "Attempts() <"
  services:
    a: {{loadBalancer: {{servers: [{{url: "{a}"}}]}}}}
    flaky:
      loadBalancer:
        servers: [{{url: "{dead}"}}, {{url: "{a}"}}]
"#,
        a = a.url()
    );
    let p = Proxy::start("buffering", &dynamic, "").await;
    p.wait_status("limited.test", "/small", 200).await;
    let post = |host: &'static str, path: &'static str, body: Vec<u8>| {
        let web = p.web;
        async move {
            request(web, Method::POST, host, path, &[], Bytes::from(body))
                .await
                .unwrap()
        }
    };
    // Request limit: a body over 16 bytes gets 413 and never reaches the backend.
    let hits = a.hits();
    let r = post("limited.test", "/echo", vec![b'x'; 17]).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body, "Request Entity Too Large");
    assert_eq!(a.hits(), hits);
    let r = post("limited.test", "/echo", vec![b'x'; 16]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 16);
    // Response limit: 500.
    let r = get(p.web, "limited.test", "/bytes/3000").await.unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(
        get(p.web, "limited.test", "/bytes/2000")
            .await
            .unwrap()
            .status,
        200
    );

    // Past the memory thresholds, both ways go through a temporary file
    // and come out whole, with a Content-Length.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = post("spill.test", "/echo", big.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_ref(), big.as_slice());
    assert_eq!(r.header("content-length"), Some("300000"));
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("switchyard-buffer-{}-", p.sy.pid()))
        })
        .count();
    assert_eq!(leftovers, 0, "temporary files are removed");

    // The retry expression sends the buffered request to the next server.
    for _ in 0..4 {
        let r = post("retried.test", "/echo", b"again".to_vec()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "again");
    }
    let failures = {
        let mut n = 0;
        for _ in 0..4 {
            if get(p.web, "unretried.test", "/").await.unwrap().status == 502 {
                n += 1;
            }
        }
        n
    };
    assert_eq!(failures, 2, "without buffering half the requests fail");

    let api = p.api("/api/http/middlewares/broken@file").await;
    assert_eq!(api["status"], "disabled");
    assert!(
        api["error"][0]
            .as_str()
            .unwrap()
            .contains("retryExpression"),
        "{api}"
    );
}

/// One request written as is on a new connection (`Connection: close`):
/// the response head (lowercased) and body as sent, chunk framing included.
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> (String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
    (head, out[split + 4..].to_vec())
}

#[tokio::test]
async fn buffering_sends_requests_with_a_length_and_answers_as_traefik_frames_them() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    buffered:
      rule: "Host(`buf.test`)"
      service: a
      middlewares: [buf]
    plain:
      rule: "Host(`plain.test`)"
      service: a
  middlewares:
    buf:
      buffering:
        maxRequestBodyBytes: 0
  services:
    a: {{loadBalancer: {{servers: [{{url: "{a}"}}]}}}}
"#,
        a = a.url()
    );
    let p = Proxy::start("buffering-framing", &dynamic, "").await;
    p.wait_status("buf.test", "/small", 200).await;
    let chunked = |host: &str, method: &str, chunks: &str| {
        format!(
            "{method} /x HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}"
        )
    };
    let seen = |body: &[u8]| -> serde_json::Value { serde_json::from_slice(body).unwrap() };
    let seen_header = |json: &serde_json::Value, name: &str| -> Option<String> {
        json["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|pair| (pair[0] == name).then(|| pair[1].as_str().unwrap().to_string()))
    };
    struct Case {
        what: &'static str,
        host: &'static str,
        method: &'static str,
        chunks: &'static str,
        body: &'static str,
        content_length: Option<&'static str>,
        transfer_encoding: Option<&'static str>,
    }
    let cases = [
        Case {
            what: "buffered chunked body: a Content-Length",
            host: "buf.test",
            method: "POST",
            chunks: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            body: "hello world",
            content_length: Some("11"),
            transfer_encoding: None,
        },
        Case {
            what: "buffered chunked GET body arrives whole",
            host: "buf.test",
            method: "GET",
            chunks: "3\r\nabc\r\n0\r\n\r\n",
            body: "abc",
            content_length: Some("3"),
            transfer_encoding: None,
        },
        Case {
            what: "buffered empty POST: Content-Length: 0",
            host: "buf.test",
            method: "POST",
            chunks: "0\r\n\r\n",
            body: "",
            content_length: Some("0"),
            transfer_encoding: None,
        },
        Case {
            what: "without buffering the body stays chunked",
            host: "plain.test",
            method: "POST",
            chunks: "5\r\nhello\r\n0\r\n\r\n",
            body: "hello",
            content_length: None,
            transfer_encoding: Some("chunked"),
        },
    ];
    for c in cases {
        let (head, body) = raw_exchange(p.web, &chunked(c.host, c.method, c.chunks)).await;
        assert!(head.starts_with("http/1.1 200"), "{}: {head}", c.what);
        let json = seen(&body);
        assert_eq!(json["body"], c.body, "{}", c.what);
        assert_eq!(
            seen_header(&json, "content-length").as_deref(),
            c.content_length,
            "{}",
            c.what
        );
        assert_eq!(
            seen_header(&json, "transfer-encoding").as_deref(),
            c.transfer_encoding,
            "{}",
            c.what
        );
    }

    // Answers the backend sends without a length: up to 2048 bytes they
    // get a Content-Length, past that they stay chunked, as Go's server
    // sends them.
    let get =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: buf.test\r\nConnection: close\r\n\r\n");
    let (head, body) = raw_exchange(p.web, &get("/stream/3")).await;
    assert!(head.contains("content-length: 24"), "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(body, b"chunk 0\nchunk 1\nchunk 2\n");
    let (head, body) = raw_exchange(p.web, &get("/chunked/2048")).await;
    assert!(head.contains("content-length: 2048"), "{head}");
    assert_eq!(body.len(), 2048);
    let (head, body) = raw_exchange(p.web, &get("/chunked/2049")).await;
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
    assert!(body.starts_with(b"801\r\n"), "one chunk of 2049 bytes");
    // One with a length keeps it.
    let (head, body) = raw_exchange(p.web, &get("/bytes/5000")).await;
    assert!(head.contains("content-length: 5000"), "{head}");
    assert_eq!(body.len(), 5000);
}

#[tokio::test]
async fn circuit_breaker_trips_holds_through_reloads_and_recovers() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: a
      middlewares: [breaker]
  middlewares:
    breaker:
      circuitBreaker:
        expression: "NetworkErrorRatio() > 0.5"
        checkPeriod: 1ms
        fallbackDuration: 1500ms
        recoveryDuration: 500ms
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    );
    let p = Proxy::start("breaker", &dynamic, "").await;
    p.wait_status("app.test", "/", 200).await;
    a.set_failing(502);
    // The failures pass through until the ratio is over one half...
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(p.web, "app.test", "/").await.unwrap().status.as_u16());
    }
    assert_eq!(statuses[0], 502);
    // ...then the breaker answers itself, without the backend.
    let r = get(p.web, "app.test", "/").await.unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.body, "Service Unavailable");
    let hits = a.hits();
    // A reload that leaves the middleware alone keeps it open.
    p.dir.write(
        "dynamic/other.yml",
        "http:\n  routers:\n    other:\n      rule: \"Host(`other.test`)\"\n      service: a@file\n",
    );
    p.wait_status("other.test", "/", 502).await;
    let hits_after_reload_probe = a.hits();
    assert_eq!(
        hits_after_reload_probe,
        hits + 1,
        "only the probe reached a"
    );
    assert_eq!(get(p.web, "app.test", "/").await.unwrap().status, 503);
    assert_eq!(a.hits(), hits_after_reload_probe);
    // The backend heals; after the fallback and recovery periods, traffic flows.
    a.set_failing(0);
    wait_until("breaker closed", Duration::from_secs(10), || async {
        let r = get(p.web, "app.test", "/").await.ok()?;
        (r.status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn digest_auth_handshake() {
    let a = Backend::start("a").await;
    let ha1 = md5_hex("alice:private:secret");
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: a
      middlewares: [digest]
  middlewares:
    digest:
      digestAuth:
        realm: private
        headerField: X-User
        removeHeader: true
        users: ["alice:private:{ha1}"]
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    );
    let p = Proxy::start("digest", &dynamic, "").await;
    let challenge = p.wait_status("app.test", "/private?x=1", 401).await;
    assert_eq!(challenge.body, "401 Unauthorized\n");
    let www = challenge.header("www-authenticate").unwrap().to_string();
    assert!(
        www.starts_with("Digest realm=\"private\", nonce=\""),
        "{www}"
    );
    let field = |name: &str| {
        let start = www.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = www[start..].find('"').unwrap() + start;
        www[start..end].to_string()
    };
    let (nonce, opaque) = (field("nonce"), field("opaque"));
    let authorization = |nc: &str, password: &str| {
        let ha1 = md5_hex(&format!("alice:private:{password}"));
        let ha2 = md5_hex("GET:/private?x=1");
        let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:c0ffee:auth:{ha2}"));
        format!(
            "Digest username=\"alice\", realm=\"private\", nonce=\"{nonce}\", uri=\"/private?x=1\", \
             algorithm=MD5, response=\"{response}\", opaque=\"{opaque}\", qop=auth, nc={nc}, cnonce=\"c0ffee\""
        )
    };
    let send = |auth: String| {
        let web = p.web;
        async move {
            request(
                web,
                Method::GET,
                "app.test",
                "/private?x=1",
                &[("authorization", &auth)],
                Bytes::new(),
            )
            .await
            .unwrap()
        }
    };
    let r = send(authorization("00000001", "secret")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.seen_header("x-user").as_deref(), Some("alice"));
    assert_eq!(r.seen_header("authorization"), None, "removeHeader");
    // A replayed count is refused; a higher one passes; a lower one is stale.
    assert_eq!(send(authorization("00000001", "secret")).await.status, 401);
    assert_eq!(send(authorization("00000005", "secret")).await.status, 200);
    let stale = send(authorization("00000002", "secret")).await;
    assert_eq!(stale.status, 401);
    assert!(stale
        .header("www-authenticate")
        .unwrap()
        .contains("stale=\"true\""));
    assert_eq!(send(authorization("00000009", "wrong")).await.status, 401);
}

#[tokio::test]
async fn grpc_web_is_translated_to_grpc_over_h2c() {
    let grpc = Backend::start_h2c("grpc").await;
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: grpc
      middlewares: [web]
  middlewares:
    web:
      grpcWeb:
        allowOrigins: ["https://app.example"]
  services:
    grpc: {{loadBalancer: {{servers: [{{url: "h2c://{}"}}]}}}}
"#,
        grpc.addr()
    );
    let p = Proxy::start("grpcweb", &dynamic, "").await;
    // One framed message: flag 0, length, payload.
    let message = b"\x00\x00\x00\x00\x05hello";
    let post = |content_type: &'static str, body: Vec<u8>| {
        let web = p.web;
        async move {
            request(
                web,
                Method::POST,
                "app.test",
                "/grpc.Echo/Say",
                &[
                    ("content-type", content_type),
                    ("origin", "https://app.example"),
                    ("x-grpc-web", "1"),
                ],
                Bytes::from(body),
            )
            .await
            .unwrap()
        }
    };
    let r = wait_until("routed", Duration::from_secs(10), || async {
        let r = post("application/grpc-web+proto", message.to_vec()).await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(r.header("content-type"), Some("application/grpc-web"));
    assert_eq!(
        r.header("x-seen-content-type"),
        Some("application/grpc+proto")
    );
    assert_eq!(r.header("x-seen-version"), Some("HTTP/2.0"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let expose = r.header("access-control-expose-headers").unwrap();
    assert!(expose.ends_with("grpc-status, grpc-message"), "{expose}");
    let trailer = b"grpc-message: echoed\r\ngrpc-status: 0\r\n";
    let mut want = message.to_vec();
    want.push(0x80);
    want.extend_from_slice(&(trailer.len() as u32).to_be_bytes());
    want.extend_from_slice(trailer);
    assert_eq!(r.body.as_ref(), want.as_slice());

    // The text format: base64 both ways.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let r = post(
        "application/grpc-web-text",
        b64.encode(message).into_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/grpc-web-text"));
    let text = String::from_utf8(r.body.to_vec()).unwrap();
    // Each chunk is encoded on its own (padded), as gRPC-Web allows, so
    // decode four characters at a time.
    let decoded: Vec<u8> = text
        .as_bytes()
        .chunks(4)
        .flat_map(|group| b64.decode(group).unwrap())
        .collect();
    assert_eq!(decoded, want);
}

#[tokio::test]
async fn entrypoint_encoded_characters() {
    let a = Backend::start("a").await;
    let p = Proxy::start_with(
        "ep-encoded",
        &host_route("app", "app.test", &a),
        "    http:\n      encodedCharacters:\n        allowEncodedSlash: false\n",
        "",
    )
    .await;
    p.wait_status("app.test", "/ok", 200).await;
    assert_eq!(get(p.web, "app.test", "/a%2Fb").await.unwrap().status, 400);
    assert_eq!(get(p.web, "app.test", "/a%23b").await.unwrap().status, 200);
    assert_eq!(
        get(p.web, "other.test", "/a%2Fb").await.unwrap().status,
        404
    );
    assert!(
        !p.sy.logged("http.encodedCharacters"),
        "no longer reported as unsupported"
    );
}

#[tokio::test]
async fn pass_tls_client_cert_never_trusts_client_headers() {
    let a = Backend::start("a").await;
    let dynamic = format!(
        r#"
http:
  routers:
    app:
      rule: "Host(`app.test`)"
      service: a
      middlewares: [certs]
  middlewares:
    certs:
      passTLSClientCert:
        pem: true
        info: {{notAfter: true, subject: {{commonName: true}}}}
  services:
    a: {{loadBalancer: {{servers: [{{url: "{}"}}]}}}}
"#,
        a.url()
    );
    let p = Proxy::start("passtls", &dynamic, "").await;
    p.wait_status("app.test", "/", 200).await;
    // Over plain HTTP there is no client certificate: headers a client
    // made up do not reach the backend (Traefik would pass them on).
    let r = request(
        p.web,
        Method::GET,
        "app.test",
        "/",
        &[
            ("x-forwarded-tls-client-cert", "forged"),
            (
                "x-forwarded-tls-client-cert-info",
                "Subject%3D%22CN%3Dadmin%22",
            ),
        ],
        Bytes::new(),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.seen_header("x-forwarded-tls-client-cert"), None);
    assert_eq!(r.seen_header("x-forwarded-tls-client-cert-info"), None);
    let api = p.api("/api/http/middlewares/certs@file").await;
    assert_eq!(api["status"], "enabled");
    assert_eq!(
        api["passTLSClientCert"]["info"]["subject"]["commonName"],
        true
    );
}
