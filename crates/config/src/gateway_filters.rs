//! The settings of the middlewares only the Gateway API provider makes, as
//! Traefik's (`requestHeaderModifier`, `responseHeaderModifier`,
//! `requestRedirect`): a file cannot write them (they are `x` keys in
//! `dynamic_keys.txt`, dropped by the key schema), but the API shows them
//! under these names, as Traefik's does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A header modifier filter: `set` replaces a header, `add` appends a
/// value to it, `remove` drops it (in that order).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HeaderModifier {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// A RequestRedirect filter: the parts of the request's URL to replace.
/// `port` `""` drops the port; `path` with `pathPrefix` replaces that
/// prefix, without it the whole path. `statusCode` 0 is 302.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RequestRedirect {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub status_code: u16,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}
