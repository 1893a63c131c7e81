//! The serde deserializer over a [`Node`] tree, with Traefik's decoding
//! rules: struct fields match case-insensitively and unknown fields are
//! errors; strings convert to the numbers, booleans and durations a field
//! asks for; a string fills a list by splitting on commas; `true`, an empty
//! string or null stand for a section with all its defaults. Every error
//! carries the offending node's location and field path.

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use crate::node::{Location, Node, Scalar, Value, HANDOFF, NODE_TOKEN};
use crate::ConfigError;

/// Decodes `node` into `T`.
pub fn from_node<T: de::DeserializeOwned>(node: &Node) -> Result<T, ConfigError> {
    T::deserialize(NodeDe { node }).map_err(|e| locate(e, &node.location))
}

fn locate(mut e: ConfigError, loc: &Location) -> ConfigError {
    if e.location.is_none() {
        e.location = Some(loc.clone());
    }
    e
}

fn in_field(mut e: ConfigError, seg: String, loc: &Location) -> ConfigError {
    e.path.insert(0, seg);
    locate(e, loc)
}

#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
}

impl<'a> NodeDe<'a> {
    fn err(&self, msg: impl Into<String>) -> ConfigError {
        ConfigError::at(self.node.location.clone(), msg)
    }

    fn text(&self) -> Option<String> {
        match &self.node.value {
            Value::Scalar(s) => Some(s.as_text()),
            _ => None,
        }
    }

    fn describe(&self) -> String {
        match &self.node.value {
            Value::Map(_) => "a map".into(),
            Value::List(_) => "a list".into(),
            Value::Scalar(Scalar::Null) => "nothing".into(),
            Value::Scalar(s) => format!("{:?}", s.as_text()),
        }
    }

    fn int(&self) -> Result<i128, ConfigError> {
        match &self.node.value {
            Value::Scalar(Scalar::Int(i)) => Ok(i128::from(*i)),
            Value::Scalar(Scalar::Str(s)) => s
                .trim()
                .parse::<i128>()
                .map_err(|_| self.err(format!("invalid value {s:?}: expected an integer"))),
            _ => Err(self.err(format!(
                "invalid value {}: expected an integer",
                self.describe()
            ))),
        }
    }

    fn float(&self) -> Result<f64, ConfigError> {
        match &self.node.value {
            Value::Scalar(Scalar::Int(i)) => Ok(*i as f64),
            Value::Scalar(Scalar::Float(x)) => Ok(*x),
            Value::Scalar(Scalar::Str(s)) => s
                .trim()
                .parse::<f64>()
                .map_err(|_| self.err(format!("invalid value {s:?}: expected a number"))),
            _ => Err(self.err(format!(
                "invalid value {}: expected a number",
                self.describe()
            ))),
        }
    }
}

