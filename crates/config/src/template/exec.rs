//! Execution: walks the tree with `.` and the variables, writing the output.

use super::parse::{Arg, ArgKind, Branch, Cmd, List, Node, Pipe};
use super::printf::sprint_value;
use super::{Functions, Template, Value};

type EResult<T> = Result<T, (usize, String)>;

/// Output past this many bytes stops the render.
const MAX_OUTPUT: usize = 64 << 20;
/// Nested `{{template}}` calls past this stop the render.
const MAX_CALL_DEPTH: usize = 100;

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    tmpl: &'a Template,
    funcs: &'a Functions,
    out: String,
    vars: Vec<(String, Value)>,
    depth: usize,
}

pub(crate) fn render(tmpl: &Template, data: &Value, funcs: &Functions) -> EResult<String> {
    let mut s = State {
        tmpl,
        funcs,
        out: String::new(),
        vars: vec![("$".to_string(), data.clone())],
        depth: 0,
    };
    s.walk_list(data, &tmpl.root)?;
    Ok(s.out)
}

impl State<'_> {
    fn write(&mut self, pos: usize, text: &str) -> EResult<()> {
        if self.out.len() + text.len() > MAX_OUTPUT {
            return Err((pos, format!("output larger than {MAX_OUTPUT} bytes")));
        }
        self.out.push_str(text);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &List) -> EResult<Flow> {
        for node in &list.nodes {
            match self.walk(dot, node)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> EResult<Flow> {
        match node {
            Node::Text(t) => self.write(0, t)?,
            Node::Action(pipe) => {
                let v = self.eval_pipe(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let text = match v {
                        Value::Nil => "<no value>".to_string(),
                        v => sprint_value(&v),
                    };
                    self.write(pipe.pos, &text)?;
                }
            }
            Node::If(b) => return self.walk_if_with(dot, b, false),
            Node::With(b) => return self.walk_if_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                let body = self
                    .tmpl
                    .defined
                    .get(name)
                    .ok_or_else(|| (*pos, format!("template {name:?} not defined")))?;
                let new_dot = match pipe {
                    Some(p) => self.eval_pipe(dot, p)?,
                    None => Value::Nil,
                };
                if self.depth >= MAX_CALL_DEPTH {
                    return Err((
                        *pos,
                        format!("exceeded maximum template depth ({MAX_CALL_DEPTH})"),
                    ));
                }
                self.depth += 1;
                let saved =
                    std::mem::replace(&mut self.vars, vec![("$".to_string(), new_dot.clone())]);
                let r = self.walk_list(&new_dot, body);
                self.vars = saved;
                self.depth -= 1;
                r?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &Value, b: &Branch, is_with: bool) -> EResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipe(dot, &b.pipe)?;
        let r = if v.truthy() {
            if is_with {
                self.walk_list(&v, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch) -> EResult<Flow> {
        let mark = self.vars.len();
        let v = self.eval_pipe(dot, &b.pipe)?;
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Int(i as i64), v))
                .collect(),
            Value::Map(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Value::Int(n) => {
                if b.pipe.decl.len() > 1 {
                    return Err((
                        b.pipe.pos,
                        format!("can't use {n} to iterate over more than one variable"),
                    ));
                }
                if n > 100_000_000 {
                    return Err((b.pipe.pos, format!("range over {n} is too long")));
                }
                (0..n.max(0))
                    .map(|i| (Value::Int(i), Value::Int(i)))
                    .collect()
            }
            Value::Nil => Vec::new(),
            other => {
                return Err((
                    b.pipe.pos,
                    format!("range can't iterate over {}", sprint_value(&other)),
                ))
            }
        };
        let mut result = Ok(Flow::Normal);
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                result = self.walk_list(dot, e);
            }
        }
        for (key, elem) in items {
            let iter_mark = self.vars.len();
            match (b.pipe.is_assign, b.pipe.decl.as_slice()) {
                (_, []) => {}
                (false, [_]) => self.set_top(1, elem.clone(), iter_mark),
                (false, [_, _]) => {
                    self.set_top(1, elem.clone(), iter_mark);
                    self.set_top(2, key, iter_mark);
                }
                (true, [v]) => self.set_var(v, elem.clone()),
                (true, [k, v, ..]) => {
                    self.set_var(k, key);
                    self.set_var(v, elem.clone());
                }
                _ => {}
            }
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(iter_mark);
            match r {
                Err(e) => {
                    result = Err(e);
                    break;
                }
                Ok(Flow::Break) => break,
                Ok(_) => {}
            }
        }
        self.vars.truncate(mark);
        result.map(|_| Flow::Normal)
    }

    /// Sets the n-th variable from the top (1 = top), below `len`.
    fn set_top(&mut self, n: usize, v: Value, len: usize) {
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var(&self, pos: usize, name: &str) -> EResult<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| (pos, format!("undefined variable: {name}")))
    }

    fn eval_pipe(&mut self, dot: &Value, pipe: &Pipe) -> EResult<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_cmd(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(v, value.clone());
            } else {
                self.vars.push((v.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn eval_cmd(&mut self, dot: &Value, cmd: &Cmd, fin: Option<Value>) -> EResult<Value> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match &first.kind {
            ArgKind::Func(name) => self.call(dot, first.pos, name, rest, fin),
            ArgKind::Field(names) => {
                self.field_chain(dot, dot.clone(), first.pos, names, rest, fin)
            }
            ArgKind::Var(name, fields) => {
                let v = self.var(first.pos, name)?;
                if fields.is_empty() {
                    not_a_function(first, rest, &fin)?;
                    return Ok(v);
                }
                self.field_chain(dot, v, first.pos, fields, rest, fin)
            }
            ArgKind::Chain(inner, fields) => {
                let v = self.eval_arg(dot, inner)?;
                self.field_chain(dot, v, first.pos, fields, rest, fin)
            }
            ArgKind::Nil => Err((first.pos, "nil is not a command".to_string())),
            _ => {
                not_a_function(first, rest, &fin)?;
                self.eval_arg(dot, first)
            }
        }
    }

    /// `.A.B.C` on `receiver`; arguments are an error (maps hold no methods).
    fn field_chain(
        &mut self,
        _dot: &Value,
        receiver: Value,
        pos: usize,
        names: &[String],
        args: &[Arg],
        fin: Option<Value>,
    ) -> EResult<Value> {
        let mut v = receiver;
        for (i, name) in names.iter().enumerate() {
            let last = i + 1 == names.len();
            if last && (!args.is_empty() || fin.is_some()) {
                if let Value::Map(_) | Value::Nil = v {
                    return Err((pos, format!("{name} is not a method but has arguments")));
                }
            }
            v = field(&v, name).map_err(|m| (pos, m))?;
        }
        Ok(v)
    }

    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> EResult<Value> {
        Ok(match &arg.kind {
            ArgKind::Dot => dot.clone(),
            ArgKind::Nil => Value::Nil,
            ArgKind::Bool(b) => Value::Bool(*b),
            ArgKind::Int(i) => Value::Int(*i),
            ArgKind::Float(f) => Value::Float(*f),
            ArgKind::Str(s) => Value::String(s.clone()),
            ArgKind::Field(names) => {
                self.field_chain(dot, dot.clone(), arg.pos, names, &[], None)?
            }
            ArgKind::Var(name, fields) => {
                let v = self.var(arg.pos, name)?;
                self.field_chain(dot, v, arg.pos, fields, &[], None)?
            }
            ArgKind::Chain(inner, fields) => {
                let v = self.eval_arg(dot, inner)?;
                self.field_chain(dot, v, arg.pos, fields, &[], None)?
            }
            ArgKind::Pipe(p) => self.eval_pipe(dot, p)?,
            ArgKind::Func(name) => self.call(dot, arg.pos, name, &[], None)?,
        })
    }

    fn call(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        args: &[Arg],
        fin: Option<Value>,
    ) -> EResult<Value> {
        let Some(f) = self.funcs.get(name).cloned() else {
            if name == "and" || name == "or" {
                return self.and_or(dot, pos, name == "and", args, fin);
            }
            return Err((pos, format!("function {name:?} not defined")));
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.eval_arg(dot, a)?);
        }
        values.extend(fin);
        f(&values).map_err(|m| match m.strip_prefix("wrong number of args") {
            Some(rest) => (pos, format!("wrong number of args for {name}{rest}")),
            None => (pos, format!("error calling {name}: {m}")),
        })
    }

    /// Go's `and`/`or`: evaluate left to right, stop at the first false
    /// (`and`) or true (`or`) value and return it; else the last one.
    fn and_or(
        &mut self,
        dot: &Value,
        pos: usize,
        is_and: bool,
        args: &[Arg],
        fin: Option<Value>,
    ) -> EResult<Value> {
        let name = if is_and { "and" } else { "or" };
        if args.is_empty() && fin.is_none() {
            return Err((
                pos,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Value::Nil;
        for a in args {
            last = self.eval_arg(dot, a)?;
            if last.truthy() != is_and {
                return Ok(last);
            }
        }
        if let Some(v) = fin {
            last = v;
        }
        Ok(last)
    }
}

fn not_a_function(first: &Arg, rest: &[Arg], fin: &Option<Value>) -> EResult<()> {
    if !rest.is_empty() || fin.is_some() {
        return Err((first.pos, "can't give argument to non-function".to_string()));
    }
    Ok(())
}

/// `.name` of a value: a map's entry (nil when missing), nil of nil.
fn field(v: &Value, name: &str) -> Result<Value, String> {
    match v {
        Value::Map(m) => Ok(m.get(name).cloned().unwrap_or(Value::Nil)),
        Value::Nil => Ok(Value::Nil),
        other => Err(format!(
            "can't evaluate field {name} in type {}",
            other.type_name()
        )),
    }
}
