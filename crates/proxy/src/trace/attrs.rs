//! The attributes Traefik puts on its server and client spans (HTTP
//! semantic conventions), the span status it derives from a status code,
//! and the query redaction of `safeQueryParams`.

use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderMap;
use switchyard_otlp::{Attribute, Status, Value};

use super::{Captured, Tracer};
use crate::context::{request_host, RequestContext};
use crate::Request;

fn attr(key: &'static str, value: Value) -> Attribute {
    (Cow::Borrowed(key), value)
}

fn text(key: &'static str, value: impl Into<String>) -> Attribute {
    attr(key, Value::Str(value.into()))
}

/// `network.protocol.version` as Traefik writes it: `1.0` and `1.1`, and
/// for HTTP/2 and HTTP/3 Go's protocol strings as they are (`HTTP/2.0`,
/// `HTTP/3.0`: Traefik's mapping expects `HTTP/2` and `HTTP/3`, which Go
/// never gives).
fn protocol_version(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "1.1",
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Adds the `captured` headers `headers` has, each with all its values.
pub(super) fn capture(out: &mut Vec<Attribute>, captured: &[Captured], headers: &HeaderMap) {
    for c in captured {
        let values: Vec<String> = headers
            .get_all(&c.name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if !values.is_empty() {
            out.push((c.key.clone(), Value::StrList(values)));
        }
    }
}

/// The caller's `tracestate` (its lines joined), when it sent one.
pub(super) fn trace_state(headers: &HeaderMap) -> Option<Arc<str>> {
    let joined = headers
        .get_all("tracestate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect::<Vec<_>>()
        .join(",");
    (!joined.is_empty()).then(|| Arc::from(joined))
}

/// The server span's attributes, from the request as routed.
pub(super) fn server_request(tracer: &Tracer, req: &Request, entrypoint: &str) -> Vec<Attribute> {
    let ctx = RequestContext::of(req);
    let body_size = match req.headers().get(http::header::CONTENT_LENGTH) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(-1),
        None if http_body::Body::is_end_stream(req.body()) => 0,
        None => -1,
    };
    let client_ip = ctx.client_addr.ip().to_string();
    let client_port = i64::from(ctx.client_addr.port());
    let mut out = vec![
        text("entry_point", entrypoint),
        text("http.request.method", req.method().as_str()),
        text("network.protocol.version", protocol_version(req.version())),
        attr("http.request.body.size", Value::Int(body_size)),
        text("url.path", percent_decode(req.uri().path())),
        text(
            "url.query",
            redact_query(req.uri().query().unwrap_or(""), &tracer.safe_query_params),
        ),
        text(
            "url.scheme",
            header_text(req.headers(), "x-forwarded-proto"),
        ),
        text(
            "user_agent.original",
            header_text(req.headers(), "user-agent"),
        ),
        text("server.address", request_host(req).unwrap_or("")),
        text("network.peer.address", client_ip.clone()),
        text("client.address", client_ip),
        attr("client.port", Value::Int(client_port)),
        attr("network.peer.port", Value::Int(client_port)),
    ];
    capture(&mut out, &tracer.request_headers, req.headers());
    out
}

/// The client span's attributes, from the request as it goes to the
/// server.
pub(super) fn client_request(tracer: &Tracer, req: &Request) -> Vec<Attribute> {
    let uri = req.uri();
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let mut full = format!("{scheme}://{authority}{}", uri.path());
    let query = redact_query(uri.query().unwrap_or(""), &tracer.safe_query_params);
    if !query.is_empty() {
        full.push('?');
        full.push_str(&query);
    }
    let mut out = vec![
        text("http.request.method", req.method().as_str()),
        text("network.protocol.version", protocol_version(req.version())),
        text("url.full", full),
        text("url.scheme", scheme),
        text(
            "user_agent.original",
            header_text(req.headers(), "user-agent"),
        ),
    ];
    let port = uri.port_u16().map(i64::from).or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    let host = uri.host().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    out.push(text("network.peer.address", host));
    if let Some(p) = port {
        out.push(attr("network.peer.port", Value::Int(p)));
    }
    out.push(text("server.address", host));
    if let Some(p) = port {
        out.push(attr("server.port", Value::Int(p)));
    }
    capture(&mut out, &tracer.request_headers, req.headers());
    out
}

/// A server span's status: an error from 500 on (and for codes that are
/// not HTTP status codes).
pub(super) fn server_status(code: u16) -> Status {
    match code {
        100..=499 => Status::Unset,
        500..=599 => Status::Error(String::new()),
        _ => Status::Error(format!("Invalid HTTP status code {code}")),
    }
}

/// A client span's status: an error from 400 on.
pub(super) fn client_status(code: u16) -> Status {
    match code {
        100..=399 => Status::Unset,
        400..=599 => Status::Error(String::new()),
        _ => Status::Error(format!("Invalid HTTP status code {code}")),
    }
}

/// Traefik's type name of a middleware kind (as the API spells kinds),
/// the name of its span; `None` for kinds without such a span.
pub(super) fn middleware_type_name(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "addprefix" => "AddPrefix",
        "basicauth" => "BasicAuth",
        "buffering" => "Buffer",
        "circuitbreaker" => "CircuitBreaker",
        "compress" => "Compress",
        "contenttype" => "ContentType",
        "customerrors" => "CustomError",
        "digestauth" => "digestAuth",
        "encodedcharacters" => "EncodedCharacters",
        "forwardauth" => "ForwardAuth",
        "grpcweb" => "GRPCWeb",
        "headers" => "Headers",
        "inflightreq" => "InFlightReq",
        "ipallowlist" => "IPAllowLister",
        "ipwhitelist" => "IPWhiteLister",
        "passtlsclientcert" => "PassClientTLSCert",
        "ratelimit" => "RateLimiter",
        "redirectregex" | "redirectscheme" => "Redirect",
        "replacepath" => "ReplacePath",
        "replacepathregex" => "ReplacePathRegex",
        "stripprefix" => "StripPrefix",
        "stripprefixregex" => "StripPrefixRegex",
        _ => return None,
    })
}

/// Percent-decodes `s` (Go's `URL.Path` is the decoded path); a broken
/// escape is kept as written.
fn percent_decode(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
            }
        }
    }
}

/// The query as Traefik records it: parsed, every parameter not in
/// `safe` given the value `REDACTED`, and encoded again with the keys
/// sorted (Go's `url.Values`). Pairs Go refuses (a `;`, a broken
/// escape) are left out.
pub fn redact_query(query: &str, safe: &[String]) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut params: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for pair in query.split('&') {
        if pair.is_empty() || pair.contains(';') {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if broken_escape(k) || broken_escape(v) {
            continue;
        }
        params
            .entry(decode(k, true))
            .or_default()
            .push(decode(v, true));
    }
    let mut out = String::with_capacity(query.len());
    for (k, values) in &mut params {
        if !safe.iter().any(|s| s == k) {
            *values = vec!["REDACTED".to_string()];
        }
        for v in values.iter() {
            if !out.is_empty() {
                out.push('&');
            }
            query_escape(k, &mut out);
            out.push('=');
            query_escape(v, &mut out);
        }
    }
    out
}

fn broken_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}
