//! Table-driven tests. Each table is looped in one test that names the
//! failing case. Cases marked "(traefik)" were checked against Traefik
//! 3.7.15 on 127.0.0.1.

mod errors;
mod explain;
mod matching;
mod paths;
mod props;
mod regex;
mod requests;
mod syntax;
mod table;
mod v2;

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::{normalize_host, normalize_path, routing_path, sanitize_path, RequestInfo};

/// A test request, built from `"METHOD host/path?query"` (method optional,
/// GET by default): the host and path prepared as the server prepares them.
pub(crate) struct Req {
    method: Method,
    host: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    ip: IpAddr,
}

pub(crate) fn req(line: &str) -> Req {
    let (method, rest) = match line.split_once(' ') {
        Some((m, rest)) if m.bytes().all(|b| b.is_ascii_alphabetic()) => (m, rest),
        _ => ("GET", line),
    };
    let (target, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q.to_string())),
        None => (rest, None),
    };
    let (host, raw_path) = match target.find('/') {
        Some(i) => (&target[..i], &target[i..]),
        None => (target, "/"),
    };
    let normalized = normalize_path(raw_path).unwrap();
    let clean = sanitize_path(&normalized).into_owned();
    Req {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        host: normalize_host(host),
        path: routing_path(&clean).unwrap().into_owned(),
        query,
        headers: HeaderMap::new(),
        ip: "10.0.0.1".parse().unwrap(),
    }
}

impl Req {
    pub(crate) fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
        self
    }

    pub(crate) fn ip(mut self, ip: &str) -> Req {
        self.ip = ip.parse().unwrap();
        self
    }

    pub(crate) fn info(&self) -> RequestInfo<'_> {
        RequestInfo {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            client_ip: self.ip,
        }
    }
}
