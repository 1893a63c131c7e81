//! `/api/entrypoints`: each entrypoint's static configuration as Traefik
//! shows it, its defaults filled in. Traefik fills the defaults of a section
//! when it creates it: every entrypoint gets `transport`,
//! `forwardedHeaders`, `http`, `http2` and `udp`; `observability`,
//! `encodedCharacters` and redirections get theirs only when written. Zero
//! values are left out, as Go's `omitempty` leaves them out.

use serde_json::{json, Value};
use switchyard_config::static_config::EntryPoint;

/// `name`'s entrypoint as the API shows it.
pub fn entrypoint_json(name: &str, ep: &EntryPoint) -> Value {
    let mut v = serde_json::to_value(ep).unwrap_or_else(|_| json!({}));
    let Some(obj) = v.as_object_mut() else {
        return json!({ "name": name });
    };
    if let Some(chars) = obj
        .get_mut("http")
        .and_then(|h| h.get_mut("encodedCharacters"))
        .and_then(Value::as_object_mut)
    {
        // Booleans without a pointer: `false` is left out.
        chars.retain(|_, b| b != &Value::Bool(false));
    }
    if let Some(redirect) = obj
        .get_mut("http")
        .and_then(|h| h.pointer_mut("/redirections/entryPoint"))
        .and_then(Value::as_object_mut)
    {
        redirect.retain(|_, v| !is_zero(v));
    }
    obj.insert("udp".into(), udp(ep.udp.as_ref()));
    match ep.observability.as_ref() {
        Some(o) => obj.insert("observability".into(), observability(o)),
        None => obj.remove("observability"),
    };
    obj.insert("name".into(), json!(name));
    v
}

/// Go's zero values, which `omitempty` leaves out.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// `udp`: the idle session timeout, 3s unless written.
fn udp(udp: Option<&switchyard_config::static_config::EntryPointUdp>) -> Value {
    let timeout = udp.map_or(switchyard_config::Duration::from_secs(3), |u| u.timeout);
    if timeout.is_zero() {
        json!({})
    } else {
        json!({ "timeout": timeout.to_string() })
    }
}

/// `observability`: everything on, minimal trace verbosity, unless written.
fn observability(o: &switchyard_config::static_config::EntryPointObservability) -> Value {
    let verbosity = if o.trace_verbosity.is_empty() {
        "minimal"
    } else {
        &o.trace_verbosity
    };
    json!({
        "accessLogs": o.access_logs.unwrap_or(true),
        "metrics": o.metrics.unwrap_or(true),
        "tracing": o.tracing.unwrap_or(true),
        "traceVerbosity": verbosity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(yaml: &str) -> EntryPoint {
        let text = format!("entryPoints:\n  web:\n{yaml}");
        let tree = switchyard_config::loader::parse_tree(std::path::Path::new("t.yml"), &text)
            .expect("YAML");
        let config: switchyard_config::static_config::StaticConfiguration =
            switchyard_config::decode::from_node(&tree).expect("static configuration");
        config.with_defaults().entry_points["web"].clone()
    }

    #[test]
    fn shapes() {
        // (description, entrypoint YAML indented by 4, JSON pointer, expected)
        let cases: &[(&str, &str, &str, Value)] = &[
            ("name added", "    address: :80\n", "/name", json!("web")),
            (
                "http2 defaults",
                "    address: :80\n",
                "/http2",
                json!({"maxConcurrentStreams": 250, "maxDecoderHeaderTableSize": 4096, "maxEncoderHeaderTableSize": 4096}),
            ),
            (
                "http2 written over defaults",
                "    http2:\n      maxConcurrentStreams: 10\n",
                "/http2/maxConcurrentStreams",
                json!(10),
            ),
            (
                "http2 others keep their defaults",
                "    http2:\n      maxConcurrentStreams: 10\n",
                "/http2/maxEncoderHeaderTableSize",
                json!(4096),
            ),
            (
                "http2 zero left out",
                "    http2:\n      maxDecoderHeaderTableSize: 0\n",
                "/http2/maxDecoderHeaderTableSize",
                Value::Null,
            ),
            (
                "udp default",
                "    address: :80\n",
                "/udp",
                json!({"timeout": "3s"}),
            ),
            (
                "udp written",
                "    udp:\n      timeout: 90\n",
                "/udp",
                json!({"timeout": "1m30s"}),
            ),
            (
                "udp zero left out",
                "    udp:\n      timeout: 0s\n",
                "/udp",
                json!({}),
            ),
            (
                "no observability unless written",
                "    address: :80\n",
                "/observability",
                Value::Null,
            ),
            (
                "observability defaults",
                "    observability:\n      tracing: false\n",
                "/observability",
                json!({"accessLogs": true, "metrics": true, "tracing": false, "traceVerbosity": "minimal"}),
            ),
            (
                "observability verbosity",
                "    observability:\n      traceVerbosity: detailed\n",
                "/observability/traceVerbosity",
                json!("detailed"),
            ),
            (
                "encoded characters: false left out",
                "    http:\n      encodedCharacters:\n        allowEncodedSlash: false\n",
                "/http/encodedCharacters/allowEncodedSlash",
                Value::Null,
            ),
            (
                "encoded characters: true kept",
                "    http:\n      encodedCharacters:\n        allowEncodedSlash: false\n",
                "/http/encodedCharacters/allowEncodedHash",
                json!(true),
            ),
            (
                "proxy protocol",
                "    proxyProtocol:\n      insecure: true\n",
                "/proxyProtocol",
                json!({"insecure": true}),
            ),
            (
                "proxy protocol trusted IPs",
                "    proxyProtocol:\n      trustedIPs: [\"10.0.0.0/8\"]\n",
                "/proxyProtocol",
                json!({"trustedIPs": ["10.0.0.0/8"]}),
            ),
            (
                "transport defaults",
                "    address: :80\n",
                "/transport",
                json!({"lifeCycle": {"graceTimeOut": "10s"}, "respondingTimeouts": {"readTimeout": "1m0s", "idleTimeout": "3m0s"}}),
            ),
            (
                "forwardedHeaders always",
                "    address: :80\n",
                "/forwardedHeaders",
                json!({}),
            ),
        ];
        for (desc, yaml, pointer, want) in cases {
            let v = entrypoint_json("web", &ep(yaml));
            let got = v.pointer(pointer).cloned().unwrap_or(Value::Null);
            assert_eq!(&got, want, "{desc}: {v}");
        }
    }
}
