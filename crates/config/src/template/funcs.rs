//! The function table: Go's builtins, the sprig functions configurations
//! use, and Traefik's `normalize`. Each takes its arguments as Go would
//! (typed parameters reject other types; sprig's `interface{}` parameters
//! convert as sprig's `cast` does).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use base64::Engine as _;

use super::printf::{quote, sprint, sprint_value, sprintf, sprintln};
use super::{Functions, Value};

type FResult = Result<Value, String>;

/// Lists a function may build (`until`, `seq`, `repeat`) stop here.
const MAX_GENERATED: i64 = 1_000_000;

pub(crate) fn install(f: &mut Functions) {
    // Go's builtins.
    f.insert("not", |a| Ok(Value::Bool(!one(a)?.truthy())));
    f.insert("len", |a| go_len(one(a)?));
    f.insert("index", go_index);
    f.insert("print", |a| Ok(Value::String(sprint(a))));
    f.insert("println", |a| Ok(Value::String(sprintln(a))));
    f.insert("printf", |a| {
        let format = string_arg(a, 0)?;
        Ok(Value::String(sprintf(format, &a[1..])))
    });
    f.insert("urlquery", |a| Ok(Value::String(query_escape(&sprint(a)))));
    f.insert("eq", |a| eq(a).map(Value::Bool));
    f.insert("ne", |a| {
        exact(a, 2)?;
        eq(a).map(|b| Value::Bool(!b))
    });
    f.insert("lt", |a| {
        compare(a).map(|o| Value::Bool(o == Ordering::Less))
    });
    f.insert("le", |a| {
        compare(a).map(|o| Value::Bool(o != Ordering::Greater))
    });
    f.insert("gt", |a| {
        compare(a).map(|o| Value::Bool(o == Ordering::Greater))
    });
    f.insert("ge", |a| {
        compare(a).map(|o| Value::Bool(o != Ordering::Less))
    });

    // sprig: environment and defaults.
    f.insert("env", |a| {
        Ok(Value::String(
            std::env::var(string_arg(a, 0)?).unwrap_or_default(),
        ))
    });
    f.insert("expandenv", |a| {
        Ok(Value::String(expand_env(string_arg(a, 0)?)))
    });
    f.insert("default", |a| {
        if a.is_empty() {
            return Err(want_at_least(1, 0));
        }
        match a.get(1) {
            Some(v) if v.truthy() => Ok(v.clone()),
            _ => Ok(a[0].clone()),
        }
    });
    f.insert("empty", |a| Ok(Value::Bool(!one(a)?.truthy())));
    f.insert("coalesce", |a| {
        Ok(a.iter().find(|v| v.truthy()).cloned().unwrap_or(Value::Nil))
    });
    f.insert("ternary", |a| {
        exact(a, 3)?;
        match &a[2] {
            Value::Bool(true) => Ok(a[0].clone()),
            Value::Bool(false) => Ok(a[1].clone()),
            other => Err(wrong_type("bool", other)),
        }
    });

    // sprig: strings.
    f.insert("quote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| quote(&strval(v)))
            .collect();
        Ok(Value::String(parts.join(" ")))
    });
    f.insert("squote", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(|v| format!("'{}'", strval(v)))
            .collect();
        Ok(Value::String(parts.join(" ")))
    });
    f.insert("cat", |a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|v| !matches!(v, Value::Nil))
            .map(sprint_value)
            .collect();
        Ok(Value::String(parts.join(" ")))
    });
    f.insert("upper", |a| str1(a, |s| s.to_uppercase()));
    f.insert("lower", |a| str1(a, |s| s.to_lowercase()));
    f.insert("title", |a| str1(a, title));
    f.insert("trim", |a| str1(a, |s| s.trim().to_string()));
    f.insert("nospace", |a| {
        str1(a, |s| s.chars().filter(|c| !c.is_whitespace()).collect())
    });
    f.insert("trimAll", |a| {
        let (cut, s) = str2(a)?;
        Ok(Value::String(
            s.trim_matches(|c| cut.contains(c)).to_string(),
        ))
    });
    f.insert("trimPrefix", |a| {
        let (p, s) = str2(a)?;
        Ok(Value::String(s.strip_prefix(p).unwrap_or(s).to_string()))
    });
    f.insert("trimSuffix", |a| {
        let (p, s) = str2(a)?;
        Ok(Value::String(s.strip_suffix(p).unwrap_or(s).to_string()))
    });
    f.insert("replace", |a| {
        exact(a, 3)?;
        let (old, new, src) = (string_arg(a, 0)?, string_arg(a, 1)?, string_arg(a, 2)?);
        Ok(Value::String(go_replace(src, old, new)))
    });
    f.insert("repeat", |a| {
        exact(a, 2)?;
        let n = int_arg(a, 0)?;
        let s = string_arg(a, 1)?;
        if n < 0 {
            return Err("strings: negative Repeat count".to_string());
        }
        if (s.len() as i64).saturating_mul(n) > MAX_GENERATED * 16 {
            return Err("repeat: result too large".to_string());
        }
        Ok(Value::String(s.repeat(n as usize)))
    });
    f.insert("contains", |a| {
        let (sub, s) = str2(a)?;
        Ok(Value::Bool(s.contains(sub)))
    });
    f.insert("hasPrefix", |a| {
        let (p, s) = str2(a)?;
        Ok(Value::Bool(s.starts_with(p)))
    });
    f.insert("hasSuffix", |a| {
        let (p, s) = str2(a)?;
        Ok(Value::Bool(s.ends_with(p)))
    });
    f.insert("split", |a| {
        let (sep, s) = str2(a)?;
        let map = go_split(s, sep)
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("_{i}"), Value::String(p)))
            .collect();
        Ok(Value::Map(map))
    });
    f.insert("splitList", |a| {
        let (sep, s) = str2(a)?;
        Ok(strings(go_split(s, sep)))
    });
    f.insert("join", |a| {
        exact(a, 2)?;
        let sep = string_arg(a, 0)?;
        Ok(Value::String(strslice(&a[1]).join(sep)))
    });
    f.insert("indent", |a| {
        exact(a, 2)?;
        Ok(Value::String(indent(int_arg(a, 0)?, string_arg(a, 1)?)))
    });
    f.insert("nindent", |a| {
        exact(a, 2)?;
        Ok(Value::String(format!(
            "\n{}",
            indent(int_arg(a, 0)?, string_arg(a, 1)?)
        )))
    });
    f.insert("b64enc", |a| {
        str1(a, |s| {
            base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
        })
    });
    f.insert("b64dec", |a| {
        str1(a, |s| {
            match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                // sprig returns Go's error text instead of failing.
                Err(base64::DecodeError::InvalidByte(at, _))
                | Err(base64::DecodeError::InvalidLastSymbol(at, _)) => {
                    format!("illegal base64 data at input byte {at}")
                }
                Err(_) => format!("illegal base64 data at input byte {}", s.len()),
            }
        })
    });
    f.insert("regexMatch", |a| {
        let (re, s) = str2(a)?;
        Ok(Value::Bool(
            regex::Regex::new(re)
                .map(|r| r.is_match(s))
                .unwrap_or(false),
        ))
    });
    f.insert("regexReplaceAll", |a| {
        exact(a, 3)?;
        let (re, s, repl) = (string_arg(a, 0)?, string_arg(a, 1)?, string_arg(a, 2)?);
        let r = regex::Regex::new(re).map_err(|e| format!("regexp: Compile({re:?}): {e}"))?;
        Ok(Value::String(r.replace_all(s, repl).into_owned()))
    });
    f.insert("normalize", |a| {
        str1(a, |s| {
            s.split(|c: char| !c.is_alphabetic() && !c.is_numeric())
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        })
    });

    // sprig: lists and dicts.
    f.insert("list", |a| Ok(Value::List(a.to_vec())));
    f.insert("dict", |a| {
        let mut m = BTreeMap::new();
        for pair in a.chunks(2) {
            let value = pair.get(1).cloned().unwrap_or(Value::String(String::new()));
            m.insert(strval(&pair[0]), value);
        }
        Ok(Value::Map(m))
    });
    f.insert("get", |a| {
        exact(a, 2)?;
        let m = map_arg(a, 0)?;
        let k = string_arg(a, 1)?;
        Ok(m.get(k).cloned().unwrap_or(Value::String(String::new())))
    });
    f.insert("hasKey", |a| {
        exact(a, 2)?;
        Ok(Value::Bool(map_arg(a, 0)?.contains_key(string_arg(a, 1)?)))
    });
    f.insert("keys", |a| {
        let mut keys = Vec::new();
        for i in 0..a.len() {
            keys.extend(map_arg(a, i)?.keys().cloned());
        }
        keys.sort();
        Ok(strings(keys))
    });
    f.insert("first", |a| {
        Ok(list_arg(one(a)?, "first")?
            .first()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    f.insert("last", |a| {
        Ok(list_arg(one(a)?, "last")?
            .last()
            .cloned()
            .unwrap_or(Value::Nil))
    });
    f.insert("has", |a| {
        exact(a, 2)?;
        match &a[1] {
            Value::Nil => Ok(Value::Bool(false)),
            l => Ok(Value::Bool(list_arg(l, "has")?.contains(&a[0]))),
        }
    });
    f.insert("append", |a| {
        exact(a, 2)?;
        let mut l = list_arg(&a[0], "append")?.to_vec();
        l.push(a[1].clone());
        Ok(Value::List(l))
    });
    f.insert("sortAlpha", |a| {
        let mut l = strslice(one(a)?);
        l.sort();
        Ok(strings(l))
    });
    f.insert("until", |a| {
        let n = int_arg(a, 0)?;
        exact(a, 1)?;
        ints(until_step(0, n, if n < 0 { -1 } else { 1 })?)
    });
    f.insert("untilStep", |a| {
        exact(a, 3)?;
        ints(until_step(int_arg(a, 0)?, int_arg(a, 1)?, int_arg(a, 2)?)?)
    });
    f.insert("seq", |a| {
        let p: Vec<i64> = (0..a.len())
            .map(|i| int_arg(a, i))
            .collect::<Result<_, _>>()?;
        Ok(Value::String(seq(&p)?))
    });

    // sprig: numbers.
    f.insert("add", |a| {
        Ok(Value::Int(
            a.iter().map(to_int64).fold(0i64, i64::wrapping_add),
        ))
    });
    f.insert("add1", |a| {
        Ok(Value::Int(to_int64(one(a)?).wrapping_add(1)))
    });
    f.insert("sub", |a| {
        exact(a, 2)?;
        Ok(Value::Int(to_int64(&a[0]).wrapping_sub(to_int64(&a[1]))))
    });
    f.insert("mul", |a| {
        if a.is_empty() {
            return Err(want_at_least(1, 0));
        }
        Ok(Value::Int(
            a.iter().map(to_int64).fold(1i64, i64::wrapping_mul),
        ))
    });
    f.insert("div", |a| {
        exact(a, 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".to_string());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_div(d)))
    });
    f.insert("mod", |a| {
        exact(a, 2)?;
        let d = to_int64(&a[1]);
        if d == 0 {
            return Err("runtime error: integer divide by zero".to_string());
        }
        Ok(Value::Int(to_int64(&a[0]).wrapping_rem(d)))
    });
    f.insert("max", |a| {
        let first = a.first().ok_or_else(|| want_at_least(1, 0))?;
        Ok(Value::Int(
            a.iter().map(to_int64).fold(to_int64(first), i64::max),
        ))
    });
    f.insert("min", |a| {
        let first = a.first().ok_or_else(|| want_at_least(1, 0))?;
        Ok(Value::Int(
            a.iter().map(to_int64).fold(to_int64(first), i64::min),
        ))
    });
    f.insert("atoi", |a| {
        let s = string_arg(a, 0)?;
        exact(a, 1)?;
        Ok(Value::Int(parse_go_int(s, 10).unwrap_or(0)))
    });
    f.insert("int", |a| Ok(Value::Int(to_int64(one(a)?))));
    f.insert("int64", |a| Ok(Value::Int(to_int64(one(a)?))));
    f.insert("float64", |a| Ok(Value::Float(to_float64(one(a)?))));
    f.insert("toString", |a| Ok(Value::String(strval(one(a)?))));
}

/// Traefik's file provider: `split` is Go's `strings.Split(s, sep)`.
pub(crate) fn install_file_split(f: &mut Functions) {
    f.insert("split", |a| {
        exact(a, 2)?;
        let (s, sep) = (string_arg(a, 0)?, string_arg(a, 1)?);
        Ok(strings(go_split(s, sep)))
    });
}

fn want_at_least(n: usize, got: usize) -> String {
    format!("wrong number of args: want at least {n} got {got}")
}

fn exact(a: &[Value], n: usize) -> Result<(), String> {
    if a.len() != n {
        return Err(format!("wrong number of args: want {n} got {}", a.len()));
    }
    Ok(())
}

fn one(a: &[Value]) -> Result<&Value, String> {
    exact(a, 1)?;
    Ok(&a[0])
}

fn wrong_type(want: &str, got: &Value) -> String {
    match got {
        Value::Nil => format!("invalid value; expected {want}"),
        v => format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        ),
    }
}

fn string_arg(a: &[Value], i: usize) -> Result<&str, String> {
    match a.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(wrong_type("string", v)),
        None => Err(format!(
            "wrong number of args: want at least {} got {}",
            i + 1,
            a.len()
        )),
    }
}

fn int_arg(a: &[Value], i: usize) -> Result<i64, String> {
    match a.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        Some(v) => Err(wrong_type("int", v)),
        None => Err(format!(
            "wrong number of args: want at least {} got {}",
            i + 1,
            a.len()
        )),
    }
}

