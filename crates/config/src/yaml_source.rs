//! YAML text → [`Node`], keeping each node's line and column, with anchors
//! and aliases resolved. Plain scalars are typed as YAML 1.2's core schema
//! types them (null, booleans, integers, floats); quoted ones are strings.

use std::collections::HashMap;
use std::path::Path;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::node::{Location, Node, Scalar, Value};
use crate::ConfigError;

enum Frame {
    Map {
        node: Node,
        key: Option<(String, Location)>,
        anchor: usize,
    },
    List {
        node: Node,
        anchor: usize,
    },
}

struct Builder<'a> {
    file: &'a Path,
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

impl Builder<'_> {
    fn loc(&self, mark: &Marker) -> Location {
        let line = u32::try_from(mark.line()).unwrap_or(u32::MAX);
        let col = u32::try_from(mark.col() + 1).unwrap_or(u32::MAX);
        Location::in_file(self.file, line, col)
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
            Some(Frame::Map { node: map, key, .. }) => match key.take() {
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
                        if entries.iter().any(|(e, _)| e.eq_ignore_ascii_case(&k)) {
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

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let loc = self.loc(&mark);
        match ev {
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map {
                    node: Node::empty_map(loc),
                    key: None,
                    anchor,
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
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        let line = u32::try_from(m.line()).unwrap_or(u32::MAX);
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
