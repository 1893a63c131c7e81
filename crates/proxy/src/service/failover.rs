//! The `failover` service: requests go to `service` while it has a server
//! up (as its health check says), else to `fallback`. With `errors.status`,
//! an answer from `service` in those ranges is replaced by `fallback`'s; the
//! request body is then kept in memory to send again, up to
//! `maxRequestBodyBytes` (a larger one, or one of unknown length, is not
//! failed over on status).

use bytes::Bytes;
use http_body_util::BodyExt;

use super::weighted::UpFn;
use crate::{body, BoxHandler, Handler, HandlerFuture, ProxyError, Request};

pub struct Failover {
    main: BoxHandler,
    main_up: Option<UpFn>,
    fallback: BoxHandler,
    fallback_up: Option<UpFn>,
    status: Vec<(u16, u16)>,
    max_body_bytes: usize,
}

impl Failover {
    pub fn new(
        main: (BoxHandler, Option<UpFn>),
        fallback: (BoxHandler, Option<UpFn>),
        status: Vec<(u16, u16)>,
        max_body_bytes: usize,
    ) -> Failover {
        Failover {
            main: main.0,
            main_up: main.1,
            fallback: fallback.0,
            fallback_up: fallback.1,
            status,
            max_body_bytes,
        }
    }

    /// Whether either side can take a request.
    pub fn is_up(&self) -> bool {
        self.main_up.as_ref().is_none_or(|u| u()) || self.fallback_up.as_ref().is_none_or(|u| u())
    }
}

impl Handler for Failover {
    fn call(&self, req: Request) -> HandlerFuture {
        let main_up = self.main_up.as_ref().is_none_or(|u| u());
        if !main_up {
            let fallback_up = self.fallback_up.as_ref().is_none_or(|u| u());
            if !fallback_up {
                return Box::pin(async { Err(ProxyError::NoAvailableServer) });
            }
            return self.fallback.call(req);
        }
        if self.status.is_empty() {
            return self.main.call(req);
        }
        let (main, fallback, status, limit) = (
            self.main.clone(),
            self.fallback.clone(),
            self.status.clone(),
            self.max_body_bytes,
        );
        Box::pin(async move {
            let (parts, body_in) = req.into_parts();
            let empty = http_body::Body::is_end_stream(&body_in);
            let small = http_body::Body::size_hint(&body_in)
                .upper()
                .is_some_and(|n| n as usize <= limit);
            if !empty && !small {
                return main
                    .call(crate::context::request_from_parts(&parts, body_in))
                    .await;
            }
            let bytes: Bytes = body_in
                .collect()
                .await
                .map_err(|e| ProxyError::BadRequest(e.to_string()))?
                .to_bytes();
            let resp = main
                .call(crate::context::request_from_parts(
                    &parts,
                    body::full(bytes.clone()),
                ))
                .await?;
            let code = resp.status().as_u16();
            if status.iter().any(|(a, b)| (*a..=*b).contains(&code)) {
                return fallback
                    .call(crate::context::request_from_parts(
                        &parts,
                        body::full(bytes),
                    ))
                    .await;
            }
            Ok(resp)
        })
    }
}
