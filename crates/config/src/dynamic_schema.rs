//! The dynamic configuration's key schema: every key Traefik v3.7 accepts
//! in a dynamic file, each marked implemented, not yet, refused or ignored
//! (`dynamic_keys.txt`, walked by the same code as the static schema).
//!
//! [`decode`] checks a dynamic tree before the typed decode. A key Traefik
//! does not know is an error naming the file, line and field: the file is
//! refused, as Traefik refuses it. A key Traefik knows but Switchyard does
//! not act on yet is taken out of the tree and recorded on the router,
//! service, middleware or serversTransport that has it
//! ([`crate::dynamic::Unsupported`]), so the builder warns about it there
//! (or, for a refused key, disables that element) while the rest of the file
//! applies. `tcp` and `udp` are kept as written, after a check that each
//! of their elements decodes ([`crate::tcp::check`], [`crate::udp`]), so a
//! file whose section does not read is refused with its location.

use std::sync::{Arc, OnceLock};

use crate::decode::from_node;
use crate::dynamic::{Configuration, Unsupported};
use crate::node::Node;
use crate::schema::{display, list_keys, parse_keys, walk, Found, Key, Support};
use crate::ConfigError;

const KEYS: &str = include_str!("dynamic_keys.txt");

fn schema() -> &'static Key {
    static SCHEMA: OnceLock<Key> = OnceLock::new();
    SCHEMA.get_or_init(|| parse_keys(KEYS))
}

/// Every key of the dynamic schema with its support, `*` and `[]` as in
/// the file.
pub fn dynamic_keys() -> Vec<(String, Support)> {
    list_keys(KEYS)
}

/// The kinds of element a key not implemented is recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementKind {
    Router,
    Service,
    Middleware,
    ServersTransport,
}

impl ElementKind {
    fn of_section(section: &str) -> Option<ElementKind> {
        Some(match section.to_ascii_lowercase().as_str() {
            "routers" => ElementKind::Router,
            "services" => ElementKind::Service,
            "middlewares" => ElementKind::Middleware,
            "serverstransports" => ElementKind::ServersTransport,
            _ => return None,
        })
    }
}

/// A key of one HTTP element that Switchyard does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: ElementKind,
    /// The element's name, as written.
    pub name: String,
    /// The key within the element, as written (`forwardAuth.maxResponseBodySize`).
    pub key: String,
    pub refused: bool,
}

/// A dynamic tree checked against Traefik's keys.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The tree without the keys Switchyard does not act on.
    pub tree: Node,
    /// Those keys, by element, in the order they appear.
    pub notes: Vec<Note>,
}

/// Checks `tree` (one dynamic configuration file) against Traefik's keys.
pub fn check_dynamic(tree: &Node) -> Result<Checked, ConfigError> {
    let mut found = Found::new("dynamic", true);
    let pruned = walk(tree, schema(), &mut Vec::new(), &mut found)?
        .unwrap_or_else(|| Node::empty_map(tree.location.clone()));
    let refused = found.refused.unwrap_or_default();
    let notes = found
        .not_implemented
        .iter()
        .map(|p| (p, false))
        .chain(refused.iter().map(|p| (p, true)))
        .filter_map(|(path, refused)| note(path, refused))
        .collect();
    Ok(Checked {
        tree: pruned,
        notes,
    })
}

/// The element a key path (`http.middlewares.auth.forwardAuth.x`) belongs
/// to; `None` for whole sections (`tcp`, `udp`), which the builder reports
/// element by element.
fn note(path: &[String], refused: bool) -> Option<Note> {
    match path {
        [http, section, name, rest @ ..]
            if http.eq_ignore_ascii_case("http") && !rest.is_empty() =>
        {
            Some(Note {
                kind: ElementKind::of_section(section)?,
                name: name.clone(),
                key: display(rest),
                refused,
            })
        }
        _ => None,
    }
}

/// Checks and decodes one dynamic configuration tree; the keys Switchyard
/// does not act on are recorded on their elements.
pub fn decode(tree: &Node) -> Result<Configuration, ConfigError> {
    let checked = check_dynamic(tree)?;
    let mut config: Configuration = from_node(&checked.tree)?;
    if let Some(tcp) = &config.tcp {
        crate::tcp::check(tcp)?;
    }
    // The `udp` section travels as written; a file whose section does not
    // read is refused here, with its location, as Traefik refuses it.
    if let Some(udp) = &config.udp {
        crate::udp::decode(udp)?;
    }
    for n in checked.notes {
        if let Some(u) = unsupported_of(&mut config, n.kind, &n.name) {
            if n.refused {
                u.refused.push(n.key);
            } else {
                u.not_yet.push(n.key);
            }
        }
    }
    Ok(config)
}

fn unsupported_of<'a>(
    config: &'a mut Configuration,
    kind: ElementKind,
    name: &str,
) -> Option<&'a mut Unsupported> {
    let http = config.http.as_mut()?;
    match kind {
        ElementKind::Router => http
            .routers
            .get_mut(name)
            .map(|r| &mut Arc::make_mut(r).unsupported),
        ElementKind::Service => http
            .services
            .get_mut(name)
            .map(|s| &mut Arc::make_mut(s).unsupported),
        ElementKind::Middleware => http
            .middlewares
            .get_mut(name)
            .map(|m| &mut Arc::make_mut(m).1),
        ElementKind::ServersTransport => http
            .servers_transports
            .get_mut(name)
            .map(|t| &mut t.unsupported),
    }
}

#[cfg(test)]
mod tests;
