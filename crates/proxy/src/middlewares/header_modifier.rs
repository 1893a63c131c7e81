//! `requestHeaderModifier` and `responseHeaderModifier`, the Gateway API's
//! header filters as Traefik's middlewares of those names apply them: each
//! `set` replaces a header, each `add` appends one more value to it (a
//! header field of its own), each `remove` drops it, in that order. On the
//! request, `set` of `Host` changes the request's host; `add` and `remove`
//! of `Host` change nothing (Go keeps the host apart from the headers).

use http::{header, HeaderMap, HeaderName, HeaderValue};
use switchyard_config::gateway_filters::HeaderModifier as Settings;

use crate::{BoxHandler, Handler, HandlerFuture, Request};

/// One filter's operations, compiled.
#[derive(Debug, Clone, Default)]
struct Ops {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl Ops {
    fn compile(s: &Settings, kind: &str) -> Result<Ops, String> {
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes())
                .map_err(|e| format!("{kind}: invalid header name {n:?}: {e}"))
        };
        let pair = |(n, v): (&String, &String)| -> Result<(HeaderName, HeaderValue), String> {
            let value = HeaderValue::from_str(v)
                .map_err(|e| format!("{kind}: invalid value of header {n:?}: {e}"))?;
            Ok((name(n)?, value))
        };
        Ok(Ops {
            set: s.set.iter().map(pair).collect::<Result<_, _>>()?,
            add: s.add.iter().map(pair).collect::<Result<_, _>>()?,
            remove: s.remove.iter().map(|n| name(n)).collect::<Result<_, _>>()?,
        })
    }

    /// Applies the operations; `request` leaves `Host` to `set` only.
    fn apply(&self, headers: &mut HeaderMap, request: bool) {
        for (k, v) in &self.set {
            headers.insert(k.clone(), v.clone());
        }
        let host = |k: &HeaderName| request && k == header::HOST;
        for (k, v) in self.add.iter().filter(|(k, _)| !host(k)) {
            headers.append(k.clone(), v.clone());
        }
        for k in self.remove.iter().filter(|k| !host(k)) {
            headers.remove(k);
        }
    }
}

/// Which side of the exchange a modifier changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

pub struct HeaderModifier {
    ops: Ops,
    side: Side,
    next: BoxHandler,
}

impl Handler for HeaderModifier {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if self.side == Side::Request {
            self.ops.apply(req.headers_mut(), true);
            return self.next.call(req);
        }
        let fut = self.next.call(req);
        let ops = self.ops.clone();
        Box::pin(async move {
            let mut resp = fut.await?;
            ops.apply(resp.headers_mut(), false);
            Ok(resp)
        })
    }
}

/// Translates a `requestHeaderModifier` or `responseHeaderModifier`
/// definition.
pub fn from_config(
    c: Settings,
    side: Side,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let kind = match side {
        Side::Request => "requestHeaderModifier",
        Side::Response => "responseHeaderModifier",
    };
    let ops = Ops::compile(&c, kind)?;
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(HeaderModifier {
            ops: ops.clone(),
            side,
            next,
        }) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_add_remove_in_that_order() {
        let settings = Settings {
            set: [("X-Set".to_string(), "s".to_string())].into(),
            add: [
                ("X-Set".to_string(), "a".to_string()),
                ("X-Add".to_string(), "n".to_string()),
                ("Host".to_string(), "h".to_string()),
            ]
            .into(),
            remove: vec!["X-Drop".into(), "Host".into()],
        };
        let ops = Ops::compile(&settings, "requestHeaderModifier").expect("compiles");
        let mut h = HeaderMap::new();
        h.insert("x-set", HeaderValue::from_static("old"));
        h.insert("x-add", HeaderValue::from_static("first"));
        h.insert("x-drop", HeaderValue::from_static("d"));
        h.insert("host", HeaderValue::from_static("site.test"));
        ops.apply(&mut h, true);
        let all = |k: &str| -> Vec<&str> {
            h.get_all(k)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect()
        };
        assert_eq!(all("x-set"), ["s", "a"]);
        assert_eq!(all("x-add"), ["first", "n"]);
        assert!(all("x-drop").is_empty());
        assert_eq!(all("host"), ["site.test"], "add/remove of Host do nothing");
        // On a response, Host is a header like the others.
        let mut r = HeaderMap::new();
        ops.apply(&mut r, false);
        assert!(r.get("host").is_none());
    }

    #[test]
    fn a_bad_header_name_is_an_error() {
        let settings = Settings {
            set: [("bad name".to_string(), "v".to_string())].into(),
            ..Settings::default()
        };
        let e = Ops::compile(&settings, "requestHeaderModifier").expect_err("refused");
        assert!(e.contains("bad name"), "{e}");
    }
}
