//! The one error type of the request path, and the one place that turns it
//! into the status code and body Traefik answers with.

use http::{header, HeaderValue, StatusCode};

use crate::{body, Response};

/// Why a handler produced no response of its own.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No router matched the request.
    #[error("no router matched")]
    NotFound,
    /// The load balancer had no healthy server.
    #[error("no available server")]
    NoAvailableServer,
    /// Connecting to the backend failed.
    #[error("connecting to {upstream}: {source}")]
    Connect {
        upstream: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The backend did not send response headers in time.
    #[error("timeout awaiting response headers from {upstream}")]
    UpstreamTimeout { upstream: String },
    /// The exchange with the backend failed after connecting.
    #[error("upstream {upstream}: {source}")]
    Upstream {
        upstream: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The client went away before the response (logged as 499).
    #[error("client closed the request")]
    ClientClosed,
    /// The request cannot be served as sent.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A handler answered with a fixed status and plain-text reason.
    #[error("{status}: {message}")]
    Status { status: StatusCode, message: String },
}

impl ProxyError {
    /// The status this error answers with (499 for a client that left).
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NotFound => StatusCode::NOT_FOUND,
            ProxyError::NoAvailableServer => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Upstream { source, .. } if malformed_response(source.as_ref()) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ProxyError::Connect { .. } | ProxyError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::ClientClosed => {
                StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::Status { status, .. } => *status,
        }
    }

    /// The response a client sees, with Traefik's bodies.
    /// The body of the answer (what [`ProxyError::into_response`] sends).
    pub fn body_text(&self) -> String {
        let status = self.status();
        match self {
            ProxyError::NotFound => "404 page not found\n".into(),
            ProxyError::NoAvailableServer => "no available server\n".into(),
            ProxyError::Status { message, .. } => message.clone(),
            ProxyError::BadRequest(_) => format!("{} {}\n", status.as_u16(), reason(status)),
            _ => reason(status).to_string(),
        }
    }

    pub fn into_response(self) -> Response {
        let status = self.status();
        let text = self.body_text();
        let mut resp = Response::new(body::full(text));
        *resp.status_mut() = status;
        // Traefik answers these through Go's http.Error (a content type and
        // nosniff); the others by writing the status text alone.
        if matches!(
            self,
            ProxyError::NotFound | ProxyError::NoAvailableServer | ProxyError::BadRequest(_)
        ) {
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
        }
        resp
    }
}

/// Whether `e`, or an error under it, is hyper's refusal of a backend's
/// response head it could not parse (a status that is not three digits of
/// 100 to 999, a header line without a colon, a bad Content-Length, ...).
/// Go's client fails those with a plain protocol error, neither a network
/// error nor an EOF, which Traefik's proxy answers 500.
fn malformed_response(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    // Bounded: wrappers are a few levels deep.
    for _ in 0..8 {
        let Some(err) = next else {
            return false;
        };
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse)
        {
            return true;
        }
        next = err.source();
    }
    false
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_traefiks_status() {
        let cases: Vec<(&str, ProxyError, u16)> = vec![
            ("no router", ProxyError::NotFound, 404),
            ("no server", ProxyError::NoAvailableServer, 503),
            (
                "refused",
                ProxyError::Connect {
                    upstream: "x".into(),
                    source: "refused".into(),
                },
                502,
            ),
            (
                "timeout",
                ProxyError::UpstreamTimeout {
                    upstream: "x".into(),
                },
                504,
            ),
            ("client gone", ProxyError::ClientClosed, 499),
            ("bad request", ProxyError::BadRequest("x".into()), 400),
        ];
        for (what, err, status) in cases {
            assert_eq!(err.status().as_u16(), status, "{what}");
        }
    }
}
