//! The source-independent configuration tree.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Where a node came from. `line` and `column` are 1-based; 0 when unknown
/// (flags and environment variables have a source name instead of a file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub source: Option<Arc<str>>,
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub fn in_file(file: &Path, line: u32, column: u32) -> Location {
        Location {
            source: Some(Arc::from(file.display().to_string())),
            line,
            column,
        }
    }

    pub fn named(source: &str) -> Location {
        Location {
            source: Some(Arc::from(source)),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = self.source.as_deref().unwrap_or("<config>");
        match (self.line, self.column) {
            (0, _) => write!(f, "{source}"),
            (l, 0) => write!(f, "{source}:{l}"),
            (l, c) => write!(f, "{source}:{l}:{c}"),
        }
    }
}

/// A scalar as its source typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The scalar as text (how a string field reads a number).
    pub fn as_text(&self) -> String {
        match self {
            Scalar::Null => String::new(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub enum Value {
    /// Keys in source order, unique.
    Map(Vec<(String, Node)>),
    List(Vec<Node>),
    Scalar(Scalar),
}

/// A value and where it came from. Equality ignores locations, so moving a
/// block within a file is not a change.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: Value,
    pub location: Location,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (&self.value, &other.value) {
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Scalar(a), Value::Scalar(b)) => a == b,
            _ => false,
        }
    }
}

impl Node {
    pub fn new(value: Value, location: Location) -> Node {
        Node { value, location }
    }

    pub fn empty_map(location: Location) -> Node {
        Node::new(Value::Map(Vec::new()), location)
    }

    pub fn scalar(s: Scalar, location: Location) -> Node {
        Node::new(Value::Scalar(s), location)
    }

    /// A map's entries (empty for other nodes).
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// The entry `key` of a map, case-insensitively.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }

    /// Whether this is null, an empty map, or an empty string.
    pub fn is_empty(&self) -> bool {
        match &self.value {
            Value::Map(m) => m.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Scalar(Scalar::Null) => true,
            Value::Scalar(Scalar::Str(s)) => s.is_empty(),
            Value::Scalar(_) => false,
        }
    }

    /// The node as JSON (for the API and logs).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::List(l) => serde_json::Value::Array(l.iter().map(Node::to_json).collect()),
            Value::Scalar(Scalar::Null) => serde_json::Value::Null,
            Value::Scalar(Scalar::Bool(b)) => serde_json::Value::Bool(*b),
            Value::Scalar(Scalar::Int(i)) => serde_json::Value::from(*i),
            Value::Scalar(Scalar::Float(x)) => serde_json::Value::from(*x),
            Value::Scalar(Scalar::Str(s)) => serde_json::Value::String(s.clone()),
        }
    }

    /// Inserts `child` at `key` of a map node, merging maps that already
    /// exist there (used by the flat-key builder).
    pub fn insert(&mut self, key: &str, child: Node) {
        if let Value::Map(m) = &mut self.value {
            if let Some((_, existing)) = m.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                *existing = child;
            } else {
                m.push((key.to_string(), child));
            }
        }
    }
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// The newtype name through which [`crate::decode`] hands a node over whole,
/// locations included.
pub(crate) const NODE_TOKEN: &str = "$switchyard::Node";

thread_local! {
    /// One synchronous hand-over from the decoder to `Node::deserialize`.
    pub(crate) static HANDOFF: std::cell::RefCell<Option<Node>> = const { std::cell::RefCell::new(None) };
}

impl<'de> serde::Deserialize<'de> for Node {
    /// Through [`crate::decode`], the original node with its locations;
    /// through any other deserializer, the data without them.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any configuration value")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Node, E> {
                HANDOFF
                    .with(|h| h.borrow_mut().take())
                    .ok_or_else(|| E::custom("configuration node hand-over missing"))
            }
            fn visit_newtype_struct<D2: serde::Deserializer<'de>>(
                self,
                d: D2,
            ) -> Result<Node, D2::Error> {
                let json = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                Ok(from_json(&json))
            }
        }
        d.deserialize_newtype_struct(NODE_TOKEN, V)
    }
}

fn from_json(v: &serde_json::Value) -> Node {
    let loc = Location::default();
    let value = match v {
        serde_json::Value::Null => Value::Scalar(Scalar::Null),
        serde_json::Value::Bool(b) => Value::Scalar(Scalar::Bool(*b)),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Scalar(Scalar::Int(i)),
            None => Value::Scalar(Scalar::Float(n.as_f64().unwrap_or_default())),
        },
        serde_json::Value::String(s) => Value::Scalar(Scalar::Str(s.clone())),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Map(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
        }
    };
    Node::new(value, loc)
}
