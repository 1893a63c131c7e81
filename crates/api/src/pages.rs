//! `/ping`, the dashboard page and the no-op service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::{header, HeaderValue, StatusCode};
use switchyard_proxy::handler::FnHandler;
use switchyard_proxy::{body, BoxHandler, HandlerFuture, Response};

/// Set when the process starts shutting down: `/ping` then answers
/// `terminatingStatusCode`.
pub type Terminating = Arc<AtomicBool>;

fn text(status: StatusCode, content_type: &'static str, s: impl Into<bytes::Bytes>) -> Response {
    let mut r = Response::new(body::full(s.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `ping@internal`: `OK` with 200, or the terminating status while stopping.
pub fn ping(terminating: Terminating, terminating_status: u16) -> BoxHandler {
    let stopping =
        StatusCode::from_u16(terminating_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Arc::new(FnHandler(move |_req| -> HandlerFuture {
        let status = if terminating.load(Ordering::Relaxed) {
            stopping
        } else {
            StatusCode::OK
        };
        let body = if status == StatusCode::OK {
            "OK".to_string()
        } else {
            status.canonical_reason().unwrap_or("").to_string()
        };
        Box::pin(async move { Ok(text(status, "text/plain; charset=utf-8", body)) })
    }))
}

/// `noop@internal`: answers nothing useful; redirect routers end here.
pub fn noop() -> BoxHandler {
    Arc::new(FnHandler(|_req| -> HandlerFuture {
        Box::pin(async { Ok(text(StatusCode::OK, "text/plain; charset=utf-8", "")) })
    }))
}

const DASHBOARD: &str = include_str!("dashboard.html");

/// `dashboard@internal`: `/` redirects to `/dashboard/`, which serves a
/// single page that reads the API.
pub fn dashboard() -> BoxHandler {
    Arc::new(FnHandler(
        |req: switchyard_proxy::Request| -> HandlerFuture {
            let path = req.uri().path().to_string();
            Box::pin(async move {
                if path == "/dashboard/" || path == "/dashboard/index.html" {
                    return Ok(text(StatusCode::OK, "text/html; charset=utf-8", DASHBOARD));
                }
                if path == "/" || path == "/dashboard" {
                    let mut r = text(StatusCode::FOUND, "text/plain; charset=utf-8", "Found");
                    r.headers_mut()
                        .insert(header::LOCATION, HeaderValue::from_static("/dashboard/"));
                    return Ok(r);
                }
                Err(switchyard_proxy::ProxyError::NotFound)
            })
        },
    ))
}
