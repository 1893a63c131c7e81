//! KV store keys (Redis, etcd, ZooKeeper, Consul KV) → dynamic
//! configuration, decoded as Traefik v3.7 decodes them.
//!
//! # The forms read
//!
//! - `traefik/http/routers/r/rule` = `Host(...)`: a key is split on `/`
//!   (empty segments skipped) below the root key (`rootKey`, `traefik` by
//!   default); field names match case-insensitively, names of routers,
//!   services, middlewares and map keys
//!   (`.../healthcheck/headers/X-Foo`) keep their spelling.
//! - Lists of values, one key per element: `.../entrypoints/0` = `web`,
//!   `.../entrypoints/1` = `websecure`. As in Traefik, the elements are
//!   joined with `,` in the keys' byte order (`0`, `1`, `10`, `2`) and the
//!   list is read from that text, so an element holding `a,b` gives two;
//!   they win over a plain `.../entrypoints` key.
//! - Lists of sections: `.../servers/0/url`, `.../tls/domains/0/main`; a
//!   segment made only of digits is an element, in byte order.
//! - Sections switched by a value: `.../routers/r/tls` = `true` (or empty)
//!   is TLS with its defaults, any other value turns it off (only the
//!   sections Traefik tags so, see [`crate::flat_rules`]).
//! - Only keys under `<root>/http`, `<root>/tcp`, `<root>/udp` and
//!   `<root>/tls` (compared case-insensitively) are read; others are
//!   skipped. Fields Traefik never reads from KV (a server's `port` and
//!   `scheme`, ...) are dropped and reported in [`KvConfiguration::ignored`].
//!
//! Errors (an unknown field, a bad value) name the key.
//!
//! # Where Switchyard differs
//!
//! - Booleans read `true`/`false` in any case and an empty value as `true`;
//!   Traefik reads Go's forms (`1`, `t`, `TRUE`, ...) and refuses empty.
//! - `x=true` on a section Traefik does not tag `allowEmpty` is that
//!   section with its defaults; Traefik refuses it.
//! - An unknown or bad setting inside a middleware type
//!   (`...stripprefix.prefixs`) is that middleware's error when the runtime
//!   is built, and the rest serves; Traefik refuses the whole set. An
//!   unknown middleware type is an error here, as in Traefik.
//! - Numbers read with spaces around them; Traefik refuses them.
//! - Empty list elements are dropped; Traefik keeps `""`.
//! - A router, service or middleware named only with digits is, in
//!   Traefik, named `[7]`; Switchyard does the same when other names sit
//!   beside it, and refuses the map when all its names are digits.
//! - The sections Switchyard keeps as written until it uses them (TCP, UDP,
//!   weighted, mirroring, failover and highest-random-weight services,
//!   models) are not checked field by field here, so an unknown field there
//!   is not an error; Traefik refuses it. (The documented KV example
//!   `.../failover/healthcheck` = `{}` is one: Traefik refuses it.)

use std::collections::BTreeMap;

use crate::dynamic::Configuration;
use crate::flat::{FlatNode, Overlap};
use crate::flat_rules::{self, Source};
use crate::node::Location;
use crate::ConfigError;

/// The root key Traefik's KV providers read by default.
pub const DEFAULT_ROOT_KEY: &str = "traefik";

/// What the keys below a root key configure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KvConfiguration {
    pub configuration: Configuration,
    /// Keys Traefik never reads from a KV store (to be logged), in byte
    /// order.
    pub ignored: Vec<String>,
}

fn key_location(key: &str) -> Location {
    Location::named(&format!("key {key}"))
}

/// `.../name/<digits>` → `.../name`.
fn list_parent(key: &str) -> Option<&str> {
    let (parent, last) = key.rsplit_once('/')?;
    let digits = !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit());
    (digits && !parent.is_empty()).then_some(parent)
}

/// Decodes the `(key, value)` pairs read below `root_key`.
pub fn decode_kv<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    root_key: &str,
) -> Result<KvConfiguration, ConfigError> {
    let sections = ["HTTP", "TCP", "UDP", "TLS"].map(|s| format!("{root_key}/{s}"));
    let mut selected: Vec<(&str, &str)> = pairs
        .into_iter()
        .filter(|(k, _)| {
            sections.iter().any(|p| {
                k.get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
        })
        .collect();
    selected.sort();

    // The elements of lists of values, joined under their list's key (which
    // they replace), as Traefik joins them.
    let mut values: BTreeMap<&str, (String, &str)> = BTreeMap::new();
    let mut lists: BTreeMap<&str, (Vec<&str>, &str)> = BTreeMap::new();
    for (key, value) in selected {
        match list_parent(key) {
            Some(parent) => {
                let entry = lists.entry(parent).or_insert((Vec::new(), key));
                entry.0.push(value);
            }
            None => {
                values.insert(key, (value.to_string(), key));
            }
        }
    }
    for (parent, (elements, first)) in lists {
        values.insert(parent, (elements.join(","), first));
    }

    let prefix = format!("{root_key}/");
    let mut root = FlatNode::root();
    for (key, (value, origin)) in &values {
        let Some(rest) = key.strip_prefix(&prefix) else {
            return Err(ConfigError::at(
                key_location(origin),
                format!("invalid key root: expected {prefix:?}"),
            ));
        };
        let path: Vec<String> = rest
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s.bytes().all(|b| b.is_ascii_digit()) {
                    format!("[{s}]")
                } else {
                    s.to_string()
                }
            })
            .collect();
        root.insert(&path, value, origin, key_location(origin), Overlap::Keep);
    }

    let mut ignored = Vec::new();
    flat_rules::apply(&mut root, Source::Kv, &mut ignored);
    ignored.sort();
    let configuration = flat_rules::decode_configuration(&root.to_node())?;
    Ok(KvConfiguration {
        configuration,
        ignored,
    })
}
