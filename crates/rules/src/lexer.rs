//! Tokens of a rule, scanned the way Go's scanner scans them: Traefik hands
//! the rule to `go/parser.ParseExpr`, so its whitespace, comments, string
//! literals and newline rules are Go's.
//!
//! The one Go rule that surprises: a newline right after an identifier, a
//! string or `)` ends the expression (Go inserts a semicolon there), so
//! `Host(`a`)⏎&& Path(`/`)` is an error while `Host(`a`) &&⏎Path(`/`)` is
//! fine. The lexer reports such a newline as [`Tok::Newline`]; the parser
//! accepts it only at the very end of the rule.

/// What went wrong, and where (a byte offset in the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    pub pos: usize,
    pub msg: String,
}

impl Fault {
    pub(crate) fn new(pos: usize, msg: impl Into<String>) -> Fault {
        Fault {
            pos,
            msg: msg.into(),
        }
    }
}

/// Why a line break can be an error.
pub(crate) const NEWLINE_ENDS_RULE: &str =
    "as in Go, a line break right after a matcher, a value or ')' ends the rule; \
     break lines after '&&', '||', '(' or ',' instead";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    Ident(&'a str),
    /// A string literal's value (bytes: `"\xff"` is a valid Go string).
    Str(Vec<u8>),
    LParen,
    RParen,
    Comma,
    Ellipsis,
    AndAnd,
    OrOr,
    Bang,
    /// A newline (or a comment spanning one) where Go ends the expression.
    Newline,
    /// A character no rule token starts with.
    Other(char),
    Eof,
}

impl Tok<'_> {
    /// How an error message names this token.
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Ident(name) => format!("'{name}'"),
            Tok::Str(_) => "a string".to_string(),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Ellipsis => "'...'".to_string(),
            Tok::AndAnd => "'&&'".to_string(),
            Tok::OrOr => "'||'".to_string(),
            Tok::Bang => "'!'".to_string(),
            Tok::Newline => format!("a line break ({NEWLINE_ENDS_RULE})"),
            Tok::Other(c) => format!("{c:?}"),
            Tok::Eof => "the end of the rule".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub tok: Tok<'a>,
    pub pos: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Whether a newline here would end the expression (Go's `insertSemi`).
    semi: bool,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Lexer<'a> {
        // Go skips a byte order mark at the very start.
        let pos = if src.starts_with('\u{feff}') { 3 } else { 0 };
        Lexer {
            src,
            pos,
            semi: false,
        }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn at(&self, pos: usize, tok: Tok<'a>) -> Result<Token<'a>, Fault> {
        Ok(Token { tok, pos })
    }

    /// Skips blanks and comments; returns a newline token when Go would
    /// end the expression there.
    fn skip_blank(&mut self) -> Result<Option<Token<'a>>, Fault> {
        loop {
            let rest = self.rest();
            let start = self.pos;
            match rest.as_bytes().first() {
                Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                Some(b'\n') => {
                    if std::mem::take(&mut self.semi) {
                        self.pos += 1;
                        return Ok(Some(Token {
                            tok: Tok::Newline,
                            pos: start,
                        }));
                    }
                    self.pos += 1;
                }
                Some(b'/') if rest.starts_with("//") => {
                    if std::mem::take(&mut self.semi) {
                        // The comment runs to the end of the line: a newline.
                        return Ok(Some(Token {
                            tok: Tok::Newline,
                            pos: start,
                        }));
                    }
                    self.pos += rest.find('\n').map_or(rest.len(), |i| i + 1);
                }
                Some(b'/') if rest.starts_with("/*") => {
                    let Some(end) = rest[2..].find("*/") else {
                        return Err(Fault::new(start, "comment not terminated"));
                    };
                    let body = &rest[2..2 + end];
                    self.pos += end + 4;
                    if body.contains('\n') && std::mem::take(&mut self.semi) {
                        return Ok(Some(Token {
                            tok: Tok::Newline,
                            pos: start,
                        }));
                    }
                }
                _ => return Ok(None),
            }
        }
    }

    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, Fault> {
        if let Some(newline) = self.skip_blank()? {
            return Ok(newline);
        }
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return self.at(start, Tok::Eof);
        };
        self.semi = false;
        let two = |s: &str| rest.starts_with(s);
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => {
                self.semi = true;
                (Tok::RParen, 1)
            }
            ',' => (Tok::Comma, 1),
            '!' => (Tok::Bang, 1),
            '&' if two("&&") => (Tok::AndAnd, 2),
            '|' if two("||") => (Tok::OrOr, 2),
            '.' if two("...") => (Tok::Ellipsis, 3),
            '`' => {
                self.semi = true;
                let (value, len) = raw_string(rest, start)?;
                (Tok::Str(value), len)
            }
            '"' => {
                self.semi = true;
                let (value, len) = interpreted_string(rest, start)?;
                (Tok::Str(value), len)
            }
            c if c == '_' || c.is_alphabetic() => {
                self.semi = true;
                let len = rest
                    .find(|c: char| !(c == '_' || c.is_alphanumeric()))
                    .unwrap_or(rest.len());
                (Tok::Ident(&rest[..len]), len)
            }
            '\0' => return Err(Fault::new(start, "illegal character NUL")),
            '\u{feff}' => return Err(Fault::new(start, "illegal byte order mark")),
            c if c.is_whitespace() => {
                return Err(Fault::new(
                    start,
                    format!(
                    "illegal character U+{:04X}: only spaces, tabs and line breaks separate tokens",
                    u32::from(c)
                ),
                ))
            }
            c => (Tok::Other(c), c.len_utf8()),
        };
        self.pos += len;
        self.at(start, tok)
    }
}

