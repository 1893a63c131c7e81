//! TOML text → [`Node`], with each node's line and column.

use std::path::Path;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::node::{Location, Node, Scalar, Value};
use crate::ConfigError;

struct Lines<'a> {
    file: &'a Path,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
}

impl Lines<'_> {
    fn loc(&self, offset: usize) -> Location {
        let line = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let col = offset - self.starts.get(line).copied().unwrap_or(0);
        Location::in_file(
            self.file,
            u32::try_from(line + 1).unwrap_or(u32::MAX),
            u32::try_from(col + 1).unwrap_or(u32::MAX),
        )
    }
}

fn convert(lines: &Lines<'_>, v: &Spanned<DeValue<'_>>) -> Result<Node, ConfigError> {
    let loc = lines.loc(v.span().start);
    let value = match v.get_ref() {
        DeValue::String(s) => Value::Scalar(Scalar::Str(s.to_string())),
        DeValue::Integer(i) => {
            let text = i.as_str().replace('_', "");
            let n = i64::from_str_radix(&text, i.radix()).map_err(|_| {
                ConfigError::at(loc.clone(), format!("integer {text} is out of range"))
            })?;
            Value::Scalar(Scalar::Int(n))
        }
        DeValue::Float(x) => {
            let text = x.as_str().replace('_', "");
            let f = match text.as_str() {
                "inf" | "+inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" | "+nan" | "-nan" => f64::NAN,
                t => t
                    .parse()
                    .map_err(|_| ConfigError::at(loc.clone(), format!("invalid float {t}")))?,
            };
            Value::Scalar(Scalar::Float(f))
        }
        DeValue::Boolean(b) => Value::Scalar(Scalar::Bool(*b)),
        DeValue::Datetime(d) => Value::Scalar(Scalar::Str(d.to_string())),
        DeValue::Array(items) => Value::List(
            items
                .iter()
                .map(|i| convert(lines, i))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => return table(lines, t, loc),
    };
    Ok(Node::new(value, loc))
}

fn table(lines: &Lines<'_>, t: &DeTable<'_>, loc: Location) -> Result<Node, ConfigError> {
    let mut entries = Vec::new();
    for (k, v) in t.iter() {
        entries.push((k.get_ref().to_string(), convert(lines, v)?));
    }
    Ok(Node::new(Value::Map(entries), loc))
}

/// Parses TOML `text` read from `file`.
pub fn parse(file: &Path, text: &str) -> Result<Node, ConfigError> {
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let lines = Lines { file, starts };
    let doc = DeTable::parse(text).map_err(|e| {
        let loc = e
            .span()
            .map(|s| lines.loc(s.start))
            .unwrap_or_else(|| Location::in_file(file, 0, 0));
        ConfigError::at(loc, format!("TOML syntax error: {}", e.message().trim()))
    })?;
    table(&lines, doc.get_ref(), Location::in_file(file, 1, 1))
}
