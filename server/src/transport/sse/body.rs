//! The SSE response body: one object polled by the connection's writer, no stream adapters.
//!
//! Each poll hands over everything that is ready at once (up to [`COALESCE`] events, one
//! write), and the only work per message is a reference to its shared encoding. The end
//! conditions (server shutdown, the server API's disconnect, the token's expiry) are checked
//! once the queue is empty (what was already queued is still sent, at most a queue's worth);
//! presence notices and heartbeats come when no message is waiting.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{stream, Stream};
use http_body::Frame as BodyFrame;
use push_core::broker::{EventStream, Subscription};
use push_core::{Channel, Event, MessageId};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::encode::{self, GapAs};
use crate::presence::Notices;
use crate::state::{AppState, ConnectionGuard};
use crate::transport::frame::Frame;
use crate::transport::SubscribeRequest;

/// Most events in one write.
const COALESCE: usize = 64;

type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type NoticeStream = Pin<Box<dyn Stream<Item = (&'static str, std::sync::Arc<str>)> + Send>>;

pub(super) struct SseBody {
    opening: Option<Bytes>,
    events: EventStream,
    /// The events ended (the subscription closed): the body ends after what it has.
    drained: bool,
    ended: bool,
    guard: ConnectionGuard,
    multiplexed: bool,
    subscribed: Vec<Channel>,
    gap_as: GapAs,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    disconnected: Boxed<std::sync::Arc<str>>,
    expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Presence notices (`?presence=1` only).
    notices: Option<NoticeStream>,
    /// When a comment is due unless something is sent before; moved on only when it fires,
    /// not on every event (a timer update per message costs more than the clock read).
    heartbeat: Pin<Box<tokio::time::Sleep>>,
    every: Duration,
    last_sent: tokio::time::Instant,
}

impl SseBody {
    pub(super) fn new(state: &AppState, request: &SubscribeRequest, subscription: Subscription, guard: ConnectionGuard, notices: Notices, gap_as: GapAs) -> SseBody {
        let every = state.config.heartbeat;
        let now = tokio::time::Instant::now();
        let expiry = request.expires_at.map(|at| {
            let left = (at * 1000).saturating_sub(push_core::message::now_millis());
            Box::pin(tokio::time::sleep(Duration::from_millis(left)))
        });
        let notices = notices.is_listening().then(|| {
            Box::pin(stream::unfold(notices, |mut n| async move { Some((n.next().await, n)) })) as NoticeStream
        });
        SseBody {
            opening: Some(encode::opening(subscription.start)),
            events: subscription.events,
            drained: false,
            ended: false,
            disconnected: Box::pin(guard.disconnected()),
            guard,
            multiplexed: request.multiplexed,
            subscribed: request.channels.clone(),
            gap_as,
            // A token of its own: polling the server's one from every stream would contend on
            // its lock.
            shutdown: Box::pin(state.shutdown.child_token().cancelled_owned()),
            expiry,
            notices,
            heartbeat: Box::pin(tokio::time::sleep_until(now + every)),
            every,
            last_sent: now,
        }
    }

    /// Ends the stream with one last event.
    fn last(&mut self, bytes: Bytes) -> Poll<Option<Result<BodyFrame<Bytes>, std::convert::Infallible>>> {
        self.ended = true;
        Poll::Ready(Some(Ok(BodyFrame::data(bytes))))
    }

    /// What the subscription has ready, as one buffer (the message's own shared bytes when it
    /// is one).
    fn ready_events(&mut self, cx: &mut Context<'_>) -> Option<Bytes> {
        let mut first: Option<Bytes> = None;
        let mut more: Option<BytesMut> = None;
        let (mut delivered, mut last) = (0u64, MessageId::ZERO);
        for _ in 0..COALESCE {
            if self.drained {
                break;
            }
            let event = match self.events.as_mut().poll_next(cx) {
                Poll::Ready(Some(event)) => event,
                Poll::Ready(None) => {
                    self.drained = true;
                    break;
                }
                Poll::Pending => break,
            };
            let bytes = match &event {
                Event::Message(m) => {
                    delivered += 1;
                    last = m.id;
                    encode::message(m, self.multiplexed, &self.subscribed)
                }
                Event::Gap(channel, g) => {
                    self.guard.gap();
                    encode::gap(channel, g, self.gap_as)
                }
            };
            match (&first, &mut more) {
                (None, _) => first = Some(bytes),
                (Some(f), None) => {
                    let mut buf = BytesMut::with_capacity(f.len() + bytes.len() * 4);
                    buf.extend_from_slice(f);
                    buf.extend_from_slice(&bytes);
                    more = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&bytes),
            }
        }
        if delivered > 0 {
            self.guard.delivered(delivered, last);
        }
        more.map(BytesMut::freeze).or(first)
    }
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<BodyFrame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(opening) = this.opening.take() {
            return Poll::Ready(Some(Ok(BodyFrame::data(opening))));
        }
        // What is ready goes first: the end conditions below are polled once per wake-up,
        // when the queue is empty, not once per message.
        if let Some(bytes) = this.ready_events(cx) {
            this.last_sent = tokio::time::Instant::now();
            return Poll::Ready(Some(Ok(BodyFrame::data(bytes))));
        }
        if this.drained {
            this.ended = true;
            return Poll::Ready(None);
        }
        if this.shutdown.as_mut().poll(cx).is_ready() {
            this.ended = true;
            return Poll::Ready(None);
        }
        // When the server API disconnects the consumer, or the credentials expire, the stream
        // says so and ends.
        if let Poll::Ready(reason) = this.disconnected.as_mut().poll(cx) {
            return this.last(encode::notice("disconnect", &Frame::Disconnect { reason: &reason }.to_json()));
        }
        if let Some(Poll::Ready(())) = this.expiry.as_mut().map(|e| e.as_mut().poll(cx)) {
            return this.last(encode::notice("expired", r#"{"type":"expired"}"#));
        }
        // Presence notices go between messages, without an id: they do not move the cursor.
        if let Some(Poll::Ready(Some((kind, notice)))) = this.notices.as_mut().map(|n| n.as_mut().poll_next(cx)) {
            this.last_sent = tokio::time::Instant::now();
            return Poll::Ready(Some(Ok(BodyFrame::data(encode::notice(kind, &notice)))));
        }
        // A comment when a heartbeat interval passed with nothing sent.
        while this.heartbeat.as_mut().poll(cx).is_ready() {
            let due = this.last_sent + this.every;
            if due > tokio::time::Instant::now() {
                this.heartbeat.as_mut().reset(due);
                continue;
            }
            this.last_sent = tokio::time::Instant::now();
            this.heartbeat.as_mut().reset(this.last_sent + this.every);
            return Poll::Ready(Some(Ok(BodyFrame::data(Bytes::from_static(encode::HEARTBEAT)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}