/// A Go raw string (backticks): no escapes, carriage returns dropped.
fn raw_string(s: &str, start: usize) -> Result<(Vec<u8>, usize), Fault> {
    let body = &s[1..];
    let Some(end) = body.find('`') else {
        return Err(Fault::new(start, "raw string literal not terminated"));
    };
    let body = &body[..end];
    illegal_chars(body, start + 1)?;
    let value = body.bytes().filter(|&b| b != b'\r').collect();
    Ok((value, end + 2))
}

/// A Go interpreted string (double quotes) with Go's escapes:
/// `\a \b \f \n \r \t \v \\ \"`, `\NNN` (octal), `\xNN`, `\uNNNN`,
/// `\UNNNNNNNN`.
fn interpreted_string(s: &str, start: usize) -> Result<(Vec<u8>, usize), Fault> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, i + 1)),
            '\n' => break,
            '\\' => {
                let at = start + i;
                let Some((_, e)) = chars.next() else { break };
                let simple = match e {
                    'a' => Some(0x07),
                    'b' => Some(0x08),
                    'f' => Some(0x0c),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(0x0b),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    _ => None,
                };
                if let Some(b) = simple {
                    out.push(b);
                    continue;
                }
                let (digits, radix, first) = match e {
                    '0'..='7' => (3, 8, Some(e)),
                    'x' => (2, 16, None),
                    'u' => (4, 16, None),
                    'U' => (8, 16, None),
                    _ => return Err(Fault::new(at, "unknown escape sequence")),
                };
                let mut n: u32 = 0;
                let mut taken = 0;
                for d in first.into_iter().chain(chars.by_ref().map(|(_, d)| d)) {
                    let Some(v) = d.to_digit(radix) else {
                        return Err(Fault::new(
                            at,
                            format!("illegal character {d:?} in escape sequence"),
                        ));
                    };
                    n = n * radix + v;
                    taken += 1;
                    if taken == digits {
                        break;
                    }
                }
                if taken < digits {
                    break;
                }
                match e {
                    'u' | 'U' => {
                        let Some(ch) = char::from_u32(n) else {
                            return Err(Fault::new(
                                at,
                                "escape sequence is invalid Unicode code point",
                            ));
                        };
                        let mut buf = [0; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => {
                        let Ok(b) = u8::try_from(n) else {
                            return Err(Fault::new(at, "octal escape value > 255"));
                        };
                        out.push(b);
                    }
                }
            }
            c => {
                if c == '\0' || c == '\u{feff}' {
                    illegal_chars(&s[i..], start + i)?;
                }
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err(Fault::new(start, "string literal not terminated"))
}

/// Go's scanner refuses NUL and byte order marks anywhere, strings too.
fn illegal_chars(s: &str, offset: usize) -> Result<(), Fault> {
    match s.find(['\0', '\u{feff}']) {
        Some(i) if s[i..].starts_with('\0') => Err(Fault::new(offset + i, "illegal character NUL")),
        Some(i) => Err(Fault::new(offset + i, "illegal byte order mark")),
        None => Ok(()),
    }
}
