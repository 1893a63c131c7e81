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
    /// it (an entrypoint's `udp`).
    NotYetShown,
    /// Not yet, and refused: it asks for a security check that Switchyard
    /// would otherwise skip.
    Refused,
    /// Read and ignored, as Traefik's file decoder ignores it too (a
    /// dynamic key only other providers fill in): accepted silently.
    IgnoredAsTraefik,
}

impl Support {
    fn from_mark(mark: &str) -> Option<Support> {
        Some(match mark {
            "+" => Support::Implemented,
            "-" => Support::NotYet,
            "~" => Support::NotYetFreeForm,
            "!" => Support::Refused,
            "=" => Support::NotYetShown,
            "x" => Support::IgnoredAsTraefik,
            _ => return None,
        })
    }
}

/// The mark and key of one line of a key file (`+ a.b.*.c`, a trailing
/// `# note` allowed); `None` for comments and blank lines.
fn key_line(line: &str) -> Option<(Support, &str)> {
    let line = line.split(" #").next().unwrap_or_default().trim();
    let (mark, path) = line.split_once(' ')?;
    Some((Support::from_mark(mark)?, path.trim()))
}

#[derive(Debug, Default)]
pub(crate) struct Key {
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
                Support::NotYet
                | Support::NotYetFreeForm
                | Support::NotYetShown
                | Support::Refused
                | Support::IgnoredAsTraefik,
            ) => true,
            None => !self.is_leaf() && self.children().all(Key::not_yet),
        }
    }

    pub(crate) fn child(&self, name: &str) -> Option<&Key> {
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

/// The key tree of a key file (see `static_keys.txt` for the format).
pub(crate) fn parse_keys(text: &str) -> Key {
    let mut root = Key::default();
    for (support, path) in text.lines().filter_map(key_line) {
        root.insert(path, support);
    }
    root
}

/// Every key of a key file with its support, `*` and `[]` as written.
pub(crate) fn list_keys(text: &str) -> Vec<(String, Support)> {
    text.lines()
        .filter_map(key_line)
        .map(|(support, path)| (path.to_string(), support))
        .collect()
}

fn schema() -> &'static Key {
    static SCHEMA: OnceLock<Key> = OnceLock::new();
    SCHEMA.get_or_init(|| parse_keys(KEYS))
}

/// Every key of the schema with its support, `*` and `[]` as in the file.
pub fn static_keys() -> Vec<(String, Support)> {
    list_keys(KEYS)
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
    let mut found = Found::new("static", false);
    let tree = walk(tree, schema(), &mut Vec::new(), &mut found)?
        .unwrap_or_else(|| Node::empty_map(tree.location.clone()));
    Ok(Checked {
        tree,
        not_implemented: found.not_implemented.iter().map(|p| display(p)).collect(),
    })
}

/// What a walk found besides unknown keys (which are errors).
#[derive(Debug)]
pub(crate) struct Found {
    /// `static` or `dynamic`, for the error on an unknown key.
    what: &'static str,
    /// Paths (as spelled) of the keys Switchyard does not implement yet,
    /// only the topmost of a part not implemented.
    pub(crate) not_implemented: Vec<Vec<String>>,
    /// Paths of refused keys, when a refused key is not an error of the
    /// whole tree (the dynamic configuration refuses the element instead).
    pub(crate) refused: Option<Vec<Vec<String>>>,
}

impl Found {
    pub(crate) fn new(what: &'static str, collect_refused: bool) -> Found {
        Found {
            what,
            not_implemented: Vec::new(),
            refused: collect_refused.then(Vec::new),
        }
    }
}

