//! Connecting to the engine: `endpoint` (`unix://`, `tcp://`), `tls`, `username`/`password`,
//! `httpClientTimeout`, as Traefik's Docker provider reads them.

use std::time::Duration;

use base64::Engine as _;
use bollard::{Docker, API_DEFAULT_VERSION};

use super::DockerProvider;

/// A timeout of zero means none (Traefik's); the client counts whole
/// seconds, so a year stands for "none".
const NO_TIMEOUT_SECS: u64 = 365 * 24 * 3600;

/// Why the provider cannot talk to the engine.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("endpoint {0:?}: expected unix:///path/to/socket or tcp://host:port")]
    Endpoint(String),
    #[error("endpoint {endpoint:?}: {source}")]
    Tls {
        endpoint: String,
        #[source]
        source: super::tls::TlsError,
    },
    #[error("endpoint {endpoint:?}: {source}")]
    Client {
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
}

fn timeout_secs(d: Duration) -> u64 {
    if d.is_zero() {
        NO_TIMEOUT_SECS
    } else {
        // Never round a short timeout down to zero.
        d.as_secs().max(1)
    }
}

/// Makes a client for the provider's endpoint. It does not connect yet.
pub fn connect(p: &DockerProvider) -> Result<Docker, ConnectError> {
    Ok(Connection::open(p)?.client(None))
}

/// A client for the provider's endpoint and the headers its requests
/// carry (`User-Agent`, and `Authorization` with `username`/`password`).
#[derive(Clone)]
pub(crate) struct Connection {
    bare: Docker,
    authorization: Option<http::HeaderValue>,
}

impl Connection {
    /// Makes the client. It does not connect yet.
    pub(crate) fn open(p: &DockerProvider) -> Result<Connection, ConnectError> {
        let endpoint = p.endpoint.as_str();
        let timeout = timeout_secs(p.http_client_timeout.into());
        let client_error = |source| ConnectError::Client {
            endpoint: endpoint.to_string(),
            source,
        };
        let bare = if let Some(path) = endpoint.strip_prefix("unix://") {
            Docker::connect_with_unix(path, timeout, API_DEFAULT_VERSION).map_err(client_error)?
        } else if let Some(host_port) = endpoint
            .strip_prefix("tcp://")
            .or_else(|| endpoint.strip_prefix("http://"))
        {
            match &p.tls {
                Some(tls) => super::tls::connect(host_port, tls, timeout).map_err(|source| {
                    ConnectError::Tls {
                        endpoint: endpoint.to_string(),
                        source,
                    }
                })?,
                None => Docker::connect_with_http(endpoint, timeout, API_DEFAULT_VERSION)
                    .map_err(client_error)?,
            }
        } else {
            return Err(ConnectError::Endpoint(endpoint.to_string()));
        };
        let authorization = (!p.username.is_empty() && !p.password.is_empty())
            .then(|| {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", p.username, p.password));
                http::HeaderValue::from_str(&format!("Basic {token}")).ok()
            })
            .flatten();
        Ok(Connection {
            bare,
            authorization,
        })
    }

    /// The engine client. With `path` (an unversioned path and query of
    /// the engine's API, `/tasks?filters=...`), every request it makes
    /// goes there instead: its `ping` then reads that `GET`'s answer as
    /// text, for the endpoints whose answer bollard's models do not hold.
    pub(crate) fn client(&self, path: Option<&str>) -> Docker {
        let authorization = self.authorization.clone();
        let path = path.and_then(|p| http::uri::PathAndQuery::try_from(p).ok());
        self.bare.clone().with_request_modifier(move |mut req| {
            if let Some(path) = &path {
                let mut parts = req.uri().clone().into_parts();
                parts.path_and_query = Some(path.clone());
                if let Ok(uri) = http::Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
            let headers = req.headers_mut();
            headers.insert(
                http::header::USER_AGENT,
                http::HeaderValue::from_static(concat!("Switchyard/", env!("CARGO_PKG_VERSION"))),
            );
            if let Some(value) = &authorization {
                headers.insert(http::header::AUTHORIZATION, value.clone());
            }
            req
        })
    }
}
