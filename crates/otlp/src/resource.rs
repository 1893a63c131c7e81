//! The resource every signal is sent with: who is sending.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use crate::span::{key_value, Value};

/// The attributes that describe this process, as OpenTelemetry's resource
/// semantic conventions name them. Shared by traces, metrics and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    attributes: BTreeMap<String, Value>,
}

impl Resource {
    /// The resource of a process serving as `service_name` at `version`:
    /// host and process facts first, then `service.name` and
    /// `service.version`, then `extra` (the user's `resourceAttributes`),
    /// then `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME` from
    /// `env`, each overriding what came before (Traefik's order).
    pub fn new(
        service_name: &str,
        version: &str,
        host_name: &str,
        extra: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Resource {
        let mut attributes = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            attributes.insert(k.to_string(), v);
        };
        put("host.name", Value::Str(host_name.to_string()));
        put("os.type", Value::Str(std::env::consts::OS.to_string()));
        put("process.pid", Value::Int(i64::from(std::process::id())));
        if let Some(exe) = std::env::current_exe()
            .ok()
            .as_deref()
            .and_then(|p| p.file_name())
        {
            put(
                "process.executable.name",
                Value::Str(exe.to_string_lossy().into_owned()),
            );
        }
        put("process.runtime.name", Value::Str("rust".into()));
        put("telemetry.sdk.language", Value::Str("rust".into()));
        put("telemetry.sdk.name", Value::Str("switchyard".into()));
        put("telemetry.sdk.version", Value::Str(version.to_string()));
        put("service.name", Value::Str(service_name.to_string()));
        put("service.version", Value::Str(version.to_string()));
        for (k, v) in extra {
            put(k, Value::Str(v.clone()));
        }
        if let Some(list) = env("OTEL_RESOURCE_ATTRIBUTES") {
            for (k, v) in parse_env_attributes(&list) {
                put(&k, Value::Str(v));
            }
        }
        if let Some(name) = env("OTEL_SERVICE_NAME").filter(|n| !n.is_empty()) {
            put("service.name", Value::Str(name));
        }
        Resource { attributes }
    }

    /// An attribute's value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    /// The OTLP message.
    pub fn to_proto(&self) -> ProtoResource {
        ProtoResource {
            attributes: self
                .attributes
                .iter()
                .map(|(k, v)| key_value(k, v))
                .collect(),
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }
}

/// `key1=value1,key2=value2`, values percent-decoded; malformed pairs are
/// skipped.
fn parse_env_attributes(list: &str) -> Vec<(String, String)> {
    list.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_string(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_overrides() {
        let extra = BTreeMap::from([
            ("deployment.environment".to_string(), "prod".to_string()),
            ("service.version".to_string(), "mine".to_string()),
        ]);
        let env = |k: &str| match k {
            "OTEL_RESOURCE_ATTRIBUTES" => {
                Some("team=edge%20ops,bad,=x,deployment.environment=stage".into())
            }
            "OTEL_SERVICE_NAME" => Some("from-env".into()),
            _ => None,
        };
        let r = Resource::new("traefik", "1.0", "box", &extra, env);
        let s = |k: &str| match r.get(k) {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        };
        assert_eq!(s("service.name"), Some("from-env"));
        assert_eq!(
            s("service.version"),
            Some("mine"),
            "resourceAttributes override"
        );
        assert_eq!(
            s("deployment.environment"),
            Some("stage"),
            "env overrides config"
        );
        assert_eq!(s("team"), Some("edge ops"), "percent-decoded");
        assert_eq!(s("host.name"), Some("box"));
        let plain = Resource::new("traefik", "1.0", "box", &BTreeMap::new(), |_| None);
        assert_eq!(
            plain.get("service.name"),
            Some(&Value::Str("traefik".into()))
        );
    }
}
