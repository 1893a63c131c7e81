//! Go regular expressions, compiled with Rust's `regex`.
//!
//! Traefik compiles `HostRegexp`, `PathRegexp`, `HeaderRegexp` and
//! `QueryRegexp` with Go's `regexp.Compile`: RE2 syntax, unanchored,
//! case-sensitive unless `(?i)`. Rust's `regex` reads almost the same
//! syntax; the pattern is rewritten where the two differ so that a pattern
//! means what it means in Traefik:
//!
//! - `\d \s \w \b` are ASCII-only in Go (`\s` is `[\t\n\f\r ]`), Unicode in
//!   Rust: written out as ASCII classes;
//! - `{` that does not start a repeat (`{name:[a-z]+}`, Traefik v2's
//!   syntax) is a literal in Go, an error in Rust: escaped;
//! - `\Q...\E` (quoted text) and octal escapes (`\101`) exist only in Go:
//!   written as escaped literals;
//! - inside a class, Rust reads `[` (nested class), `&&`, `--`, `~~` (set
//!   operations) specially, Go as plain characters: classes are rebuilt
//!   with every punctuation character escaped;
//! - named groups: Go accepts names Rust does not (`(?P<1x>...)`); names
//!   are dropped since matchers never use captures.
//!
//! Go's own errors are kept: repeat counts above 1000, `a**`, flags other
//! than `imsU`, `\1` back-references, unknown escapes, invalid UTF-8.
//! Known residual differences: Rust accepts a few Unicode class names Go
//! does not (`\p{Emoji}`), rejects surrogate code points (`\x{D800}`), and
//! does not limit the product of nested repeats to 1000.

use std::fmt::Write as _;

use regex::{Regex, RegexBuilder};

/// Compiles a Go pattern; the error reads like Go's.
pub(crate) fn compile(pattern: &[u8]) -> Result<Regex, String> {
    let go = std::str::from_utf8(pattern)
        .map_err(|_| "error parsing regexp: invalid UTF-8".to_string())?;
    let rust = translate(go).map_err(|e| format!("error parsing regexp: {e}"))?;
    RegexBuilder::new(&rust)
        .nest_limit(1000)
        .size_limit(32 << 20)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let why = text
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .unwrap_or(&text)
                .to_string();
            format!("error parsing regexp: {why}: `{go}`")
        })
}

const MAX_REPEAT: u32 = 1000;

/// Rewrites a Go pattern into a Rust pattern of the same meaning.
pub(crate) fn translate(go: &str) -> Result<String, String> {
    let mut t = Translator {
        s: go,
        i: 0,
        out: String::with_capacity(go.len() + 16),
    };
    t.run()?;
    Ok(t.out)
}

struct Translator<'a> {
    s: &'a str,
    i: usize,
    out: String,
}

fn literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else if c.is_ascii_graphic() || c == ' ' {
        out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    } else {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    }
}

/// Literal inside a class: punctuation always escaped.
fn class_literal(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || !c.is_ascii() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    }
}

/// The ASCII set of a Go Perl class (`d`, `s`, `w`), for use inside `[...]`.
fn perl_set(c: char) -> Option<&'static str> {
    match c.to_ascii_lowercase() {
        'd' => Some("0-9"),
        's' => Some("\\t\\n\\x0C\\r "),
        'w' => Some("0-9A-Za-z_"),
        _ => None,
    }
}

impl<'a> Translator<'a> {
    fn rest(&self) -> &'a str {
        self.s.get(self.i..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += c.len_utf8();
        Some(c)
    }

