//! The lexer: text and `{{ }}` actions to tokens, with Go's trimming
//! (`{{- ` and ` -}}`) and comments applied here.

/// One token; `pos` is its byte offset in the text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub pos: usize,
    /// Whether blank space separates it from the token before (inside an
    /// action): `.A.B` is a chain, `.A .B` two arguments.
    pub space_before: bool,
    pub kind: Tok,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    Open,
    Close,
    /// A word: a function name or a keyword (`if`, `end`, `true`, ...).
    Ident(String),
    /// `.Name`
    Field(String),
    /// `.` alone
    Dot,
    /// `$` or `$name`, with the `$`
    Var(String),
    Str(String),
    /// A number's text (Go's syntax, checked by the parser).
    Number(String),
    /// A character constant (`'a'`), an integer in Go.
    Char(i64),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

type LexResult<T> = Result<T, (usize, String)>;

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_word_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Lexes the whole text.
pub(crate) fn lex(text: &str) -> LexResult<Vec<Token>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut trim_next_text = false;
    loop {
        let open = text[pos..].find("{{").map(|i| pos + i);
        let text_end = open.unwrap_or(text.len());
        let mut chunk = &text[pos..text_end];
        if trim_next_text {
            chunk = chunk.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(open) = open else {
            if !chunk.is_empty() {
                out.push(tok(
                    text_end - chunk.len(),
                    false,
                    Tok::Text(chunk.to_string()),
                ));
            }
            out.push(tok(text.len(), false, Tok::Eof));
            return Ok(out);
        };
        // `{{- ` trims the text before.
        let mut inner = open + 2;
        if bytes.get(inner) == Some(&b'-') && bytes.get(inner + 1).is_some_and(|c| is_space(*c)) {
            chunk = chunk.trim_end_matches([' ', '\t', '\r', '\n']);
            inner += 2;
        }
        if !chunk.is_empty() {
            let at = chunk.as_ptr() as usize - text.as_ptr() as usize;
            out.push(tok(at, false, Tok::Text(chunk.to_string())));
        }
        // A comment: `{{/* ... */}}`, nothing else inside the delimiters.
        if text[inner..].starts_with("/*") {
            let end = text[inner + 2..]
                .find("*/")
                .map(|i| inner + 2 + i + 2)
                .ok_or((open, "unclosed comment".to_string()))?;
            let (close_end, trims) = match_close(text, end)
                .ok_or((open, "comment ends before closing delimiter".to_string()))?;
            trim_next_text = trims;
            pos = close_end;
            continue;
        }
        out.push(tok(open, false, Tok::Open));
        pos = lex_action(text, inner, &mut out)?;
        // lex_action stopped on the closing delimiter (with its trim marker).
        let (close_end, trims) =
            match_close(text, pos).ok_or((pos, "unclosed action".to_string()))?;
        out.push(tok(pos, false, Tok::Close));
        trim_next_text = trims;
        pos = close_end;
    }
}

fn tok(pos: usize, space_before: bool, kind: Tok) -> Token {
    Token {
        pos,
        space_before,
        kind,
    }
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|c| is_space(*c)) {
        i += 1;
    }
    i
}

/// At `at` (after optional spaces): ` -}}` or `}}`. Returns the end offset
/// and whether it trims the next text.
fn match_close(text: &str, at: usize) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    let after = skip_spaces(bytes, at);
    if after > at && text[after..].starts_with("-}}") {
        return Some((after + 3, true));
    }
    if text[at..].starts_with("}}") {
        return Some((at + 2, false));
    }
    None
}

/// Lexes the inside of an action from `start`; returns the offset of its
/// closing delimiter (possibly preceded by blanks and `-`).
fn lex_action(text: &str, start: usize, out: &mut Vec<Token>) -> LexResult<usize> {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut space = false;
    let mut depth = 0usize;
    loop {
        let Some(&c) = bytes.get(i) else {
            return Err((i, "unclosed action".to_string()));
        };
        if is_space(c) {
            let j = skip_spaces(bytes, i);
            if text[j..].starts_with("-}}") || (text[j..].starts_with("}}")) {
                if depth > 0 {
                    return Err((j, "unclosed left paren".to_string()));
                }
                return Ok(if text[j..].starts_with("-}}") { i } else { j });
            }
            space = true;
            i = j;
            continue;
        }
        if text[i..].starts_with("}}") {
            if depth > 0 {
                return Err((i, "unclosed left paren".to_string()));
            }
            return Ok(i);
        }
        let sp = space;
        space = false;
        let at = i;
        let kind = match c {
            b'|' => {
                i += 1;
                Tok::Pipe
            }
            b'(' => {
                depth += 1;
                i += 1;
                Tok::LParen
            }
            b')' => {
                if depth == 0 {
                    return Err((i, "unexpected right paren".to_string()));
                }
                depth -= 1;
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b':' => {
                if bytes.get(i + 1) != Some(&b'=') {
                    return Err((i, "expected :=".to_string()));
                }
                i += 2;
                Tok::Declare
            }
            b'=' => {
                i += 1;
                Tok::Assign
            }
            b'"' => {
                let (s, end) = lex_quote(text, i)?;
                i = end;
                Tok::Str(s)
            }
            b'`' => {
                let end = text[i + 1..]
                    .find('`')
                    .map(|k| i + 1 + k)
                    .ok_or((i, "unterminated raw quoted string".to_string()))?;
                let s = text[i + 1..end].to_string();
                i = end + 1;
                Tok::Str(s)
            }
            b'\'' => {
                let (v, end) = lex_char(text, i)?;
                i = end;
                Tok::Char(v)
            }
            b'$' => {
                let end = word_end(text, i + 1);
                let name = text[i..end].to_string();
                i = end;
                Tok::Var(name)
            }
            b'.' => {
                if bytes.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    let end = number_end(text, i)?;
                    let s = text[i..end].to_string();
                    i = end;
                    Tok::Number(s)
                } else {
                    let end = word_end(text, i + 1);
                    if end == i + 1 {
                        i += 1;
                        Tok::Dot
                    } else {
                        let name = text[i + 1..end].to_string();
                        i = end;
                        Tok::Field(name)
                    }
                }
            }
            b'0'..=b'9' | b'+' | b'-' => {
                let end = number_end(text, i)?;
                let s = text[i..end].to_string();
                i = end;
                Tok::Number(s)
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('\0');
                if is_word_char(ch) {
                    let end = word_end(text, i);
                    let name = text[i..end].to_string();
                    i = end;
                    Tok::Ident(name)
                } else {
                    return Err((i, format!("unexpected {ch:?} in command")));
                }
            }
        };
        out.push(tok(at, sp, kind));
    }
}

