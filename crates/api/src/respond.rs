//! The API's answers, byte for byte as Traefik's Go handlers write them:
//! JSON as `json.Encoder` writes it (HTML characters escaped, a final
//! newline), errors as `http.Error` writes them (a JSON message as plain
//! text), the router's own 404 and 405.

use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use switchyard_proxy::{body, Response};

/// `v` as Go's `json.Encoder` writes it: `<`, `>`, `&`, U+2028 and U+2029
/// escaped (they only occur inside strings, so the text can be rewritten
/// whole), and a newline at the end.
pub fn go_json(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out
}

fn with_type(status: StatusCode, content_type: &'static str, text: String) -> Response {
    let mut r = Response::new(body::full(text));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// 200 with `v` as JSON.
pub fn json_ok(v: &Value) -> Response {
    with_type(StatusCode::OK, "application/json", go_json(v))
}

/// A page of a list: the JSON and the `X-Next-Page` header.
pub fn json_page(items: &[Value], next: i64) -> Response {
    let mut r = json_ok(&Value::Array(items.to_vec()));
    r.headers_mut()
        .insert("x-next-page", HeaderValue::from(next));
    r
}

/// Go's `http.Error` with a plain-text body.
fn plain_error(status: StatusCode, text: String) -> Response {
    let mut r = with_type(status, "text/plain; charset=utf-8", text);
    r.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// An API error: `{"message": ...}` sent as Go's `http.Error` sends it.
pub fn error(status: StatusCode, message: &str) -> Response {
    plain_error(status, format!("{}\n", json!({ "message": message })))
}

/// The answer for a path no API route has.
pub fn page_not_found() -> Response {
    plain_error(StatusCode::NOT_FOUND, "404 page not found\n".into())
}

/// The answer for a route asked with a method other than GET: no body.
pub fn method_not_allowed() -> Response {
    let mut r = Response::new(body::empty());
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}

/// A redirection with an empty body, as Go's `http.Redirect` answers a GET.
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let mut r = Response::new(body::empty());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_encoding() {
        let cases: &[(&str, Value, &str)] = &[
            ("newline at the end", json!([]), "[]\n"),
            (
                "html characters escaped",
                json!({"rule": "Host(`a`) && Path(`/<x>`)"}),
                "{\"rule\":\"Host(`a`) \\u0026\\u0026 Path(`/\\u003cx\\u003e`)\"}\n",
            ),
            (
                "line separators escaped",
                json!("a\u{2028}b\u{2029}"),
                "\"a\\u2028b\\u2029\"\n",
            ),
            ("other text kept", json!("é/\\"), "\"é/\\\\\"\n"),
        ];
        for (desc, v, want) in cases {
            assert_eq!(go_json(v), *want, "{desc}");
        }
    }
}
