//! The HTTP side: discovery, the resource paths (`/api/v1/...`,
//! `/apis/<group>/<version>/...`, all namespaces or one), their verbs, and
//! the `/_double/...` control paths the differential suite drives.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::error::ApiError;
use super::page::{self, Page};
use super::resources::{self, RESOURCES};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{Filter, Store};
use super::watch::{self, at_version, WatchRequest};
use super::{patch, yaml};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// The longest a watch stays open, whatever it asks (the API server's
/// default request timeout is 30 to 60 minutes).
const MAX_WATCH: Duration = Duration::from_secs(3600);
/// What client-go's clients for built-in kinds write in.
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// Requests remembered for `GET /_double/requests`.
const MAX_LOGGED: usize = 10_000;

/// What the connections share.
pub struct Shared {
    pub store: Mutex<Store>,
    /// The bearer token required (changed by tests to rotate it).
    pub token: Mutex<Option<String>>,
    /// Collections answered with a failure instead (plural → 403 or 404),
    /// as a cluster without the CRDs or without an RBAC grant answers.
    pub refused: Mutex<HashMap<String, u16>>,
    pub bookmark_every: Duration,
    pub requests: Mutex<Vec<String>>,
    /// Moved to end every open watch (clients resume from their version).
    pub close_watches: tokio::sync::watch::Sender<u64>,
    /// Print each request on stderr (`KUBE_DOUBLE_LOG` set).
    pub log: bool,
}

impl Shared {
    pub fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()).boxed_unsync());
    *response.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response
}

fn ok_json(value: &Value) -> Response<Body> {
    full(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn created_json(value: &Value) -> Response<Body> {
    full(
        StatusCode::CREATED,
        "application/json",
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn failure(error: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(error.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    full(
        status,
        "application/json",
        serde_json::to_vec(&error.status()).unwrap_or_default(),
    )
}

/// `%XX` and `+` decoded, as Go's `url.ParseQuery` does.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn query_map(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn flag(query: &HashMap<String, String>, name: &str) -> bool {
    matches!(query.get(name).map(String::as_str), Some("true" | "1"))
}

/// A path under a group version that names a kind.
struct Target {
    resource: usize,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
    watch_path: bool,
}

fn target(group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let mut rest = rest;
    let watch_path = rest.first() == Some(&"watch");
    if watch_path {
        rest = &rest[1..];
    }
    let mut namespace = None;
    if rest.len() >= 3
        && rest[0] == "namespaces"
        && !(rest.len() == 3 && matches!(rest[2], "status" | "finalize"))
    {
        namespace = Some(rest[1].to_string());
        rest = &rest[2..];
    }
    let (plural, name, sub) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(*name), None),
        [plural, name, sub] => (*plural, Some(*name), Some(*sub)),
        _ => return Err(ApiError::no_resource()),
    };
    let resource =
        resources::by_plural(group, version, plural).ok_or_else(ApiError::no_resource)?;
    let r = &RESOURCES[resource];
    if namespace.is_some() && !r.namespaced {
        return Err(ApiError::no_resource());
    }
    let status = match sub {
        None => false,
        Some("status") if r.status => true,
        Some(_) => return Err(ApiError::no_resource()),
    };
    Ok(Target {
        resource,
        version: version.to_string(),
        namespace,
        name: name.map(str::to_string),
        status,
        watch_path,
    })
}

/// Whether the client takes JSON (client-go's protobuf clients ask for
/// `application/vnd.kubernetes.protobuf, */*`).
fn accepts_json(req: &Request<Incoming>) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    accept.split(',').any(|a| {
        let a = a.split(';').next().unwrap_or("").trim();
        matches!(
            a,
            "application/json" | "*/*" | "application/*" | "" | "application/yaml"
        )
    })
}

pub async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Body>, Infallible> {
    let line = format!(
        "{} {}{} accept={} {:?}",
        req.method(),
        req.uri().path(),
        req.uri()
            .query()
            .map(|q| format!("?{}", unescape(q)))
            .unwrap_or_default(),
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        req.version(),
    );
    if shared.log {
        eprintln!("kube-double: {line}");
    }
    {
        let mut log = shared
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() < MAX_LOGGED {
            log.push(line);
        }
    }
    let path = req.uri().path().to_string();
    if let Some(control) = path.strip_prefix("/_double/") {
        return Ok(super::control::handle(control, req, &shared).await);
    }
    let token = shared
        .token
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(token) = token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(format!("Bearer {token}").as_str()) {
            return Ok(failure(&ApiError::unauthorized()));
        }
    }
    if !accepts_json(&req) {
        return Ok(failure(&ApiError::not_acceptable()));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let found = match segments.as_slice() {
        ["version"] => Some(ok_json(&resources::version())),
        ["healthz" | "livez" | "readyz"] => Some(full(StatusCode::OK, "text/plain", "ok")),
        ["api"] => Some(ok_json(&resources::core_versions())),
        ["apis"] => Some(ok_json(&resources::group_list())),
        ["api", version] => resources::resource_list("", version).map(|v| ok_json(&v)),
        ["apis", group] => resources::group(group).map(|v| ok_json(&v)),
        ["apis", group, version] => resources::resource_list(group, version).map(|v| ok_json(&v)),
        _ => None,
    };
    if let Some(response) = found {
        return Ok(response);
    }
    let routed = match segments.as_slice() {
        ["api", version, rest @ ..] => target("", version, rest),
        ["apis", group, version, rest @ ..] => target(group, version, rest),
        _ => Err(ApiError::no_resource()),
    };
    let refused = routed.as_ref().ok().and_then(|t| {
        let r = &RESOURCES[t.resource];
        let code = *shared
            .refused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(r.plural)?;
        let verb = if t.name.is_some() {
            "get"
        } else if t.watch_path || flag(&query_map(req.uri().query()), "watch") {
            "watch"
        } else {
            "list"
        };
        Some(if code == 403 {
            ApiError::forbidden(verb, r.plural, r.group, t.namespace.as_deref())
        } else {
            ApiError::no_resource()
        })
    });
    if let Some(e) = refused {
        return Ok(failure(&e));
    }
    let response = match routed {
        Ok(t) => serve(req, t, &shared).await.unwrap_or_else(|e| failure(&e)),
        Err(e) => failure(&e),
    };
    Ok(response)
}

async fn body_json(req: Request<Incoming>) -> Result<(Value, String), ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let bytes = req
        .into_body()
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?
        .to_bytes();
    let value = if content_type == PROTOBUF {
        super::proto::decode(&bytes)
            .map_err(|e| ApiError::unsupported_media(&format!("{content_type}: {e}")))?
    } else if content_type.contains("yaml") {
        let text = String::from_utf8_lossy(&bytes);
        yaml::objects(&text)
            .map_err(ApiError::bad_request)?
            .into_iter()
            .next()
            .unwrap_or(Value::Null)
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("decoding the body: {e}")))?
    };
    Ok((value, content_type))
}