/// A key path as the user spelled it: `a.b[0].c`.
pub(crate) fn display(path: &[String]) -> String {
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

fn unknown(path: &[String], key: &str, node: &Node, what: &str) -> ConfigError {
    let mut e = ConfigError::at(
        node.location.clone(),
        format!("field not found: {key:?} is not a Traefik {what} configuration option"),
    );
    e.path = path.to_vec();
    e.path.push(key.to_string());
    e
}

/// Walks `node` at schema `key`; `None` when the node is left out.
pub(crate) fn walk(
    node: &Node,
    key: &Key,
    path: &mut Vec<String>,
    found: &mut Found,
) -> Result<Option<Node>, ConfigError> {
    if key.support == Some(Support::Refused) {
        if let Some(refused) = &mut found.refused {
            refused.push(path.clone());
            return Ok(None);
        }
        let mut e = ConfigError::at(
            node.location.clone(),
            "not supported by Switchyard yet; it asks for a verification that would be skipped, so Switchyard refuses to start rather than ignore it",
        );
        e.path = path.clone();
        return Err(e);
    }
    if key.support == Some(Support::NotYetFreeForm) {
        found.not_implemented.push(path.clone());
        return Ok(None);
    }
    if key.support == Some(Support::IgnoredAsTraefik) {
        // Its keys are checked as Traefik checks them; then it is dropped
        // without a word, as Traefik drops it.
        let mut quiet = Found::new(found.what, true);
        walk_children(node, key, path, &mut quiet)?;
        return Ok(None);
    }
    let not_yet = !path.is_empty() && key.not_yet();
    let kept = walk_children(node, key, path, found)?;
    if not_yet {
        // Only the topmost key of a part not implemented is named: the
        // children were checked above but their names would only repeat it.
        found
            .not_implemented
            .retain(|p| !(p.len() > path.len() && p.starts_with(path)));
        found.not_implemented.push(path.clone());
        if key.support == Some(Support::NotYetShown) {
            // Its keys were checked above; it is kept whole, as written.
            return Ok(Some(node.clone()));
        }
        return Ok(None);
    }
    Ok(kept)
}

/// Whether `path` is one HTTP middleware (`http.middlewares.<name>`).
fn is_middleware(path: &[String]) -> bool {
    matches!(path, [http, middlewares, _]
        if http.eq_ignore_ascii_case("http") && middlewares.eq_ignore_ascii_case("middlewares"))
}

/// Walks the entries or items of `node` (a scalar is kept as it is).
fn walk_children(
    node: &Node,
    key: &Key,
    path: &mut Vec<String>,
    found: &mut Found,
) -> Result<Option<Node>, ConfigError> {
    Ok(match &node.value {
        Value::Map(entries) => {
            if key.is_leaf() {
                if let Some((k, v)) = entries.first() {
                    return Err(unknown(path, k, v, found.what));
                }
                Some(node.clone())
            } else {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let Some(child) = key.child(k) else {
                        if found.what == "dynamic" && is_middleware(path) {
                            // An unknown middleware type is that
                            // middleware's error when the runtime is built,
                            // not the whole file's (on purpose: README).
                            out.push((k.clone(), v.clone()));
                            continue;
                        }
                        return Err(unknown(path, k, v, found.what));
                    };
                    let numbered = key.items.is_some() && k.bytes().all(|b| b.is_ascii_digit());
                    path.push(if numbered {
                        format!("[{k}]")
                    } else {
                        k.clone()
                    });
                    let kept = walk(v, child, path, found);
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
                    let kept = walk(item, item_key, path, found);
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
    })
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
                &[],
            ),
            ("metrics:\n  prometheus:\n    buckets: [0.1, 0.3]\n", &[]),
            (
                "metrics:\n  prometheus: {}\n  statsd:\n    address: x:8125\n",
                &["metrics.statsd"],
            ),
            (
                "entryPoints:\n  web:\n    address: ':80'\n    observability:\n      metrics: false\n  web2:\n    address: ':81/udp'\n    udp:\n      timeout: 5s\n",
                &[],
            ),
            (
                "providers:\n  file:\n    directory: /d\n  nomad:\n    endpoint:\n      address: http://127.0.0.1:4646\n  plugin:\n    mine:\n      any:\n        shape: [1, 2]\n",
                &["providers.nomad", "providers.plugin"],
            ),
            (
                "certificatesResolvers:\n  le:\n    acme:\n      storage: a.json\n    tailscale: {}\n",
                &["certificatesResolvers.le.tailscale"],
            ),
            ("accessLog: {}\ntracing: {}\n", &[]),
            ("tracing:\n  otlp:\n    http: {}\n  globalAttributes:\n    a: b\n", &[]),
            (
                "accessLog:\n  format: json\n  dualOutput: true\nmetrics:\n  statsd:\n    address: localhost:8125\n",
                &["metrics.statsd"],
            ),
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
    fn udp_section_is_read_and_checked() {
        let checked = check_yaml(
            "entryPoints:\n  web:\n    address: ':80'\n    udp:\n      timeout: 5s\n    observability:\n      metrics: false\n",
        )
        .expect("valid");
        let web = checked.tree.get("entryPoints").and_then(|e| e.get("web"));
        let timeout = web
            .and_then(|w| w.get("udp"))
            .and_then(|u| u.get("timeout"));
        assert_eq!(timeout.map(|t| t.to_json()), Some(serde_json::json!("5s")));
        assert!(web.and_then(|w| w.get("observability")).is_some());
        assert!(checked.not_implemented.is_empty());
        let typo = check_yaml("entryPoints:\n  web:\n    udp:\n      timeot: 5s\n");
        assert!(typo.is_err(), "keys below udp are checked");
    }

    #[test]
    fn pruned_tree_keeps_implemented_keys() {
        let checked = check_yaml(
            "accessLog:\n  format: json\nmetrics:\n  statsd: {}\nentryPoints:\n  web:\n    address: ':80'\n    allowACMEByPass: true\n",
        )
        .expect("valid");
        let tree = &checked.tree;
        assert!(tree.get("metrics").and_then(|l| l.get("statsd")).is_none());
        assert!(tree
            .get("accessLog")
            .and_then(|l| l.get("format"))
            .is_some());
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
                ("providers.nomad", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v, crate::Location::named("flag"))),
        );
        let checked = check_static(&tree).expect("valid flags");
        assert_eq!(checked.not_implemented, vec!["providers.nomad".to_string()]);
    }
}
