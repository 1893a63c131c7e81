//! The static configuration's key schema: every key Traefik v3.7 accepts,
//! each marked implemented or not yet (`static_keys.txt`).
//!
//! [`check_static`] walks a static configuration tree against it before
//! the typed decode: a key Traefik does not know is an error naming the
//! file, line and key (as Traefik refuses it); a key Traefik knows but
//! Switchyard does not implement yet is taken out of the tree and its path,
//! as the user spelled it, is returned for the one start-up warning. What
//! remains decodes strictly into [`crate::static_config::StaticConfiguration`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::node::{Node, Value};
use crate::ConfigError;

const KEYS: &str = include_str!("static_keys.txt");

/// How far Switchyard supports a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Implemented,
    NotYet,
    /// Not yet, and any shape below it is accepted.
    NotYetFreeForm,
    /// Not yet, but kept in the tree as written so that the API can show
    /// it (an entrypoint's `udp` and `observability`).
    NotYetShown,
    /// Not yet, and refused: it asks for a security check that Switchyard
    /// would otherwise skip.
    Refused,
}

#[derive(Debug, Default)]
struct Key {
    /// `None` for a section that is not a key of its own.
    support: Option<Support>,
    named: BTreeMap<String, Key>,
    any_name: Option<Box<Key>>,
    items: Option<Box<Key>>,
}

impl Key {
    fn is_leaf(&self) -> bool {
        self.named.is_empty() && self.any_name.is_none() && self.items.is_none()
    }

    fn children(&self) -> impl Iterator<Item = &Key> {
        self.named
            .values()
            .chain(self.any_name.as_deref())
            .chain(self.items.as_deref())
    }

    /// Whether nothing at or below this key is implemented.
    fn not_yet(&self) -> bool {
        match self.support {
            Some(Support::Implemented) => false,
            Some(
                Support::NotYet | Support::NotYetFreeForm | Support::NotYetShown | Support::Refused,
            ) => true,
            None => !self.is_leaf() && self.children().all(Key::not_yet),
        }
    }

    fn child(&self, name: &str) -> Option<&Key> {
        if let Some(k) = self.named.get(&name.to_ascii_lowercase()) {
            return Some(k);
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            if let Some(items) = &self.items {
                return Some(items);
            }
        }
        self.any_name.as_deref()
    }

    fn insert(&mut self, path: &str, support: Support) {
        let mut at = self;
        for seg in path.split('.') {
            let (name, list) = match seg.strip_suffix("[]") {
                Some(n) => (n, true),
                None => (seg, false),
            };
            at = if name == "*" {
                at.any_name.get_or_insert_with(Default::default)
            } else {
                at.named.entry(name.to_string()).or_default()
            };
            if list {
                at = at.items.get_or_insert_with(Default::default);
            }
        }
        at.support = Some(support);
    }
}

fn schema() -> &'static Key {
    static SCHEMA: OnceLock<Key> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut root = Key::default();
        for line in KEYS.lines() {
            let line = line.trim();
            let (support, path) = match line.split_once(' ') {
                Some(("+", p)) => (Support::Implemented, p),
                Some(("-", p)) => (Support::NotYet, p),
                Some(("~", p)) => (Support::NotYetFreeForm, p),
                Some(("!", p)) => (Support::Refused, p),
                Some(("=", p)) => (Support::NotYetShown, p),
                _ => continue,
            };
            root.insert(path.trim(), support);
        }
        root
    })
}

/// Every key of the schema with its support, `*` and `[]` as in the file.
pub fn static_keys() -> Vec<(String, Support)> {
    KEYS.lines()
        .filter_map(|line| {
            let (mark, path) = line.trim().split_once(' ')?;
            let support = match mark {
                "+" => Support::Implemented,
                "-" => Support::NotYet,
                "~" => Support::NotYetFreeForm,
                "!" => Support::Refused,
                "=" => Support::NotYetShown,
                _ => return None,
            };
            Some((path.trim().to_string(), support))
        })
        .collect()
}

/// A static configuration tree checked against the schema.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The tree without the keys Switchyard does not implement yet.
    pub tree: Node,
    /// Those keys' paths as the configuration spells them
    /// (`entryPoints.web.proxyProtocol`), in the order they appear.
    pub not_implemented: Vec<String>,
}

