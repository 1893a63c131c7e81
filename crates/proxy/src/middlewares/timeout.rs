//! The per-router request timeout (a Switchyard extension, the router
//! field `requestTimeout`): when the router's middlewares and service have
//! not begun to answer in time, the client gets 504 and the request to the
//! backend is dropped.
//! The body of an answer that has begun is not cut short.

use std::time::Duration;

use http::StatusCode;

use crate::{body, BoxHandler, Handler, HandlerFuture, Request, Response};

pub struct RequestTimeout {
    limit: Duration,
    next: BoxHandler,
}

impl RequestTimeout {
    pub fn new(limit: Duration, next: BoxHandler) -> RequestTimeout {
        RequestTimeout { limit, next }
    }
}

impl Handler for RequestTimeout {
    fn call(&self, req: Request) -> HandlerFuture {
        let call = self.next.call(req);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::debug!(?limit, "router requestTimeout reached");
                    let mut resp = Response::new(body::full("Gateway Timeout"));
                    *resp.status_mut() = StatusCode::GATEWAY_TIMEOUT;
                    Ok(resp)
                }
            }
        })
    }
}
