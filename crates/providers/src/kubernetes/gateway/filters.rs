//! A route rule's (or backendRef's) filters as middlewares, named
//! `<router or service>-<type>-<index>` as Traefik names them. The header
//! modifiers and RequestRedirect are Traefik's own Gateway middlewares
//! (`requestHeaderModifier`, `responseHeaderModifier`, `requestRedirect`:
//! `add` appends a value, a redirect keeps its status for every method);
//! an ExtensionRef names a `kubernetesCRD` Middleware; a URLRewrite is a
//! `replacePath` (full path) or `replacePathRegex` (prefix) middleware and
//! a `headers` middleware setting `Host` (the hostname) and removing the
//! `X-Replaced-Path` header those two add (Traefik's `urlRewrite` adds
//! none): the backend gets the path and Host Traefik's gives it (but an
//! `X-Replaced-Path` the client sent is dropped too). RequestMirror, CORS
//! and other types are not translated, as in Traefik 3.7: the rule's
//! router answers 500 (see `routes.rs`).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchyard_config::dynamic::{HttpConfiguration, Middleware};
use switchyard_config::Node;

use super::rules::quote_meta;
use super::{text, texts, GatewayOptions};

/// A JSON value as a configuration tree.
pub(crate) fn node(v: Value) -> Result<Node, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// A header modifier filter as Traefik's middleware of that kind
/// (`requestHeaderModifier` or `responseHeaderModifier`): `set`, `add`,
/// `remove`.
fn header_modifier(filter: &Value, kind: &str) -> Result<Middleware, String> {
    let pairs = |list: &str| -> serde_json::Map<String, Value> {
        filter
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|h| (text(h, "/name"), Value::from(text(h, "/value"))))
            .collect()
    };
    let mut modifier = serde_json::Map::new();
    for list in ["set", "add"] {
        let p = pairs(list);
        if !p.is_empty() {
            modifier.insert(list.into(), Value::Object(p));
        }
    }
    let remove = texts(filter, "/remove");
    if !remove.is_empty() {
        modifier.insert("remove".into(), Value::from(remove));
    }
    let mut map = BTreeMap::new();
    map.insert(kind.to_string(), node(Value::Object(modifier))?);
    Ok(Middleware(map, Default::default()))
}

/// The middlewares of `filters`, named `<parent>-<type>-<index>`, added to
/// `http`; their names in order.
pub(crate) fn filters(
    options: &GatewayOptions,
    namespace: &str,
    parent: &str,
    list: Option<&Value>,
    path_match: Option<&Value>,
    grpc: bool,
    http: &mut HttpConfiguration,
) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut made = Vec::new();
    for (i, f) in list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = text(f, "/type");
        let name = format!("{parent}-{}-{i}", kind.to_lowercase());
        match kind.as_str() {
            "RequestHeaderModifier" => {
                let m = header_modifier(
                    f.get("requestHeaderModifier").unwrap_or(&Value::Null),
                    "requestHeaderModifier",
                )?;
                made.push((name.clone(), m));
                names.push(name);
            }
            "ResponseHeaderModifier" => {
                let m = header_modifier(
                    f.get("responseHeaderModifier").unwrap_or(&Value::Null),
                    "responseHeaderModifier",
                )?;
                made.push((name.clone(), m));
                names.push(name);
            }
            "ExtensionRef" => {
                let r = f.get("extensionRef").unwrap_or(&Value::Null);
                let (group, kind, ext) = (text(r, "/group"), text(r, "/kind"), text(r, "/name"));
                match &options.crd_namespaces {
                    Some(allowed) if group == "traefik.io" && kind == "Middleware" => {
                        if !allowed.is_empty() && !allowed.iter().any(|n| n == namespace) {
                            return Err(format!("loading ExtensionRef filter ExtensionRef: namespace {namespace:?} is not allowed"));
                        }
                        names.push(format!("{namespace}-{ext}@kubernetescrd"));
                    }
                    _ => {
                        return Err(format!(
                            "loading ExtensionRef filter ExtensionRef: unsupported filter extension ref {group}/{kind}/{ext}"
                        ))
                    }
                }
            }
            // A GRPCRoute takes the header modifiers and ExtensionRefs only.
            "RequestRedirect" | "URLRewrite" | "RequestMirror" | "CORS" if grpc => {
                return Err(format!("unsupported filter {kind}"));
            }
            "RequestRedirect" => {
                let m =
                    request_redirect(f.get("requestRedirect").unwrap_or(&Value::Null), path_match)?;
                made.push((name.clone(), m));
                names.push(name);
            }
            "URLRewrite" => {
                let parts = url_rewrite(f.get("urlRewrite").unwrap_or(&Value::Null), path_match)
                    .map_err(|e| format!("invalid filter URLRewrite: {e}"))?;
                for (j, m) in parts.into_iter().enumerate() {
                    let part = if j == 0 {
                        name.clone()
                    } else {
                        format!("{name}-headers")
                    };
                    made.push((part.clone(), m));
                    names.push(part);
                }
            }
            other => return Err(format!("unsupported filter {other}")),
        }
    }
    for (name, m) in made {
        http.middlewares.insert(name, std::sync::Arc::new(m));
    }
    Ok(names)
}

