//! The rule parser: a hand-written recursive descent over the grammar in the
//! crate docs, producing a compiled [`Rule`].

use crate::matcher::{Expr, Matcher, Rule};
use crate::RuleError;

const NAMES: [&str; 11] = [
    "Host",
    "HostRegexp",
    "Path",
    "PathPrefix",
    "PathRegexp",
    "Method",
    "Header",
    "HeaderRegexp",
    "Query",
    "QueryRegexp",
    "ClientIP",
];

/// The canonical matcher name for one of Traefik's four spellings.
fn canonical_name(name: &str) -> Option<&'static str> {
    NAMES.iter().copied().find(|n| {
        let lower = n.to_lowercase();
        let mut title = lower.clone();
        if let Some(first) = title.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        name == *n || name == lower || name == n.to_uppercase() || name == title
    })
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

pub fn parse(src: &str) -> Result<Rule, RuleError> {
    let mut p = Parser { src, pos: 0 };
    p.skip_ws();
    if p.pos == src.len() {
        return Err(p.error(0, "empty rule"));
    }
    let expr = p.or()?;
    p.skip_ws();
    if p.pos != src.len() {
        return Err(p.error(p.pos, &format!("unexpected {:?}", p.rest_token())));
    }
    Ok(Rule::new(src, expr))
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, message: &str) -> RuleError {
        RuleError {
            rule: self.src.to_string(),
            position,
            message: message.to_string(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn rest_token(&self) -> String {
        self.rest().chars().take(12).collect()
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, RuleError> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, RuleError> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, RuleError> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, RuleError> {
        self.skip_ws();
        if self.rest().is_empty() {
            return Err(self.error(self.pos, "unexpected end of rule"));
        }
        if self.eat("(") {
            let open = self.pos - 1;
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(self.error(open, "unclosed parenthesis"));
            }
            return Ok(inner);
        }
        let start = self.pos;
        let name_len = self
            .rest()
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(self.rest().len());
        if name_len == 0 {
            return Err(self.error(
                start,
                &format!("expected a matcher, found {:?}", self.rest_token()),
            ));
        }
        let name = &self.src[start..start + name_len];
        self.pos += name_len;
        let Some(canonical) = canonical_name(name) else {
            return Err(self.error(start, &format!("unsupported function: {name}")));
        };
        if !self.eat("(") {
            return Err(self.error(self.pos, &format!("expected '(' after {name}")));
        }
        let mut args = Vec::new();
        self.skip_ws();
        if !self.rest().starts_with(')') {
            loop {
                args.push(self.value()?);
                if self.eat(",") {
                    continue;
                }
                break;
            }
        }
        if !self.eat(")") {
            return Err(self.error(
                self.pos,
                &format!(
                    "expected ',' or ')' in {name}, found {:?}",
                    self.rest_token()
                ),
            ));
        }
        let matcher = Matcher::compile(canonical, &args).map_err(|m| self.error(start, &m))?;
        Ok(Expr::Match(matcher))
    }

    fn value(&mut self) -> Result<String, RuleError> {
        self.skip_ws();
        let start = self.pos;
        let rest = self.rest();
        if let Some(body) = rest.strip_prefix('`') {
            let Some(end) = body.find('`') else {
                return Err(self.error(start, "unterminated `string`"));
            };
            self.pos += end + 2;
            return Ok(body[..end].to_string());
        }
        if rest.starts_with('"') {
            let (value, used) =
                go_string(rest).map_err(|(off, msg)| self.error(start + off, &msg))?;
            self.pos += used;
            return Ok(value);
        }
        if rest.is_empty() {
            return Err(self.error(start, "unexpected end of rule"));
        }
        Err(self.error(
            start,
            &format!("expected a quoted value, found {:?}", self.rest_token()),
        ))
    }
}

/// Reads a Go interpreted string literal at the start of `s`; returns the
/// value and the bytes used, or (offset, message).
fn go_string(s: &str) -> Result<(String, usize), (usize, String)> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 1;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err((0, "unterminated \"string\"".into()));
        };
        match b {
            b'"' => break,
            b'\n' => return Err((i, "newline in string".into())),
            b'\\' => {
                let Some(&e) = bytes.get(i + 1) else {
                    return Err((i, "unterminated escape".into()));
                };
                let simple = match e {
                    b'a' => Some(0x07),
                    b'b' => Some(0x08),
                    b'f' => Some(0x0c),
                    b'n' => Some(b'\n'),
                    b'r' => Some(b'\r'),
                    b't' => Some(b'\t'),
                    b'v' => Some(0x0b),
                    b'\\' => Some(b'\\'),
                    b'"' => Some(b'"'),
                    _ => None,
                };
                if let Some(c) = simple {
                    out.push(c);
                    i += 2;
                    continue;
                }
                let (digits, radix, is_byte) = match e {
                    b'x' => (2, 16, true),
                    b'0'..=b'7' => (3, 8, true),
                    b'u' => (4, 16, false),
                    b'U' => (8, 16, false),
                    _ => return Err((i, format!("unknown escape sequence \\{}", e as char))),
                };
                let start = if e.is_ascii_digit() { i + 1 } else { i + 2 };
                let text = s
                    .get(start..start + digits)
                    .ok_or((i, "short escape sequence".to_string()))?;
                let n = u32::from_str_radix(text, radix)
                    .map_err(|_| (i, format!("invalid escape \\{}{text}", e as char)))?;
                if is_byte {
                    let byte =
                        u8::try_from(n).map_err(|_| (i, "octal escape value > 255".to_string()))?;
                    out.push(byte);
                } else {
                    let c = char::from_u32(n)
                        .ok_or((i, "escape is not a valid Unicode code point".to_string()))?;
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                i = start + digits;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    let value = String::from_utf8(out).map_err(|_| (0, "string is not valid UTF-8".to_string()))?;
    Ok((value, i + 1))
}
