//! `encodedCharacters` (and the entrypoint's `http.encodedCharacters`):
//! requests whose raw path holds a percent-encoded character that is not
//! allowed get a 400 before any routing or rewriting sees them.

use http::StatusCode;

use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

/// Which encoded characters are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Allowed {
    pub slash: bool,
    pub back_slash: bool,
    pub null: bool,
    pub semicolon: bool,
    pub percent: bool,
    pub question_mark: bool,
    pub hash: bool,
}

impl Allowed {
    /// Everything allowed (the entrypoint's default).
    pub const ALL: Allowed = Allowed {
        slash: true,
        back_slash: true,
        null: true,
        semicolon: true,
        percent: true,
        question_mark: true,
        hash: true,
    };

    fn allows(&self, hex: [u8; 2]) -> bool {
        match [hex[0], hex[1].to_ascii_uppercase()] {
            [b'2', b'F'] => self.slash,
            [b'5', b'C'] => self.back_slash,
            [b'0', b'0'] => self.null,
            [b'3', b'B'] => self.semicolon,
            [b'2', b'5'] => self.percent,
            [b'3', b'F'] => self.question_mark,
            [b'2', b'3'] => self.hash,
            _ => true,
        }
    }

    /// Whether a raw path passes: every escape allowed, and none cut short.
    pub fn accepts(&self, raw_path: &str) -> bool {
        let b = raw_path.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                i += 1;
                continue;
            }
            let (Some(h), Some(l)) = (b.get(i + 1), b.get(i + 2)) else {
                return false;
            };
            if !self.allows([*h, *l]) {
                return false;
            }
            i += 3;
        }
        true
    }
}

pub struct EncodedCharacters {
    allowed: Allowed,
    next: BoxHandler,
}

impl EncodedCharacters {
    pub fn new(allowed: Allowed, next: BoxHandler) -> EncodedCharacters {
        EncodedCharacters { allowed, next }
    }
}

/// Traefik's answer: a bare 400.
pub fn rejection() -> Response {
    let mut resp = Response::new(body::empty());
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp
}

impl Handler for EncodedCharacters {
    fn call(&self, req: Request) -> HandlerFuture {
        if self.allowed.accepts(req.uri().path()) {
            return self.next.call(req);
        }
        tracing::debug!(path = req.uri().path(), "encoded character not allowed");
        Box::pin(async { Ok(rejection()) })
    }
}

/// Translates an `encodedCharacters` definition.
pub fn from_config(
    c: switchyard_config::middlewares::EncodedCharacters,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let allowed = Allowed {
        slash: c.allow_encoded_slash,
        back_slash: c.allow_encoded_back_slash,
        null: c.allow_encoded_null_character,
        semicolon: c.allow_encoded_semicolon,
        percent: c.allow_encoded_percent,
        question_mark: c.allow_encoded_question_mark,
        hash: c.allow_encoded_hash,
    };
    Ok(std::sync::Arc::new(move |next| {
        std::sync::Arc::new(EncodedCharacters::new(allowed, next)) as BoxHandler
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_table() {
        let none = Allowed::default();
        let only_slash = Allowed {
            slash: true,
            ..Allowed::default()
        };
        let cases: &[(&str, Allowed, bool)] = &[
            ("/plain/path", none, true),
            ("/a%20b", none, true),
            ("/a%2Fb", none, false),
            ("/a%2fb", none, false),
            ("/a%2Fb", only_slash, true),
            ("/a%5cb", none, false),
            ("/a%00", none, false),
            ("/a%3Bb", none, false),
            ("/a%25b", none, false),
            ("/a%3fb", none, false),
            ("/a%23b", none, false),
            ("/a%2", Allowed::ALL, false),
            ("/a%", Allowed::ALL, false),
            ("/%2F%5C%00%3B%25%3F%23", Allowed::ALL, true),
            ("/%e2%82%ac", none, true),
        ];
        for (path, allowed, want) in cases {
            assert_eq!(allowed.accepts(path), *want, "{path} {allowed:?}");
        }
    }
}