fn map_arg(a: &[Value], i: usize) -> Result<&BTreeMap<String, Value>, String> {
    match a.get(i) {
        Some(Value::Map(m)) => Ok(m),
        Some(v) => Err(wrong_type("map[string]interface {}", v)),
        None => Err(format!(
            "wrong number of args: want at least {} got {}",
            i + 1,
            a.len()
        )),
    }
}

fn list_arg<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], String> {
    match v {
        Value::List(l) => Ok(l),
        v => Err(format!("Cannot find {name} on type {}", v.type_name())),
    }
}

fn str1(a: &[Value], f: impl Fn(&str) -> String) -> FResult {
    exact(a, 1)?;
    Ok(Value::String(f(string_arg(a, 0)?)))
}

fn str2(a: &[Value]) -> Result<(&str, &str), String> {
    exact(a, 2)?;
    Ok((string_arg(a, 0)?, string_arg(a, 1)?))
}

fn strings(v: Vec<String>) -> Value {
    Value::List(v.into_iter().map(Value::String).collect())
}

fn ints(v: Vec<i64>) -> FResult {
    Ok(Value::List(v.into_iter().map(Value::Int).collect()))
}

/// sprig's `strval`: a string as is, anything else as `%v` prints it.
fn strval(v: &Value) -> String {
    sprint_value(v)
}

