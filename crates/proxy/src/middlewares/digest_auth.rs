//! `digestAuth`: HTTP Digest authentication (MD5, `qop="auth"`) against
//! `users` / `usersFile` lines in htdigest's `name:realm:HA1` form. A
//! request without valid credentials gets 401 with a fresh nonce; nonces
//! are remembered (the 1,100 most recent) with their last nonce count, so
//! a replayed count is refused and an older one is answered `stale="true"`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use http::{header, HeaderName, HeaderValue, StatusCode};
use md5::{Digest as _, Md5};

use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

const CACHE_SIZE: usize = 1000;
const CACHE_TOLERANCE: usize = 100;

fn h(s: &str) -> String {
    crate::certs::hex(&Md5::digest(s.as_bytes()))
}

/// Twelve random bytes, base64.
fn random_key() -> String {
    let mut k = [0u8; 12];
    if rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(&mut k)
        .is_err()
    {
        k.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// `key=value, key="value"` pairs of a Digest header.
pub fn params(authorization: &str) -> Option<HashMap<String, String>> {
    let rest = authorization.strip_prefix("Digest ")?;
    let mut out = HashMap::new();
    let mut items = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                items.push(&rest[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&rest[start..]);
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match item.split_once('=') {
            Some((k, v)) => {
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                out.insert(k.trim().to_string(), v.to_string());
            }
            None => {
                out.insert(item.to_string(), String::new());
            }
        }
    }
    Some(out)
}

/// The users of one definition: `name:realm` → HA1.
#[derive(Debug, Default)]
pub struct DigestUsers {
    ha1: HashMap<String, String>,
}

impl DigestUsers {
    pub fn parse(users: &[String], file: Option<&str>) -> Result<DigestUsers, String> {
        let mut ha1 = HashMap::new();
        for line in &super::basic_auth::user_lines(users, file)? {
            let parts: Vec<&str> = line.split(':').collect();
            let [user, realm, hash] = parts.as_slice() else {
                return Err(format!("error parsing DigestUser: {line}"));
            };
            ha1.insert(format!("{user}:{realm}"), hash.to_string());
        }
        if ha1.is_empty() {
            return Err(format!("no users found in {}", file.unwrap_or("")));
        }
        Ok(DigestUsers { ha1 })
    }
}

#[derive(Debug)]
struct Client {
    nc: u64,
    last_seen: Instant,
}

enum Check {
    Ok(String),
    Stale,
    Denied,
}

/// Nonces handed out and their counts; shared by every chain using the
/// middleware and kept across reloads that leave it unchanged.
#[derive(Debug)]
pub struct Digest {
    realm: String,
    opaque: String,
    users: DigestUsers,
    clients: Mutex<HashMap<String, Client>>,
}

impl Digest {
    pub fn new(users: DigestUsers, realm: Option<&str>) -> Digest {
        Digest {
            realm: realm
                .filter(|r| !r.is_empty())
                .unwrap_or("traefik")
                .to_string(),
            opaque: random_key(),
            users,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn check(&self, req: &Request) -> Check {
        let Some(auth) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(params)
        else {
            return Check::Denied;
        };
        let get = |k: &str| auth.get(k).map(String::as_str).unwrap_or("");
        let algorithm = auth.get("algorithm").map_or("MD5", String::as_str);
        if get("opaque") != self.opaque || algorithm != "MD5" || get("qop") != "auth" {
            return Check::Denied;
        }
        let uri = get("uri");
        let request_uri = req
            .uri()
            .path_and_query()
            .map_or(req.uri().path(), |pq| pq.as_str());
        if request_uri != uri {
            // A URI naming a prefix of the request's path is accepted.
            let path = uri.split('?').next().unwrap_or("");
            if path.len() > req.uri().path().len() || !req.uri().path().starts_with(path) {
                return Check::Denied;
            }
        }
        let Some(ha1) = self
            .users
            .ha1
            .get(&format!("{}:{}", get("username"), self.realm))
        else {
            return Check::Denied;
        };
        let ha2 = h(&format!("{}:{uri}", req.method()));
        let expected = h(&[
            ha1.as_str(),
            get("nonce"),
            get("nc"),
            get("cnonce"),
            get("qop"),
            &ha2,
        ]
        .join(":"));
        if !constant_time_eq(expected.as_bytes(), get("response").as_bytes()) {
            return Check::Denied;
        }
        let Ok(nc) = u64::from_str_radix(get("nc"), 16) else {
            return Check::Denied;
        };
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let Some(client) = clients.get_mut(get("nonce")) else {
            return Check::Denied;
        };
        if client.nc != 0 {
            if nc == client.nc {
                return Check::Denied;
            }
            if nc < client.nc {
                return Check::Stale;
            }
        }
        client.nc = nc;
        client.last_seen = Instant::now();
        Check::Ok(get("username").to_string())
    }

    fn challenge(&self, stale: bool) -> Response {
        let nonce = random_key();
        {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            if clients.len() > CACHE_SIZE + CACHE_TOLERANCE {
                let mut by_age: Vec<(String, Instant)> = clients
                    .iter()
                    .map(|(k, c)| (k.clone(), c.last_seen))
                    .collect();
                by_age.sort_by_key(|(_, t)| *t);
                for (k, _) in by_age.into_iter().take(CACHE_TOLERANCE * 2) {
                    clients.remove(&k);
                }
            }
            clients.insert(
                nonce.clone(),
                Client {
                    nc: 0,
                    last_seen: Instant::now(),
                },
            );
        }
        let mut value = format!(
            "Digest realm=\"{}\", nonce=\"{nonce}\", opaque=\"{}\", ",
            self.realm, self.opaque
        );
        if stale {
            value.push_str("stale=\"true\", ");
        }
        value.push_str("algorithm=\"MD5\", qop=\"auth\"");
        let mut resp = Response::new(body::full("401 Unauthorized\n"));
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub struct DigestAuth {
    digest: Arc<Digest>,
    header_field: Option<HeaderName>,
    remove_header: bool,
    next: BoxHandler,
}

impl DigestAuth {
    pub fn new(
        digest: Arc<Digest>,
        header_field: Option<&str>,
        remove_header: bool,
        next: BoxHandler,
    ) -> Result<DigestAuth, String> {
        let header_field = header_field
            .filter(|h| !h.is_empty())
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("digestAuth.headerField: invalid header {h:?}"))
            })
            .transpose()?;
        Ok(DigestAuth {
            digest,
            header_field,
            remove_header,
            next,
        })
    }
}

impl Handler for DigestAuth {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let user = match self.digest.check(&req) {
            Check::Ok(user) => user,
            Check::Stale => {
                let resp = self.digest.challenge(true);
                return Box::pin(async move { Ok(resp) });
            }
            Check::Denied => {
                let resp = self.digest.challenge(false);
                return Box::pin(async move { Ok(resp) });
            }
        };
        if let Some(facts) = crate::accesslog::LogFacts::of(&req) {
            facts.update(|r| r.client_username = Some(user.clone()));
        }
        if let Some(field) = &self.header_field {
            if let Ok(v) = HeaderValue::from_str(&user) {
                req.headers_mut().insert(field.clone(), v);
            }
        }
        if self.remove_header {
            req.headers_mut().remove(header::AUTHORIZATION);
        }
        self.next.call(req)
    }
}

/// Translates a `digestAuth` definition.
pub fn from_config(
    c: switchyard_config::middlewares::DigestAuth,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let digest = Arc::new(Digest::new(
        DigestUsers::parse(&c.users, c.users_file.as_deref())
            .map_err(|e| format!("digestAuth: {e}"))?,
        c.realm.as_deref(),
    ));
    DigestAuth::new(
        digest.clone(),
        c.header_field.as_deref(),
        c.remove_header,
        super::noop(),
    )?;
    Ok(super::validated(move |next| {
        DigestAuth::new(
            digest.clone(),
            c.header_field.as_deref(),
            c.remove_header,
            next,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> Digest {
        // htdigest -c users traefik test (password "test").
        let users = DigestUsers::parse(
            &["test:traefik:a2688e031edb4be6a3797f3882655c05".to_string()],
            None,
        )
        .unwrap();
        Digest::new(users, None)
    }

    fn nonce_of(resp: &Response) -> String {
        let v = resp.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        params(v).unwrap()["nonce"].clone()
    }

    fn answer(d: &Digest, nonce: &str, nc: &str, uri: &str, password: &str) -> Request {
        let ha1 = h(&format!("test:traefik:{password}"));
        let ha2 = h(&format!("GET:{uri}"));
        let response = h(&format!("{ha1}:{nonce}:{nc}:abc:auth:{ha2}"));
        let value = format!(
            "Digest username=\"test\", realm=\"traefik\", nonce=\"{nonce}\", uri=\"{uri}\", \
             algorithm=MD5, response=\"{response}\", opaque=\"{}\", qop=auth, nc={nc}, cnonce=\"abc\"",
            d.opaque
        );
        http::Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, value)
            .body(body::empty())
            .unwrap()
    }

    #[test]
    fn handshake_counts_and_replays() {
        let d = digest();
        let challenge = d.challenge(false);
        assert_eq!(challenge.status(), 401);
        let v = challenge.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap();
        assert!(v.starts_with("Digest realm=\"traefik\", nonce=\""), "{v}");
        assert!(v.ends_with("algorithm=\"MD5\", qop=\"auth\""), "{v}");
        let nonce = nonce_of(&challenge);

        assert!(matches!(
            d.check(&answer(&d, &nonce, "00000001", "/a?x=1", "test")),
            Check::Ok(u) if u == "test"
        ));
        // The same count again is a replay; a lower one is stale.
        assert!(matches!(
            d.check(&answer(&d, &nonce, "00000001", "/a?x=1", "test")),
            Check::Denied
        ));
        assert!(matches!(
            d.check(&answer(&d, &nonce, "00000003", "/a?x=1", "test")),
            Check::Ok(_)
        ));
        assert!(matches!(
            d.check(&answer(&d, &nonce, "00000002", "/a?x=1", "test")),
            Check::Stale
        ));
        // Wrong password, unknown nonce.
        assert!(matches!(
            d.check(&answer(&d, &nonce, "00000009", "/a", "nope")),
            Check::Denied
        ));
        assert!(matches!(
            d.check(&answer(&d, "forged", "00000001", "/a", "test")),
            Check::Denied
        ));
    }

    #[test]
    fn header_params() {
        let p = params(r#"Digest username="a, b", nc=00000001, qop=auth, realm="r""#).unwrap();
        assert_eq!(p["username"], "a, b");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["realm"], "r");
        assert!(params("Basic abc").is_none());
    }

    #[test]
    fn user_lines() {
        assert!(DigestUsers::parse(&["a:b".into()], None).is_err());
        assert!(DigestUsers::parse(&[], None).is_err());
        assert!(DigestUsers::parse(&["a:r:h".into(), "# c".into()], None).is_ok());
    }
}
