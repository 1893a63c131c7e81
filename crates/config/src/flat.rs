//! Flat keys → [`Node`]: the one builder behind CLI flags
//! (`--entryPoints.web.address=:80`), environment variables
//! (`TRAEFIK_ENTRYPOINTS_WEB_ADDRESS=:80`) and, later, Docker labels and KV
//! keys. A key is split on `.`; `name[2]` addresses the third element of a
//! list (`servers[0].url`).

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

/// Builds a tree from `(key, value)` pairs; `source` names them in errors
/// ("flag --x", "environment variable X").
pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str, Location)>) -> Node {
    let mut root = Node::empty_map(Location::default());
    for (key, value, loc) in pairs {
        let path = split_key(key);
        if path.is_empty() {
            continue;
        }
        insert_path(
            &mut root,
            &path,
            Node::scalar(Scalar::Str(value.to_string()), loc),
        );
    }
    root
}

fn insert_path(node: &mut Node, path: &[String], leaf: Node) {
    let (first, rest) = (&path[0], &path[1..]);
    if rest.is_empty() {
        node.insert(first, leaf);
        return;
    }
    if !matches!(node.value, Value::Map(_)) {
        // `--api --api.insecure`: the section turns from "true" into a map.
        node.value = Value::Map(Vec::new());
    }
    if let Value::Map(entries) = &mut node.value {
        let pos = entries
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case(first));
        let child = match pos {
            Some(i) => &mut entries[i].1,
            None => {
                entries.push((first.clone(), Node::empty_map(leaf.location.clone())));
                let last = entries.len() - 1;
                &mut entries[last].1
            }
        };
        if !matches!(child.value, Value::Map(_)) {
            child.value = Value::Map(Vec::new());
        }
        insert_path(child, rest, leaf);
    }
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
