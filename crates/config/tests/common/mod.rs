//! Helpers shared by the label and KV tests: the expected configuration is
//! written as the dynamic file Traefik documents as equivalent, and both
//! are compared after every middleware is decoded.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use switchyard_config::dynamic::{decode_middleware, Configuration, Middleware};
use switchyard_config::loader::parse_dynamic;

/// Flat `(key, value)` pairs written in a test table.
pub type Pairs = &'static [(&'static str, &'static str)];

/// The configuration a YAML dynamic file holds.
pub fn yaml(text: &str) -> Configuration {
    parse_dynamic(Path::new("expected.yml"), text)
        .unwrap_or_else(|e| panic!("expected YAML does not parse: {e}\n{text}"))
}

/// JSON object keys lowercased, all the way down.
fn lower_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

/// A configuration as comparable JSON: each middleware type decoded to
/// its settings (so `redirectscheme` and `redirectScheme` compare equal;
/// a type that does not decode compares by its error's message), and the
/// sections kept raw (TCP, UDP, models) with their keys lowercased.
pub fn canonical(c: &Configuration) -> Value {
    let mut v = serde_json::to_value(c).expect("configuration serializes");
    if let Some(http) = &c.http {
        let mut middlewares = serde_json::Map::new();
        for (name, m) in &http.middlewares {
            let mut kinds = serde_json::Map::new();
            for (kind, node) in &m.0 {
                let one = Middleware(
                    BTreeMap::from([(kind.clone(), node.clone())]),
                    Default::default(),
                );
                let settings = match decode_middleware(&one) {
                    Ok(decoded) => match decoded.settings_json() {
                        Some((_, json)) => json,
                        None => lower_keys(&node.to_json()),
                    },
                    Err(e) => Value::String(format!("error: {}", e.message)),
                };
                kinds.insert(kind.to_ascii_lowercase(), settings);
            }
            middlewares.insert(name.clone(), Value::Object(kinds));
        }
        v["http"]["middlewares"] = Value::Object(middlewares);
        if let Some(models) = v["http"].get("models").cloned() {
            v["http"]["models"] = lower_keys(&models);
        }
    }
    for raw in ["tcp", "udp"] {
        if let Some(section) = v.get(raw).cloned() {
            v[raw] = lower_keys(&section);
        }
    }
    v
}

/// The paths where two JSON values differ, with both sides.
fn differences(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            let keys: std::collections::BTreeSet<&String> = g.keys().chain(w.keys()).collect();
            for k in keys {
                let (a, b) = (
                    g.get(k).unwrap_or(&Value::Null),
                    w.get(k).unwrap_or(&Value::Null),
                );
                differences(&format!("{path}.{k}"), a, b, out);
            }
        }
        _ if got != want => out.push(format!("{path}: got {got}, want {want}")),
        _ => {}
    }
}

/// Asserts two configurations are the same, naming the case and the
/// paths that differ.
pub fn assert_same(what: &str, got: &Configuration, want: &Configuration) {
    let (got, want) = (canonical(got), canonical(want));
    let mut diff = Vec::new();
    differences("", &got, &want, &mut diff);
    assert!(diff.is_empty(), "{what}:\n{}", diff.join("\n"));
}
