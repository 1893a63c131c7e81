//! `headers` (custom request and response headers so far): a value sets the
//! header, an empty value removes it.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::{BoxHandler, Handler, HandlerFuture, Request};

/// One header operation.
#[derive(Debug, Clone)]
enum Op {
    Set(HeaderName, HeaderValue),
    Remove(HeaderName),
}

pub struct CustomHeaders {
    request: Vec<Op>,
    response: Vec<Op>,
    next: BoxHandler,
}

/// A header name or value that HTTP does not allow.
#[derive(Debug, thiserror::Error)]
#[error("invalid header {name:?}: {reason}")]
pub struct BadHeader {
    pub name: String,
    pub reason: String,
}

fn compile<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<Vec<Op>, BadHeader> {
    pairs
        .into_iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| BadHeader {
                name: k.clone(),
                reason: e.to_string(),
            })?;
            if v.is_empty() {
                return Ok(Op::Remove(name));
            }
            let value = HeaderValue::from_str(v).map_err(|e| BadHeader {
                name: k.clone(),
                reason: e.to_string(),
            })?;
            Ok(Op::Set(name, value))
        })
        .collect()
}

fn apply(ops: &[Op], headers: &mut HeaderMap) {
    for op in ops {
        match op {
            Op::Set(k, v) => {
                headers.insert(k.clone(), v.clone());
            }
            Op::Remove(k) => {
                headers.remove(k);
            }
        }
    }
}

impl CustomHeaders {
    pub fn new<'a>(
        request: impl IntoIterator<Item = (&'a String, &'a String)>,
        response: impl IntoIterator<Item = (&'a String, &'a String)>,
        next: BoxHandler,
    ) -> Result<CustomHeaders, BadHeader> {
        Ok(CustomHeaders {
            request: compile(request)?,
            response: compile(response)?,
            next,
        })
    }
}

impl Handler for CustomHeaders {
    fn call(&self, mut req: Request) -> HandlerFuture {
        apply(&self.request, req.headers_mut());
        let fut = self.next.call(req);
        if self.response.is_empty() {
            return fut;
        }
        let response = self.response.clone();
        Box::pin(async move {
            let mut resp = fut.await?;
            apply(&response, resp.headers_mut());
            Ok(resp)
        })
    }
}
