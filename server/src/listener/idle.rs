//! HTTP/2 idle tracking: hyper's HTTP/2 has no idle timeout (keep-alive pings only find dead
//! peers), so the streams open on a connection are counted, to close it once it has had none
//! for --header-timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Waits until the connection has had no open stream for `after`.
pub(super) async fn idle(mut active: tokio::sync::watch::Receiver<usize>, after: Duration) {
    loop {
        if active.wait_for(|n| *n == 0).await.is_err() {
            return std::future::pending().await;
        }
        if tokio::time::timeout(after, active.wait_for(|n| *n > 0)).await.is_err() {
            return;
        }
    }
}

/// One open HTTP/2 stream, from its request until its response body ends or is dropped.
pub(super) struct StreamGuard(Arc<tokio::sync::watch::Sender<usize>>);

impl StreamGuard {
    pub(super) fn new(active: Arc<tokio::sync::watch::Sender<usize>>) -> StreamGuard {
        active.send_modify(|n| *n += 1);
        StreamGuard(active)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A response body that keeps its stream counted while it is being sent.
pub(super) struct Tracked {
    pub(super) body: axum::body::Body,
    pub(super) _stream: StreamGuard,
}

impl hyper::body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
