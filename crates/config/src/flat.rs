//! Flat keys → [`Node`]: the one builder behind CLI flags
//! (`--entryPoints.web.address=:80`), environment variables
//! (`TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80`), Docker-style labels
//! ([`crate::labels`]) and KV keys ([`crate::kv`]).
//!
//! Each source splits its keys into path segments its own way, then inserts
//! them into one [`FlatNode`] tree, shaped as Traefik's flat-key decoder
//! (`paerser`) shapes it: segment names merge case-insensitively (the first
//! spelling stays, the last value wins), a list element is a segment named
//! `[n]`, and a node may hold a value and children at once (`tls=true` next
//! to `tls.certResolver=le`). [`FlatNode::to_node`] then lowers the tree into
//! the [`Node`] that [`crate::decode`] reads: children win over a value, and
//! children all named `[n]` become a list in tree order.
//!
//! For flags and environment variables a key is split on `.`, `name[2]`
//! addresses the third element of a list (`servers[0].url`), and the last
//! pair given for a path replaces whatever was set there before ([`build`]).

use crate::node::{Location, Node, Scalar, Value};

/// Splits `a.b[1].c` into `["a", "b", "1", "c"]`.
pub fn split_key(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let mut rest = part;
        match rest.find('[') {
            Some(i) => {
                if i > 0 {
                    out.push(rest[..i].to_string());
                }
                rest = &rest[i..];
                while let Some(inner) = rest.strip_prefix('[') {
                    match inner.split_once(']') {
                        Some((idx, after)) => {
                            out.push(idx.to_string());
                            rest = after;
                        }
                        None => {
                            out.push(inner.to_string());
                            rest = "";
                        }
                    }
                }
            }
            None => out.push(rest.to_string()),
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Builds a tree from flag or environment `(key, value)` pairs; each
/// location names its pair in errors ("flag --x", "environment variable X").
/// A later pair replaces what an earlier one set at its path, sections
/// included (`--api.insecure --api` leaves `api` a plain `true`).
pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str, Location)>) -> Node {
    let mut root = FlatNode::root();
    for (key, value, loc) in pairs {
        let path = split_key(key);
        if path.is_empty() {
            continue;
        }
        root.insert(&path, value, key, loc, Overlap::LastWins);
    }
    root.to_node()
}

/// What happens when a path gets a value where children exist, or children
/// where a value exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Both are kept, as Traefik's label and KV decoder keeps them; the
    /// source's rules and the lowering decide which one counts.
    Keep,
    /// The later one replaces the earlier one (flags, environment).
    LastWins,
}

/// One node of a flat-key tree: a segment name, the value its own key set
/// (if any), and the children that deeper keys created.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatNode {
    /// The segment as first spelled (`X-Foo`, `[0]`, `loadbalancer`).
    pub name: String,
    pub value: Option<String>,
    pub children: Vec<FlatNode>,
    /// The key that set the value, else the first key through this node.
    pub key: String,
    pub location: Location,
    /// Lower as an empty section although only a value was given
    /// (`tls=true`; set by a source's rules).
    pub section: bool,
}

impl FlatNode {
    /// The unnamed root.
    pub fn root() -> FlatNode {
        FlatNode::new("", "", Location::default())
    }

    /// A node without value or children.
    pub fn new(name: &str, key: &str, location: Location) -> FlatNode {
        FlatNode {
            name: name.to_string(),
            value: None,
            children: Vec::new(),
            key: key.to_string(),
            location,
            section: false,
        }
    }

