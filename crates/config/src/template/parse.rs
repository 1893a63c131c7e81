//! The parser: tokens to a tree of nodes, Go's grammar. Checks at parse
//! time what Go checks: functions exist, variables are declared, `break`
//! and `continue` sit inside a `range`, `else`/`end` match.

use std::collections::BTreeMap;

use super::lex::{Tok, Token};
use super::Functions;

type PResult<T> = Result<T, (usize, String)>;

/// Deepest nesting of blocks and parentheses accepted (keeps the recursion
/// bounded on hostile input).
const MAX_DEPTH: usize = 200;

#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// `if`, `with` or `range`: the pipeline, the body and the `else` body.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pipe {
    pub pos: usize,
    /// `$x = ...` rather than `$x := ...`.
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub pos: usize,
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub pos: usize,
    pub kind: ArgKind,
}

#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    Dot,
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A.B`
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `(pipeline)`
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B`
    Chain(Box<Arg>, Vec<String>),
}

pub(crate) struct Parsed {
    pub root: List,
    pub defined: BTreeMap<String, List>,
}

struct Parser<'f> {
    tokens: Vec<Token>,
    at: usize,
    funcs: &'f Functions,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    defined: BTreeMap<String, List>,
}

/// How a list ended.
enum Stop {
    Eof(usize),
    End(usize),
    /// `{{else}}`, or `{{else if ...}}` / `{{else with ...}}` (the keyword
    /// is left to read).
    Else(usize, Option<String>),
}