/// Checks `tree` (a whole static configuration) against Traefik's keys.
pub fn check_static(tree: &Node) -> Result<Checked, ConfigError> {
    let mut not_implemented = Vec::new();
    let tree = walk(tree, schema(), &mut Vec::new(), &mut not_implemented)?
        .unwrap_or_else(|| Node::empty_map(tree.location.clone()));
    Ok(Checked {
        tree,
        not_implemented,
    })
}

fn display(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg.starts_with('[') || out.is_empty() {
            out.push_str(seg);
        } else {
            out.push('.');
            out.push_str(seg);
        }
    }
    out
}

fn unknown(path: &[String], key: &str, node: &Node) -> ConfigError {
    let mut e = ConfigError::at(
        node.location.clone(),
        format!("field not found: {key:?} is not a Traefik static configuration option"),
    );
    e.path = path.to_vec();
    e.path.push(key.to_string());
    e
}

/// Walks `node` at schema `key`; `None` when the node is left out.
fn walk(
    node: &Node,
    key: &Key,
    path: &mut Vec<String>,
    not_implemented: &mut Vec<String>,
) -> Result<Option<Node>, ConfigError> {
    if key.support == Some(Support::Refused) {
        let mut e = ConfigError::at(
            node.location.clone(),
            "not supported by Switchyard yet; it asks for a verification that would be skipped, so Switchyard refuses to start rather than ignore it",
        );
        e.path = path.clone();
        return Err(e);
    }
    if key.support == Some(Support::NotYetFreeForm) {
        not_implemented.push(display(path));
        return Ok(None);
    }
    let not_yet = !path.is_empty() && key.not_yet();
    let kept = match &node.value {
        Value::Map(entries) => {
            if key.is_leaf() {
                if let Some((k, v)) = entries.first() {
                    return Err(unknown(path, k, v));
                }
                Some(node.clone())
            } else {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let Some(child) = key.child(k) else {
                        return Err(unknown(path, k, v));
                    };
                    let numbered = key.items.is_some() && k.bytes().all(|b| b.is_ascii_digit());
                    path.push(if numbered {
                        format!("[{k}]")
                    } else {
                        k.clone()
                    });
                    let kept = walk(v, child, path, not_implemented);
                    path.pop();
                    if let Some(kept) = kept? {
                        out.push((k.clone(), kept));
                    }
                }
                Some(Node::new(Value::Map(out), node.location.clone()))
            }
        }
        Value::List(items) => match &key.items {
            Some(item_key) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(format!("[{i}]"));
                    let kept = walk(item, item_key, path, not_implemented);
                    path.pop();
                    if let Some(kept) = kept? {
                        out.push(kept);
                    }
                }
                Some(Node::new(Value::List(out), node.location.clone()))
            }
            // A list of values (`trustedIPs`), or a shape the typed
            // decode will refuse with its own message.
            None => Some(node.clone()),
        },
        Value::Scalar(_) => Some(node.clone()),
    };
    if not_yet {
        // Only the topmost key of a part not implemented is named: the
        // children were checked above but their names would only repeat it.
        let below = path.len();
        not_implemented.retain(|p| !is_below(p, &display(&path[..below])));
        not_implemented.push(display(path));
        if key.support == Some(Support::NotYetShown) {
            // Its keys were checked above; it is kept whole, as written.
            return Ok(Some(node.clone()));
        }
        return Ok(None);
    }
    Ok(kept)
}

