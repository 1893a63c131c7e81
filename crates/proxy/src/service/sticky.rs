//! Sticky sessions by cookie, as Traefik keeps them: the cookie's value is
//! the first 16 hex digits of the SHA-256 of the chosen target's name (a
//! server URL, or a child service's name); values written by older Traefik
//! versions (the name itself, its FNV-64 hash, or that hash hashed again)
//! are still honoured and rewritten to the current form.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use http::header::{HeaderValue, COOKIE};
use sha1::Digest as _;

use crate::certs::hex;

/// The `SameSite` attribute of the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SameSite {
    #[default]
    Unset,
    None,
    Lax,
    Strict,
}

impl SameSite {
    /// Traefik's reading of the setting: unknown values leave it unset.
    pub fn parse(s: &str) -> SameSite {
        match s.to_ascii_lowercase().as_str() {
            "none" => SameSite::None,
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            _ => SameSite::Unset,
        }
    }
}

/// The cookie a sticky balancer writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CookieSpec {
    pub name: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: SameSite,
    /// Seconds; 0 leaves `Max-Age` out, a negative value writes `Max-Age=0`.
    pub max_age: i64,
    /// An absolute expiry, fixed when the balancer is built (Traefik's
    /// `expires`, seconds from then).
    pub expires: Option<SystemTime>,
    pub path: String,
    pub domain: String,
}

/// The cookie name Traefik uses when none is configured: `_` and the first
/// five hex digits of the SHA-1 of `_TRAEFIK_BACKEND_<service>`. A
/// configured name has every character a cookie name cannot hold replaced
/// by `_`.
pub fn cookie_name(configured: &str, service: &str) -> String {
    if !configured.is_empty() {
        return configured
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "!#$%&'*+-.^`|~".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    }
    let digest = sha1::Sha1::digest(format!("_TRAEFIK_BACKEND_{service}").as_bytes());
    let mut name = String::from("_");
    name.push_str(&hex(&digest[..3])[..5]);
    name
}

/// The cookie value that points at the target `name`.
pub fn cookie_value(name: &str) -> String {
    let digest = sha2::Sha256::digest(name.as_bytes());
    hex(&digest[..8])
}

/// Go's `hash/fnv` 64-bit FNV-1 (not 1a), as hex without leading zeros.
fn fnv1_64(input: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input.bytes() {
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        h ^= u64::from(b);
    }
    format!("{h:x}")
}

/// The sticky table of one balancer.
#[derive(Debug)]
pub struct Sticky {
    cookie: CookieSpec,
    /// Current cookie values → target index.
    current: HashMap<String, usize>,
    /// Values older versions wrote → target index.
    legacy: HashMap<String, usize>,
    /// The `Set-Cookie` value for each target.
    set_cookie: Vec<Option<HeaderValue>>,
}

impl Sticky {
    /// A table over `names`, the targets in the balancer's order.
    pub fn new(cookie: CookieSpec, names: &[String]) -> Sticky {
        let mut current = HashMap::new();
        let mut legacy = HashMap::new();
        let mut set_cookie = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let value = cookie_value(name);
            set_cookie.push(HeaderValue::from_str(&cookie.render(&value)).ok());
            current.insert(value, i);
            legacy.insert(name.clone(), i);
            let once = fnv1_64(name);
            legacy.insert(fnv1_64(&once), i);
            legacy.insert(once, i);
        }
        Sticky {
            cookie,
            current,
            legacy,
            set_cookie,
        }
    }

    /// The target the request's cookie names, and whether the cookie must
    /// be rewritten because it is in an old form.
    pub fn lookup<B>(&self, req: &http::Request<B>) -> Option<(usize, bool)> {
        let value = request_cookie(req, &self.cookie.name)?;
        if let Some(i) = self.current.get(value) {
            return Some((*i, false));
        }
        self.legacy.get(value).map(|i| (*i, true))
    }

    /// The `Set-Cookie` header that sticks a client to target `index`.
    pub fn set_cookie(&self, index: usize) -> Option<HeaderValue> {
        self.set_cookie.get(index).cloned().flatten()
    }
}

/// The value of the first cookie called `name` in the request's `Cookie`
/// headers, with surrounding double quotes removed (Go's `Request.Cookie`).
pub fn request_cookie<'a, B>(req: &'a http::Request<B>, name: &str) -> Option<&'a str> {
    for header in req.headers().get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in text.split(';') {
            let pair = pair.trim();
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            if n != name {
                continue;
            }
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            if v.bytes()
                .all(|b| (0x20..0x7f).contains(&b) && !b"\"\\;, ".contains(&b))
            {
                return Some(v);
            }
        }
    }
    None
}

