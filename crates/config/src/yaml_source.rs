//! YAML text → [`Node`], keeping each node's line and column, with anchors
//! and aliases resolved. Plain scalars are typed as YAML 1.2's core schema
//! types them (null, booleans, integers, floats); quoted ones are strings.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::node::{Location, Node, Scalar, Value};
use crate::ConfigError;

enum Frame {
    Map {
        node: Node,
        key: Option<(String, Location)>,
        anchor: usize,
        /// The keys so far, lower-cased, once the map is long enough for a
        /// scan of its entries to cost more than a lookup.
        seen: Option<HashSet<String>>,
    },
    List {
        node: Node,
        anchor: usize,
    },
}

/// Maps with more entries than this check duplicate keys by lookup.
const SCAN_LIMIT: usize = 16;

struct Builder {
    /// The file's name, shared by every node's location.
    file: Arc<str>,
    /// Added to every line: the text parsed starts that far into the file.
    line_offset: u32,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<ConfigError>,
}

fn plain_scalar(s: &str) -> Scalar {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        _ => {}
    }
    let looks_numeric =
        s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.');
    if looks_numeric {
        if let Ok(i) = s.parse::<i64>() {
            return Scalar::Int(i);
        }
        if let Some(hex) = s.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Scalar::Int(i);
            }
        }
        if let Some(oct) = s.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Scalar::Int(i);
            }
        }
        let floaty = s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
            && s.chars().any(|c| c.is_ascii_digit());
        if floaty {
            if let Ok(x) = s.parse::<f64>() {
                return Scalar::Float(x);
            }
        }
    }
    Scalar::Str(s.to_string())
}

impl Builder {
    fn loc(&self, mark: &Marker) -> Location {
        Location {
            source: Some(self.file.clone()),
            line: u32::try_from(mark.line())
                .unwrap_or(u32::MAX)
                .saturating_add(self.line_offset),
            column: u32::try_from(mark.col() + 1).unwrap_or(u32::MAX),
        }
    }

    fn fail(&mut self, loc: Location, msg: String) {
        if self.error.is_none() {
            self.error = Some(ConfigError::at(loc, msg));
        }
    }

    /// Adds a finished node to its parent (or makes it the root).
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::List { node: list, .. }) => {
                if let Value::List(items) = &mut list.value {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                node: map,
                key,
                seen,
                ..
            }) => match key.take() {
                None => {
                    // This node is a key.
                    match &node.value {
                        Value::Scalar(s) => *key = Some((s.as_text(), node.location.clone())),
                        _ => {
                            let loc = node.location.clone();
                            self.fail(loc, "a map key must be a plain value".into());
                        }
                    }
                }
                Some((k, kloc)) => {
                    if let Value::Map(entries) = &mut map.value {
                        if is_duplicate(entries, seen, &k) {
                            self.fail(kloc, format!("duplicate key {k:?}"));
                            return;
                        }
                        entries.push((k, node));
                    }
                }
            },
        }
    }
}

/// Whether `key` is already among `entries` (case-insensitively), and
/// remembers it when not: a scan for short maps, a set for long ones.
fn is_duplicate(entries: &[(String, Node)], seen: &mut Option<HashSet<String>>, key: &str) -> bool {
    if entries.len() < SCAN_LIMIT {
        return entries.iter().any(|(e, _)| e.eq_ignore_ascii_case(key));
    }
    let set = seen.get_or_insert_with(|| {
        entries
            .iter()
            .map(|(e, _)| e.to_ascii_lowercase())
            .collect()
    });
    !set.insert(key.to_ascii_lowercase())
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let loc = self.loc(&mark);
        match ev {
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map {
                    node: Node::empty_map(loc),
                    key: None,
                    anchor,
                    seen: None,
                });
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::List {
                    node: Node::new(Value::List(Vec::new()), loc),
                    anchor,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Map { node, anchor, .. } | Frame::List { node, anchor } => {
                            (node, anchor)
                        }
                    };
                    self.push(node, anchor);
                }
            }
            Event::Scalar(value, style, anchor, _) => {
                let scalar = if style == TScalarStyle::Plain {
                    plain_scalar(&value)
                } else {
                    Scalar::Str(value)
                };
                self.push(Node::scalar(scalar, loc), anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push(node, 0),
                None => self.fail(loc, "unknown alias".into()),
            },
            _ => {}
        }
    }
}

/// Parses YAML `text` read from `file`. An empty document is an empty map.
pub fn parse(file: &Path, text: &str) -> Result<Node, ConfigError> {
    parse_at(file, text, 0)
}

/// [`parse`] for a `text` whose first line is line `line_offset + 1` of
/// `file` (part of a file, parsed alone).
pub fn parse_at(file: &Path, text: &str, line_offset: u32) -> Result<Node, ConfigError> {
    let mut builder = Builder {
        line_offset,
        file: Arc::from(file.display().to_string()),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        let line = u32::try_from(m.line())
            .unwrap_or(u32::MAX)
            .saturating_add(line_offset);
        let col = u32::try_from(m.col() + 1).unwrap_or(u32::MAX);
        return Err(ConfigError::at(
            Location::in_file(file, line, col),
            format!("YAML syntax error: {}", e.info()),
        ));
    }
    if let Some(e) = builder.error {
        return Err(e);
    }
    let root = builder
        .root
        .unwrap_or_else(|| Node::empty_map(Location::in_file(file, 1, 1)));
    match &root.value {
        Value::Scalar(Scalar::Null) => Ok(Node::empty_map(root.location)),
        Value::Map(_) => Ok(root),
        _ => Err(ConfigError::at(
            root.location,
            "the document must be a map of sections",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_found_in_short_and_long_maps() {
        let map = |n: usize, extra: &str| {
            let mut t = String::from("m:\n");
            for i in 0..n {
                t += &format!("  k{i}: {i}\n");
            }
            t + extra
        };
        let cases = [
            ("short map, no duplicate", map(3, ""), None),
            (
                "short map, same key",
                map(3, "  k1: x\n"),
                Some("duplicate key \"k1\""),
            ),
            ("long map, no duplicate", map(100, "  other: x\n"), None),
            (
                "long map, same key",
                map(100, "  k7: x\n"),
                Some("duplicate key \"k7\""),
            ),
            (
                "long map, other case",
                map(100, "  K99: x\n"),
                Some("duplicate key \"K99\""),
            ),
            (
                "at the limit",
                map(SCAN_LIMIT, "  K0: x\n"),
                Some("duplicate key \"K0\""),
            ),
        ];
        for (what, text, want) in cases {
            let got = parse(Path::new("d.yml"), &text)
                .err()
                .map(|e| e.to_string());
            match (want, &got) {
                (None, None) => {}
                (Some(w), Some(g)) if g.contains(w) => {}
                _ => panic!("{what}: want {want:?}, got {got:?}"),
            }
        }
    }
}
