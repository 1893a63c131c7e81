//! Sending one encoded OTLP request to the collector: over HTTP
//! (`POST <endpoint>`, `application/x-protobuf`) or gRPC (the unary
//! `Export` call of the signal's collector service), gzip-compressed as
//! Traefik's exporter sends it, with the configured headers and TLS. One
//! transport serves every signal.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The OpenTelemetry signals (what an export carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// The path of an HTTP endpoint given without one.
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
        }
    }

    /// The gRPC method.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        }
    }
}

/// Where and how to send (Traefik's `otlp.http` / `otlp.grpc`).
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `scheme://host:port[/path]`; without a path, the signal's own.
    Http { url: String },
    /// `host:port`; `insecure` for plain-text HTTP/2.
    Grpc { address: String, insecure: bool },
}

/// The transport's settings.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub endpoint: Endpoint,
    /// Sent with every export.
    pub headers: Vec<(String, String)>,
    /// The client TLS for `https` and secure gRPC.
    pub tls: rustls::ClientConfig,
    /// Bounds one export, connection included.
    pub timeout: Duration,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid collector endpoint {endpoint:?}: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("invalid header {name:?}: {reason}")]
    Header { name: String, reason: String },
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("sending to {uri}: {source}")]
    Send {
        uri: Uri,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("reading the answer of {uri}: {source}")]
    Read {
        uri: Uri,
        #[source]
        source: hyper::Error,
    },
    #[error("{uri} answered {status}: {body}")]
    Status {
        uri: Uri,
        status: StatusCode,
        body: String,
    },
    #[error("{uri} answered gRPC status {code}: {message}")]
    Grpc {
        uri: Uri,
        code: String,
        message: String,
    },
    #[error("{uri} did not answer within {timeout:?}")]
    Timeout { uri: Uri, timeout: Duration },
    #[error("building the request to {uri}: {reason}")]
    Request { uri: String, reason: String },
}

