//! A static file with every key of Traefik v3.7's reference
//! (`tests/diff/static/every_key.yml`): it covers every key of the schema,
//! the keys Switchyard implements decode into the typed configuration, and
//! the start-up warning names exactly the ones it does not implement yet.

use std::path::{Path, PathBuf};

use switchyard_config::loader::load_static_from;
use switchyard_config::node::{Node, Value};
use switchyard_config::schema::{static_keys, Support};

/// Keys of Switchyard's own (Traefik refuses them, so the file that both
/// read leaves them out): the shared ACME storage.
const SWITCHYARD_EXTENSION: &str = "certificatesresolvers.*.acme.sharedstorage";

fn every_key_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/diff/static/every_key.yml");
    let text = std::fs::read_to_string(&path).expect("every_key.yml");
    [
        ("<<web>>", "18080"),
        ("<<admin>>", "18081"),
        ("<<udp>>", "18053"),
        ("<<dead>>", "9"),
        ("<<dir>>", "/tmp/sy-every-key"),
        ("<<dynamic>>", "/tmp/sy-every-key/dynamic.yml"),
    ]
    .iter()
    .fold(text, |t, (k, v)| t.replace(k, v))
}

/// Writes `text` as a static file and loads it as the binary does.
fn load(name: &str, text: &str) -> Result<switchyard_config::loader::Loaded, String> {
    let dir = std::env::temp_dir().join(format!("sy-every-key-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let file: PathBuf = dir.join("traefik.yml");
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let args = vec![format!("--configFile={}", file.display())];
    let loaded = load_static_from(&args, &[], &[]).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    loaded
}

/// The file without `serversTransport.spiffe` and
/// `tcpServersTransport.tls.spiffe`, which Switchyard refuses.
fn without_spiffe(text: &str) -> String {
    let mut out = String::new();
    // The indentation of the `spiffe:` line being skipped.
    let mut skipping: Option<usize> = None;
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some(at) = skipping {
            if indent > at {
                continue;
            }
            skipping = None;
        }
        let refused = (section.starts_with("serverstransport:") && indent == 2)
            || (section.starts_with("tcpserverstransport:") && indent == 4);
        if refused && line.trim_start().starts_with("spiffe:") {
            skipping = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every concrete key path of a tree (lower-cased, list items as `[]`).
fn paths(node: &Node, prefix: &str, out: &mut Vec<String>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                let p = if prefix.is_empty() {
                    k.to_ascii_lowercase()
                } else {
                    format!("{prefix}.{}", k.to_ascii_lowercase())
                };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        Value::List(items) => {
            for item in items {
                let p = format!("{prefix}[]");
                paths(item, &p, out);
            }
        }
        Value::Scalar(_) => {}
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let split = |s: &str| -> Vec<String> {
        s.replace("[]", ".[]")
            .split('.')
            .map(str::to_string)
            .collect()
    };
    let (pat, got) = (split(pattern), split(path));
    pat.len() == got.len() && pat.iter().zip(&got).all(|(p, g)| p == "*" || p == g)
}

#[test]
fn the_file_covers_every_key_of_the_schema() {
    let text = every_key_text();
    let tree = switchyard_config::loader::parse_tree(Path::new("every_key.yml"), &text)
        .expect("every_key.yml parses");
    let mut found = Vec::new();
    paths(&tree, "", &mut found);
    let missing: Vec<String> = static_keys()
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| !k.starts_with(SWITCHYARD_EXTENSION))
        .filter(|k| !found.iter().any(|p| matches(k, p)))
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from every_key.yml: {missing:?}"
    );
    assert!(static_keys()
        .iter()
        .any(|(_, s)| *s == Support::Implemented));
}

#[test]
fn spiffe_on_servers_transport_is_refused() {
    let err = load("spiffe", &every_key_text()).expect_err("spiffe must be refused");
    assert!(err.contains("serverstransport.spiffe"), "{err}");
    assert!(err.contains("refuses to start"), "{err}");
}

#[test]
fn warning_names_exactly_what_is_not_implemented() {
    let loaded = load("all", &without_spiffe(&every_key_text())).expect("every key accepted");
    let want = [
        "api.debug",
        "certificatesresolvers.ts.tailscale",
        "core.stricttlsoptions",
        "experimental",
        "hostresolver",
        "metrics.datadog",
        "metrics.influxdb2",
        "metrics.statsd",
        "ocsp",
        "providers.consulcatalog",
        "providers.ecs",
        "providers.knative",
        "providers.kubernetescrd.defaulttlsresourcesnamespace",
        "providers.kubernetescrd.safenaming",
        "providers.kubernetesgateway.burst",
        "providers.kubernetesgateway.gateways",
        "providers.kubernetesgateway.qps",
        "providers.kubernetesingressnginx",
        "providers.nomad",
        "providers.plugin",
        "providers.rest",
        "spiffe",
        "tcpserverstransport.terminationdelay",
    ];
    assert_eq!(loaded.not_implemented, want);
    // What is implemented arrived in the typed configuration.
    let c = &loaded.config;
    let tracing = c.tracing.as_ref().expect("tracing");
    assert!(tracing.otlp.is_some(), "tracing.otlp decoded");
    let acme = c.certificates_resolvers["le"].acme.as_ref().expect("acme");
    assert_eq!(
        std::time::Duration::from(acme.client_timeout),
        std::time::Duration::from_secs(120)
    );
    assert_eq!(acme.key_type, "EC256");
    assert!(
        c.entry_points.contains_key("dns"),
        "the UDP entrypoint is decoded"
    );
    assert_eq!(
        c.entry_points["web"]
            .http
            .redirections
            .as_ref()
            .and_then(|r| r.entry_point.as_ref())
            .map(|e| e.to.as_str()),
        Some(":8443")
    );
}
