//! The list parameters of Traefik's API, read as Traefik reads them: the
//! query string as Go's `url.ParseQuery` splits it, the search criterion
//! (`search`, `status`, `serviceName`, `middlewareName`), the page
//! (`page`, `per_page`, answered with `X-Next-Page`) and the order
//! (`sortBy`, `direction`).

use std::cmp::Ordering;

/// `per_page` when the request does not say.
pub const DEFAULT_PER_PAGE: i64 = 100;

/// A query string's parameters in order; a key may repeat.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Splits on `&`; a pair holding `;` or a bad `%` escape is skipped, as
    /// Go's `ParseQuery` skips it.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&') {
            if part.is_empty() || part.contains(';') {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if let (Ok(k), Ok(v)) = (unescape(k, true), unescape(v, true)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, `""` when it has none.
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Decodes `%XX` escapes (and `+` as a space in a query); a `%` not
/// followed by two hex digits, or bytes that are not UTF-8, are an error.
pub fn unescape(s: &str, query: bool) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let Some(&[h, l]) = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                else {
                    let end = (i + 3).min(bytes.len());
                    return Err(format!(
                        "invalid URL escape {:?}",
                        String::from_utf8_lossy(&bytes[i..end])
                    ));
                };
                out.push(hex_value(h) * 16 + hex_value(l));
                i += 3;
            }
            b'+' if query => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("invalid UTF-8 in {s:?}"))
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// What a list request asks to keep; `None` from [`Criterion::from_query`]
/// keeps everything.
#[derive(Debug)]
pub struct Criterion {
    search: String,
    status: String,
    service: String,
    middleware: String,
}

impl Criterion {
    pub fn from_query(q: &Query) -> Option<Criterion> {
        let c = Criterion {
            search: q.get("search").to_string(),
            status: q.get("status").to_string(),
            service: q.get("serviceName").to_string(),
            middleware: q.get("middlewareName").to_string(),
        };
        let none = c.search.is_empty()
            && c.status.is_empty()
            && c.service.is_empty()
            && c.middleware.is_empty();
        (!none).then_some(c)
    }

    /// `status` matches, whatever its case.
    pub fn with_status(&self, status: &str) -> bool {
        self.status.is_empty() || self.status.eq_ignore_ascii_case(status)
    }

    /// One of `values` contains `search`, whatever its case.
    pub fn search_in(&self, values: &[&str]) -> bool {
        if self.search.is_empty() {
            return true;
        }
        let needle = self.search.to_lowercase();
        values.iter().any(|v| v.to_lowercase().contains(&needle))
    }

    /// A router's `service` as written: a qualified one must equal
    /// `serviceName`; a bare one must equal `serviceName` without its
    /// provider.
    pub fn filter_service(&self, service: &str) -> bool {
        if self.service.is_empty() {
            return true;
        }
        if service.contains('@') {
            return self.service == service;
        }
        self.service.split('@').next() == Some(service)
    }

    /// A router's (qualified) middlewares hold `middlewareName`.
    pub fn filter_middleware(&self, middlewares: &[&str]) -> bool {
        self.middleware.is_empty() || middlewares.contains(&self.middleware.as_str())
    }
}

/// The slice of a list one page shows, and the page that comes next
/// (1 after the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub start: usize,
    pub end: usize,
    pub next: i64,
}

/// Traefik's pagination over `total` items; the error is the API's message.
pub fn pagination(q: &Query, total: usize) -> Result<Page, String> {
    let per_page = int_param(q, "per_page", DEFAULT_PER_PAGE)?;
    let page = int_param(q, "page", 1)?;
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    let out_of_range = || format!("invalid request: page: {page}, per_page: {per_page}");
    let start = (page - 1).checked_mul(per_page).ok_or_else(out_of_range)?;
    if start != 0 && start >= total {
        return Err(out_of_range());
    }
    let end = start.saturating_add(per_page).min(total);
    let next = if page.saturating_mul(per_page) < total {
        page + 1
    } else {
        1
    };
    Ok(Page {
        start: usize::try_from(start).map_err(|_| out_of_range())?,
        end: usize::try_from(end).map_err(|_| out_of_range())?,
        next,
    })
}

/// A positive integer parameter; like Go's `Atoi`, text that is no number
/// reads as 0 and a number out of range as the nearest bound, and both are
/// refused with that value in the message.
fn int_param(q: &Query, key: &str, default: i64) -> Result<i64, String> {
    let raw = q.get(key);
    if raw.is_empty() {
        return Ok(default);
    }
    let value = atoi(raw);
    match value {
        Ok(v) if v > 0 => Ok(v),
        Ok(v) | Err(v) => Err(format!("invalid request: {key}: {v}")),
    }
}

/// Go's `strconv.Atoi`: `Err` carries the value Go reports with its error.
fn atoi(s: &str) -> Result<i64, i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(0);
    }
    s.parse::<i64>().map_err(|_| {
        if s.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        }
    })
}

/// A value a list is ordered by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    Int(i64),
    Text(String),
}

/// Orders `items` by `key` (by name among equals), ascending only when
/// `direction` is empty or `asc`, as Traefik does.
pub fn sort<T>(
    items: &mut [T],
    direction: &str,
    name: impl Fn(&T) -> &str,
    key: Option<&dyn Fn(&T) -> SortKey>,
) {
    let ascending = direction.is_empty() || direction == "asc";
    items.sort_by(|a, b| {
        let by_key = key.map_or(Ordering::Equal, |k| k(a).cmp(&k(b)));
        let order = by_key.then_with(|| name(a).cmp(name(b)));
        if ascending {
            order
        } else {
            order.reverse()
        }
    });
}

#[cfg(test)]
mod tests;