/// A ready transport; cheap to clone.
#[derive(Clone)]
pub struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    endpoint: Endpoint,
    /// For HTTP: the URL as configured, when it has a path.
    http_url: Option<Uri>,
    /// `scheme://authority` every signal's path is appended to.
    base: String,
    headers: HeaderMap,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(config: TransportConfig) -> Result<Transport, ConfigError> {
        let bad = |endpoint: &str, reason: &str| ConfigError::Endpoint {
            endpoint: endpoint.to_string(),
            reason: reason.to_string(),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = |reason: String| ConfigError::Header {
                name: name.clone(),
                reason,
            };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| header(e.to_string()))?;
            let v = HeaderValue::from_str(value).map_err(|e| header(e.to_string()))?;
            headers.append(n, v);
        }
        // The connector sets ALPN itself (and refuses a config that has it).
        let mut tls = config.tls;
        tls.alpn_protocols.clear();
        let (client, base, http_url) = match &config.endpoint {
            Endpoint::Http { url } => {
                let uri: Uri = url
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| bad(url, &e.to_string()))?;
                let scheme = uri.scheme_str().unwrap_or("");
                if scheme != "http" && scheme != "https" {
                    return Err(bad(url, "the scheme must be http or https"));
                }
                let authority = uri.authority().ok_or_else(|| bad(url, "no host"))?;
                let base = format!("{scheme}://{authority}");
                let has_path = !matches!(uri.path(), "" | "/") || url.trim_end().ends_with('/');
                let connector = HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .build();
                let client = Client::builder(TokioExecutor::new()).build(connector);
                (client, base, has_path.then_some(uri))
            }
            Endpoint::Grpc { address, insecure } => {
                let address = address.trim();
                if address.is_empty() || address.contains('/') || !address.contains(':') {
                    return Err(bad(address, "expected host:port"));
                }
                let scheme = if *insecure { "http" } else { "https" };
                let base = format!("{scheme}://{address}");
                base.parse::<Uri>()
                    .map_err(|e| bad(address, &e.to_string()))?;
                let connector = HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http2()
                    .build();
                let client = Client::builder(TokioExecutor::new())
                    .http2_only(true)
                    .build(connector);
                (client, base, None)
            }
        };
        Ok(Transport {
            client,
            endpoint: config.endpoint,
            http_url,
            base,
            headers,
            timeout: config.timeout,
        })
    }

    /// The URI an export of `signal` goes to.
    pub fn uri(&self, signal: Signal) -> String {
        match (&self.endpoint, &self.http_url) {
            (Endpoint::Http { .. }, Some(url)) => url.to_string(),
            (Endpoint::Http { .. }, None) => format!("{}{}", self.base, signal.http_path()),
            (Endpoint::Grpc { .. }, _) => format!("{}{}", self.base, signal.grpc_path()),
        }
    }

    /// Sends one encoded export request of `signal`.
    pub async fn export(&self, signal: Signal, message: Vec<u8>) -> Result<(), ExportError> {
        let uri_text = self.uri(signal);
        let uri: Uri =
            uri_text
                .parse()
                .map_err(|e: http::uri::InvalidUri| ExportError::Request {
                    uri: uri_text.clone(),
                    reason: e.to_string(),
                })?;
        let grpc = matches!(self.endpoint, Endpoint::Grpc { .. });
        let message = gzip(&message).map_err(|e| ExportError::Request {
            uri: uri_text.clone(),
            reason: format!("compressing: {e}"),
        })?;
        let (body, content_type) = if grpc {
            // One length-prefixed message, flagged compressed.
            let mut framed = BytesMut::with_capacity(message.len() + 5);
            framed.put_u8(1);
            framed.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
            framed.put_slice(&message);
            (framed.freeze(), "application/grpc")
        } else {
            (Bytes::from(message), "application/x-protobuf")
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, content_type)
            .body(Full::new(body))
            .map_err(|e| ExportError::Request {
                uri: uri_text.clone(),
                reason: e.to_string(),
            })?;
        if grpc {
            req.headers_mut()
                .insert(http::header::TE, HeaderValue::from_static("trailers"));
            req.headers_mut()
                .insert("grpc-encoding", HeaderValue::from_static("gzip"));
        } else {
            req.headers_mut().insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        for (k, v) in &self.headers {
            req.headers_mut().append(k, v.clone());
        }
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|source| ExportError::Send {
                    uri: uri.clone(),
                    source,
                })?;
            let (head, body) = resp.into_parts();
            let collected = body.collect().await.map_err(|source| ExportError::Read {
                uri: uri.clone(),
                source,
            })?;
            let trailers = collected.trailers().cloned();
            let bytes = collected.to_bytes();
            if !head.status.is_success() {
                let text = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).into_owned();
                return Err(ExportError::Status {
                    uri: uri.clone(),
                    status: head.status,
                    body: text,
                });
            }
            if grpc {
                // The status comes in the trailers, or in the head of a
                // trailers-only answer.
                let field = |name: &str| {
                    trailers
                        .as_ref()
                        .and_then(|t| t.get(name))
                        .or_else(|| head.headers.get(name))
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let code = field("grpc-status").unwrap_or_else(|| "missing".into());
                if code != "0" {
                    return Err(ExportError::Grpc {
                        uri: uri.clone(),
                        code,
                        message: field("grpc-message").unwrap_or_default(),
                    });
                }
            }
            Ok(())
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ExportError::Timeout {
                uri,
                timeout: self.timeout,
            }),
        }
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls() -> rustls::ClientConfig {
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
    }

    fn transport(endpoint: Endpoint) -> Result<Transport, ConfigError> {
        Transport::new(TransportConfig {
            endpoint,
            headers: vec![("Authorization".into(), "Bearer x".into())],
            tls: tls(),
            timeout: Duration::from_secs(1),
        })
    }

    #[test]
    fn endpoint_table() {
        let http = |u: &str| Endpoint::Http { url: u.into() };
        let grpc = |a: &str, insecure| Endpoint::Grpc {
            address: a.into(),
            insecure,
        };
        let cases = [
            ("http default path", http("https://localhost:4318"), Some(("https://localhost:4318/v1/traces", "https://localhost:4318/v1/logs"))),
            ("http given path kept", http("http://127.0.0.1:9/collect"), Some(("http://127.0.0.1:9/collect", "http://127.0.0.1:9/collect"))),
            ("grpc secure", grpc("localhost:4317", false), Some(("https://localhost:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export", "https://localhost:4317/opentelemetry.proto.collector.logs.v1.LogsService/Export"))),
            ("grpc insecure", grpc("127.0.0.1:4317", true), Some(("http://127.0.0.1:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export", "http://127.0.0.1:4317/opentelemetry.proto.collector.logs.v1.LogsService/Export"))),
            ("http bad scheme", http("ftp://h:1"), None),
            ("http no host", http("/v1/traces"), None),
            ("grpc with a scheme", grpc("http://h:1", true), None),
            ("grpc without a port", grpc("h", true), None),
        ];
        for (what, endpoint, want) in cases {
            let got = transport(endpoint)
                .ok()
                .map(|t| (t.uri(Signal::Traces), t.uri(Signal::Logs)));
            let want = want.map(|(a, b)| (a.to_string(), b.to_string()));
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn bad_header_is_refused() {
        let r = Transport::new(TransportConfig {
            endpoint: Endpoint::Http {
                url: "http://127.0.0.1:1".into(),
            },
            headers: vec![("bad name".into(), "x".into())],
            tls: tls(),
            timeout: Duration::from_secs(1),
        });
        assert!(matches!(r, Err(ConfigError::Header { .. })));
    }

    #[tokio::test]
    async fn unreachable_collector_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let t = transport(Endpoint::Http {
            url: format!("http://127.0.0.1:{port}"),
        })
        .expect("transport");
        let err = t.export(Signal::Traces, vec![1, 2, 3]).await;
        assert!(matches!(err, Err(ExportError::Send { .. })), "{err:?}");
    }
}
