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

/// Wraps a body that is `Send` but not `Sync` (axum's body, a boxed
/// stream), as [`boxed`] wraps one that is both.
///
/// ```
/// use http_body_util::BodyExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let unsync = http_body_util::Full::new(bytes::Bytes::from("hi")).boxed_unsync();
/// let body = switchyard_proxy::body::boxed_unsync(unsync);
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "hi");
/// # });
/// ```
pub fn boxed_unsync<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    SyncBody(std::sync::Mutex::new(Box::pin(body)))
        .map_err(Into::into)
        .boxed()
}

/// A body made `Sync` the safe way: polling takes it by `&mut` and so
/// reaches the inside without locking; only the `&self` questions
/// (`is_end_stream`, `size_hint`) lock, and nothing else ever holds the
/// lock.
struct SyncBody<B>(std::sync::Mutex<std::pin::Pin<Box<B>>>);

impl<B: http_body::Body> http_body::Body for SyncBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let inner = self
            .get_mut()
            .0
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.0.try_lock().is_ok_and(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0.try_lock().map(|b| b.size_hint()).unwrap_or_default()
    }
}

/// A request body read into memory, or found too large to be.
pub enum Buffered {
    Whole(Bytes),
    /// Over the limit: a body that yields what was read, then the rest.
    TooLarge(Body),
}

/// Reads `body` whole when it holds at most `limit` bytes (`None`: no
/// limit); stops reading as soon as the limit is passed, never holding more
/// than `limit` plus one frame.
pub async fn buffer_up_to(mut body: Body, limit: Option<usize>) -> Result<Buffered, BoxError> {
    if http_body::Body::size_hint(&body)
        .lower()
        .try_into()
        .is_ok_and(|n: usize| limit.is_some_and(|l| n > l))
    {
        return Ok(Buffered::TooLarge(body));
    }
    let mut read: Vec<Bytes> = Vec::new();
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Ok(data) = frame.into_data() else {
            // Trailers end the body.
            break;
        };
        size += data.len();
        read.push(data);
        if limit.is_some_and(|l| size > l) {
            let head = futures_util::stream::iter(
                read.into_iter()
                    .map(|b| Ok::<_, BoxError>(http_body::Frame::data(b))),
            );
            use futures_util::StreamExt;
            let rest = http_body_util::BodyStream::new(body);
            return Ok(Buffered::TooLarge(BodyExt::boxed(
                http_body_util::StreamBody::new(head.chain(rest)),
            )));
        }
    }
    Ok(Buffered::Whole(match read.len() {
        0 => Bytes::new(),
        1 => read.swap_remove(0),
        _ => read.concat().into(),
    }))
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

    fn chunks(parts: &[&'static str]) -> Body {
        let frames: Vec<Result<http_body::Frame<Bytes>, BoxError>> = parts
            .iter()
            .map(|p| Ok(http_body::Frame::data(Bytes::from_static(p.as_bytes()))))
            .collect();
        http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed()
    }

    #[tokio::test]
    async fn buffering_keeps_small_bodies_and_gives_back_large_ones_whole() {
        let cases: &[(&[&'static str], Option<usize>, bool)] = &[
            (&[], Some(0), true),
            (&["ab", "cd"], Some(4), true),
            (&["ab", "cd"], Some(3), false),
            (&["abcdef"], Some(5), false),
            (&["ab", "cd", "ef"], None, true),
        ];
        for (parts, limit, whole) in cases {
            let want: String = parts.concat();
            match buffer_up_to(chunks(parts), *limit).await.unwrap() {
                Buffered::Whole(b) => {
                    assert!(*whole, "{parts:?} {limit:?}");
                    assert_eq!(b, want);
                }
                Buffered::TooLarge(rest) => {
                    assert!(!*whole, "{parts:?} {limit:?}");
                    assert_eq!(rest.collect().await.unwrap().to_bytes(), want);
                }
            }
        }
        // A known length over the limit is not read at all.
        match buffer_up_to(full("0123456789"), Some(3)).await.unwrap() {
            Buffered::TooLarge(rest) => {
                assert_eq!(rest.collect().await.unwrap().to_bytes(), "0123456789")
            }
            Buffered::Whole(_) => panic!("read a body known to be too large"),
        }
    }

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