fn word_end(text: &str, start: usize) -> usize {
    let mut end = start;
    for ch in text[start..].chars() {
        if !is_word_char(ch) {
            break;
        }
        end += ch.len_utf8();
    }
    end
}

/// Go's number scan: sign, digits in any base, `_`, `.`, exponent; a
/// letter right after is an error.
fn number_end(text: &str, start: usize) -> LexResult<usize> {
    let bytes = text.as_bytes();
    let mut i = start;
    if matches!(bytes.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let mut digits = "0123456789_";
    let mut exp = "eE";
    if bytes.get(i) == Some(&b'0') {
        match bytes.get(i + 1) {
            Some(b'x' | b'X') => {
                i += 2;
                digits = "0123456789abcdefABCDEF_";
                exp = "pP";
            }
            Some(b'o' | b'O') => {
                i += 2;
                digits = "01234567_";
                exp = "pP";
            }
            Some(b'b' | b'B') => {
                i += 2;
                digits = "01_";
                exp = "pP";
            }
            _ => {}
        }
    }
    let accept = |i: &mut usize, set: &str| {
        let mut any = false;
        while bytes.get(*i).is_some_and(|c| set.as_bytes().contains(c)) {
            *i += 1;
            any = true;
        }
        any
    };
    accept(&mut i, digits);
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        accept(&mut i, digits);
    }
    if bytes.get(i).is_some_and(|c| exp.as_bytes().contains(c)) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        accept(&mut i, "0123456789_");
    }
    let next = text[i..].chars().next();
    if let Some(c) = next.filter(|c| c.is_alphanumeric() || *c == '.') {
        return Err((
            start,
            format!("bad number syntax: \"{}{c}\"", &text[start..i]),
        ));
    }
    if i == start || (i == start + 1 && matches!(bytes[start], b'+' | b'-')) {
        return Err((start, "bad number syntax".to_string()));
    }
    Ok(i)
}

/// A `"..."` string with Go's escapes; returns the value and the end offset.
fn lex_quote(text: &str, start: usize) -> LexResult<(String, usize)> {
    let mut out = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + k + 1)),
            '\n' => break,
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                let v = match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\x07',
                    'b' => '\x08',
                    'f' => '\x0c',
                    'v' => '\x0b',
                    '\\' => '\\',
                    '"' => '"',
                    '\'' => '\'',
                    'x' | 'u' | 'U' | '0'..='7' => {
                        let (n, radix) = match e {
                            'x' => (2, 16),
                            'u' => (4, 16),
                            'U' => (8, 16),
                            _ => (2, 8),
                        };
                        let mut v: u32 = if radix == 8 { e as u32 - '0' as u32 } else { 0 };
                        for _ in 0..n {
                            let d = chars
                                .next()
                                .and_then(|(_, d)| d.to_digit(radix))
                                .ok_or((start, "invalid syntax in quoted string".to_string()))?;
                            v = v * radix + d;
                        }
                        if e == 'x' || radix == 8 {
                            // A byte; as Go, bytes >= 0x80 make invalid UTF-8,
                            // which a Rust string cannot hold: take the char.
                            char::from_u32(v).unwrap_or('\u{fffd}')
                        } else {
                            char::from_u32(v)
                                .ok_or((start, "invalid syntax in quoted string".to_string()))?
                        }
                    }
                    _ => return Err((start, "invalid syntax in quoted string".to_string())),
                };
                out.push(v);
            }
            c => out.push(c),
        }
    }
    Err((start, "unterminated quoted string".to_string()))
}

/// A `'c'` character constant; returns its code point and the end offset.
fn lex_char(text: &str, start: usize) -> LexResult<(i64, usize)> {
    let rest = &text[start + 1..];
    let mut close = None;
    let mut escaped = false;
    for (k, c) in rest.char_indices() {
        match c {
            '\n' => break,
            '\\' if !escaped => escaped = true,
            '\'' if !escaped => {
                close = Some(k);
                break;
            }
            _ => escaped = false,
        }
    }
    let close = close.ok_or((start, "unterminated character constant".to_string()))?;
    let body = &rest[..close];
    let end = start + 1 + close + 1;
    let quoted = format!("\"{}\"", body.replace('"', "\\\""));
    let (s, _) =
        lex_quote(&quoted, 0).map_err(|_| (start, "malformed character constant".to_string()))?;
    let mut cs = s.chars();
    match (cs.next(), cs.next()) {
        (Some(c), None) => Ok((c as i64, end)),
        _ => Err((start, format!("malformed character constant: '{body}'"))),
    }
}