/// sprig's `strslice`: a list's elements (nils dropped) as strings; nil is
/// empty; anything else is a list of one.
fn strslice(v: &Value) -> Vec<String> {
    match v {
        Value::List(l) => l
            .iter()
            .filter(|e| !matches!(e, Value::Nil))
            .map(strval)
            .collect(),
        Value::Nil => Vec::new(),
        v => vec![strval(v)],
    }
}

/// `cast.ToInt64`: numbers truncate, strings parse (Go's base prefixes,
/// else 0), booleans are 1 or 0, anything else 0.
fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => {
            let s = s.strip_suffix(".0").unwrap_or(s);
            parse_go_int(s, 0).unwrap_or(0)
        }
        _ => 0,
    }
}

fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `strconv.ParseInt(s, base, 64)`; base 0 reads `0x`, `0o`, `0b`, `0` prefixes.
fn parse_go_int(s: &str, base: u32) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let (radix, digits) = if base == 0 {
        let lower = body.to_ascii_lowercase();
        if lower.starts_with("0x") {
            (16, &body[2..])
        } else if lower.starts_with("0o") {
            (8, &body[2..])
        } else if lower.starts_with("0b") {
            (2, &body[2..])
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        }
    } else {
        (base, body)
    };
    let digits: String = if base == 0 {
        digits.replace('_', "")
    } else {
        digits.to_string()
    };
    let m = i128::from_str_radix(&digits, radix).ok()?;
    i64::try_from(if neg { -m } else { m }).ok()
}

