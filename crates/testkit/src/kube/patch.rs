//! The patch formats a `PATCH` may carry: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902), and strategic merge patch, which the double
//! applies as a merge patch (lists replaced whole: the double knows no
//! patch strategies or merge keys, which a status patch does not need).

use serde_json::Value;

/// RFC 7386: objects merge key by key, `null` removes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Splits a JSON pointer into its unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// The parent container of `pointer` and the last token.
fn parent<'a>(doc: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), String> {
    let mut toks = tokens(pointer)?;
    let last = toks
        .pop()
        .ok_or_else(|| "cannot address the whole document".to_string())?;
    let mut at = doc;
    for t in &toks {
        at = match at {
            Value::Object(m) => m.get_mut(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path {pointer:?} does not exist"))?;
    }
    Ok((at, last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, last) = parent(doc, path)?;
    match container {
        Value::Object(m) => {
            m.insert(last, value);
            Ok(())
        }
        Value::Array(a) => {
            let index = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| format!("bad array index in {path:?}"))?
            };
            a.insert(index, value);
            Ok(())
        }
        _ => Err(format!("path {path:?} is not in a container")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (container, last) = parent(doc, path)?;
    match container {
        Value::Object(m) => m
            .remove(&last)
            .ok_or_else(|| format!("path {path:?} does not exist")),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(format!("bad array index in {path:?}")),
        },
        _ => Err(format!("path {path:?} is not in a container")),
    }
}

/// RFC 6902: applies every operation in order, or none on error.
pub fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or_else(|| "a JSON patch is an array of operations".to_string())?;
    let mut work = doc.clone();
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or("");
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("operation without a path: {op}"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("{name} without a value"))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{name} without from"))
        };
        match name {
            "add" => add(&mut work, path, value()?)?,
            "remove" => {
                remove(&mut work, path)?;
            }
            "replace" => {
                remove(&mut work, path)?;
                add(&mut work, path, value()?)?;
            }
            "move" => {
                let v = remove(&mut work, from()?)?;
                add(&mut work, path, v)?;
            }
            "copy" => {
                let v = work
                    .pointer(from()?)
                    .cloned()
                    .ok_or_else(|| format!("path {:?} does not exist", from().unwrap_or("")))?;
                add(&mut work, path, v)?;
            }
            "test" => {
                if work.pointer(path) != Some(&value()?) {
                    return Err(format!("test failed at {path:?}"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    *doc = work;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patches() {
        let cases = [
            (
                "replace a field",
                json!({"a": 1, "b": 2}),
                json!({"a": 3}),
                json!({"a": 3, "b": 2}),
            ),
            (
                "null removes",
                json!({"a": 1, "b": 2}),
                json!({"a": null}),
                json!({"b": 2}),
            ),
            (
                "nested",
                json!({"s": {"x": 1}}),
                json!({"s": {"y": 2}}),
                json!({"s": {"x": 1, "y": 2}}),
            ),
            (
                "lists replaced",
                json!({"l": [1, 2]}),
                json!({"l": [3]}),
                json!({"l": [3]}),
            ),
            (
                "into a scalar",
                json!({"s": 1}),
                json!({"s": {"y": 2}}),
                json!({"s": {"y": 2}}),
            ),
        ];
        for (what, mut doc, patch, want) in cases {
            merge(&mut doc, &patch);
            assert_eq!(doc, want, "{what}");
        }
    }

    #[test]
    fn json_patches() {
        let base = json!({"status": {"lb": [{"ip": "1.1.1.1"}]}, "a": 1});
        let cases = [
            (
                "add field",
                json!([{"op": "add", "path": "/b", "value": 2}]),
                Some(json!({"status": {"lb": [{"ip": "1.1.1.1"}]}, "a": 1, "b": 2})),
            ),
            (
                "append",
                json!([{"op": "add", "path": "/status/lb/-", "value": {"ip": "2.2.2.2"}}]),
                Some(json!({"status": {"lb": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}]}, "a": 1})),
            ),
            (
                "replace",
                json!([{"op": "replace", "path": "/status/lb/0/ip", "value": "3.3.3.3"}]),
                Some(json!({"status": {"lb": [{"ip": "3.3.3.3"}]}, "a": 1})),
            ),
            (
                "remove",
                json!([{"op": "remove", "path": "/a"}]),
                Some(json!({"status": {"lb": [{"ip": "1.1.1.1"}]}})),
            ),
            (
                "move",
                json!([{"op": "move", "from": "/a", "path": "/c"}]),
                Some(json!({"status": {"lb": [{"ip": "1.1.1.1"}]}, "c": 1})),
            ),
            (
                "test passes",
                json!([{"op": "test", "path": "/a", "value": 1}, {"op": "remove", "path": "/a"}]),
                Some(json!({"status": {"lb": [{"ip": "1.1.1.1"}]}})),
            ),
            (
                "test fails, nothing applied",
                json!([{"op": "remove", "path": "/a"}, {"op": "test", "path": "/a", "value": 2}]),
                None,
            ),
            (
                "remove missing",
                json!([{"op": "remove", "path": "/zz"}]),
                None,
            ),
            ("unknown op", json!([{"op": "frob", "path": "/a"}]), None),
        ];
        for (what, ops, want) in cases {
            let mut doc = base.clone();
            let result = json_patch(&mut doc, &ops);
            match want {
                Some(want) => {
                    assert!(result.is_ok(), "{what}: {result:?}");
                    assert_eq!(doc, want, "{what}");
                }
                None => {
                    assert!(result.is_err(), "{what} applied");
                    assert_eq!(doc, base, "{what} changed the document");
                }
            }
        }
    }
}
