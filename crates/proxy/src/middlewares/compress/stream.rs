//! The compressed body of a response too large or too slow to be taken
//! whole: output goes out in pieces of about [`CHUNK`], and what was
//! written is flushed when the backend pauses: at once for a stream (no
//! `Content-Length`, or `text/event-stream`), after [`FLUSH_INTERVAL`]
//! otherwise, as Traefik's proxy flushes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;

use super::encode::Stream;
use crate::body::{Body, BoxError};

/// Output is handed on once this much has gathered.
const CHUNK: usize = 16 * 1024;
/// How long written input may wait for more before it is flushed, for a
/// response of known length (Traefik's default `flushInterval`).
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

pub struct Compressing {
    source: Body,
    encoder: Option<Stream>,
    /// Input written since the last flush.
    pending_input: bool,
    /// Flush as soon as the source pauses, rather than after FLUSH_INTERVAL.
    flush_on_pause: bool,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Compressed output to hand on first.
    ready: Option<Bytes>,
    trailers: Option<HeaderMap>,
    done: bool,
}

impl Compressing {
    /// `encoder` has taken what was read so far (`pending_input` says
    /// whether some of it is not flushed yet); `source` is the rest.
    pub fn new(
        mut encoder: Stream,
        pending_input: bool,
        source: Body,
        flush_on_pause: bool,
    ) -> Self {
        let out = encoder.take();
        Compressing {
            source,
            encoder: Some(encoder),
            pending_input,
            flush_on_pause,
            timer: None,
            ready: (!out.is_empty()).then(|| Bytes::from(out)),
            trailers: None,
            done: false,
        }
    }

    fn flushed(&mut self) -> std::io::Result<Option<Bytes>> {
        self.pending_input = false;
        self.timer = None;
        let Some(encoder) = self.encoder.as_mut() else {
            return Ok(None);
        };
        encoder.flush()?;
        let out = encoder.take();
        Ok((!out.is_empty()).then(|| Bytes::from(out)))
    }
}

impl http_body::Body for Compressing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Some(out) = this.ready.take() {
            return Poll::Ready(Some(Ok(Frame::data(out))));
        }
        loop {
            if this.done {
                return Poll::Ready(this.trailers.take().map(|t| Ok(Frame::trailers(t))));
            }
            let Some(encoder) = this.encoder.as_mut() else {
                this.done = true;
                continue;
            };
            match Pin::new(&mut this.source).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        encoder.write(&data)?;
                        this.pending_input = true;
                        if encoder.produced() >= CHUNK {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(encoder.take())))));
                        }
                    }
                    Err(frame) => this.trailers = frame.into_trailers().ok(),
                },
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => {
                    let out = this.encoder.take().map(Stream::finish).transpose()?;
                    this.done = true;
                    if let Some(out) = out.filter(|o| !o.is_empty()) {
                        return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                    }
                }
                Poll::Pending => {
                    if !this.pending_input {
                        return Poll::Pending;
                    }
                    if !this.flush_on_pause {
                        let timer = this
                            .timer
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_INTERVAL)));
                        if timer.as_mut().poll(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    // The backend paused: send what we have.
                    if let Some(out) = this.flushed()? {
                        return Poll::Ready(Some(Ok(Frame::data(out))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