pub(crate) fn parse(tokens: Vec<Token>, funcs: &Functions) -> PResult<Parsed> {
    let mut p = Parser {
        tokens,
        at: 0,
        funcs,
        vars: vec!["$".to_string()],
        range_depth: 0,
        depth: 0,
        defined: BTreeMap::new(),
    };
    let (root, end) = p.list(true)?;
    match end {
        Stop::Eof(_) => {}
        Stop::End(pos) => return Err((pos, "unexpected {{end}}".to_string())),
        Stop::Else(pos, _) => return Err((pos, "unexpected {{else}}".to_string())),
    }
    Ok(Parsed {
        root,
        defined: p.defined,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        // The lexer always ends with Eof; stay on it.
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn expect_close(&mut self, context: &str) -> PResult<()> {
        let t = self.next();
        match t.kind {
            Tok::Close => Ok(()),
            _ => Err((
                t.pos,
                format!("unexpected {} in {context}", describe(&t.kind)),
            )),
        }
    }

    /// Items up to `{{end}}`, `{{else}}` or the end of the text.
    fn list(&mut self, top: bool) -> PResult<(List, Stop)> {
        let mut list = List::default();
        loop {
            let t = self.next();
            match t.kind {
                Tok::Eof => return Ok((list, Stop::Eof(t.pos))),
                Tok::Text(s) => list.nodes.push(Node::Text(s)),
                Tok::Open => {
                    let kw = match &self.peek().kind {
                        Tok::Ident(k) => Some(k.clone()),
                        _ => None,
                    };
                    let pos = self.peek().pos;
                    match kw.as_deref() {
                        Some("end") => {
                            self.next();
                            self.expect_close("end")?;
                            return Ok((list, Stop::End(pos)));
                        }
                        Some("else") => {
                            self.next();
                            let t = self.peek().clone();
                            if let Tok::Ident(k) = &t.kind {
                                if k == "if" || k == "with" {
                                    return Ok((list, Stop::Else(pos, Some(k.clone()))));
                                }
                            }
                            self.expect_close("else")?;
                            return Ok((list, Stop::Else(pos, None)));
                        }
                        Some("if") | Some("with") | Some("range") => {
                            self.next();
                            let kw = kw.unwrap_or_default();
                            let node = self.control(&kw, pos)?;
                            list.nodes.push(node);
                        }
                        Some("define") => {
                            self.next();
                            if !top {
                                return Err((pos, "unexpected define".to_string()));
                            }
                            self.define(pos)?;
                        }
                        Some("block") => {
                            self.next();
                            let node = self.block(pos)?;
                            list.nodes.push(node);
                        }
                        Some("template") => {
                            self.next();
                            let (name, pipe) = self.template_call(pos, "template")?;
                            list.nodes.push(Node::Template { pos, name, pipe });
                        }
                        Some("break") | Some("continue") => {
                            self.next();
                            if self.range_depth == 0 {
                                return Err((
                                    pos,
                                    format!(
                                        "{{{{{}}}}} outside {{{{range}}}}",
                                        kw.unwrap_or_default()
                                    ),
                                ));
                            }
                            self.expect_close(kw.as_deref().unwrap_or_default())?;
                            list.nodes.push(if kw.as_deref() == Some("break") {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        _ => {
                            let pipe = self.pipeline("command", true)?;
                            list.nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => return Err((t.pos, format!("unexpected {}", describe(&other)))),
            }
        }
    }

    fn enter(&mut self, pos: usize) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((pos, "template nested too deeply".to_string()));
        }
        Ok(())
    }

    /// `if`/`with`/`range` after the keyword, up to its `{{end}}`.
    fn control(&mut self, kw: &str, pos: usize) -> PResult<Node> {
        self.enter(pos)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(kw, kw == "range")?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(false)?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Stop::Eof(p) => return Err((p, format!("unexpected EOF in {kw}"))),
            Stop::End(_) => None,
            Stop::Else(p, chained) => match chained {
                Some(next_kw) => {
                    if kw == "range" || next_kw != kw {
                        return Err((p, format!("unexpected {next_kw} after else in {kw}")));
                    }
                    // `{{else if x}}`: an `if` inside the else, sharing the end.
                    let inner_pos = self.next().pos;
                    let inner = self.control(&next_kw, inner_pos)?;
                    Some(List { nodes: vec![inner] })
                }
                None => {
                    let (else_list, end) = self.list(false)?;
                    match end {
                        Stop::End(_) => {}
                        Stop::Eof(p) => return Err((p, format!("unexpected EOF in {kw}"))),
                        Stop::Else(p, _) => {
                            return Err((p, format!("expected end; found {{{{else}}}} in {kw}")))
                        }
                    }
                    Some(else_list)
                }
            },
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let branch = Branch {
            pipe,
            list,
            else_list,
        };
        Ok(match kw {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    fn template_name(&mut self, pos: usize, context: &str) -> PResult<String> {
        let t = self.next();
        match t.kind {
            Tok::Str(s) => Ok(s),
            _ => Err((
                pos,
                format!("unexpected {} in {context} clause", describe(&t.kind)),
            )),
        }
    }

    fn template_call(&mut self, pos: usize, context: &str) -> PResult<(String, Option<Pipe>)> {
        let name = self.template_name(pos, context)?;
        if matches!(self.peek().kind, Tok::Close) {
            self.next();
            return Ok((name, None));
        }
        // The called template sees only its own `$`.
        let pipe = self.pipeline(context, false)?;
        Ok((name, Some(pipe)))
    }

    fn define(&mut self, pos: usize) -> PResult<()> {
        self.enter(pos)?;
        let name = self.template_name(pos, "define")?;
        self.expect_close("define")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let (list, end) = self.list(false)?;
        self.vars = saved;
        if !matches!(end, Stop::End(_)) {
            return Err((pos, "unexpected EOF or else in define".to_string()));
        }
        self.defined.insert(name, list);
        self.depth -= 1;
        Ok(())
    }

    fn block(&mut self, pos: usize) -> PResult<Node> {
        self.enter(pos)?;
        let (name, pipe) = self.template_call(pos, "block")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.list(false)?;
        self.vars = saved;
        self.range_depth = saved_range;
        if !matches!(end, Stop::End(_)) {
            return Err((pos, "unexpected EOF or else in block".to_string()));
        }
        self.defined.insert(name.clone(), list);
        self.depth -= 1;
        Ok(Node::Template { pos, name, pipe })
    }

    /// A pipeline up to the closing delimiter (consumed), with an optional
    /// declaration in front.
    fn pipeline(&mut self, context: &str, allow_two_vars: bool) -> PResult<Pipe> {
        let pos = self.peek().pos;
        let mut decl = Vec::new();
        let mut is_assign = false;
        // `$x :=`, `$x =`, `$i, $v :=`
        if let Tok::Var(name) = &self.peek().kind {
            let name = name.clone();
            let next = self.tokens.get(self.at + 1).map(|t| &t.kind);
            match next {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    is_assign = matches!(next, Some(Tok::Assign));
                    self.at += 2;
                    decl.push(name);
                }
                Some(Tok::Comma) if allow_two_vars => {
                    let second = self.tokens.get(self.at + 2).map(|t| t.kind.clone());
                    let op = self.tokens.get(self.at + 3).map(|t| t.kind.clone());
                    match (second, op) {
                        (Some(Tok::Var(v2)), Some(Tok::Declare | Tok::Assign)) => {
                            is_assign = matches!(
                                self.tokens.get(self.at + 3).map(|t| &t.kind),
                                Some(Tok::Assign)
                            );
                            self.at += 4;
                            decl.push(name);
                            decl.push(v2);
                        }
                        _ => {
                            return Err((pos, format!("too many declarations in {context}")));
                        }
                    }
                }
                Some(Tok::Comma) => {
                    return Err((pos, format!("too many declarations in {context}")));
                }
                _ => {}
            }
        }
        if is_assign {
            for v in &decl {
                if !self.vars.contains(v) {
                    return Err((pos, format!("undefined variable {v:?}")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(context)?;
            cmds.push(cmd);
            let t = self.next();
            match t.kind {
                Tok::Close | Tok::RParen => break,
                Tok::Pipe => continue,
                other => {
                    return Err((
                        t.pos,
                        format!("unexpected {} in {context}", describe(&other)),
                    ))
                }
            }
        }
        // Declared after the pipeline is read: `$x := $x` reads the outer one.
        if !is_assign {
            self.vars.extend(decl.iter().cloned());
        }
        for (i, c) in cmds.iter().enumerate().skip(1) {
            if let Some(first) = c.args.first() {
                if matches!(
                    first.kind,
                    ArgKind::Bool(_)
                        | ArgKind::Dot
                        | ArgKind::Nil
                        | ArgKind::Int(_)
                        | ArgKind::Float(_)
                        | ArgKind::Str(_)
                ) {
                    return Err((
                        c.pos,
                        format!("non executable command in pipeline stage {}", i + 1),
                    ));
                }
            }
        }
        Ok(Pipe {
            pos,
            is_assign,
            decl,
            cmds,
        })
    }

    /// Operands up to `|`, `)` or the closing delimiter (not consumed).
    fn command(&mut self, context: &str) -> PResult<Cmd> {
        let pos = self.peek().pos;
        let mut args = Vec::new();
        loop {
            let t = self.peek().clone();
            match t.kind {
                Tok::Close | Tok::Pipe | Tok::RParen => break,
                Tok::Eof => return Err((t.pos, format!("unclosed action in {context}"))),
                _ => {}
            }
            if !args.is_empty() && !t.space_before {
                return Err((t.pos, format!("missing space before {}", describe(&t.kind))));
            }
            let arg = self.operand(context)?;
            args.push(arg);
        }
        if args.is_empty() {
            return Err((pos, format!("missing value for {context}")));
        }
        if args.len() > 1 {
            if let ArgKind::Nil = args[0].kind {
                return Err((pos, "nil is not a command".to_string()));
            }
        }
        Ok(Cmd { pos, args })
    }

    /// A term and the fields chained to it.
    fn operand(&mut self, context: &str) -> PResult<Arg> {
        let t = self.next();
        let pos = t.pos;
        let kind = match t.kind {
            Tok::Dot => ArgKind::Dot,
            Tok::Field(f) => ArgKind::Field(vec![f]),
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err((pos, format!("undefined variable {v:?}")));
                }
                ArgKind::Var(v, Vec::new())
            }
            Tok::Str(s) => ArgKind::Str(s),
            Tok::Char(c) => ArgKind::Int(c),
            Tok::Number(n) => number(&n).map_err(|m| (pos, m))?,
            Tok::Ident(w) => match w.as_str() {
                "true" => ArgKind::Bool(true),
                "false" => ArgKind::Bool(false),
                "nil" => ArgKind::Nil,
                _ => {
                    if !self.funcs.contains(&w) {
                        return Err((pos, format!("function {w:?} not defined")));
                    }
                    ArgKind::Func(w)
                }
            },
            Tok::LParen => {
                self.enter(pos)?;
                let pipe = self.pipeline("parenthesized pipeline", false)?;
                self.depth -= 1;
                ArgKind::Pipe(Box::new(pipe))
            }
            other => return Err((pos, format!("unexpected {} in {context}", describe(&other)))),
        };
        // Fields glued to the term: `.A.B`, `$x.A`, `(...).A`.
        let mut fields = Vec::new();
        while let Tok::Field(f) = &self.peek().kind {
            if self.peek().space_before {
                break;
            }
            fields.push(f.clone());
            self.next();
        }
        if fields.is_empty() {
            return Ok(Arg { pos, kind });
        }
        let kind = match kind {
            ArgKind::Field(mut f) => {
                f.extend(fields);
                ArgKind::Field(f)
            }
            ArgKind::Var(v, _) => ArgKind::Var(v, fields),
            ArgKind::Pipe(_) | ArgKind::Dot => ArgKind::Chain(Box::new(Arg { pos, kind }), fields),
            _ => return Err((pos, "unexpected . after term".to_string())),
        };
        Ok(Arg { pos, kind })
    }
}

/// A number constant, as Go's parser reads it: integers (any base,
/// underscores) stay integers; a `.`, an exponent, or a value too big for
/// an integer makes a float.
fn number(text: &str) -> Result<ArgKind, String> {
    let bad = || format!("bad number syntax: {text:?}");
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    let is_float_syntax = radix == 10 && (digits.contains('.') || digits.contains('e'));
    if !is_float_syntax {
        if radix == 16 && digits.contains(['.', 'p']) {
            return Err(bad());
        }
        let magnitude = i128::from_str_radix(digits, radix).map_err(|_| bad())?;
        let v = if neg { -magnitude } else { magnitude };
        return i64::try_from(v)
            .map(ArgKind::Int)
            .map_err(|_| format!("{text} overflows int"));
    }
    let f: f64 = body.parse().map_err(|_| bad())?;
    Ok(ArgKind::Float(if neg { -f } else { f }))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(_) => "text".to_string(),
        Tok::Open => "\"{{\"".to_string(),
        Tok::Close => "\"}}\"".to_string(),
        Tok::Ident(s) => format!("<{s}>"),
        Tok::Field(s) => format!("<.{s}>"),
        Tok::Dot => "<.>".to_string(),
        Tok::Var(s) => format!("<{s}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Number(s) => format!("<{s}>"),
        Tok::Char(c) => format!("<{c}>"),
        Tok::Pipe => "<|>".to_string(),
        Tok::LParen => "<(>".to_string(),
        Tok::RParen => "<)>".to_string(),
        Tok::Declare => "<:=>".to_string(),
        Tok::Assign => "<=>".to_string(),
        Tok::Comma => "<,>".to_string(),
        Tok::Eof => "EOF".to_string(),
    }
}
