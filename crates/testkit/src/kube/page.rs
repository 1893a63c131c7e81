//! Paged lists (`limit`, `continue`, `remainingItemCount`).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::error::ApiError;

/// `(namespace, name)` of a stored object.
fn object_key(object: &Value) -> (String, String) {
    let meta = &object["metadata"];
    (
        meta["namespace"].as_str().unwrap_or("").to_string(),
        meta["name"].as_str().unwrap_or("").to_string(),
    )
}

/// A paged list (`limit`, `continue`). The API server pages from etcd
/// unless `resourceVersion=0` (the watch cache, which ignores `limit`).
/// A continue token is `<rv>/<namespace>/<name>` of the page's last
/// object; later pages show the objects after it as they are now (the real
/// server shows them as of `rv`), and a token older than the history
/// answers `410` as an expired one does.
pub struct Page {
    limit: usize,
    after: Option<(u64, (String, String))>,
}

impl Page {
    pub fn asked(
        query: &HashMap<String, String>,
        compacted: u64,
    ) -> Result<Option<Page>, ApiError> {
        let Some(limit) = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
        else {
            return Ok(None);
        };
        if query.get("resourceVersion").map(String::as_str) == Some("0") {
            return Ok(None);
        }
        let after = match query.get("continue").filter(|c| !c.is_empty()) {
            None => None,
            Some(token) => {
                let mut parts = token.splitn(3, '/');
                let rv = parts.next().and_then(|r| r.parse::<u64>().ok());
                let (Some(rv), Some(ns), Some(name)) = (rv, parts.next(), parts.next()) else {
                    return Err(ApiError::bad_request(format!(
                        "invalid continue token {token:?}"
                    )));
                };
                if rv < compacted {
                    return Err(ApiError::expired_continue());
                }
                Some((rv, (ns.to_string(), name.to_string())))
            }
        };
        Ok(Some(Page { limit, after }))
    }
}

/// The objects of the page asked (all without paging), and the list's
/// metadata so far (`continue`, `remainingItemCount`); `rv` becomes the
/// version of the first page when continuing.
pub fn serve(page: Option<Page>, items: &[Arc<Value>], rv: &mut u64) -> (Vec<Arc<Value>>, Value) {
    let mut metadata = json!({});
    let Some(page) = page else {
        return (items.to_vec(), metadata);
    };
    if let Some((at, _)) = &page.after {
        *rv = *at;
    }
    let rest: Vec<&Arc<Value>> = items
        .iter()
        .filter(|o| {
            page.after
                .as_ref()
                .is_none_or(|(_, key)| object_key(o) > *key)
        })
        .collect();
    if rest.len() > page.limit {
        let last = object_key(rest[page.limit - 1]);
        metadata["continue"] = json!(format!("{rv}/{}/{}", last.0, last.1));
        metadata["remainingItemCount"] = json!(rest.len() - page.limit);
    }
    (
        rest.into_iter().take(page.limit).cloned().collect(),
        metadata,
    )
}
