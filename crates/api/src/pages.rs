//! `/ping` and the no-op service, answered as Traefik answers them: the
//! status text as the body and no `Content-Type`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::StatusCode;
use switchyard_proxy::handler::FnHandler;
use switchyard_proxy::{body, BoxHandler, HandlerFuture, Response};

/// Set when the process starts shutting down: `/ping` then answers
/// `terminatingStatusCode`.
pub type Terminating = Arc<AtomicBool>;

fn bare(status: StatusCode, text: &'static str) -> Response {
    let mut r = Response::new(body::full(text));
    *r.status_mut() = status;
    r
}

/// `ping@internal`: `OK` with 200, or the terminating status (and its
/// text) while stopping; any method.
pub fn ping(terminating: Terminating, terminating_status: u16) -> BoxHandler {
    let stopping =
        StatusCode::from_u16(terminating_status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    Arc::new(FnHandler(move |_req| -> HandlerFuture {
        let status = if terminating.load(Ordering::Relaxed) {
            stopping
        } else {
            StatusCode::OK
        };
        let r = bare(status, status.canonical_reason().unwrap_or(""));
        Box::pin(async move { Ok(r) })
    }))
}

/// `noop@internal`: where redirecting routers end; reached only when their
/// redirection did not answer, with 418 and nothing else, as in Traefik.
pub fn noop() -> BoxHandler {
    Arc::new(FnHandler(|_req| -> HandlerFuture {
        Box::pin(async { Ok(bare(StatusCode::IM_A_TEAPOT, "")) })
    }))
}
