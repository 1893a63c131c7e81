//! The one body type that flows through handlers: request and response bodies
//! are streamed, never collected, unless a middleware says why it must.

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Empty, Full};

/// Errors a body can yield while streaming.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A streamed body.
pub type Body = BoxBody<Bytes, BoxError>;

/// A body holding `bytes` whole.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A body with no bytes.
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Wraps any body whose error converts into [`BoxError`].
pub fn boxed<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

pin_project_lite::pin_project! {
    /// A body that fails once `deadline` passes before it ends: the
    /// entrypoint's `readTimeout` on request bodies and `writeTimeout` on
    /// responses. hyper then closes the connection, as Go's server does.
    pub struct Deadline<B> {
        #[pin]
        inner: B,
        #[pin]
        sleep: tokio::time::Sleep,
        what: &'static str,
    }
}

impl<B> Deadline<B> {
    pub fn new(inner: B, limit: std::time::Duration, what: &'static str) -> Deadline<B> {
        Deadline {
            inner,
            sleep: tokio::time::sleep(limit),
            what,
        }
    }

    /// A body that fails at `deadline`.
    pub fn until(inner: B, deadline: tokio::time::Instant, what: &'static str) -> Deadline<B> {
        Deadline {
            inner,
            sleep: tokio::time::sleep_until(deadline),
            what,
        }
    }
}

/// The error a [`Deadline`] body yields.
#[derive(Debug, thiserror::Error)]
#[error("{0} timeout")]
pub struct TimedOut(pub &'static str);

impl<B> http_body::Body for Deadline<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.project();
        if let std::task::Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return std::task::Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        if std::future::Future::poll(this.sleep, cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(Box::new(TimedOut(this.what)))));
        }
        std::task::Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn deadline_fails_a_slow_body_and_passes_a_quick_one() {
        let quick = Deadline::new(full("done"), std::time::Duration::from_secs(1), "read");
        assert_eq!(quick.collect().await.unwrap().to_bytes(), "done");

        use futures_util::StreamExt;
        let frames = futures_util::stream::iter([Ok::<_, BoxError>(http_body::Frame::data(
            Bytes::from_static(b"a"),
        ))])
        .chain(futures_util::stream::pending());
        let slow = Deadline::new(
            http_body_util::StreamBody::new(frames),
            std::time::Duration::from_secs(1),
            "read",
        );
        let err = slow.collect().await.unwrap_err();
        assert_eq!(err.to_string(), "read timeout");
    }
}
