//! Providers' `constraints`: an expression over an element's labels that
//! decides whether the provider takes that element at all, as Traefik reads
//! it for Docker, Swarm, ECS, Nomad and Consul Catalog (its
//! `constraints.MatchLabels`).
//!
//! ```text
//! expr    := or [newline]
//! or      := and { "||" and }
//! and     := unary { "&&" unary }
//! unary   := "!" unary | primary
//! primary := "(" or ")" | Label(name, value) | LabelRegex(name, regexp)
//! ```
//!
//! Tokens, strings and comments are the rules' (Go's, see `lexer.rs`).
//! `Label(k, v)` holds when label `k` is `v` exactly; `LabelRegex(k, re)`
//! when the Go regexp `re` matches somewhere in label `k`'s value. A
//! missing label reads as the empty value, and values may be empty (unlike
//! a rule's). The names are case-sensitive. A regexp that does not
//! compile matches nothing, as in Traefik, which compiles it only when it
//! evaluates the expression. An empty expression matches everything.

use std::collections::BTreeMap;

use regex::Regex;

use crate::goregex;
use crate::lexer::{Fault, Lexer, Tok, Token};
use crate::RuleError;

/// Deep enough for any expression a person writes.
const MAX_DEPTH: usize = 200;

/// A parsed constraint expression.
#[derive(Debug, Clone)]
pub struct Constraint {
    source: String,
    expr: Option<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Label(String, String),
    /// `None`: the pattern does not compile and matches nothing.
    LabelRegex(String, Option<Regex>),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

impl Constraint {
    /// Parses an expression; an empty (or blank) one matches everything.
    pub fn parse(source: &str) -> Result<Constraint, RuleError> {
        let expr = if source.trim().is_empty() {
            None
        } else {
            Some(parse_node(source).map_err(|f| RuleError {
                rule: source.to_string(),
                position: f.pos,
                message: f.msg,
            })?)
        };
        Ok(Constraint {
            source: source.to_string(),
            expr,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether an element with these labels is kept.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.expr.as_ref().is_none_or(|e| e.eval(labels))
    }
}

impl Node {
    fn eval(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).map_or("", String::as_str);
        match self {
            Node::Label(k, v) => get(k) == v,
            Node::LabelRegex(k, re) => re.as_ref().is_some_and(|re| re.is_match(get(k))),
            Node::Not(a) => !a.eval(labels),
            Node::And(a, b) => a.eval(labels) && b.eval(labels),
            Node::Or(a, b) => a.eval(labels) || b.eval(labels),
        }
    }
}

fn parse_node(src: &str) -> Result<Node, Fault> {
    let mut lexer = Lexer::new(src);
    let tok = lexer.next_token()?;
    let mut p = Parser {
        lexer,
        tok,
        depth: 0,
    };
    let node = p.or()?;
    if p.tok.tok == Tok::Newline {
        p.advance()?;
    }
    match p.tok.tok {
        Tok::Eof => Ok(node),
        _ => Err(p.fault(format!(
            "unexpected {}: expected '&&' or '||' between two conditions",
            p.tok.tok.describe()
        ))),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Token<'a>,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<Token<'a>, Fault> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn fault(&self, msg: impl Into<String>) -> Fault {
        Fault::new(self.tok.pos, msg)
    }

    fn or(&mut self) -> Result<Node, Fault> {
        let mut left = self.and()?;
        while self.tok.tok == Tok::OrOr {
            self.advance()?;
            left = Node::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, Fault> {
        let mut left = self.unary()?;
        while self.tok.tok == Tok::AndAnd {
            self.advance()?;
            left = Node::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fault("expression nests too deeply"));
        }
        let node = if self.tok.tok == Tok::Bang {
            self.advance()?;
            Node::Not(Box::new(self.unary()?))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, Fault> {
        let tok = self.advance()?;
        match tok.tok {
            Tok::LParen => {
                let inner = self.or()?;
                if self.tok.tok != Tok::RParen {
                    return Err(self.fault(format!(
                        "expected ')' to close the '(' at position {}, found {}",
                        tok.pos,
                        self.tok.tok.describe()
                    )));
                }
                self.advance()?;
                Ok(inner)
            }
            Tok::Ident(name) => self.call(name, tok.pos),
            other => Err(Fault::new(
                tok.pos,
                format!(
                    "expected Label, LabelRegex, '(' or '!', found {}",
                    other.describe()
                ),
            )),
        }
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Node, Fault> {
        if name != "Label" && name != "LabelRegex" {
            return Err(Fault::new(
                pos,
                format!("unsupported function: {name} (constraints know Label and LabelRegex)"),
            ));
        }
        if self.tok.tok != Tok::LParen {
            return Err(self.fault(format!(
                "expected '(' after {name}, found {}",
                self.tok.tok.describe()
            )));
        }
        self.advance()?;
        let mut args: Vec<Vec<u8>> = Vec::new();
        while self.tok.tok != Tok::RParen {
            let tok = self.advance()?;
            let Tok::Str(value) = tok.tok else {
                return Err(Fault::new(
                    tok.pos,
                    format!(
                        "expected a value in backticks or double quotes in {name}(...), found {}",
                        tok.tok.describe()
                    ),
                ));
            };
            args.push(value);
            match self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => {}
                _ => {
                    return Err(self.fault(format!(
                        "expected ',' or ')' after a value of {name}, found {}",
                        self.tok.tok.describe()
                    )))
                }
            }
        }
        self.advance()?;
        let [key, value]: [Vec<u8>; 2] = args.try_into().map_err(|a: Vec<Vec<u8>>| {
            Fault::new(
                pos,
                format!(
                    "{name} takes 2 values (a label name and a value), not {}",
                    a.len()
                ),
            )
        })?;
        let key = String::from_utf8_lossy(&key).into_owned();
        Ok(if name == "Label" {
            Node::Label(key, String::from_utf8_lossy(&value).into_owned())
        } else {
            Node::LabelRegex(key, goregex::compile(&value).ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn evaluates_as_traefik() {
        let l = labels(&[
            ("env", "prod"),
            ("team", "edge-42"),
            ("traefik.tags", "a,b"),
        ]);
        // (description, expression, matches)
        let cases: &[(&str, &str, bool)] = &[
            ("empty matches all", "", true),
            ("label equal", "Label(`env`, `prod`)", true),
            ("label differs", "Label(`env`, `dev`)", false),
            ("missing label reads empty", "Label(`nope`, ``)", true),
            ("double quotes", "Label(\"env\", \"prod\")", true),
            ("regex unanchored", "LabelRegex(`team`, `ge-4`)", true),
            (
                "regex anchored",
                "LabelRegex(`team`, `^edge-[0-9]+$`)",
                true,
            ),
            ("regex no match", "LabelRegex(`team`, `^core`)", false),
            (
                "bad regex matches nothing",
                "LabelRegex(`team`, `(`)",
                false,
            ),
            ("not", "!Label(`env`, `dev`)", true),
            (
                "and",
                "Label(`env`, `prod`) && LabelRegex(`team`, `edge`)",
                true,
            ),
            (
                "and false",
                "Label(`env`, `prod`) && Label(`team`, `x`)",
                false,
            ),
            (
                "or",
                "Label(`env`, `dev`) || Label(`team`, `edge-42`)",
                true,
            ),
            (
                "precedence: && before ||",
                "Label(`env`, `dev`) && Label(`x`, `y`) || Label(`env`, `prod`)",
                true,
            ),
            (
                "parentheses",
                "Label(`env`, `dev`) && (Label(`x`, `y`) || Label(`env`, `prod`))",
                false,
            ),
            ("double negation", "!!Label(`env`, `prod`)", true),
            (
                "not binds tight",
                "!Label(`env`, `prod`) || Label(`env`, `prod`)",
                true,
            ),
        ];
        for (what, expr, want) in cases {
            let c = Constraint::parse(expr).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(c.matches(&l), *want, "{what}: {expr}");
        }
    }

    #[test]
    fn errors() {
        // (description, expression, part of the message)
        let cases: &[(&str, &str, &str)] = &[
            (
                "unknown function",
                "Host(`a`)",
                "unsupported function: Host",
            ),
            (
                "lower case",
                "label(`a`, `b`)",
                "unsupported function: label",
            ),
            ("one value", "Label(`a`)", "takes 2 values"),
            ("three values", "Label(`a`, `b`, `c`)", "takes 2 values"),
            ("unclosed", "Label(`a`, `b`", "expected"),
            ("dangling and", "Label(`a`, `b`) &&", "expected Label"),
            (
                "single &",
                "Label(`a`, `b`) & Label(`c`, `d`)",
                "expected '&&' or '||'",
            ),
            ("bare word", "Label", "expected '(' after Label"),
            ("unclosed paren", "(Label(`a`, `b`)", "expected ')'"),
        ];
        for (what, expr, want) in cases {
            let e = Constraint::parse(expr).expect_err(what);
            assert!(e.message.contains(want), "{what}: {expr}: {e}");
        }
    }
}