    fn run(&mut self) -> Result<(), String> {
        // The text of the previous repetition operator, for Go's
        // "invalid nested repetition operator" (`a**`, `a{2}{3}`).
        let mut last_repeat: Option<usize> = None;
        // Go also limits the product of nested counted repeats to 1000
        // (`(a{100}){100}` is an error): per open group, the largest
        // product inside it; and the product of the last element.
        let mut groups: Vec<u32> = vec![1];
        let mut last: u32 = 1;
        while let Some(c) = self.peek() {
            let start = self.i;
            let mut repeat = None;
            let mut element = 1;
            match c {
                '(' => {
                    if self.group()? {
                        groups.push(1);
                    }
                    last_repeat = None;
                    continue;
                }
                ')' => {
                    self.bump();
                    self.out.push(')');
                    if groups.len() > 1 {
                        element = groups.pop().unwrap_or(1);
                    }
                }
                '[' => {
                    self.bump();
                    self.class(start)?;
                }
                '*' | '+' | '?' => {
                    self.bump();
                    self.repeat_op(start, last_repeat)?;
                    repeat = Some(start);
                    element = last;
                }
                '{' => match parse_repeat(self.rest()) {
                    Some((min, max, len)) => {
                        let text = &self.s[start..start + len];
                        let count = max.unwrap_or(min);
                        let product = count.saturating_mul(last);
                        if min > MAX_REPEAT
                            || max.is_some_and(|m| m > MAX_REPEAT || m < min)
                            || ((min >= 2 || max.is_some_and(|m| m >= 2)) && product > MAX_REPEAT)
                        {
                            return Err(format!("invalid repeat count: `{text}`"));
                        }
                        self.i += len;
                        self.repeat_op(start, last_repeat)?;
                        repeat = Some(start);
                        element = product;
                    }
                    None => {
                        self.bump();
                        self.out.push_str("\\{");
                    }
                },
                '}' => {
                    self.bump();
                    self.out.push_str("\\}");
                }
                '\\' => self.escape()?,
                '|' | '^' | '$' | '.' => {
                    self.bump();
                    self.out.push(c);
                }
                _ => {
                    self.bump();
                    literal(&mut self.out, c);
                }
            }
            if let Some(top) = groups.last_mut() {
                *top = (*top).max(element);
            }
            last = element;
            last_repeat = repeat;
        }
        Ok(())
    }

    /// Emits the operator just consumed (from `start`) and its lazy `?`.
    fn repeat_op(&mut self, start: usize, last: Option<usize>) -> Result<(), String> {
        if self.peek() == Some('?') {
            self.bump();
        }
        let text = &self.s[start..self.i];
        if let Some(prev) = last {
            return Err(format!(
                "invalid nested repetition operator: `{}`",
                &self.s[prev..self.i]
            ));
        }
        self.out.push_str(text);
        Ok(())
    }