macro_rules! int_method {
    ($name:ident, $visit:ident, $t:ty) => {
        fn $name<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
            let n = self.int()?;
            let n =
                <$t>::try_from(n).map_err(|_| self.err(format!("value {n} is out of range")))?;
            v.$visit(n)
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = ConfigError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match &self.node.value {
            Value::Map(m) => v.visit_map(MapAccess::new(m, None)),
            Value::List(l) => v.visit_seq(OwnedSeq {
                items: l.iter().cloned().enumerate(),
            }),
            Value::Scalar(Scalar::Null) => v.visit_unit(),
            Value::Scalar(Scalar::Bool(b)) => v.visit_bool(*b),
            Value::Scalar(Scalar::Int(i)) => v.visit_i64(*i),
            Value::Scalar(Scalar::Float(x)) => v.visit_f64(*x),
            Value::Scalar(Scalar::Str(s)) => v.visit_str(s),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match &self.node.value {
            Value::Scalar(Scalar::Bool(b)) => v.visit_bool(*b),
            Value::Scalar(Scalar::Str(s)) if s.eq_ignore_ascii_case("true") || s.is_empty() => {
                v.visit_bool(true)
            }
            Value::Scalar(Scalar::Str(s)) if s.eq_ignore_ascii_case("false") => v.visit_bool(false),
            _ => Err(self.err(format!(
                "invalid value {}: expected true or false",
                self.describe()
            ))),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8);
    int_method!(deserialize_i16, visit_i16, i16);
    int_method!(deserialize_i32, visit_i32, i32);
    int_method!(deserialize_i64, visit_i64, i64);
    int_method!(deserialize_u8, visit_u8, u8);
    int_method!(deserialize_u16, visit_u16, u16);
    int_method!(deserialize_u32, visit_u32, u32);
    int_method!(deserialize_u64, visit_u64, u64);

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        v.visit_f32(self.float()? as f32)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        v.visit_f64(self.float()?)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match self.text() {
            Some(t) => v.visit_string(t),
            None => Err(self.err(format!(
                "invalid value {}: expected a string",
                self.describe()
            ))),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        self.deserialize_str(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match &self.node.value {
            Value::Scalar(Scalar::Null) => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        v.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, ConfigError> {
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, ConfigError> {
        if name == NODE_TOKEN {
            HANDOFF.with(|h| *h.borrow_mut() = Some(self.node.clone()));
            return v.visit_unit();
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match &self.node.value {
            Value::List(l) => v.visit_seq(OwnedSeq {
                items: l.iter().cloned().enumerate(),
            }),
            Value::Scalar(Scalar::Null) => {
                v.visit_seq(de::value::SeqDeserializer::new(std::iter::empty::<String>()))
            }
            Value::Scalar(s) => {
                // `a,b,c` from a flag, an env var, or a YAML scalar.
                let text = s.as_text();
                let parts: Vec<Node> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| Node::scalar(Scalar::Str(p.to_string()), self.node.location.clone()))
                    .collect();
                v.visit_seq(OwnedSeq {
                    items: parts.into_iter().enumerate(),
                })
            }
            Value::Map(m) if m.iter().all(|(k, _)| k.parse::<usize>().is_ok()) => {
                // Indexed keys (`servers.0.url`) from a flat source.
                let mut items: Vec<(usize, Node)> = m
                    .iter()
                    .filter_map(|(k, n)| Some((k.parse().ok()?, n.clone())))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                v.visit_seq(OwnedSeq {
                    items: items
                        .into_iter()
                        .map(|(_, n)| n)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .enumerate(),
                })
            }
            _ => Err(self.err(format!(
                "invalid value {}: expected a list",
                self.describe()
            ))),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, ConfigError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        match &self.node.value {
            Value::Map(m) => v.visit_map(MapAccess::new(m, None)),
            Value::Scalar(Scalar::Null) => v.visit_map(MapAccess::new(&[], None)),
            _ => Err(self.err(format!("invalid value {}: expected a map", self.describe()))),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ConfigError> {
        let result = match &self.node.value {
            Value::Map(m) => v.visit_map(MapAccess::new(m, Some(fields))),
            // `--api`, `ping: {}`, `ping:` → the section with its defaults.
            Value::Scalar(Scalar::Null) => v.visit_map(MapAccess::new(&[], Some(fields))),
            Value::Scalar(Scalar::Bool(true)) => v.visit_map(MapAccess::new(&[], Some(fields))),
            Value::Scalar(Scalar::Str(s)) if s.is_empty() || s.eq_ignore_ascii_case("true") => {
                v.visit_map(MapAccess::new(&[], Some(fields)))
            }
            _ => Err(self.err(format!(
                "invalid value {}: expected a section ({name})",
                self.describe()
            ))),
        };
        result.map_err(|e| locate(e, &self.node.location))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ConfigError> {
        match self.text() {
            Some(t) => v.visit_enum(t.into_deserializer()),
            None => Err(self.err(format!(
                "invalid value {}: expected a name",
                self.describe()
            ))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ConfigError> {
        v.visit_unit()
    }
}

struct OwnedSeq<I: Iterator<Item = (usize, Node)>> {
    items: I,
}

impl<'de, I: Iterator<Item = (usize, Node)>> de::SeqAccess<'de> for OwnedSeq<I> {
    type Error = ConfigError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ConfigError> {
        match self.items.next() {
            Some((i, node)) => seed
                .deserialize(NodeDe { node: &node })
                .map(Some)
                .map_err(|e| in_field(e, format!("[{i}]"), &node.location)),
            None => Ok(None),
        }
    }

    /// The exact length when known, so that a list is decoded into a vector
    /// of that capacity (one server: one slot, not the four of a vector
    /// grown by pushes; at 10,000 services that is megabytes).
    fn size_hint(&self) -> Option<usize> {
        match self.items.size_hint() {
            (low, Some(high)) if low == high => Some(low),
            _ => None,
        }
    }
}

struct MapAccess<'a> {
    entries: std::slice::Iter<'a, (String, Node)>,
    /// A struct's declared fields, to match keys case-insensitively.
    fields: Option<&'static [&'static str]>,
    current: Option<&'a (String, Node)>,
}

impl<'a> MapAccess<'a> {
    fn new(
        entries: &'a [(String, Node)],
        fields: Option<&'static [&'static str]>,
    ) -> MapAccess<'a> {
        MapAccess {
            entries: entries.iter(),
            fields,
            current: None,
        }
    }
}

impl<'de, 'a> de::MapAccess<'de> for MapAccess<'a> {
    type Error = ConfigError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ConfigError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        let (key, value) = (&entry.0, &entry.1);
        let key = match self.fields {
            Some(fields) => match fields.iter().find(|f| f.eq_ignore_ascii_case(key)) {
                Some(f) => (*f).to_string(),
                None => {
                    return Err(ConfigError {
                        location: Some(value.location.clone()),
                        path: vec![key.clone()],
                        message: format!("field not found: {key:?} is not a known option here"),
                    })
                }
            },
            None => key.clone(),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ConfigError> {
        let Some((key, node)) = self.current else {
            return Err(ConfigError::new("value without a key"));
        };
        seed.deserialize(NodeDe { node })
            .map_err(|e| in_field(e, key.clone(), &node.location))
    }
}
