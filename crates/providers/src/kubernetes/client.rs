//! The API server's HTTP side, hand-written over the proxy's upstream
//! client: `GET` of a list (following `continue` pages) and a watch read
//! as one JSON event per line. JSON only: the double and every API server
//! speak it.

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;
use switchyard_proxy::upstream::{Protocol, TransportSettings, Upstream};

use super::connection::Connection;
use super::KubeError;

/// Pages of a list followed at most (500 objects each).
const MAX_PAGES: usize = 10_000;
/// The longest a watch event line may be.
const MAX_LINE: usize = 64 << 20;

/// A client of one API server.
pub struct ApiClient {
    upstream: Upstream,
    connection: Connection,
}

/// One list: its objects and the version to watch from.
#[derive(Debug)]
pub struct ObjectList {
    pub resource_version: String,
    pub items: Vec<Value>,
}

/// A watch event: `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
#[derive(Debug)]
pub struct WatchEvent {
    pub kind: String,
    pub object: Value,
}

/// An open watch.
pub struct WatchStream {
    body: switchyard_proxy::Body,
    buffer: BytesMut,
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `?k=v&...` with the values encoded.
pub fn query(params: &[(&str, &str)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The `Status` of a refused request as an error.
fn status_error(code: u16, body: &[u8]) -> KubeError {
    let status: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    KubeError::Status {
        code,
        reason: status["reason"].as_str().unwrap_or("").to_string(),
        message: status["message"].as_str().map_or_else(
            || String::from_utf8_lossy(body).chars().take(200).collect(),
            str::to_string,
        ),
    }
}

impl ApiClient {
    pub fn new(connection: Connection) -> Result<ApiClient, KubeError> {
        let mut settings = TransportSettings {
            // A watch is silent for minutes; the server ends it.
            idle_conn_timeout: Some(std::time::Duration::from_secs(90)),
            ..TransportSettings::default()
        };
        if let Some(ca) = &connection.ca_file {
            settings.root_cas = vec![ca.display().to_string()];
        }
        let upstream = Upstream::new(settings)
            .map_err(|e| KubeError::Config(format!("TLS settings of {}: {e}", connection.base)))?;
        Ok(ApiClient {
            upstream,
            connection,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.connection.base
    }

    async fn get(&self, path_and_query: &str) -> Result<switchyard_proxy::Response, KubeError> {
        let uri = format!("{}{path_and_query}", self.connection.base);
        let mut req = http::Request::get(&uri).header(http::header::ACCEPT, "application/json");
        if let Some(token) = self.connection.token.current()? {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(switchyard_proxy::body::empty())
            .map_err(|e| KubeError::Config(format!("request {uri}: {e}")))?;
        self.upstream
            .send(req, &self.connection.base, Protocol::Auto)
            .await
            .map_err(|e| KubeError::Connect(format!("GET {uri}: {e}")))
    }

    async fn get_json(&self, path_and_query: &str) -> Result<Value, KubeError> {
        let response = self.get(path_and_query).await?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| KubeError::Connect(format!("reading {path_and_query}: {e}")))?
            .to_bytes();
        if status != 200 {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|e| KubeError::Decode(format!("{path_and_query}: {e}")))
    }

    /// `GET` of one object (`/apis/<group>/<version>/.../<name>`).
    pub async fn get_object(&self, path: &str) -> Result<Value, KubeError> {
        self.get_json(path).await
    }

    /// `PUT` of `object` at `path` (an object, or its `/status`
    /// subresource); the object the server stored.
    pub async fn put_json(&self, path: &str, object: &Value) -> Result<Value, KubeError> {
        let uri = format!("{}{path}", self.connection.base);
        let body = serde_json::to_vec(object)
            .map_err(|e| KubeError::Decode(format!("encoding the body of PUT {uri}: {e}")))?;
        let mut req = http::Request::put(&uri)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = self.connection.token.current()? {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(switchyard_proxy::body::full(body))
            .map_err(|e| KubeError::Config(format!("request {uri}: {e}")))?;
        let response = self
            .upstream
            .send(req, &self.connection.base, Protocol::Auto)
            .await
            .map_err(|e| KubeError::Connect(format!("PUT {uri}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| KubeError::Connect(format!("reading the answer to PUT {uri}: {e}")))?
            .to_bytes();
        if status != 200 && status != 201 {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| KubeError::Decode(format!("PUT {path}: {e}")))
    }

    /// Lists a collection (`/api/v1/services`, with selectors in `params`),
    /// every page of it, at the latest version.
    pub async fn list(
        &self,
        collection: &str,
        params: &[(&str, &str)],
    ) -> Result<ObjectList, KubeError> {
        let mut items = Vec::new();
        let mut next = String::new();
        for _ in 0..MAX_PAGES {
            let mut p = params.to_vec();
            p.push(("limit", "500"));
            p.push(("continue", &next));
            let page = self.get_json(&format!("{collection}{}", query(&p))).await?;
            if let Some(Value::Array(page_items)) = page.get("items") {
                items.extend(page_items.iter().cloned());
            }
            let rv = page
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match page.pointer("/metadata/continue").and_then(Value::as_str) {
                Some(token) if !token.is_empty() => next = token.to_string(),
                _ => {
                    return Ok(ObjectList {
                        resource_version: rv,
                        items,
                    })
                }
            }
        }
        Err(KubeError::Decode(format!(
            "{collection}: more than {MAX_PAGES} pages"
        )))
    }

    /// Opens a watch of a collection from `resource_version`, with
    /// bookmarks, ended by the server after `timeout_seconds`.
    pub async fn watch(
        &self,
        collection: &str,
        params: &[(&str, &str)],
        resource_version: &str,
        timeout_seconds: u64,
    ) -> Result<WatchStream, KubeError> {
        let timeout = timeout_seconds.to_string();
        let mut p = params.to_vec();
        p.extend([
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", timeout.as_str()),
        ]);
        let path = format!("{collection}{}", query(&p));
        let response = self.get(&path).await?;
        let status = response.status().as_u16();
        if status != 200 {
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(status_error(status, &body));
        }
        Ok(WatchStream {
            body: response.into_body(),
            buffer: BytesMut::new(),
        })
    }
}

impl WatchStream {
    /// The next event; None when the server ended the watch.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, KubeError>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(decode_event(&line));
            }
            if self.buffer.len() > MAX_LINE {
                return Some(Err(KubeError::Decode(
                    "watch event longer than 64 MiB".to_string(),
                )));
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            let n = chunk.len();
                            self.buffer.extend_from_slice(chunk);
                            data.advance(n);
                        }
                    }
                }
                Err(e) => return Some(Err(KubeError::Connect(format!("watch stream: {e}")))),
            }
        }
    }
}

fn decode_event(line: &[u8]) -> Result<WatchEvent, KubeError> {
    let mut event: Value =
        serde_json::from_slice(line).map_err(|e| KubeError::Decode(format!("watch event: {e}")))?;
    let kind = event["type"].as_str().unwrap_or("").to_string();
    if kind.is_empty() {
        return Err(KubeError::Decode("watch event without a type".to_string()));
    }
    Ok(WatchEvent {
        kind,
        object: event["object"].take(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn queries() {
        assert_eq!(super::query(&[]), "");
        assert_eq!(
            super::query(&[("labelSelector", ""), ("limit", "5")]),
            "?limit=5"
        );
        assert_eq!(
            super::query(&[("labelSelector", "owner!=helm,app in (a,b)")]),
            "?labelSelector=owner%21%3Dhelm%2Capp%20in%20%28a%2Cb%29"
        );
    }
}
