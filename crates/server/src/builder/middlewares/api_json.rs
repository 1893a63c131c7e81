//! How the API shows a middleware: Traefik's field names with defaults
//! filled in, zero values left out unless they were written.

use switchyard_config::dynamic::{decode_middleware, Middleware};

/// A middleware as the API shows it: Traefik's field names with defaults
/// filled in, zero values left out unless they were written.
pub(super) fn api_json(m: &Middleware) -> serde_json::Value {
    let raw = m.to_json();
    let Ok(kind) = decode_middleware(m) else {
        return raw;
    };
    let Some((mut key, typed)) = kind.settings_json() else {
        return raw;
    };
    let Some((raw_key, raw_section)) = raw.as_object().and_then(|o| o.iter().next()) else {
        return raw;
    };
    if raw_key.eq_ignore_ascii_case("ipwhitelist") {
        key = "ipWhiteList".into();
    }
    let mut out = serde_json::Map::new();
    out.insert(key, prune(typed, Some(raw_section)));
    serde_json::Value::Object(out)
}

fn is_zero(v: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match v {
        Null => true,
        Bool(b) => !b,
        Number(n) => n.as_f64() == Some(0.0),
        String(s) => s.is_empty(),
        Array(a) => a.is_empty(),
        Object(o) => o.is_empty(),
    }
}

fn prune(typed: serde_json::Value, raw: Option<&serde_json::Value>) -> serde_json::Value {
    let serde_json::Value::Object(fields) = typed else {
        return typed;
    };
    let raw_fields = raw.and_then(|r| r.as_object());
    let mut out = serde_json::Map::new();
    for (k, v) in fields {
        let written = raw_fields.and_then(|r| {
            r.iter()
                .find(|(rk, _)| rk.eq_ignore_ascii_case(&k))
                .map(|(_, rv)| rv)
        });
        let v = prune(v, written);
        if written.is_none() && is_zero(&v) {
            continue;
        }
        out.insert(k, v);
    }
    serde_json::Value::Object(out)
}
