//! The `mirroring` service: the main service answers every request, and a
//! copy of a share of the requests goes to each mirror. Mirrors run on their
//! own tasks and their answers are thrown away, so they never slow or fail
//! the main request; when more than [`MAX_MIRRORS_IN_FLIGHT`] copies are
//! still running, new copies are dropped rather than queued (Traefik starts
//! one goroutine per copy without a bound).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt;

use super::weighted::UpFn;
use crate::body::{self, buffer_up_to, Buffered};
use crate::context::request_from_parts;
use crate::{BoxHandler, Handler, HandlerFuture, ProxyError, Request};

/// Copies running at once, per mirroring service.
pub const MAX_MIRRORS_IN_FLIGHT: usize = 1024;

pub struct Mirror {
    pub handler: BoxHandler,
    /// 0 to 100.
    pub percent: u64,
}

struct Counts {
    total: u64,
    sent: Vec<u64>,
}

pub struct Mirroring {
    main: BoxHandler,
    main_up: Option<UpFn>,
    mirrors: Vec<Mirror>,
    counts: Mutex<Counts>,
    mirror_body: bool,
    max_body: Option<usize>,
    in_flight: Arc<AtomicUsize>,
}

impl Mirroring {
    /// `max_body`: the largest body copied to mirrors (`None`: any); a
    /// request with a larger body is not mirrored.
    pub fn new(
        main: BoxHandler,
        main_up: Option<UpFn>,
        mirrors: Vec<Mirror>,
        mirror_body: bool,
        max_body: Option<usize>,
    ) -> Result<Mirroring, String> {
        if let Some(m) = mirrors.iter().find(|m| m.percent > 100) {
            return Err(format!(
                "percent must be between 0 and 100 (got {})",
                m.percent
            ));
        }
        let sent = vec![0; mirrors.len()];
        Ok(Mirroring {
            main,
            main_up,
            mirrors,
            counts: Mutex::new(Counts { total: 0, sent }),
            mirror_body,
            max_body,
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Whether the main service can take requests (for a parent).
    pub fn is_up(&self) -> bool {
        self.main_up.as_ref().is_none_or(|up| up())
    }

    /// The mirrors this request goes to: each gets its share of all
    /// requests so far, as evenly spread as Traefik spreads them.
    fn due(&self) -> Vec<BoxHandler> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.total += 1;
        let total = c.total;
        let mut due = Vec::new();
        for (i, m) in self.mirrors.iter().enumerate() {
            if c.sent[i] * 100 < total * m.percent {
                c.sent[i] += 1;
                due.push(m.handler.clone());
            }
        }
        due
    }
}

impl Handler for Mirroring {
    fn call(&self, req: Request) -> HandlerFuture {
        let due = self.due();
        if due.is_empty() {
            return self.main.call(req);
        }
        let main = self.main.clone();
        let (mirror_body, max_body) = (self.mirror_body, self.max_body);
        let in_flight = self.in_flight.clone();
        Box::pin(async move {
            let (parts, body_in) = req.into_parts();
            // The main service gets the body as it came, or the buffered
            // copy; mirrors get the copy, or no body with `mirrorBody: false`.
            let (main_body, copy) = if mirror_body {
                match buffer_up_to(body_in, max_body)
                    .await
                    .map_err(|e| ProxyError::BadRequest(e.to_string()))?
                {
                    Buffered::Whole(bytes) => (body::full(bytes.clone()), Some(bytes)),
                    Buffered::TooLarge(rest) => {
                        tracing::debug!("no mirroring: request body larger than maxBodySize");
                        return main.call(request_from_parts(&parts, rest)).await;
                    }
                }
            } else {
                (body_in, None)
            };
            for mirror in due {
                if in_flight.fetch_add(1, Ordering::Relaxed) >= MAX_MIRRORS_IN_FLIGHT {
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    tracing::debug!("mirror copy dropped: too many copies in flight");
                    continue;
                }
                let body = copy.clone().map_or_else(body::empty, body::full);
                let mut req = request_from_parts(&parts, body);
                // A copy's answer is not the request's: it records nothing
                // in the request's access log line.
                req.extensions_mut()
                    .remove::<std::sync::Arc<crate::accesslog::LogFacts>>();
                let in_flight = in_flight.clone();
                tokio::spawn(async move {
                    if let Ok(resp) = mirror.call(req).await {
                        let _ = resp.into_body().collect().await;
                    }
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                });
            }
            main.call(request_from_parts(&parts, main_body)).await
        })
    }
}
