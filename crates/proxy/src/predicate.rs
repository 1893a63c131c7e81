//! The small expression language of `circuitBreaker.expression` and
//! `buffering.retryExpression`: function calls compared with literals,
//! combined with `&&` and `||` (`&&` binds tighter) and parentheses, e.g.
//! `NetworkErrorRatio() > 0.30 || ResponseCodeRatio(500, 600, 0, 600) > 0.25`.
//! Each language declares its functions; names, argument counts and types
//! are checked when the expression is read, so a typo is a configuration
//! error rather than a predicate that never fires.

use std::fmt;

/// What a function returns, or an argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Number,
    Text,
    Bool,
}

/// A function of a language: its name, argument kinds and result.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    pub name: &'static str,
    pub args: &'static [Kind],
    pub returns: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Number(_) => Kind::Number,
            Value::Text(_) => Kind::Text,
            Value::Bool(_) => Kind::Bool,
        }
    }
}

/// A function call as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: &'static str,
    pub args: Vec<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Call(Call),
    Literal(Value),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Compare(Operand, Op, Operand),
    /// A function returning a boolean, used alone.
    Test(Call),
}

/// Evaluates calls against live state.
pub trait Functions {
    fn call(&self, call: &Call) -> Value;
}

impl Expr {
    pub fn eval(&self, f: &dyn Functions) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(f) || b.eval(f),
            Expr::And(a, b) => a.eval(f) && b.eval(f),
            Expr::Test(call) => f.call(call) == Value::Bool(true),
            Expr::Compare(a, op, b) => {
                let value = |o: &Operand| match o {
                    Operand::Call(c) => f.call(c),
                    Operand::Literal(v) => v.clone(),
                };
                compare(&value(a), *op, &value(b))
            }
        }
    }

    /// The calls the expression makes (for callers that prepare state).
    pub fn calls(&self) -> Vec<&Call> {
        match self {
            Expr::Or(a, b) | Expr::And(a, b) => {
                let mut v = a.calls();
                v.extend(b.calls());
                v
            }
            Expr::Test(c) => vec![c],
            Expr::Compare(a, _, b) => [a, b]
                .into_iter()
                .filter_map(|o| match o {
                    Operand::Call(c) => Some(c),
                    Operand::Literal(_) => None,
                })
                .collect(),
        }
    }
}

fn compare(a: &Value, op: Op, b: &Value) -> bool {
    let ord = match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => ord == Equal,
        Op::Ne => ord != Equal,
        Op::Lt => ord == Less,
        Op::Le => ord != Greater,
        Op::Gt => ord == Greater,
        Op::Ge => ord != Less,
    }
}

/// An expression that cannot be read, with the byte offset it fails at.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(f64),
    Text(String),
    And,
    Or,
    Op(Op),
    Open,
    Close,
    Comma,
}

fn lex(input: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |offset: usize, message: String| ParseError { offset, message };
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let two = |s: &[u8]| bytes.get(i..i + 2) == Some(s);
        let token = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Token::Open,
            b')' => Token::Close,
            b',' => Token::Comma,
            _ if two(b"&&") => Token::And,
            _ if two(b"||") => Token::Or,
            _ if two(b"==") => Token::Op(Op::Eq),
            _ if two(b"!=") => Token::Op(Op::Ne),
            _ if two(b"<=") => Token::Op(Op::Le),
            _ if two(b">=") => Token::Op(Op::Ge),
            b'<' => Token::Op(Op::Lt),
            b'>' => Token::Op(Op::Gt),
            b'"' | b'`' | b'\'' => {
                let end = input[i + 1..]
                    .find(c as char)
                    .ok_or_else(|| err(i, "unterminated string".into()))?;
                let text = input[i + 1..i + 1 + end].to_string();
                i += end + 2;
                out.push((start, Token::Text(text)));
                continue;
            }
            b'0'..=b'9' | b'.' => {
                let end = input[i..]
                    .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                    .map_or(input.len(), |e| i + e);
                let n: f64 = input[i..end]
                    .parse()
                    .map_err(|_| err(i, format!("bad number {:?}", &input[i..end])))?;
                i = end;
                out.push((start, Token::Number(n)));
                continue;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let end = input[i..]
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                    .map_or(input.len(), |e| i + e);
                let word = input[i..end].to_string();
                i = end;
                out.push((start, Token::Ident(word)));
                continue;
            }
            _ => {
                return Err(err(
                    i,
                    format!(
                        "unexpected character {:?}",
                        input[i..].chars().next().unwrap_or('?')
                    ),
                ))
            }
        };
        i += match token {
            Token::And | Token::Or => 2,
            Token::Op(Op::Eq | Op::Ne | Op::Le | Op::Ge) => 2,
            _ => 1,
        };
        out.push((start, token));
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
    functions: &'a [Signature],
}

