//! Go `text/template`, the subset real Traefik configurations use, with the
//! sprig functions they call.
//!
//! Traefik renders every dynamic file of the file provider, and the Docker
//! provider's `defaultRule`, as a Go template. [`Template::parse`] reads the
//! text once; [`Template::render`] runs it on a [`Value`] with a
//! [`Functions`] table ([`Functions::standard`]: Go's builtins, the sprig
//! functions below and Traefik's `normalize`).
//!
//! What is read (as Go reads it): text and `{{ }}` actions, `{{-`/`-}}`
//! trimming, `{{/* comments */}}`, pipelines with `|`, `.A.B` fields of maps,
//! `$` and variables (`$x := ...`, `$x = ...`), `if`/`else if`/`else`,
//! `with`/`else with`/`else`, `range` over lists, maps (sorted keys) and
//! integers with `$i, $v :=`, `else`, `break` and `continue`,
//! `define`/`template`/`block`, parenthesised calls, string, raw-string,
//! character, number, `true`/`false`/`nil` literals. Go's truthiness (false,
//! 0, nil, empty string/list/map are false). An unknown function or variable
//! is a parse error, as in Go.
//!
//! Functions: Go's `and or not len index print printf println eq ne lt le gt
//! ge urlquery` (`printf` with `%s %d %v %q %x %X %t %f %%`, widths and
//! flags); sprig's `env expandenv default empty coalesce ternary quote squote
//! cat upper lower title trim trimAll trimPrefix trimSuffix replace repeat
//! contains hasPrefix hasSuffix split splitList join list dict get hasKey
//! keys first last has append sortAlpha until untilStep seq add sub mul div
//! mod max min atoi int int64 float64 toString b64enc b64dec regexMatch
//! regexReplaceAll indent nindent nospace`; Traefik's `normalize`.
//!
//! Errors read `name:line:col: message`, line from 1 and column from 0 (in
//! bytes) as Go counts them; Go's parse errors have no column, ours do.
//!
//! Deliberate differences from Go: a render
//! stops with an error past 64 MiB of output, 100 nested `template` calls,
//! or a generated list (`until`, `seq`, `repeat`) of more than a million
//! elements, where Go would run out of memory; `keys` returns sorted keys
//! (Go's map order is random).

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

/// A value a template reads or computes: Go's `interface{}` as JSON/YAML
/// data holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }

    /// Go's name of the type, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::String(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }
}

/// JSON data as a template sees it: integers stay integers.
impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::Map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

/// `fmt.Sprint` of a value: what an action writes (except for nil, which an
/// action writes as `<no value>`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printf::sprint_value(self))
    }
}

/// A function callable from a template.
pub type Function = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// The functions a template may call, by name.
#[derive(Clone, Default)]
pub struct Functions {
    map: HashMap<String, Function>,
}

impl Functions {
    /// No functions at all (`and` and `or`, which evaluate lazily, are always
    /// there).
    pub fn empty() -> Functions {
        Functions::default()
    }

    /// Go's builtins, the sprig functions of the module documentation and
    /// Traefik's `normalize`: what Traefik gives the Docker `defaultRule`.
    /// (The file provider replaces `split` with Go's `strings.Split`; see
    /// [`Functions::file_provider`].)
    pub fn standard() -> Functions {
        let mut f = Functions::default();
        funcs::install(&mut f);
        f
    }

    /// [`Functions::standard`] with `split` as Traefik's file provider has
    /// it: `split "a,b" ","` is Go's `strings.Split` (a list), not sprig's
    /// map of `_0`, `_1`, ...
    pub fn file_provider() -> Functions {
        let mut f = Functions::standard();
        funcs::install_file_split(&mut f);
        f
    }

    /// Adds (or replaces) a function.
    pub fn insert(
        &mut self,
        name: &str,
        f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static,
    ) -> &mut Functions {
        self.map.insert(name.to_string(), Arc::new(f));
        self
    }

    /// Whether `name` can be called (`and` and `or` always can).
    pub fn contains(&self, name: &str) -> bool {
        matches!(name, "and" | "or") || self.map.contains_key(name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Function> {
        self.map.get(name)
    }
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Functions").field("names", &names).finish()
    }
}

/// A parse or execution error, located in the template's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    name: String,
    line: usize,
    col: usize,
    message: String,
}

impl TemplateError {
    pub(crate) fn at(name: &str, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = 1 + before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before.len().saturating_sub(line_start);
        TemplateError {
            name: name.to_string(),
            line,
            col,
            message: message.into(),
        }
    }

    /// The template's name, as given to [`Template::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based line of the text where the error is.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Column of the text where the error is, in bytes from 0, as Go counts.
    pub fn col(&self) -> usize {
        self.col
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.name, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// A parsed template: its main body and the templates it `define`s.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    text: Arc<str>,
    root: parse::List,
    defined: BTreeMap<String, parse::List>,
}

impl Template {
    /// Parses `text`; a function not in [`Functions::standard`] is an error.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        Template::parse_with(name, text, &Functions::standard())
    }

    /// Parses `text`, accepting the functions of `funcs`.
    pub fn parse_with(
        name: &str,
        text: &str,
        funcs: &Functions,
    ) -> Result<Template, TemplateError> {
        let tokens =
            lex::lex(text).map_err(|(pos, msg)| TemplateError::at(name, text, pos, msg))?;
        let parsed = parse::parse(tokens, funcs)
            .map_err(|(pos, msg)| TemplateError::at(name, text, pos, msg))?;
        Ok(Template {
            name: name.to_string(),
            text: Arc::from(text),
            root: parsed.root,
            defined: parsed.defined,
        })
    }

    /// Whether the text has any action at all (`{{`): a template without
    /// one renders to itself.
    pub fn has_actions(&self) -> bool {
        self.root
            .nodes
            .iter()
            .any(|n| !matches!(n, parse::Node::Text(_)))
            || !self.defined.is_empty()
    }

    /// Runs the template with `data` as `.` and `$`.
    pub fn render(&self, data: &Value, funcs: &Functions) -> Result<String, TemplateError> {
        exec::render(self, data, funcs)
            .map_err(|(pos, msg)| TemplateError::at(&self.name, &self.text, pos, msg))
    }
}