    /// A group or flag setting; whether it opened a group.
    fn group(&mut self) -> Result<bool, String> {
        let start = self.i;
        self.bump();
        if self.peek() != Some('?') {
            self.out.push('(');
            return Ok(true);
        }
        self.bump();
        let rest = self.rest();
        let name_start = if rest.starts_with("P<") {
            Some(2)
        } else if rest.starts_with('<') {
            Some(1)
        } else {
            None
        };
        if let Some(skip) = name_start {
            let Some(end) = rest.find('>') else {
                return Err(format!("invalid named capture: `{}`", &self.s[start..]));
            };
            let name = &rest[skip..end];
            if name.is_empty() || !name.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "invalid named capture: `{}`",
                    &self.s[start..self.i + end + 1]
                ));
            }
            self.i += end + 1;
            self.out.push('(');
            return Ok(true);
        }
        // Flags: (?flags) or (?flags:re), flags from `imsU`, one `-`.
        let mut flags = String::new();
        let mut negated = false;
        let mut saw_flag = false;
        while let Some(c) = self.bump() {
            match c {
                'i' | 'm' | 's' | 'U' => {
                    flags.push(c);
                    saw_flag = true;
                }
                '-' if !negated => {
                    flags.push('-');
                    negated = true;
                    saw_flag = false;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        break;
                    }
                    if flags.is_empty() {
                        // `(?)` sets nothing; `(?:` is a plain group.
                        if c == ':' {
                            self.out.push_str("(?:");
                        }
                    } else {
                        let _ = write!(self.out, "(?{flags}{c}");
                    }
                    return Ok(c == ':');
                }
                _ => break,
            }
        }
        Err(format!(
            "invalid or unsupported Perl syntax: `{}`",
            &self.s[start..self.i]
        ))
    }

    fn escape(&mut self) -> Result<(), String> {
        let start = self.i;
        self.bump();
        let Some(c) = self.peek() else {
            return Err("trailing backslash at end of expression: ``".to_string());
        };
        match c {
            'A' | 'z' => {
                self.bump();
                self.out.push('\\');
                self.out.push(c);
            }
            'b' | 'B' => {
                self.bump();
                let _ = write!(self.out, "(?-u:\\{c})");
            }
            'C' => return Err("invalid escape sequence: `\\C`".to_string()),
            'Q' => {
                self.bump();
                let rest = self.rest();
                let (lit, used) = match rest.find("\\E") {
                    Some(end) => (&rest[..end], end + 2),
                    None => (rest, rest.len()),
                };
                for ch in lit.chars() {
                    literal(&mut self.out, ch);
                }
                self.i += used;
            }
            'p' | 'P' => {
                self.i = start;
                let class = self.unicode_class()?;
                self.out.push_str(&class);
            }
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
                self.bump();
                let set = perl_set(c).unwrap_or("");
                let neg = if c.is_ascii_uppercase() { "^" } else { "" };
                let _ = write!(self.out, "[{neg}{set}]");
            }
            _ => {
                self.i = start;
                let ch = self.escaped_char()?;
                literal(&mut self.out, ch);
            }
        }
        Ok(())
    }

    /// `\pL`, `\p{Greek}`, `\P{^Greek}` → the Rust spelling.
    fn unicode_class(&mut self) -> Result<String, String> {
        let start = self.i;
        self.bump();
        let mut negated = self.bump() == Some('P');
        let name = match self.bump() {
            Some('{') => {
                let rest = self.rest();
                let Some(end) = rest.find('}') else {
                    return Err(format!(
                        "invalid character class range: `{}`",
                        &self.s[start..]
                    ));
                };
                let name = &rest[..end];
                self.i += end + 1;
                name.to_string()
            }
            Some(c) => c.to_string(),
            None => return Err("invalid escape sequence: `\\p`".to_string()),
        };
        let name = match name.strip_prefix('^') {
            Some(n) => {
                negated = !negated;
                n.to_string()
            }
            None => name,
        };
        if name.is_empty() || name.contains(['{', '}', '\\', '[', ']']) {
            return Err(format!(
                "invalid character class range: `{}`",
                &self.s[start..self.i]
            ));
        }
        Ok(format!("\\{}{{{name}}}", if negated { 'P' } else { 'p' }))
    }

    /// One escaped character as Go's `parseEscape` reads it (at `\`).
    fn escaped_char(&mut self) -> Result<char, String> {
        let start = self.i;
        self.bump();
        let bad = |t: &Self| format!("invalid escape sequence: `{}`", &t.s[start..t.i]);
        let Some(c) = self.bump() else {
            return Err("trailing backslash at end of expression: ``".to_string());
        };
        let octal = |ch: Option<char>| ch.filter(|d| ('0'..='7').contains(d));
        let value = match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => return Ok(c),
            '1'..='7' if octal(self.peek()).is_none() => return Err(bad(self)),
            '0'..='7' => {
                let mut v = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match octal(self.peek()).and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            self.bump();
                            v = v * 8 + d;
                        }
                        None => break,
                    }
                }
                v
            }
            'x' => {
                if self.peek() == Some('{') {
                    self.bump();
                    let rest = self.rest();
                    let end = rest.find('}').ok_or_else(|| bad(self))?;
                    let hex = &rest[..end];
                    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(self));
                    }
                    self.i += end + 1;
                    u32::from_str_radix(hex, 16)
                        .ok()
                        .filter(|v| *v <= 0x10FFFF)
                        .ok_or_else(|| bad(self))?
                } else {
                    let two = self.rest().get(..2).unwrap_or("");
                    if two.len() < 2 || !two.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(self));
                    }
                    self.i += 2;
                    u32::from_str_radix(two, 16).map_err(|_| bad(self))?
                }
            }
            'a' => 0x07,
            'f' => 0x0c,
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            'v' => 0x0b,
            _ => return Err(bad(self)),
        };
        char::from_u32(value).ok_or_else(|| bad(self))
    }

    /// A class, from just after its `[` (at `start`).
    fn class(&mut self, start: usize) -> Result<(), String> {
        let missing = |t: &Self| format!("missing closing ]: `{}`", &t.s[start..]);
        self.out.push('[');
        if self.peek() == Some('^') {
            self.bump();
            self.out.push('^');
        }
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(missing(self));
            };
            if c == ']' && !first {
                self.bump();
                self.out.push(']');
                return Ok(());
            }
            first = false;
            let rest = self.rest();
            if let Some(after) = rest.strip_prefix("[:") {
                if let Some(end) = after.find(":]") {
                    let name = &after[..end];
                    let base = name.strip_prefix('^').unwrap_or(name);
                    const POSIX: [&str; 14] = [
                        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                        "print", "punct", "space", "upper", "word", "xdigit",
                    ];
                    if !POSIX.contains(&base) {
                        return Err(format!("invalid character class range: `[:{name}:]`"));
                    }
                    let _ = write!(self.out, "[:{name}:]");
                    self.i += end + 4;
                    continue;
                }
            }
            if rest.starts_with("\\p") || rest.starts_with("\\P") {
                let class = self.unicode_class()?;
                self.out.push_str(&class);
                continue;
            }
            let mut perl = rest.chars().skip(1);
            if let (true, Some(p)) = (rest.starts_with('\\'), perl.next()) {
                if let Some(set) = perl_set(p) {
                    self.i += 2;
                    if p.is_ascii_uppercase() {
                        let _ = write!(self.out, "[^{set}]");
                    } else {
                        self.out.push_str(set);
                    }
                    continue;
                }
            }
            let lo_start = self.i;
            let lo = self
                .class_char()
                .map_err(|e| e.unwrap_or_else(|| missing(self)))?;
            let rest = self.rest();
            if rest.starts_with('-') && !rest.starts_with("-]") && rest.len() > 1 {
                self.bump();
                let hi = self
                    .class_char()
                    .map_err(|e| e.unwrap_or_else(|| missing(self)))?;
                if hi < lo {
                    return Err(format!(
                        "invalid character class range: `{}`",
                        &self.s[lo_start..self.i]
                    ));
                }
                class_literal(&mut self.out, lo);
                self.out.push('-');
                class_literal(&mut self.out, hi);
            } else {
                class_literal(&mut self.out, lo);
            }
        }
    }

    /// One character of a class; Err(None) at the end of the pattern.
    fn class_char(&mut self) -> Result<char, Option<String>> {
        match self.peek() {
            None => Err(None),
            Some('\\') => self.escaped_char().map_err(Some),
            Some(c) => {
                self.bump();
                Ok(c)
            }
        }
    }
}

/// Go's `parseRepeat`: `{n}`, `{n,}` or `{n,m}` with decimal numbers
/// without leading zeros; (min, max, length of the text).
fn parse_repeat(s: &str) -> Option<(u32, Option<u32>, usize)> {
    let b = s.as_bytes();
    let number = |from: usize| -> Option<(u32, usize)> {
        let digits = b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && b[from] == b'0') {
            return None;
        }
        let text = &s[from..from + digits];
        // Go turns numbers of 9 digits or more into an invalid count.
        let n = if digits > 8 {
            u32::MAX
        } else {
            text.parse().ok()?
        };
        Some((n, from + digits))
    };
    let (min, mut i) = number(1)?;
    let max = match b.get(i) {
        Some(b',') => {
            i += 1;
            if b.get(i) == Some(&b'}') {
                None
            } else {
                let (max, j) = number(i)?;
                i = j;
                Some(max)
            }
        }
        _ => Some(min),
    };
    (b.get(i) == Some(&b'}')).then_some((min, max, i + 1))
}
