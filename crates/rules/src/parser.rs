//! Recursive descent over the grammar in the crate docs; each matcher is
//! compiled as soon as it is read, so errors point at the argument at fault.
//! Both syntaxes share the grammar; the [`Syntax`] picks the matchers.

use crate::expr::{Expr, Rule};
use crate::lexer::{Fault, Lexer, Tok, Token, NEWLINE_ENDS_RULE};
use crate::matcher::{spellings, Arg, Kind, Matcher};
use crate::{v2, RuleError, Syntax};

/// Deep enough for any rule a person writes; keeps the recursion bounded.
const MAX_DEPTH: usize = 200;

pub(crate) fn parse(src: &str, syntax: Syntax) -> Result<Rule, RuleError> {
    parse_expr(src, syntax)
        .map(|expr| Rule::new(src, syntax, expr))
        .map_err(|f| RuleError {
            rule: src.to_string(),
            position: f.pos,
            message: f.msg,
        })
}

fn parse_expr(src: &str, syntax: Syntax) -> Result<Expr, Fault> {
    let mut lexer = Lexer::new(src);
    let tok = lexer.next_token()?;
    if tok.tok == Tok::Eof {
        return Err(Fault::new(0, "empty rule"));
    }
    let mut p = Parser {
        lexer,
        tok,
        depth: 0,
        syntax,
    };
    let expr = p.or()?;
    // Go ends the expression at a line break; one may close the rule.
    let newline = p.tok.tok == Tok::Newline;
    if newline {
        p.advance()?;
    }
    let what = p.tok.tok.describe();
    match &p.tok.tok {
        Tok::Eof => Ok(expr),
        _ if newline => Err(p.fault(format!(
            "unexpected {what} on a new line: {NEWLINE_ENDS_RULE}"
        ))),
        Tok::RParen => Err(p.fault("unexpected ')' without a matching '('")),
        Tok::Other('&') => Err(p.fault("unexpected '&': the AND operator is '&&'")),
        Tok::Other('|') => Err(p.fault("unexpected '|': the OR operator is '||'")),
        _ => Err(p.fault(format!(
            "unexpected {what}: expected '&&' or '||' between two conditions"
        ))),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Token<'a>,
    depth: usize,
    syntax: Syntax,
}

/// A matcher name, resolved in the rule's syntax.
#[derive(Clone, Copy)]
enum Callee {
    V3(Kind),
    V2(v2::Kind),
}

/// Matchers of the v2 syntax only, and what v3 has instead.
const ONLY_V2: [(&str, &str); 3] = [
    ("Headers", "Header"),
    ("HeadersRegexp", "HeaderRegexp"),
    ("HostHeader", "Host"),
];

/// Matchers of the v3 syntax only, and what v2 has instead.
const ONLY_V3: [(&str, &str); 4] = [
    ("Header", "Headers"),
    ("HeaderRegexp", "HeadersRegexp"),
    (
        "PathRegexp",
        "Path or PathPrefix with a {name:regexp} template",
    ),
    ("QueryRegexp", "Query with a {name:regexp} template"),
];

/// Why `name` is not a matcher of `syntax` (Traefik's words), with a hint
/// where one helps: the spellings Traefik accepts, or what this syntax has
/// in place of the other syntax's matcher.
fn unsupported(name: &str, syntax: Syntax) -> String {
    let (other_case, others) = match syntax {
        Syntax::V3 => (Kind::like(name).map(Kind::name), &ONLY_V2[..]),
        Syntax::V2 => (v2::Kind::like(name).map(v2::Kind::name), &ONLY_V3[..]),
    };
    let instead = others
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, instead)| *instead);
    let hint = match (other_case, instead, syntax) {
        (Some(canon), _, _) => format!(" (write {})", spellings(canon)),
        (None, Some(instead), Syntax::V3) => {
            format!(" (a v2 matcher: write {instead}, or set ruleSyntax: v2)")
        }
        (None, Some(instead), Syntax::V2) => {
            format!(" (a v3 matcher: the v2 syntax has {instead})")
        }
        (None, None, _) => String::new(),
    };
    format!("unsupported function: {name}{hint}")
}

