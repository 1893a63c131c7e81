//! What Traefik puts in front of every router whose rule is a provider's
//! default rule (Docker's `defaultRule`): the request gets
//! `X-Traefik-Router: <hash of the router's name>`, and a request that
//! already carries this router's hash (it came back through the same
//! router, a loop) is answered 400 with an empty body.

use crate::{body, BoxHandler, Handler, HandlerFuture, Request};

const HEADER: &str = "x-traefik-router";

pub struct DenyRouterRecursion {
    hash: http::HeaderValue,
    next: BoxHandler,
}

/// Go's `fnv.New64` (FNV-1, 64 bits) of the router's name, in lower-case
/// hexadecimal without leading zeros, as Traefik writes it.
pub fn router_hash(router: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in router.bytes() {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= u64::from(b);
    }
    format!("{h:x}")
}

impl DenyRouterRecursion {
    /// `router` is the router's qualified name (`whoami@docker`).
    pub fn new(router: &str, next: BoxHandler) -> DenyRouterRecursion {
        DenyRouterRecursion {
            hash: http::HeaderValue::from_str(&router_hash(router))
                .unwrap_or_else(|_| http::HeaderValue::from_static("0")),
            next,
        }
    }
}

impl Handler for DenyRouterRecursion {
    fn call(&self, mut req: Request) -> HandlerFuture {
        if req.headers().get(HEADER) == Some(&self.hash) {
            let mut answer = http::Response::new(body::empty());
            *answer.status_mut() = http::StatusCode::BAD_REQUEST;
            return Box::pin(async move { Ok(answer) });
        }
        req.headers_mut().insert(HEADER, self.hash.clone());
        self.next.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::router_hash;

    #[test]
    fn hashes_as_go_fnv64() {
        // (input, Go's strconv.FormatUint(fnv.New64() sum, 16))
        let cases = [
            ("", "cbf29ce484222325"),
            ("a", "af63bd4c8601b7be"),
            ("foobar", "340d8765a4dda9c2"),
        ];
        for (input, want) in cases {
            assert_eq!(router_hash(input), want, "{input:?}");
        }
    }
}