    /// Sets `value` at `path` below this node, creating the nodes on the
    /// way; `key` and `location` name the pair in errors.
    pub fn insert(
        &mut self,
        path: &[String],
        value: &str,
        key: &str,
        location: Location,
        overlap: Overlap,
    ) {
        let mut node = self;
        for (depth, segment) in path.iter().enumerate() {
            if overlap == Overlap::LastWins && depth > 0 {
                // `--api --api.insecure`: the value turns into a section.
                node.value = None;
            }
            let index = match node
                .children
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(segment))
            {
                Some(i) => i,
                None => {
                    node.children
                        .push(FlatNode::new(segment, key, location.clone()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[index];
        }
        if overlap == Overlap::LastWins {
            node.children.clear();
        }
        node.value = Some(value.to_string());
        node.key = key.to_string();
        node.location = location;
    }

    /// The child named `name`, case-insensitively.
    pub fn child(&self, name: &str) -> Option<&FlatNode> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The child named `name`, case-insensitively, for changing it.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut FlatNode> {
        self.children
            .iter_mut()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Takes the child named `name` (case-insensitively) out of the tree.
    pub fn remove(&mut self, name: &str) -> Option<FlatNode> {
        let pos = self
            .children
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))?;
        Some(self.children.remove(pos))
    }

    /// Whether this segment addresses a list element (`[0]`).
    pub fn is_index(&self) -> bool {
        is_index(&self.name)
    }

    /// Every key that set a value in this subtree, in tree order.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if n.value.is_some() {
                out.push(n.key.clone());
            }
            stack.extend(n.children.iter().rev());
        }
        out
    }

    /// The [`Node`] that [`crate::decode`] reads: children win over a value;
    /// children all named `[n]` form a list in tree order; a leaf is a string
    /// (an empty map when marked as a section).
    pub fn to_node(&self) -> Node {
        let loc = self.location.clone();
        if self.children.is_empty() {
            return match (&self.value, self.section) {
                (Some(v), false) => Node::scalar(Scalar::Str(v.clone()), loc),
                _ => Node::empty_map(loc),
            };
        }
        if self.children.iter().all(FlatNode::is_index) {
            let items = self.children.iter().map(FlatNode::to_node).collect();
            return Node::new(Value::List(items), loc);
        }
        let entries = self
            .children
            .iter()
            .map(|c| (c.name.clone(), c.to_node()))
            .collect();
        Node::new(Value::Map(entries), loc)
    }
}

/// Whether a segment addresses a list element: `[` … `]`.
pub fn is_index(segment: &str) -> bool {
    segment.len() >= 2 && segment.starts_with('[') && segment.ends_with(']')
}

/// CLI arguments → `(key, value)` pairs: `--a.b=v`, `--a.b v`, `--flag`
/// (meaning `true`). Arguments that are not flags are returned apart.
pub fn parse_args(args: &[String]) -> (Vec<(String, String)>, Vec<String>) {
    let mut pairs = Vec::new();
    let mut other = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(flag) = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-').filter(|f| f.len() > 1))
        else {
            other.push(arg.clone());
            i += 1;
            continue;
        };
        match flag.split_once('=') {
            Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
            None => match args.get(i + 1) {
                Some(next) if !next.starts_with('-') => {
                    pairs.push((flag.to_string(), next.clone()));
                    i += 1;
                }
                _ => pairs.push((flag.to_string(), "true".to_string())),
            },
        }
        i += 1;
    }
    (pairs, other)
}

