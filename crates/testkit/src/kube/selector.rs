//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists, `>`,
//! `<`) and field selectors (`=`, `==`, `!=` on the fields the API server
//! indexes) as the API server parses them from `labelSelector` and
//! `fieldSelector`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Greater(i64),
    Less(i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<(String, Op)>);

/// Splits on commas outside parentheses.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised set, found {rest:?}"))?;
    let values: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if let Some(bad) = values.iter().find(|v| !valid_value(v)) {
        return Err(format!("invalid label value: {bad:?}"));
    }
    Ok(values)
}

impl LabelSelector {
    /// Parses a `labelSelector` query value.
    pub fn parse(text: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for part in split_top(text) {
            let part = part.trim();
            let req = if let Some(key) = part.strip_prefix('!') {
                (key.trim().to_string(), Op::DoesNotExist)
            } else if let Some((k, v)) = part.split_once("!=") {
                (k.trim().to_string(), Op::NotEquals(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once("==") {
                (k.trim().to_string(), Op::Equals(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once('=') {
                (k.trim().to_string(), Op::Equals(v.trim().to_string()))
            } else if let Some((k, v)) = part.split_once('>') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid number in {part:?}"))?;
                (k.trim().to_string(), Op::Greater(n))
            } else if let Some((k, v)) = part.split_once('<') {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("invalid number in {part:?}"))?;
                (k.trim().to_string(), Op::Less(n))
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                (k.trim().to_string(), Op::NotIn(parse_set(rest)?))
            } else if let Some((k, rest)) = part.split_once(" in ") {
                (k.trim().to_string(), Op::In(parse_set(rest)?))
            } else {
                (part.to_string(), Op::Exists)
            };
            if !valid_key(&req.0) {
                return Err(format!("invalid label key {:?} in {part:?}", req.0));
            }
            if let Op::Equals(v) | Op::NotEquals(v) = &req.1 {
                if !valid_value(v) {
                    return Err(format!("invalid label value: {v:?}"));
                }
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|(key, op)| {
            let value = get(key);
            match op {
                Op::Equals(v) => value == Some(v.as_str()),
                Op::NotEquals(v) => value != Some(v.as_str()),
                Op::In(set) => value.is_some_and(|x| set.iter().any(|v| v == x)),
                Op::NotIn(set) => !value.is_some_and(|x| set.iter().any(|v| v == x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
                Op::Greater(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                Op::Less(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// The fields the API server accepts in a field selector, beyond
/// `metadata.name` and `metadata.namespace` (which every kind has).
fn extra_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Secret" => &["type"],
        "Pod" => &["spec.nodeName", "status.phase"],
        "Node" => &["spec.unschedulable"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses a `fieldSelector` query value for objects of `kind`.
    pub fn parse(text: &str, kind: &str) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        if text.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for part in text.split(',') {
            let part = part.trim();
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace")
                && !extra_fields(kind).contains(&field)
            {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object's fields satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(field, equal, want)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let have = match object.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => other.to_string(),
                // A cluster-scoped object has the empty namespace.
                None => String::new(),
            };
            (have == *want) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front", "n": "5"}}});
        let none = json!({"metadata": {}});
        // (description, selector, matches obj, matches object without labels)
        let cases = [
            ("empty matches all", "", true, true),
            ("equals", "app=web", true, false),
            ("double equals", "app==web", true, false),
            ("equals other value", "app=api", false, false),
            ("not equals", "app!=api", true, true),
            ("not equals same", "app!=web", false, true),
            ("in", "app in (api, web)", true, false),
            ("in without", "app in (api,db)", false, false),
            ("notin", "app notin (api,db)", true, true),
            ("notin with", "app notin (web)", false, true),
            ("exists", "tier", true, false),
            ("does not exist", "!tier", false, true),
            ("missing exists", "owner", false, false),
            ("helm filter", "owner!=helm", true, true),
            ("conjunction", "app=web,tier in (front),!owner", true, false),
            ("conjunction fails", "app=web,tier=back", false, false),
            ("greater", "n>4", true, false),
            ("less", "n<5", false, false),
            ("spaces", " app = web , tier ", true, false),
        ];
        for (what, text, want_obj, want_none) in cases {
            let sel = LabelSelector::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(sel.matches(&obj), want_obj, "{what}: {text}");
            assert_eq!(sel.matches(&none), want_none, "{what} (no labels): {text}");
        }
    }

    #[test]
    fn bad_label_selectors() {
        for text in ["app in web", "app=(x)", "a b", "n>x", "=x", "app in (a b)"] {
            assert!(LabelSelector::parse(text).is_err(), "{text} parsed");
        }
    }

    #[test]
    fn field_selectors() {
        let obj = json!({"type": "Opaque", "metadata": {"name": "a", "namespace": "ns"}});
        let cases = [
            ("name", "metadata.name=a", "Service", true),
            ("name other", "metadata.name=b", "Service", false),
            ("namespace", "metadata.namespace==ns", "Service", true),
            ("not namespace", "metadata.namespace!=ns", "Service", false),
            (
                "both",
                "metadata.name=a,metadata.namespace=ns",
                "Service",
                true,
            ),
            ("secret type", "type=Opaque", "Secret", true),
        ];
        for (what, text, kind, want) in cases {
            let sel = FieldSelector::parse(text, kind).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(sel.matches(&obj), want, "{what}");
        }
        let err = FieldSelector::parse("spec.type=x", "Service").err();
        assert_eq!(err.as_deref(), Some("field label not supported: spec.type"));
        assert!(FieldSelector::parse("metadata.name", "Service").is_err());
    }
}