/// `path` cleaned as Go's `path.Clean` cleans it: no empty or `.`
/// segments, `..` taking the segment before it, no trailing `/` (but `/`).
pub(crate) fn clean_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// A URLRewrite filter as Switchyard middlewares that give the backend the
/// path and Host Traefik's `urlRewrite` middleware gives it: the path one
/// first (if the filter has a path), then a `headers` one setting `Host`
/// (if it has a hostname) and removing the `X-Replaced-Path` the path one
/// added. Traefik's prefix rewrite joins the replacement and what
/// follows the match's value (Go's `path.Join`, so cleaned), keeping a
/// trailing `/`; the `replacePathRegex` here does the same for requests
/// the prefix matched (it does not clean `.`/`..`/`//` inside the rest).
pub(crate) fn url_rewrite(
    filter: &Value,
    path_match: Option<&Value>,
) -> Result<Vec<Middleware>, String> {
    let hostname = filter
        .get("hostname")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty());
    let modifier = filter.get("path").filter(|p| !p.is_null());
    if hostname.is_none() && modifier.is_none() {
        return Err("empty configuration".into());
    }
    let mut out = Vec::new();
    let mut headers = serde_json::Map::new();
    if let Some(modifier) = modifier {
        let mut map = BTreeMap::new();
        match text(modifier, "/type").as_str() {
            "ReplaceFullPath" => {
                let path = text(modifier, "/replaceFullPath");
                map.insert("replacePath".to_string(), node(json!({ "path": path }))?);
            }
            "ReplacePrefixMatch" => {
                let prefix = path_match
                    .and_then(|p| p.get("value"))
                    .and_then(Value::as_str)
                    .unwrap_or("/");
                let replacement = clean_path(&text(modifier, "/replacePrefixMatch"));
                let (regex, replacement) = prefix_rewrite(prefix, &replacement);
                map.insert(
                    "replacePathRegex".to_string(),
                    node(json!({ "regex": regex, "replacement": replacement }))?,
                );
            }
            // Traefik leaves the path as it is for another type.
            _ => {}
        }
        if !map.is_empty() {
            out.push(Middleware(map, Default::default()));
            headers.insert("X-Replaced-Path".into(), Value::from(""));
        }
    }
    if let Some(host) = hostname {
        headers.insert("Host".into(), Value::from(host));
    }
    if !headers.is_empty() {
        let mut map = BTreeMap::new();
        map.insert(
            "headers".to_string(),
            node(json!({ "customRequestHeaders": headers }))?,
        );
        out.push(Middleware(map, Default::default()));
    }
    Ok(out)
}

/// The regex and replacement of a prefix rewrite of `prefix` (the match's
/// value) by `cleaned` (the cleaned replacement): the rest after the
/// prefix (written without its trailing `/`, as Traefik 3.7 behaves: a
/// request `/p` under the prefix `/p/` rewrites as one under `/p`), its
/// leading `/`s dropped, follows the replacement after a `/`; a request
/// that is exactly the prefix becomes the replacement alone; one not under
/// the prefix keeps its whole path as the rest, as Go's
/// `strings.TrimPrefix` leaves it.
pub(crate) fn prefix_rewrite(prefix: &str, cleaned: &str) -> (String, String) {
    let base = cleaned.trim_end_matches('/');
    let prefix = quote_meta(prefix.trim_end_matches('/'));
    if base.is_empty() {
        return (format!("^(?:{prefix})?/*(.*)$"), "/${1}".to_string());
    }
    // `(/)` is the slash after the prefix, left out only when the request
    // is the prefix itself.
    let regex = format!("^(?:{prefix}(/)?/*|(/)/*)(.*)$");
    (regex, format!("{}${{1}}${{2}}${{3}}", literal(base)))
}

/// `$` written literally in a regex replacement.
fn literal(s: &str) -> String {
    s.replace('$', "$$")
}

/// A RequestRedirect filter as Traefik's `requestRedirect` middleware:
/// the scheme and hostname as given, the port as given (`""`, none, when
/// the scheme is `http` or `https` and no port is given), the full path or
/// the prefix replacement with the match's prefix (`/` without a path
/// match), the status (302 when unset).
pub(crate) fn request_redirect(
    filter: &Value,
    path_match: Option<&Value>,
) -> Result<Middleware, String> {
    let mut redirect = serde_json::Map::new();
    let scheme = filter.get("scheme").and_then(Value::as_str);
    if let Some(scheme) = scheme {
        redirect.insert("scheme".into(), Value::from(scheme));
    }
    if let Some(hostname) = filter.get("hostname").and_then(Value::as_str) {
        redirect.insert("hostname".into(), Value::from(hostname));
    }
    if let Some(port) = filter.get("port").and_then(Value::as_i64) {
        redirect.insert("port".into(), Value::from(port.to_string()));
    } else if matches!(scheme, Some("http" | "https")) {
        redirect.insert("port".into(), Value::from(""));
    }
    if let Some(modifier) = filter.get("path").filter(|p| !p.is_null()) {
        match text(modifier, "/type").as_str() {
            "ReplaceFullPath" => {
                if let Some(p) = modifier.get("replaceFullPath").and_then(Value::as_str) {
                    redirect.insert("path".into(), Value::from(p));
                }
            }
            "ReplacePrefixMatch" => {
                if let Some(p) = modifier.get("replacePrefixMatch").and_then(Value::as_str) {
                    redirect.insert("path".into(), Value::from(p));
                }
                let prefix = path_match
                    .and_then(|p| p.get("value"))
                    .and_then(Value::as_str)
                    .unwrap_or("/");
                redirect.insert("pathPrefix".into(), Value::from(prefix));
            }
            // Traefik leaves the path as it is for another type.
            _ => {}
        }
    }
    let status = filter
        .get("statusCode")
        .and_then(Value::as_i64)
        .unwrap_or(302);
    redirect.insert("statusCode".into(), Value::from(status));
    let mut map = BTreeMap::new();
    map.insert(
        "requestRedirect".to_string(),
        node(Value::Object(redirect))?,
    );
    Ok(Middleware(map, Default::default()))
}