fn until_step(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    let count = if stop < start {
        if step >= 0 {
            return Ok(Vec::new());
        }
        (start as i128 - stop as i128 + (-step as i128) - 1) / (-step as i128)
    } else {
        if step <= 0 {
            return Ok(Vec::new());
        }
        (stop as i128 - start as i128 + step as i128 - 1) / step as i128
    };
    if count > MAX_GENERATED as i128 {
        return Err(format!("list of {count} elements is too long"));
    }
    Ok((0..count as i64).map(|i| start + i * step).collect())
}

fn seq(p: &[i64]) -> Result<String, String> {
    let list = match *p {
        [end] => {
            let inc = if end < 1 { -1 } else { 1 };
            until_step(1, end.saturating_add(inc), inc)?
        }
        [start, end] => {
            let step = if end < start { -1 } else { 1 };
            until_step(start, end.saturating_add(step), step)?
        }
        [start, step, end] => {
            let mut inc = 1;
            if end < start {
                inc = -1;
                if step > 0 {
                    return Ok(String::new());
                }
            }
            until_step(start, end.saturating_add(inc), step)?
        }
        _ => Vec::new(),
    };
    Ok(list
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" "))
}

/// `strings.Split`: an empty separator splits into characters.
fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(str::to_string).collect()
}

