//! `GET {base}/api/explain` (Switchyard's own; Traefik has no such route):
//! for one request described by the query — `url` (required, `http://` or
//! `https://`, the host routed on), `method` (GET), `header` (`Name: value`,
//! repeatable), `clientIp` (127.0.0.1) and `entryPoint` (required when there
//! are several) — which routers of the entrypoint were tried, in order,
//! which matched and which did not (each matcher of their rule with its
//! own result), the router chosen, its middlewares, its service and that
//! service's servers; or why the answer is 404.
//!
//! The request is prepared as an entrypoint prepares it (host normalised,
//! path normalised, sanitised and made a routing path); an `https://` URL
//! is looked up among the entrypoint's TLS routers.

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use switchyard_rules::{normalize_host, normalize_path, routing_path, sanitize_path, RequestInfo};
use switchyard_server::Runtime;

use crate::elements::{self, Kind};
use crate::query::Query;
use crate::respond;

/// The request the query describes.
struct Asked {
    method: Method,
    host: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    client_ip: std::net::IpAddr,
    tls: bool,
}

fn asked(q: &Query) -> Result<Asked, String> {
    let url = q.get("url");
    if url.is_empty() {
        return Err("url is required (e.g. url=http://app.example.com/path)".into());
    }
    let uri: http::Uri = url.parse().map_err(|e| format!("url {url:?}: {e}"))?;
    let tls = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("url {url:?}: give an http:// or https:// URL")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("url {url:?}: no host"))?;
    let method = match q.get("method") {
        "" => Method::GET,
        m => {
            Method::from_bytes(m.as_bytes()).map_err(|_| format!("method {m:?} is not a method"))?
        }
    };
    let mut headers = HeaderMap::new();
    for h in q.all("header") {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("header {h:?}: write it Name: value"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("header {h:?}: bad name"))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|_| format!("header {h:?}: bad value"))?;
        headers.append(name, value);
    }
    let client_ip = match q.get("clientIp") {
        "" => std::net::IpAddr::from([127, 0, 0, 1]),
        ip => ip
            .parse()
            .map_err(|_| format!("clientIp {ip:?} is not an IP address"))?,
    };
    let normalized = normalize_path(uri.path()).map_err(|_| format!("url {url:?}: bad path"))?;
    let sanitized = sanitize_path(&normalized);
    let path = routing_path(&sanitized)
        .map_err(|_| format!("url {url:?}: bad path"))?
        .into_owned();
    Ok(Asked {
        method,
        host: normalize_host(authority.as_str()),
        path,
        query: uri.query().map(str::to_string),
        headers,
        client_ip,
        tls,
    })
}

/// The explanation, or a 400 naming what is wrong with the query.
pub fn response(runtime: &Runtime, q: &Query) -> switchyard_proxy::Response {
    match explain(runtime, q) {
        Ok(v) => respond::json_ok(&v),
        Err(message) => respond::error(StatusCode::BAD_REQUEST, &message),
    }
}

fn explain(runtime: &Runtime, q: &Query) -> Result<Value, String> {
    let a = asked(q)?;
    let tables = if a.tls {
        &runtime.tls_entrypoints
    } else {
        &runtime.entrypoints
    };
    let entrypoint = match q.get("entryPoint") {
        "" => {
            let mut names: Vec<&String> = tables.keys().collect();
            names.sort();
            match names.as_slice() {
                [one] => (*one).clone(),
                [] => return Err("no entrypoint has routers for this scheme".into()),
                many => {
                    return Err(format!(
                        "entryPoint is required: one of {}",
                        many.iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
            }
        }
        name => name.to_string(),
    };
    let table = tables.get(&entrypoint).ok_or_else(|| {
        format!(
            "entrypoint {entrypoint:?} has no {}routers",
            if a.tls { "TLS " } else { "" }
        )
    })?;
    let info = RequestInfo {
        method: &a.method,
        host: &a.host,
        path: &a.path,
        query: a.query.as_deref(),
        headers: &a.headers,
        client_ip: a.client_ip,
    };
    let chosen = table.find_entry(&info).map(|e| e.name.clone());
    let routers: Vec<Value> = table
        .entries()
        .iter()
        .map(|e| {
            let terms: Vec<Value> = e
                .rule
                .explain(&info)
                .into_iter()
                .map(|t| json!({"term": t.text, "matched": t.matched}))
                .collect();
            json!({
                "name": e.name,
                "priority": e.priority,
                "rule": e.rule.source(),
                "matched": e.rule.matches(&info),
                "terms": terms,
            })
        })
        .collect();
    let request = json!({
        "method": a.method.as_str(),
        "host": a.host,
        "path": a.path,
        "query": a.query.clone().unwrap_or_default(),
        "clientIp": a.client_ip.to_string(),
        "tls": a.tls,
        "entryPoint": entrypoint,
    });
    let Some(name) = chosen else {
        return Ok(json!({
            "request": request,
            "routers": routers,
            "answer": format!(
                "404 page not found: none of the {} routers of entrypoint {entrypoint} matches",
                table.len()
            ),
        }));
    };
    let router = runtime
        .info
        .routers
        .get(&name)
        .map(|r| elements::representation(r, Kind::Router, runtime))
        .unwrap_or(Value::Null);
    let provider = name.rsplit_once('@').map_or("", |(_, p)| p);
    let qualify = |n: &str| {
        if n.contains('@') || provider.is_empty() {
            n.to_string()
        } else {
            format!("{n}@{provider}")
        }
    };
    let middlewares: Vec<String> = router
        .get("middlewares")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(qualify)
        .collect();
    let service_name = router
        .get("service")
        .and_then(Value::as_str)
        .map(qualify)
        .unwrap_or_default();
    let service = runtime
        .info
        .services
        .get(&service_name)
        .map(|s| elements::representation(s, Kind::Service, runtime))
        .unwrap_or(Value::Null);
    let servers: Vec<String> = service
        .pointer("/loadBalancer/servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("url").and_then(Value::as_str))
        .map(|url| {
            match service
                .pointer("/serverStatus")
                .and_then(|st| st.get(url))
                .and_then(Value::as_str)
            {
                Some(status) => format!("{url} ({status})"),
                None => url.to_string(),
            }
        })
        .collect();
    let chain = if middlewares.is_empty() {
        String::new()
    } else {
        format!(" → middlewares {}", middlewares.join(", "))
    };
    let to = if servers.is_empty() {
        String::new()
    } else {
        format!(" → one of {}", servers.join(", "))
    };
    Ok(json!({
        "request": request,
        "routers": routers,
        "router": name,
        "middlewares": middlewares,
        "service": service_name,
        "serviceDetail": service,
        "answer": format!("router {name}{chain} → service {service_name}{to}"),
    }))
}
