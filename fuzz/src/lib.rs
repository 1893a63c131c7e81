//! What the fuzz targets share: how a fuzzer's bytes become the request a
//! rule is matched against, prepared exactly as an entrypoint prepares it.

use std::borrow::Cow;
use std::net::IpAddr;

use switchyard_rules::{normalize_host, normalize_path, routing_path, sanitize_path};

/// A request written as text, one part a line:
///
/// ```text
/// METHOD
/// Host header
/// request target (path and query)
/// client IP
/// Name: value      (any number of header lines)
/// ```
///
/// Missing lines take `GET`, `example.com`, `/` and `10.0.0.1`.
pub struct RawRequest<'a> {
    pub method: &'a str,
    pub host: &'a str,
    pub target: &'a str,
    pub client_ip: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
}

impl<'a> RawRequest<'a> {
    pub fn parse(text: &'a str) -> RawRequest<'a> {
        let mut lines = text.split('\n');
        let mut next = |default: &'a str| lines.next().unwrap_or(default);
        let (method, host, target, client_ip) = (
            next("GET"),
            next("example.com"),
            next("/"),
            next("10.0.0.1"),
        );
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k, v.trim_start()))
            .collect();
        RawRequest {
            method,
            host,
            target,
            client_ip,
            headers,
        }
    }
}

/// The parts of a request as the entrypoint hands them to the router
/// table: method, normalised host, routing path (after `normalize_path`,
/// optionally `sanitize_path`, then `routing_path`), the query with `;`
/// turned into `&`, headers and client IP. None where the entrypoint would
/// have answered 400 before routing.
pub struct Prepared {
    pub method: http::Method,
    pub host: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: http::HeaderMap,
    pub client_ip: IpAddr,
}

impl Prepared {
    pub fn from_raw(raw: &RawRequest<'_>, sanitize: bool) -> Option<Prepared> {
        let method = http::Method::from_bytes(raw.method.as_bytes()).ok()?;
        let (path, query) = match raw.target.split_once('?') {
            Some((p, q)) => (p, Some(q.replace(';', "&"))),
            None => (raw.target, None),
        };
        let normalized = normalize_path(path).ok()?;
        let cleaned: Cow<'_, str> = if sanitize {
            Cow::Owned(sanitize_path(&normalized).into_owned())
        } else {
            normalized
        };
        let routing = routing_path(&cleaned).ok()?.into_owned();
        let mut headers = http::HeaderMap::new();
        for (k, v) in &raw.headers {
            let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) else {
                continue;
            };
            headers.append(name, value);
        }
        Some(Prepared {
            method,
            host: normalize_host(raw.host),
            path: routing,
            query,
            headers,
            client_ip: raw.client_ip.parse().unwrap_or(IpAddr::from([10, 0, 0, 1])),
        })
    }

    pub fn info(&self) -> switchyard_rules::RequestInfo<'_> {
        switchyard_rules::RequestInfo {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            client_ip: self.client_ip,
        }
    }
}

/// `text` split into `(key, value)` pairs at the first `=` of each line
/// (a line without one is a key with an empty value).
pub fn key_values(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect()
}

/// A configuration file's text read as the file provider and the static
/// loader read it, its format chosen by `file`'s extension: to the dynamic
/// configuration, and to the static one (checked against Traefik's keys,
/// decoded, defaults applied). Every error must name the file (the design's
/// invariant 7: a malformed configuration gets a message naming the file,
/// line and field).
pub fn config_file(file: &str, text: &str) {
    use std::path::Path;
    use switchyard_config::{decode, loader, schema, static_config::StaticConfiguration};
    let path = Path::new(file);
    let named = |what: &str, r: Result<(), switchyard_config::ConfigError>| {
        if let Err(e) = r {
            let source = e.location.as_ref().and_then(|l| l.source.as_deref());
            assert_eq!(source, Some(file), "{what}: an error without the file: {e}");
        }
    };
    named("dynamic", loader::parse_dynamic(path, text).map(drop));
    let tree = match loader::parse_tree(path, text) {
        Ok(tree) => tree,
        Err(e) => return named("tree", Err(e)),
    };
    let checked = match schema::check_static(&tree) {
        Ok(checked) => checked,
        Err(e) => return named("schema", Err(e)),
    };
    match decode::from_node::<StaticConfiguration>(&checked.tree) {
        Ok(config) => drop(config.with_defaults()),
        Err(e) => named("static", Err(e)),
    }
}