/// Environment variables with one of `prefixes` → `(key, value)` pairs:
/// `TRAEFIK_ENTRYPOINTS_WEB_ADDRESS` → `entrypoints.web.address`.
pub fn env_pairs(env: &[(String, String)], prefixes: &[&str]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, value) in env {
        let Some(rest) = prefixes.iter().find_map(|p| name.strip_prefix(p)) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let key = rest
            .to_ascii_lowercase()
            .split('_')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        out.push((key, value.clone(), name.clone()));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_key_table() {
        let cases: &[(&str, &[&str])] = &[
            ("a.b.c", &["a", "b", "c"]),
            ("servers[0].url", &["servers", "0", "url"]),
            ("a[1][2]", &["a", "1", "2"]),
            ("a..b", &["a", "b"]),
            ("", &[]),
        ];
        for (key, want) in cases {
            assert_eq!(split_key(key), *want, "{key}");
        }
    }

    fn pairs(tree: &FlatNode) -> Vec<(String, Option<String>, usize)> {
        tree.children
            .iter()
            .map(|c| (c.name.clone(), c.value.clone(), c.children.len()))
            .collect()
    }

    #[test]
    fn overlap_keep_holds_value_and_children() {
        let mut root = FlatNode::root();
        for (k, v) in [
            ("tls", "true"),
            ("tls.certResolver", "le"),
            ("TLS.options", "o"),
        ] {
            let path: Vec<String> = k.split('.').map(String::from).collect();
            root.insert(&path, v, k, Location::named(k), Overlap::Keep);
        }
        assert_eq!(pairs(&root), vec![("tls".into(), Some("true".into()), 2)]);
        // Lowered, the children win over the value.
        let node = root.to_node();
        let tls = node.get("tls").expect("tls");
        assert_eq!(tls.entries().len(), 2);
        assert_eq!(tls.location, Location::named("tls"));
    }

    #[test]
    fn overlap_last_wins_like_flags() {
        type Input = &'static [(&'static str, &'static str)];
        type Expected = &'static [(&'static str, Option<&'static str>, usize)];
        let cases: &[(&str, Input, Expected)] = &[
            (
                "section then field",
                &[("api", "true"), ("api.insecure", "true")],
                &[("api", None, 1)],
            ),
            (
                "field then section",
                &[("api.insecure", "true"), ("api", "true")],
                &[("api", Some("true"), 0)],
            ),
            (
                "case merges, first spelling, last value",
                &[("Log.Level", "INFO"), ("log.level", "DEBUG")],
                &[("Log", None, 1)],
            ),
        ];
        for (what, input, want) in cases {
            let mut root = FlatNode::root();
            for (k, v) in *input {
                root.insert(&split_key(k), v, k, Location::named(k), Overlap::LastWins);
            }
            let want: Vec<(String, Option<String>, usize)> = want
                .iter()
                .map(|(n, v, c)| (n.to_string(), v.map(String::from), *c))
                .collect();
            assert_eq!(pairs(&root), want, "{what}");
        }
    }

    #[test]
    fn index_children_lower_to_a_list_in_tree_order() {
        let mut root = FlatNode::root();
        for (k, v) in [
            ("l.[1]", "b"),
            ("l.[0]", "a"),
            ("m.[0]", "x"),
            ("m.name", "y"),
        ] {
            let path: Vec<String> = k.split('.').map(String::from).collect();
            root.insert(&path, v, k, Location::named(k), Overlap::Keep);
        }
        let node = root.to_node();
        let list = node.get("l").expect("l");
        match &list.value {
            Value::List(items) => {
                let texts: Vec<Value> = items.iter().map(|n| n.value.clone()).collect();
                assert_eq!(
                    format!("{texts:?}"),
                    format!(
                        "{:?}",
                        [
                            Value::Scalar(Scalar::Str("b".into())),
                            Value::Scalar(Scalar::Str("a".into()))
                        ]
                    )
                );
            }
            other => panic!("l lowered to {other:?}"),
        }
        // Mixed with a name, `[0]` stays a map key (Traefik names it so).
        let m = node.get("m").expect("m");
        assert!(m.get("[0]").is_some() && m.get("name").is_some());
    }

    #[test]
    fn keys_of_a_subtree() {
        let mut root = FlatNode::root();
        for k in ["a.b", "a.c.d", "a"] {
            let path: Vec<String> = k.split('.').map(String::from).collect();
            root.insert(&path, "v", k, Location::named(k), Overlap::Keep);
        }
        assert_eq!(root.keys(), vec!["a", "a.b", "a.c.d"]);
    }

    #[test]
    fn args_table() {
        let args: Vec<String> = ["--a.b=1", "--flag", "--c", "2", "-d=x", "plain", "--e"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (pairs, other) = parse_args(&args);
        let want: Vec<(String, String)> = [
            ("a.b", "1"),
            ("flag", "true"),
            ("c", "2"),
            ("d", "x"),
            ("e", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, want);
        assert_eq!(other, vec!["plain".to_string()]);
    }

    #[test]
    fn env_table() {
        let env: Vec<(String, String)> = [
            ("TRAEFIK_API_INSECURE", "true"),
            ("SWITCHYARD_LOG_LEVEL", "DEBUG"),
            ("HOME", "/root"),
            ("TRAEFIK_", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let pairs: Vec<(String, String)> = env_pairs(&env, &["SWITCHYARD_", "TRAEFIK_"])
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("api.insecure".into(), "true".into()),
                ("log.level".into(), "DEBUG".into())
            ]
        );
    }
}