/// `strings.Replace(src, old, new, -1)`: an empty `old` inserts `new`
/// around every character.
fn go_replace(src: &str, old: &str, new: &str) -> String {
    if !old.is_empty() {
        return src.replace(old, new);
    }
    let mut out = String::from(new);
    for c in src.chars() {
        out.push(c);
        out.push_str(new);
    }
    out
}

fn indent(spaces: i64, s: &str) -> String {
    let pad = " ".repeat(spaces.clamp(0, 10_000) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

/// Go's `strings.Title` (deprecated, still sprig's): upper-case the first
/// letter of each word; words are separated by anything but letters,
/// digits and `_`.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

/// `os.ExpandEnv`: `$NAME` and `${NAME}`.
fn expand_env(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut j = 0;
    let special = |c: u8| b"*#$@!?-0123456789".contains(&c);
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let rest = &s[j + 1..];
            let rb = rest.as_bytes();
            let (name, w): (&str, usize) = if rb[0] == b'{' {
                if rb.len() > 2 && special(rb[1]) && rb[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(k) => (&rest[1..1 + k], k + 2),
                        None => ("", 1),
                    }
                }
            } else if special(rb[0]) {
                (&rest[..1], 1)
            } else {
                let k = rb
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (&rest[..k], k)
            };
            if name.is_empty() && w > 0 {
                // Bad syntax: the characters are dropped.
            } else if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&std::env::var(name).unwrap_or_default());
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(s.get(i..).unwrap_or(""));
    out
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn go_len(v: &Value) -> FResult {
    match v {
        Value::String(s) => Ok(Value::Int(s.len() as i64)),
        Value::List(l) => Ok(Value::Int(l.len() as i64)),
        Value::Map(m) => Ok(Value::Int(m.len() as i64)),
        Value::Nil => Err("len of untyped nil".to_string()),
        v => Err(format!("len of type {}", v.type_name())),
    }
}

fn go_index(a: &[Value]) -> FResult {
    let Some((item, indices)) = a.split_first() else {
        return Err(want_at_least(1, 0));
    };
    let mut v = item.clone();
    for idx in indices {
        v = match (&v, idx) {
            (Value::Nil, _) => return Err("index of untyped nil".to_string()),
            (Value::List(l), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| l.get(i))
                .cloned()
                .ok_or_else(|| format!("index out of range: {i}"))?,
            (Value::String(s), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Value::Int(i64::from(*b)))
                .ok_or_else(|| format!("index out of range: {i}"))?,
            (Value::List(_) | Value::String(_), other) => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                ))
            }
            (Value::Map(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Nil),
            (Value::Map(_), other) => {
                return Err(format!(
                    "value has type {}; should be string",
                    other.type_name()
                ))
            }
            (other, _) => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(v)
}

#[derive(PartialEq)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        _ => Kind::Other,
    }
}

/// Go's `eq arg1 arg2...`: whether arg1 equals any of the others.
fn eq(a: &[Value]) -> Result<bool, String> {
    let Some((first, rest)) = a.split_first() else {
        return Err("missing argument for comparison".to_string());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".to_string());
    }
    for other in rest {
        let truth = match (first, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, _) | (_, Value::Nil) => false,
            _ if kind(first) != kind(other) => {
                return Err("incompatible types for comparison".to_string())
            }
            (Value::List(_) | Value::Map(_), _) => {
                return Err(format!(
                    "non-comparable type {}: {}",
                    sprint_value(first),
                    first.type_name()
                ))
            }
            _ => first == other,
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt` family: ints, floats and strings, each with its own kind.
fn compare(a: &[Value]) -> Result<Ordering, String> {
    exact(a, 2)?;
    match (&a[0], &a[1]) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Greater)),
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (x, y) if kind(x) != kind(y) || kind(x) == Kind::Other => {
            if kind(x) == Kind::Other || kind(y) == Kind::Other {
                Err("invalid type for comparison".to_string())
            } else {
                Err("incompatible types for comparison".to_string())
            }
        }
        _ => Err("invalid type for comparison".to_string()),
    }
}
