//! The rules, priorities and names Traefik makes of a route match: Go
//! quoting, hostnames intersected with the listener's, path, method,
//! header and query matchers.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::text;

/// Go's `%q` of a string: double quotes, `\` and `"` escaped, control
/// characters as escapes.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `regexp.QuoteMeta`.
pub(crate) fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `<key>-<hash>`: the first 10 bytes (hex) of the SHA-256 of the
/// route's place (each part written `<length>:<part>`, so that no two
/// places run together) followed by the rule, as Traefik 3.7 names them.
pub(crate) fn router_name(key: &str, place: &[&str], rule: &str) -> String {
    let mut hasher = Sha256::new();
    for part in place {
        hasher.update(format!("{}:{part}", part.len()).as_bytes());
    }
    hasher.update(rule.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{key}-{hex}")
}

/// The route hostnames a listener takes: the intersection of both, the
/// more specific of a wildcard and a name it covers.
pub(crate) fn matching_hostnames(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    let Some(listener) = listener else {
        return Some(route.to_vec());
    };
    if route.is_empty() {
        return Some(vec![listener.to_string()]);
    }
    let covers = |wide: &str, narrow: &str| -> Option<String> {
        if wide == narrow {
            return Some(wide.to_string());
        }
        let suffix = wide.strip_prefix('*')?;
        (wide.starts_with("*.") && narrow.ends_with(suffix)).then(|| narrow.to_string())
    };
    let matches: Vec<String> = route
        .iter()
        .filter_map(|r| covers(listener, r).or_else(|| covers(r, listener)))
        .collect();
    (!matches.is_empty()).then_some(matches)
}

/// `Host(...)` / `HostRegexp(...)` of the hostnames, and the longest's
/// length (a route with hosts wins over the same without).
pub(crate) fn host_rule(hostnames: &[String]) -> (String, i64) {
    let mut rules = Vec::new();
    let mut priority = 0;
    for host in hostnames {
        priority = priority.max(host.len() as i64);
        if !host.contains('*') {
            rules.push(format!("Host({})", go_quote(host)));
            continue;
        }
        let quoted = quote_meta(host).replacen("\\*\\.", "[a-z0-9-\\.]+\\.", 1);
        rules.push(format!("HostRegexp({})", go_quote(&format!("^{quoted}$"))));
    }
    match rules.len() {
        0 => (String::new(), 0),
        1 => (rules.remove(0), priority),
        _ => (format!("({})", rules.join(" || ")), priority),
    }
}

fn path_rule(path: Option<&Value>) -> (String, i64) {
    let (kind, value) = match path {
        Some(p) => (
            text(p, "/type"),
            p.get("value")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_string(),
        ),
        None => ("PathPrefix".to_string(), "/".to_string()),
    };
    let long = 10_000 + value.len() as i64 * 100;
    match kind.as_str() {
        "Exact" => (format!("Path({})", go_quote(&value)), 100_000),
        "RegularExpression" => (format!("PathRegexp({})", go_quote(&value)), long),
        "PathPrefix" | "" if value != "/" => {
            let trimmed = value.strip_suffix('/').unwrap_or(&value);
            (
                format!(
                    "(Path({}) || PathPrefix({}))",
                    go_quote(trimmed),
                    go_quote(&format!("{trimmed}/"))
                ),
                long,
            )
        }
        _ => ("PathPrefix(\"/\")".to_string(), 1),
    }
}

fn pair_rules(list: Option<&Value>, exact: &str, regexp: &str) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|h| {
            let f = match h.get("type").and_then(Value::as_str).unwrap_or("Exact") {
                "Exact" => exact,
                "RegularExpression" => regexp,
                _ => return None,
            };
            Some(format!(
                "{f}({},{})",
                go_quote(&text(h, "/name")),
                go_quote(&text(h, "/value"))
            ))
        })
        .collect()
}

/// An HTTPRoute match's rule and priority (exact path 100000, prefix or
/// regexp 10000 + 100 per character, method 1000, 100 per header, 10 per
/// query parameter, plus the longest hostname).
pub(crate) fn http_match_rule(hostnames: &[String], m: &Value) -> (String, i64) {
    let (path, mut priority) = path_rule(m.get("path").filter(|p| !p.is_null()));
    let mut rules = vec![path];
    if let Some(method) = m.get("method").and_then(Value::as_str) {
        rules.push(format!("Method({})", go_quote(method)));
        priority += 1000;
    }
    let headers = pair_rules(m.get("headers"), "Header", "HeaderRegexp");
    priority += m
        .get("headers")
        .and_then(Value::as_array)
        .map_or(0, |l| l.len() as i64 * 100);
    rules.extend(headers);
    let query = pair_rules(m.get("queryParams"), "Query", "QueryRegexp");
    priority += m
        .get("queryParams")
        .and_then(Value::as_array)
        .map_or(0, |l| l.len() as i64 * 10);
    rules.extend(query);
    let rule = rules.join(" && ");
    let (host, host_priority) = host_rule(hostnames);
    if host.is_empty() {
        (rule, priority)
    } else {
        (format!("{host} && {rule}"), priority + host_priority)
    }
}

/// A GRPCRoute match's rule and priority (the rule's length plus the
/// longest hostname).
pub(crate) fn grpc_match_rule(hostnames: &[String], m: &Value) -> (String, i64) {
    let method = match m.get("method").filter(|v| !v.is_null()) {
        None => "PathPrefix(\"/\")".to_string(),
        Some(method) => {
            let exact = method
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "Exact");
            let part = |key: &str| {
                let v = text(method, key);
                if v.is_empty() {
                    "[^/]+".to_string()
                } else if exact {
                    quote_meta(&v)
                } else {
                    v
                }
            };
            format!(
                "PathRegexp({})",
                go_quote(&format!("/{}/{}", part("/service"), part("/method")))
            )
        }
    };
    let mut rules = vec![method];
    rules.extend(pair_rules(m.get("headers"), "Header", "HeaderRegexp"));
    let rule = rules.join(" && ");
    let (host, host_priority) = host_rule(hostnames);
    if host.is_empty() {
        let n = rule.len() as i64;
        (rule, n)
    } else {
        let n = rule.len() as i64;
        (format!("{host} && {rule}"), host_priority + n)
    }
}