async fn serve(
    req: Request<Incoming>,
    t: Target,
    shared: &Shared,
) -> Result<Response<Body>, ApiError> {
    let r = &RESOURCES[t.resource];
    let query = query_map(req.uri().query());
    let namespace = t.namespace.clone().unwrap_or_default();
    let method = req.method().clone();
    match (&method, &t.name) {
        (&Method::GET, None) => {
            let filter = Filter {
                namespace: t.namespace.clone(),
                labels: LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
                    .map_err(|e| {
                        ApiError::bad_request(format!("unable to parse requirement: {e}"))
                    })?,
                fields: FieldSelector::parse(
                    query.get("fieldSelector").map_or("", String::as_str),
                    r.kind,
                )
                .map_err(ApiError::bad_request)?,
            };
            if t.watch_path || flag(&query, "watch") {
                return watch_response(&t, filter, &query, shared);
            }
            let store = shared.store();
            if let Some(asked) = query
                .get("resourceVersion")
                .and_then(|v| v.parse::<u64>().ok())
            {
                let exact = query.get("resourceVersionMatch").map(String::as_str) == Some("Exact");
                if exact && asked != 0 && asked < store.compacted() {
                    return Err(ApiError::expired(asked, store.compacted()));
                }
            }
            let (mut rv, items) = store.list(t.resource, &filter);
            let page = Page::asked(&query, store.compacted())?;
            drop(store);
            let (items, mut metadata) = page::serve(page, &items, &mut rv);
            let items: Vec<Value> = items
                .iter()
                .map(|o| at_version(o, t.resource, &t.version))
                .collect();
            metadata["resourceVersion"] = json!(rv.to_string());
            Ok(ok_json(&json!({
                "kind": format!("{}List", r.kind),
                "apiVersion": r.api_version(&t.version),
                "metadata": metadata,
                "items": items,
            })))
        }
        (&Method::GET, Some(name)) => {
            let object = shared
                .store()
                .get(t.resource, &namespace, name)
                .ok_or_else(|| ApiError::not_found(r.plural, r.group, name))?;
            Ok(ok_json(&at_version(&object, t.resource, &t.version)))
        }
        (&Method::POST, None) => {
            let (mut object, content_type) = body_json(req).await?;
            if content_type == PROTOBUF {
                return Err(ApiError::unsupported_media(&content_type));
            }
            if r.namespaced && !namespace.is_empty() {
                object["metadata"]["namespace"] = json!(namespace);
            }
            object["apiVersion"] = json!(r.storage_api_version());
            let created = shared.store().create(object)?;
            Ok(created_json(&at_version(&created, t.resource, &t.version)))
        }
        (&Method::PUT, Some(name)) => {
            let (mut object, content_type) = body_json(req).await?;
            if content_type == PROTOBUF && !t.status {
                // Only a status survives the double's protobuf decoding.
                return Err(ApiError::unsupported_media(&content_type));
            }
            if object.pointer("/metadata/name").and_then(Value::as_str) != Some(name.as_str()) {
                return Err(ApiError::bad_request(
                    "the name of the object does not match the name on the URL".to_string(),
                ));
            }
            let updated = if t.status {
                shared
                    .store()
                    .update_status(t.resource, &namespace, name, &object)?
            } else {
                object["apiVersion"] = json!(r.storage_api_version());
                if r.namespaced {
                    object["metadata"]["namespace"] = json!(namespace);
                }
                shared.store().update(object)?
            };
            Ok(ok_json(&at_version(&updated, t.resource, &t.version)))
        }
        (&Method::PATCH, Some(name)) => {
            let (patch_doc, content_type) = body_json(req).await?;
            let mut store = shared.store();
            let current = store
                .get(t.resource, &namespace, name)
                .ok_or_else(|| ApiError::not_found(r.plural, r.group, name))?;
            let mut patched = (*current).clone();
            match content_type.as_str() {
                "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                    patch::merge(&mut patched, &patch_doc);
                }
                "application/json-patch+json" => {
                    patch::json_patch(&mut patched, &patch_doc).map_err(ApiError::invalid)?;
                }
                other => return Err(ApiError::unsupported_media(other)),
            }
            let updated = if t.status {
                store.update_status(t.resource, &namespace, name, &patched)?
            } else {
                store.update(patched)?
            };
            Ok(ok_json(&at_version(&updated, t.resource, &t.version)))
        }
        (&Method::DELETE, Some(name)) if !t.status => {
            let gone = shared.store().delete(t.resource, &namespace, name)?;
            Ok(ok_json(&at_version(&gone, t.resource, &t.version)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn watch_response(
    t: &Target,
    filter: Filter,
    query: &HashMap<String, String>,
    shared: &Shared,
) -> Result<Response<Body>, ApiError> {
    let send_initial_events = flag(query, "sendInitialEvents");
    let bookmarks = flag(query, "allowWatchBookmarks");
    if send_initial_events
        && (!bookmarks
            || query.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan"))
    {
        return Err(ApiError::invalid(
            "sendInitialEvents requires allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan".to_string(),
        ));
    }
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map_or(MAX_WATCH, Duration::from_secs)
        .min(MAX_WATCH);
    let request = WatchRequest {
        resource: t.resource,
        version: t.version.clone(),
        filter,
        resource_version: query.get("resourceVersion").cloned(),
        bookmarks,
        send_initial_events,
        timeout,
        bookmark_every: shared.bookmark_every,
    };
    let start = watch::start(&shared.store(), &request)?;
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let closed = shared.close_watches.subscribe();
    tokio::spawn(watch::run(request, start, tx, closed));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed_unsync());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Renders a failure for the control paths too.
pub fn error_response(error: &ApiError) -> Response<Body> {
    failure(error)
}

/// A JSON answer for the control paths.
pub fn json_response(value: &Value) -> Response<Body> {
    ok_json(value)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescapes_queries() {
        for (text, want) in [
            ("owner%21%3Dhelm", "owner!=helm"),
            ("a+in+%28b%2Cc%29", "a in (b,c)"),
            ("plain", "plain"),
            ("bad%zz", "bad%zz"),
            ("end%2", "end%2"),
        ] {
            assert_eq!(super::unescape(text), want, "{text}");
        }
    }
}