impl CookieSpec {
    /// The `Set-Cookie` line, attributes in the order Go writes them.
    pub fn render(&self, value: &str) -> String {
        let mut s = format!("{}={}", self.name, value);
        if !self.path.is_empty() {
            let _ = write!(s, "; Path={}", self.path);
        }
        let domain = self.domain.trim_start_matches('.');
        if !domain.is_empty() {
            let _ = write!(s, "; Domain={domain}");
        }
        if let Some(at) = self.expires {
            let _ = write!(s, "; Expires={}", http_date(at));
        }
        if self.max_age > 0 {
            let _ = write!(s, "; Max-Age={}", self.max_age);
        } else if self.max_age < 0 {
            s.push_str("; Max-Age=0");
        }
        if self.http_only {
            s.push_str("; HttpOnly");
        }
        if self.secure {
            s.push_str("; Secure");
        }
        match self.same_site {
            SameSite::Unset => {}
            SameSite::None => s.push_str("; SameSite=None"),
            SameSite::Lax => s.push_str("; SameSite=Lax"),
            SameSite::Strict => s.push_str("; SameSite=Strict"),
        }
        s
    }
}

/// An IMF-fixdate (`Mon, 02 Jan 2006 15:04:05 GMT`).
pub fn http_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)],
        d,
        MONTHS[usize::try_from(m - 1).unwrap_or(0)],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CookieSpec {
        CookieSpec {
            name: "lb".into(),
            secure: false,
            http_only: false,
            same_site: SameSite::Unset,
            max_age: 0,
            expires: None,
            path: "/".into(),
            domain: String::new(),
        }
    }

    #[test]
    fn default_names_and_values_match_traefik() {
        // Traefik's SHA-1 name and SHA-256 value for the same inputs.
        assert_eq!(cookie_name("", "app@file"), "_fb0b0");
        assert_eq!(cookie_name("my cookie/1", "x"), "my_cookie_1");
        assert_eq!(cookie_name("ok-Name.1~", "x"), "ok-Name.1~");
        assert_eq!(cookie_value("http://127.0.0.1:8080"), "d30a576c03187167");
    }

    #[test]
    fn rendering_follows_go_attribute_order() {
        let cases: &[(&str, CookieSpec, &str)] = &[
            ("defaults", spec(), "lb=v; Path=/"),
            (
                "everything",
                CookieSpec {
                    secure: true,
                    http_only: true,
                    same_site: SameSite::Strict,
                    max_age: 60,
                    domain: ".example.com".into(),
                    path: "/app".into(),
                    ..spec()
                },
                "lb=v; Path=/app; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Strict",
            ),
            (
                "negative max age",
                CookieSpec {
                    max_age: -1,
                    same_site: SameSite::None,
                    ..spec()
                },
                "lb=v; Path=/; Max-Age=0; SameSite=None",
            ),
            (
                "no path",
                CookieSpec {
                    path: String::new(),
                    same_site: SameSite::Lax,
                    ..spec()
                },
                "lb=v; SameSite=Lax",
            ),
            (
                "expires",
                CookieSpec {
                    expires: Some(
                        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_136_214_245),
                    ),
                    ..spec()
                },
                "lb=v; Path=/; Expires=Mon, 02 Jan 2006 15:04:05 GMT",
            ),
        ];
        for (what, spec, want) in cases {
            assert_eq!(spec.render("v"), *want, "{what}");
        }
    }

    #[test]
    fn lookup_reads_current_and_legacy_values() {
        let names = vec!["http://a".to_string(), "http://b".to_string()];
        let sticky = Sticky::new(spec(), &names);
        let req = |cookie: &str| {
            http::Request::builder()
                .header(COOKIE, cookie)
                .body(())
                .unwrap()
        };
        let b = cookie_value("http://b");
        let cases: Vec<(String, Option<(usize, bool)>)> = vec![
            (format!("lb={b}"), Some((1, false))),
            (format!("other=1; lb=\"{b}\""), Some((1, false))),
            ("lb=http://a".into(), Some((0, true))),
            (format!("lb={}", fnv1_64("http://a")), Some((0, true))),
            (
                format!("lb={}", fnv1_64(&fnv1_64("http://b"))),
                Some((1, true)),
            ),
            ("lb=unknown".into(), None),
            ("lbx=1".into(), None),
            (format!("LB={b}"), None),
        ];
        for (cookie, want) in cases {
            assert_eq!(sticky.lookup(&req(&cookie)), want, "{cookie}");
        }
    }

    #[test]
    fn fnv_matches_go() {
        // Go: fnv.New64() of "" is the offset basis; of "a" below.
        assert_eq!(fnv1_64(""), "cbf29ce484222325");
        assert_eq!(fnv1_64("a"), "af63bd4c8601b7be");
    }

    #[test]
    fn dates_are_imf_fixdates() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(http_date(at(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(at(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            http_date(at(1_795_000_000)),
            "Wed, 18 Nov 2026 11:06:40 GMT"
        );
    }
}