fn is_below(candidate: &str, parent: &str) -> bool {
    candidate.len() > parent.len()
        && candidate.starts_with(parent)
        && matches!(candidate.as_bytes()[parent.len()], b'.' | b'[')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::parse_tree;
    use std::path::Path;

    fn check_yaml(text: &str) -> Result<Checked, ConfigError> {
        let tree = parse_tree(Path::new("static.yml"), text)?;
        check_static(&tree)
    }

    #[test]
    fn schema_has_every_section() {
        let keys = static_keys();
        assert!(keys.len() > 500, "{} keys", keys.len());
        for needle in [
            "entrypoints.*.address",
            "log.otlp",
            "certificatesresolvers.*.acme.clienttimeout",
            "entrypoints.*.http.tls.domains[].main",
            "providers.docker.endpoint",
            "metrics.prometheus.buckets",
        ] {
            assert!(keys.iter().any(|(k, _)| k == needle), "{needle}");
        }
    }

    #[test]
    fn not_implemented_table() {
        // (configuration, the paths named in the warning)
        let cases: &[(&str, &[&str])] = &[
            ("entryPoints:\n  web:\n    address: ':80'\n", &[]),
            (
                "log:\n  level: INFO\n  otlp:\n    grpc:\n      endpoint: x:4317\n",
                &["log.otlp"],
            ),
            ("metrics:\n  prometheus:\n    buckets: [0.1, 0.3]\n", &["metrics"]),
            (
                "entryPoints:\n  web:\n    address: ':80'\n    proxyProtocol:\n      trustedIPs: [127.0.0.1]\n  web2:\n    address: ':81'\n    udp:\n      timeout: 5s\n",
                &["entryPoints.web.proxyProtocol", "entryPoints.web2.udp"],
            ),
            (
                "providers:\n  file:\n    directory: /d\n  docker:\n    endpoint: unix:///var/run/docker.sock\n  plugin:\n    mine:\n      any:\n        shape: [1, 2]\n",
                &["providers.docker", "providers.plugin"],
            ),
            (
                "certificatesResolvers:\n  le:\n    acme:\n      storage: a.json\n    tailscale: {}\n",
                &["certificatesResolvers.le.tailscale"],
            ),
            ("accessLog: {}\ntracing: {}\n", &["accessLog", "tracing"]),
        ];
        for (text, want) in cases {
            let checked = check_yaml(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(checked.not_implemented, *want, "{text}");
        }
    }

    #[test]
    fn unknown_keys_are_errors_with_location() {
        let cases: &[(&str, &str, u32)] = &[
            ("log:\n  level: INFO\n  foo: 1\n", "log.foo", 3),
            (
                "entryPoints:\n  web:\n    adress: ':80'\n",
                "entryPoints.web.adress",
                3,
            ),
            ("metrics:\n  prometheus:\n    bukets: [1]\n", "metrics.prometheus.bukets", 3),
            ("nope: 1\n", "nope", 1),
            (
                "serversTransport:\n  spiffe:\n    ids: [spiffe://a/b]\n",
                "serversTransport.spiffe",
                3,
            ),
            (
                "entryPoints:\n  web:\n    http:\n      tls:\n        domains:\n          - main: a.test\n            other: x\n",
                "entryPoints.web.http.tls.domains[0].other",
                7,
            ),
        ];
        for (text, field, line) in cases {
            let e = check_yaml(text)
                .err()
                .unwrap_or_else(|| panic!("{text}: accepted"));
            assert_eq!(e.field(), *field, "{text}");
            assert_eq!(e.location.as_ref().map(|l| l.line), Some(*line), "{text}");
            assert!(
                e.message.contains("field not found") || e.message.contains("refuses"),
                "{e}"
            );
        }
    }

    #[test]
    fn shown_sections_stay_as_written() {
        let checked = check_yaml(
            "entryPoints:\n  web:\n    address: ':80'\n    udp:\n      timeout: 5s\n    observability:\n      tracing: false\n",
        )
        .expect("valid");
        let web = checked.tree.get("entryPoints").and_then(|e| e.get("web"));
        let timeout = web
            .and_then(|w| w.get("udp"))
            .and_then(|u| u.get("timeout"));
        assert_eq!(timeout.map(|t| t.to_json()), Some(serde_json::json!("5s")));
        assert!(web.and_then(|w| w.get("observability")).is_some());
        assert_eq!(
            checked.not_implemented,
            ["entryPoints.web.udp", "entryPoints.web.observability"]
        );
        let typo = check_yaml("entryPoints:\n  web:\n    udp:\n      timeot: 5s\n");
        assert!(typo.is_err(), "keys below a shown section are checked");
    }

    #[test]
    fn pruned_tree_keeps_implemented_keys() {
        let checked = check_yaml(
            "log:\n  level: INFO\n  otlp: {}\nentryPoints:\n  web:\n    address: ':80'\n    reusePort: true\n",
        )
        .expect("valid");
        let tree = &checked.tree;
        assert!(tree.get("log").and_then(|l| l.get("otlp")).is_none());
        assert!(tree.get("log").and_then(|l| l.get("level")).is_some());
        let web = tree.get("entryPoints").and_then(|e| e.get("web"));
        assert!(web.and_then(|w| w.get("address")).is_some());
    }

    #[test]
    fn flag_style_lists_and_sections() {
        let tree = crate::flat::build(
            [
                ("entryPoints.web.address", ":80"),
                ("entryPoints.web.http.tls.domains[0].main", "a.test"),
                ("api", "true"),
                ("providers.docker", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v, crate::Location::named("flag"))),
        );
        let checked = check_static(&tree).expect("valid flags");
        assert_eq!(
            checked.not_implemented,
            vec!["providers.docker".to_string()]
        );
    }
}
