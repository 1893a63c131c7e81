//! `/api/overview`: how many elements of each kind, with how many warnings
//! and errors; the observability features and the providers the static
//! configuration turns on, named as Traefik names them (its Go field names).

use serde_json::{json, Value};
use switchyard_config::static_config::{Providers, StaticConfiguration};
use switchyard_server::runtime::{ElementInfo, Status};
use switchyard_server::Runtime;

/// `{"tracing", "metrics", "accessLog"}` for the static configuration.
pub fn features(config: &StaticConfiguration) -> Value {
    // Traefik's tracing section defaults to the OTLP exporter, which cannot
    // be turned off while the section is there.
    let tracing = if config.tracing.is_some() { "OTLP" } else { "" };
    // The first exporter in Traefik's field order.
    let metrics = config
        .metrics
        .as_ref()
        .and_then(|m| {
            [
                ("prometheus", "Prometheus"),
                ("datadog", "Datadog"),
                ("statsD", "StatsD"),
                ("influxDB2", "InfluxDB2"),
                ("otlp", "OTLP"),
            ]
            .into_iter()
            .find(|(key, _)| m.get(key).is_some())
            .map(|(_, name)| name)
        })
        .unwrap_or("");
    json!({
        "tracing": tracing,
        "metrics": metrics,
        "accessLog": config.access_log.is_some(),
    })
}

/// The providers turned on, in Traefik's field order, then one
/// `plugin-NAME` per provider plugin.
pub fn providers(p: Option<&Providers>) -> Vec<String> {
    let Some(p) = p else {
        return Vec::new();
    };
    let present = [
        ("Docker", p.docker.is_some()),
        ("Swarm", p.swarm.is_some()),
        ("File", p.file.is_some()),
        ("KubernetesIngress", p.kubernetes_ingress.is_some()),
        (
            "KubernetesIngressNGINX",
            p.kubernetes_ingress_nginx.is_some(),
        ),
        ("KubernetesCRD", p.kubernetes_crd.is_some()),
        ("KubernetesGateway", p.kubernetes_gateway.is_some()),
        ("Knative", p.knative.is_some()),
        ("Rest", p.rest.is_some()),
        ("ConsulCatalog", p.consul_catalog.is_some()),
        ("Nomad", p.nomad.is_some()),
        ("Ecs", p.ecs.is_some()),
        ("Consul", p.consul.is_some()),
        ("Etcd", p.etcd.is_some()),
        ("ZooKeeper", p.zoo_keeper.is_some()),
        ("Redis", p.redis.is_some()),
        ("HTTP", p.http.is_some()),
    ];
    let mut out: Vec<String> = present
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_string())
        .collect();
    if let Some(plugins) = &p.plugin {
        out.extend(plugins.entries().iter().map(|(k, _)| format!("plugin-{k}")));
    }
    out
}

fn section<'a>(items: impl Iterator<Item = &'a ElementInfo>) -> Value {
    let (mut total, mut warnings, mut errors) = (0, 0, 0);
    for e in items {
        total += 1;
        match e.status {
            Status::Warning => warnings += 1,
            Status::Disabled => errors += 1,
            Status::Enabled => {}
        }
    }
    json!({ "total": total, "warnings": warnings, "errors": errors })
}

/// The overview of `runtime`; `features` and `providers` come from the
/// static configuration, computed once.
pub fn overview(runtime: &Runtime, features: &Value, providers: &[String]) -> Value {
    let info = &runtime.info;
    let zero = json!({ "total": 0, "warnings": 0, "errors": 0 });
    let mut v = json!({
        "http": {
            "routers": section(info.routers.values()),
            "services": section(info.services.values()),
            "middlewares": section(info.middlewares.values()),
        },
        "tcp": { "routers": zero, "services": zero, "middlewares": zero },
        "udp": { "routers": zero, "services": zero },
        "certificates": zero,
        "features": features,
    });
    if !providers.is_empty() {
        v["providers"] = json!(providers);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> StaticConfiguration {
        let tree = switchyard_config::loader::parse_tree(std::path::Path::new("t.yml"), yaml)
            .expect("YAML");
        switchyard_config::decode::from_node(&tree).expect("static configuration")
    }

    #[test]
    fn feature_names() {
        let cases: &[(&str, &str, Value)] = &[
            (
                "nothing",
                "log: {level: ERROR}\n",
                json!({"tracing": "", "metrics": "", "accessLog": false}),
            ),
            (
                "all three",
                "accessLog: {}\nmetrics:\n  prometheus: {}\ntracing: {}\n",
                json!({"tracing": "OTLP", "metrics": "Prometheus", "accessLog": true}),
            ),
            (
                "metrics without exporter",
                "metrics:\n  addInternals: true\n",
                json!({"tracing": "", "metrics": "", "accessLog": false}),
            ),
            (
                "first exporter in Traefik's order",
                "metrics:\n  otlp: {}\n  statsD: {}\n",
                json!({"tracing": "", "metrics": "StatsD", "accessLog": false}),
            ),
        ];
        for (desc, yaml, want) in cases {
            assert_eq!(&features(&config(yaml)), want, "{desc}");
        }
    }

    #[test]
    fn provider_names() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("none", "log: {level: ERROR}\n", &[]),
            ("file", "providers:\n  file:\n    directory: /x\n", &["File"]),
            (
                "Traefik's order, not the file's",
                "providers:\n  http:\n    endpoint: http://127.0.0.1:1\n  file:\n    directory: /x\n  docker: {}\n",
                &["Docker", "File", "HTTP"],
            ),
            (
                "plugins",
                "providers:\n  plugin:\n    demo:\n      x: 1\n",
                &["plugin-demo"],
            ),
        ];
        for (desc, yaml, want) in cases {
            let c = config(yaml);
            assert_eq!(providers(c.providers.as_ref()), *want, "{desc}");
        }
    }
}
