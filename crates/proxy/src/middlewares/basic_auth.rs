//! `basicAuth`: `users` (and `usersFile`) as `name:hash` lines; a request
//! without valid credentials gets 401 with `WWW-Authenticate`; an
//! authenticated one goes on with its user name in `headerField` (when
//! set) and without `Authorization` (when `removeHeader`).

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use http::{header, HeaderName, HeaderValue, StatusCode};

use super::htpasswd;
use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

/// The users of one definition, parsed once.
#[derive(Debug, Default)]
pub struct Users {
    hashes: HashMap<String, String>,
}

/// The user lines of an auth middleware: those of `file` (when set), then
/// `users`; blank lines and `#` comments left out.
pub fn user_lines(users: &[String], file: Option<&str>) -> Result<Vec<String>, String> {
    let mut lines: Vec<String> = Vec::new();
    if let Some(path) = file.filter(|f| !f.is_empty()) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("usersFile {path:?}: {e}"))?;
        lines.extend(text.lines().map(str::to_string));
    }
    lines.extend(users.iter().cloned());
    Ok(lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

impl Users {
    /// Parses `name:hash` entries; `file` adds the lines of a users file.
    pub fn parse(users: &[String], file: Option<&str>) -> Result<Users, String> {
        let mut hashes = HashMap::new();
        for line in &user_lines(users, file)? {
            let (name, hash) = line
                .split_once(':')
                .ok_or_else(|| format!("error parsing BasicUser: {line}"))?;
            hashes.insert(name.to_string(), hash.to_string());
        }
        if hashes.is_empty() {
            return Err(format!("no users found in {}", file.unwrap_or("")));
        }
        Ok(Users { hashes })
    }

    fn check(&self, user: &str, password: &str) -> bool {
        match self.hashes.get(user) {
            Some(hash) => htpasswd::verify(password, hash),
            None => {
                // Spend the same time as for a known user.
                if let Some(any) = self.hashes.values().next() {
                    let _ = htpasswd::verify(password, any);
                }
                false
            }
        }
    }
}

pub struct BasicAuth {
    users: Arc<Users>,
    realm: HeaderValue,
    header_field: Option<HeaderName>,
    remove_header: bool,
    next: BoxHandler,
}

impl BasicAuth {
    pub fn new(
        users: Arc<Users>,
        realm: Option<&str>,
        header_field: Option<&str>,
        remove_header: bool,
        next: BoxHandler,
    ) -> Result<BasicAuth, String> {
        let realm = realm.filter(|r| !r.is_empty()).unwrap_or("traefik");
        let realm = HeaderValue::from_str(&format!("Basic realm=\"{realm}\""))
            .map_err(|_| format!("invalid realm {realm:?}"))?;
        let header_field = header_field
            .filter(|h| !h.is_empty())
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("invalid headerField {h:?}"))
            })
            .transpose()?;
        Ok(BasicAuth {
            users,
            realm,
            header_field,
            remove_header,
            next,
        })
    }

    fn credentials(req: &Request) -> Option<(String, String)> {
        let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
        let (scheme, encoded) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        Some((user.to_string(), password.to_string()))
    }

    fn unauthorized(&self) -> Response {
        let mut resp = Response::new(body::full("401 Unauthorized\n"));
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, self.realm.clone());
        resp
    }
}

impl Handler for BasicAuth {
    fn call(&self, mut req: Request) -> HandlerFuture {
        let given = Self::credentials(&req);
        if let (Some(facts), Some((user, _))) = (crate::accesslog::LogFacts::of(&req), &given) {
            facts.update(|r| r.client_username = Some(user.clone()));
        }
        let user = given
            .filter(|(u, p)| self.users.check(u, p))
            .map(|(u, _)| u);
        let Some(user) = user else {
            let resp = self.unauthorized();
            return Box::pin(async move { Ok(resp) });
        };
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

/// Translates a `basicAuth` definition.
pub fn from_config(
    c: switchyard_config::middlewares::BasicAuth,
    _ctx: &mut super::TranslateCtx<'_>,
) -> Result<super::Factory, String> {
    let users = Arc::new(
        Users::parse(&c.users, c.users_file.as_deref()).map_err(|e| format!("basicAuth: {e}"))?,
    );
    BasicAuth::new(
        users.clone(),
        c.realm.as_deref(),
        c.header_field.as_deref(),
        c.remove_header,
        super::noop(),
    )?;
    Ok(super::validated(move |next| {
        BasicAuth::new(
            users.clone(),
            c.realm.as_deref(),
            c.header_field.as_deref(),
            c.remove_header,
            next,
        )
    }))
}