impl<'a> Parser<'a> {
    fn advance(&mut self) -> Result<Token<'a>, Fault> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn fault(&self, msg: impl Into<String>) -> Fault {
        Fault::new(self.tok.pos, msg)
    }

    fn or(&mut self) -> Result<Expr, Fault> {
        let mut left = self.and()?;
        while self.tok.tok == Tok::OrOr {
            self.advance()?;
            let right = self.and()?;
            left = Expr::or(left, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, Fault> {
        let mut left = self.unary()?;
        while self.tok.tok == Tok::AndAnd {
            self.advance()?;
            let right = self.unary()?;
            left = Expr::and(left, right);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fault("rule nests too deeply"));
        }
        let expr = if self.tok.tok == Tok::Bang {
            self.advance()?;
            Expr::Not(Box::new(self.unary()?))
        } else {
            self.primary()?
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn primary(&mut self) -> Result<Expr, Fault> {
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
            Tok::Eof => Err(Fault::new(
                tok.pos,
                "unexpected end of rule: expected a matcher, '(' or '!'",
            )),
            Tok::Str(_) => Err(Fault::new(
                tok.pos,
                "unexpected string: a value goes inside a matcher, as in Host(`example.com`)",
            )),
            other => Err(Fault::new(
                tok.pos,
                format!("expected a matcher, '(' or '!', found {}", other.describe()),
            )),
        }
    }

    fn call(&mut self, name: &str, name_pos: usize) -> Result<Expr, Fault> {
        let callee = match self.syntax {
            Syntax::V3 => Kind::from_spelling(name).map(Callee::V3),
            Syntax::V2 => v2::Kind::from_spelling(name).map(Callee::V2),
        };
        let Some(callee) = callee else {
            return Err(Fault::new(name_pos, unsupported(name, self.syntax)));
        };
        if self.tok.tok != Tok::LParen {
            return Err(self.fault(format!(
                "expected '(' after {name}, found {}",
                self.tok.tok.describe()
            )));
        }
        self.advance()?;
        let mut args = Vec::new();
        loop {
            if self.tok.tok == Tok::RParen {
                break;
            }
            let tok = self.advance()?;
            let Tok::Str(value) = tok.tok else {
                let what = tok.tok.describe();
                let msg = match tok.tok {
                    Tok::Eof => format!("unexpected end of rule: {name}( is not closed"),
                    _ => format!(
                        "expected a value in backticks or double quotes in {name}(...), found {what}"
                    ),
                };
                return Err(Fault::new(tok.pos, msg));
            };
            args.push(Arg {
                value,
                pos: tok.pos,
            });
            // Go allows `f(a, b...)` and a trailing comma.
            if self.tok.tok == Tok::Ellipsis {
                self.advance()?;
                if self.tok.tok == Tok::Comma {
                    self.advance()?;
                }
                if self.tok.tok != Tok::RParen {
                    return Err(self.fault(format!(
                        "expected ')' after '...', found {}",
                        self.tok.tok.describe()
                    )));
                }
                break;
            }
            match self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                }
                Tok::RParen => break,
                Tok::Newline => {
                    return Err(self.fault("missing ',' before newline in argument list"))
                }
                Tok::Eof => {
                    return Err(self.fault(format!("unexpected end of rule: {name}( is not closed")))
                }
                _ => {
                    return Err(self.fault(format!(
                        "expected ',' or ')' after a value of {name}, found {}",
                        self.tok.tok.describe()
                    )))
                }
            }
        }
        let close = self.advance()?;
        Ok(match callee {
            Callee::V3(kind) => {
                Expr::Match(Box::new(Matcher::compile(kind, args, name_pos, close.pos)?))
            }
            Callee::V2(kind) => {
                Expr::MatchV2(Box::new(v2::Matcher::compile(kind, args, name_pos)?))
            }
        })
    }
}