/// Reads `input` in the language whose functions are `functions`; the
/// whole expression must be a condition.
pub fn parse(input: &str, functions: &[Signature]) -> Result<Expr, ParseError> {
    let tokens = lex(input)?;
    if tokens.is_empty() {
        return Err(ParseError {
            offset: 0,
            message: "empty expression".into(),
        });
    }
    let mut p = Parser {
        tokens,
        pos: 0,
        end: input.len(),
        functions,
    };
    let expr = p.or()?;
    if let Some((offset, t)) = p.tokens.get(p.pos) {
        return Err(ParseError {
            offset: *offset,
            message: format!("unexpected {t:?} after the expression"),
        });
    }
    Ok(expr)
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|t| &t.1)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.0)
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            offset: self.offset(),
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.condition()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.condition()?));
        }
        Ok(left)
    }

    fn condition(&mut self) -> Result<Expr, ParseError> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            if self.peek() != Some(&Token::Close) {
                return self.fail("expected )");
            }
            self.pos += 1;
            return Ok(inner);
        }
        let at = self.offset();
        let left = self.operand()?;
        let Some(Token::Op(op)) = self.peek().cloned() else {
            return match left {
                (Operand::Call(c), Kind::Bool) => Ok(Expr::Test(c)),
                _ => Err(ParseError {
                    offset: at,
                    message: "expected a comparison (==, !=, <, <=, >, >=) or a boolean function"
                        .into(),
                }),
            };
        };
        self.pos += 1;
        let right_at = self.offset();
        let right = self.operand()?;
        if left.1 != right.1 {
            return Err(ParseError {
                offset: right_at,
                message: format!("cannot compare {:?} with {:?}", left.1, right.1),
            });
        }
        Ok(Expr::Compare(left.0, op, right.0))
    }

    fn operand(&mut self) -> Result<(Operand, Kind), ParseError> {
        let Some(token) = self.peek().cloned() else {
            return self.fail("expected a function call or a value");
        };
        self.pos += 1;
        match token {
            Token::Number(n) => Ok((Operand::Literal(Value::Number(n)), Kind::Number)),
            Token::Text(s) => Ok((Operand::Literal(Value::Text(s)), Kind::Text)),
            Token::Ident(name) => {
                self.pos -= 1;
                let call_at = self.offset();
                self.pos += 1;
                let Some(sig) = self.functions.iter().find(|s| s.name == name) else {
                    let known: Vec<&str> = self.functions.iter().map(|s| s.name).collect();
                    return Err(ParseError {
                        offset: call_at,
                        message: format!("unknown function {name:?} (known: {})", known.join(", ")),
                    });
                };
                if self.peek() != Some(&Token::Open) {
                    return self.fail(format!("expected ( after {name}"));
                }
                self.pos += 1;
                let mut args = Vec::new();
                while self.peek() != Some(&Token::Close) {
                    if !args.is_empty() {
                        if self.peek() != Some(&Token::Comma) {
                            return self.fail("expected , or )");
                        }
                        self.pos += 1;
                    }
                    match self.peek().cloned() {
                        Some(Token::Number(n)) => args.push(Value::Number(n)),
                        Some(Token::Text(s)) => args.push(Value::Text(s)),
                        _ => return self.fail("expected a literal argument"),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                let kinds: Vec<Kind> = args.iter().map(Value::kind).collect();
                if kinds != sig.args {
                    return Err(ParseError {
                        offset: call_at,
                        message: format!(
                            "{name} takes {} argument(s) of kinds {:?}, got {:?}",
                            sig.args.len(),
                            sig.args,
                            kinds
                        ),
                    });
                }
                Ok((
                    Operand::Call(Call {
                        name: sig.name,
                        args,
                    }),
                    sig.returns,
                ))
            }
            other => {
                self.pos -= 1;
                self.fail(format!("unexpected {other:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FNS: &[Signature] = &[
        Signature {
            name: "Ratio",
            args: &[],
            returns: Kind::Number,
        },
        Signature {
            name: "Codes",
            args: &[Kind::Number, Kind::Number],
            returns: Kind::Number,
        },
        Signature {
            name: "Method",
            args: &[],
            returns: Kind::Text,
        },
        Signature {
            name: "Broken",
            args: &[],
            returns: Kind::Bool,
        },
    ];

    struct State {
        ratio: f64,
        broken: bool,
    }

    impl Functions for State {
        fn call(&self, call: &Call) -> Value {
            match call.name {
                "Ratio" => Value::Number(self.ratio),
                "Codes" => match call.args.as_slice() {
                    [Value::Number(a), Value::Number(b)] => Value::Number(a + b),
                    _ => Value::Number(0.0),
                },
                "Method" => Value::Text("GET".into()),
                _ => Value::Bool(self.broken),
            }
        }
    }

    #[test]
    fn evaluation_table() {
        let state = State {
            ratio: 0.5,
            broken: true,
        };
        let cases: &[(&str, bool)] = &[
            ("Ratio() > 0.3", true),
            ("Ratio() > 0.5", false),
            ("Ratio() >= 0.5", true),
            ("Ratio() < 1", true),
            ("Ratio() <= 0.49", false),
            ("Ratio() == 0.5", true),
            ("Ratio() != 0.5", false),
            ("0.4 < Ratio()", true),
            ("Codes(1, 2) == 3", true),
            ("Method() == \"GET\"", true),
            ("Method() == `POST`", false),
            ("Broken()", true),
            ("Broken() && Ratio() > 0.9", false),
            ("Broken() || Ratio() > 0.9", true),
            // && binds tighter than ||.
            ("Ratio() > 0.9 && Broken() || Broken()", true),
            ("Ratio() > 0.9 && (Broken() || Broken())", false),
            ("((Ratio() > 0.1))", true),
        ];
        for (input, want) in cases {
            let expr = parse(input, FNS).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(expr.eval(&state), *want, "{input}");
        }
    }

    #[test]
    fn error_table() {
        let cases: &[(&str, &str, usize)] = &[
            ("", "empty", 0),
            ("Ratio()", "expected a comparison", 0),
            ("Nope() > 1", "unknown function \"Nope\"", 0),
            ("Ratio() > ", "expected a function call", 10),
            ("Ratio > 1", "expected ( after Ratio", 6),
            ("Codes(1) > 1", "Codes takes 2 argument", 0),
            ("Codes(1, \"a\") > 1", "Codes takes 2 argument", 0),
            ("Method() == 1", "cannot compare", 12),
            ("Ratio() > 1 &&", "expected a function call", 14),
            ("(Ratio() > 1", "expected )", 12),
            ("Ratio() > 1 )", "unexpected Close", 12),
            ("Ratio() # 1", "unexpected character", 8),
            ("Method() == \"GET", "unterminated string", 12),
            ("Ratio() > 1.2.3", "bad number", 10),
        ];
        for (input, want, offset) in cases {
            let err = parse(input, FNS).unwrap_err();
            assert!(err.message.contains(want), "{input}: {err}");
            assert_eq!(err.offset, *offset, "{input}: {err}");
        }
    }
}
