//! Multi-document YAML manifests read into JSON objects, as `kubectl`
//! reads them (empty documents and `List` kinds unwrapped).

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

fn to_json(yaml: &Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null | Yaml::BadValue => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::Number(Number::from(*i)),
        Yaml::Real(text) => {
            let f: f64 = text
                .parse()
                .map_err(|_| format!("invalid number {text:?}"))?;
            Number::from_f64(f).map_or(Value::Null, Value::Number)
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Hash(hash) => {
            let mut map = Map::new();
            for (k, v) in hash {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    Yaml::Real(r) => r.clone(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                map.insert(key, to_json(v)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".to_string()),
    })
}

/// Every object of a manifest: documents in order, `kind: List` unwrapped,
/// empty documents skipped. JSON input is YAML too.
pub fn objects(text: &str) -> Result<Vec<Value>, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("manifest: {e}"))?;
    let mut out = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let value = to_json(doc).map_err(|e| format!("manifest document {}: {e}", i + 1))?;
        match value {
            Value::Null => {}
            Value::Object(ref m)
                if m.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                if let Some(Value::Array(items)) = m.get("items") {
                    out.extend(items.iter().cloned());
                }
            }
            Value::Object(_) => out.push(value),
            other => {
                return Err(format!(
                    "manifest document {} is not an object: {other}",
                    i + 1
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn documents() {
        let text = "---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80, name: http}]\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}, data: {k: dg==}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}, data: {ratio: '1.5', on: 'true'}}\n";
        let objs = super::objects(text).expect("parses");
        let kinds: Vec<&str> = objs.iter().filter_map(|o| o["kind"].as_str()).collect();
        assert_eq!(kinds, ["Service", "Secret", "ConfigMap"]);
        assert_eq!(objs[0]["spec"]["ports"][0]["port"], 80);
        assert_eq!(objs[2]["data"]["ratio"], "1.5");
        assert!(super::objects("- a\n- b\n").is_err());
        assert!(super::objects("a: [").is_err());
    }
}
