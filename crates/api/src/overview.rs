//! `/api/overview`: how many elements of each kind, with how many warnings
//! and errors; the observability features and the providers that run,
//! named as Traefik names them (its Go field names).

use serde_json::{json, Value};
use switchyard_config::static_config::{Providers, StaticConfiguration};
use switchyard_server::runtime::{ElementInfo, Status};
use switchyard_server::Runtime;

/// `{"tracing", "metrics", "accessLog"}`: what runs, named as Traefik
/// names it (the backend's field name: `OTLP`, `Prometheus`). A metrics
/// backend Switchyard does not implement yet is not named (the start-up
/// warning names it): a dashboard must not show a feature that sends
/// nothing. The access log is on when `accessLog` is set, as in Traefik.
pub fn features(config: &StaticConfiguration) -> Value {
    // Traefik names the first backend set in its field order (Prometheus
    // before OTLP).
    let metrics = match config.metrics.as_ref() {
        Some(m) if m.prometheus.is_some() => "Prometheus",
        Some(m) if m.otlp.is_some() => "OTLP",
        _ => "",
    };
    let tracing = if config.tracing.is_some() { "OTLP" } else { "" };
    json!({
        "tracing": tracing,
        "metrics": metrics,
        "accessLog": config.access_log.is_some(),
    })
}

/// The providers that run, named as Traefik names them, in the order of
/// Traefik's static configuration; those not implemented yet are named in
/// the start-up warning instead.
pub fn providers(p: Option<&Providers>) -> Vec<String> {
    let Some(p) = p else {
        return Vec::new();
    };
    // Traefik lists every provider configured, in its static
    // configuration's field order.
    let running = [
        ("Docker", p.docker.is_some()),
        ("Swarm", p.swarm.is_some()),
        ("File", p.file.is_some()),
        ("KubernetesIngress", p.kubernetes_ingress.is_some()),
        ("KubernetesCRD", p.kubernetes_crd.is_some()),
        ("KubernetesGateway", p.kubernetes_gateway.is_some()),
        ("Consul", p.consul.is_some()),
        ("Etcd", p.etcd.is_some()),
        ("ZooKeeper", p.zoo_keeper.is_some()),
        ("Redis", p.redis.is_some()),
        ("HTTP", p.http.is_some()),
    ];
    running
        .iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| name.to_string())
        .collect()
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
    let mut v = json!({
        "http": {
            "routers": section(info.routers.values().map(|e| &**e)),
            "services": section(info.services.values().map(|e| &**e)),
            "middlewares": section(info.middlewares.values().map(|e| &**e)),
        },
        "tcp": {
            "routers": section(info.tcp_routers.values().map(|e| &**e)),
            "services": section(info.tcp_services.values().map(|e| &**e)),
            "middlewares": section(info.tcp_middlewares.values().map(|e| &**e)),
        },
        "udp": {
            "routers": section(runtime.udp.routers.values().map(|e| &**e)),
            "services": section(runtime.udp.services.values().map(|e| &**e)),
        },
        "certificates": crate::certificates::section(runtime, std::time::SystemTime::now()),
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
        let checked = switchyard_config::schema::check_static(&tree).expect("known keys");
        switchyard_config::decode::from_node(&checked.tree).expect("static configuration")
    }

    #[test]
    fn features_name_only_what_runs() {
        let cases = [
            (
                "log: {level: ERROR}\n",
                json!({"tracing": "", "metrics": "", "accessLog": false}),
            ),
            (
                "accessLog: {}\nmetrics:\n  prometheus: {}\ntracing: {}\n",
                json!({"tracing": "OTLP", "metrics": "Prometheus", "accessLog": true}),
            ),
            (
                "metrics:\n  otlp: {}\n",
                json!({"tracing": "", "metrics": "OTLP", "accessLog": false}),
            ),
            (
                "metrics:\n  otlp: {}\n  prometheus: {}\n",
                json!({"tracing": "", "metrics": "Prometheus", "accessLog": false}),
            ),
            // A backend not implemented yet is not claimed.
            (
                "metrics:\n  statsD: {}\n",
                json!({"tracing": "", "metrics": "", "accessLog": false}),
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(features(&config(yaml)), want, "{yaml}");
        }
    }

    #[test]
    fn provider_names() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("none", "log: {level: ERROR}\n", &[]),
            ("file", "providers:\n  file:\n    directory: /x\n", &["File"]),
            (
                "in Traefik's order",
                "providers:\n  http:\n    endpoint: http://127.0.0.1:1\n  file:\n    directory: /x\n  docker: {}\n",
                &["Docker", "File", "HTTP"],
            ),
            (
                "every one that runs",
                "providers:\n  redis:\n    endpoints: [\"127.0.0.1:6379\"]\n  zooKeeper:\n    endpoints: [\"127.0.0.1:2181\"]\n  etcd:\n    endpoints: [\"127.0.0.1:2379\"]\n  consul:\n    endpoints: [\"127.0.0.1:8500\"]\n  kubernetesCRD: {}\n  kubernetesGateway: {}\n  swarm: {}\n  docker: {}\n",
                &["Docker", "Swarm", "KubernetesCRD", "KubernetesGateway", "Consul", "Etcd", "ZooKeeper", "Redis"],
            ),
            (
                "the Ingress provider before the CRD one",
                "providers:\n  kubernetesCRD: {}\n  kubernetesIngress: {}\n  file:\n    directory: /x\n",
                &["File", "KubernetesIngress", "KubernetesCRD"],
            ),
            (
                "not yet running: not listed",
                "providers:\n  nomad: {}\n  file:\n    directory: /x\n",
                &["File"],
            ),
        ];
        for (desc, yaml, want) in cases {
            let c = config(yaml);
            assert_eq!(providers(c.providers.as_ref()), *want, "{desc}");
        }
    }
}
