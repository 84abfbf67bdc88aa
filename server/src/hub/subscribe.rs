//! Queued subscriptions for the streaming transports (SSE, WebSocket): each has one bounded
//! queue shared by all its channels, registered on each channel under the hub lock together
//! with the read of its backlog, so nothing published meanwhile is lost or delivered twice.
//! One that falls behind is detached and re-reads the rings from its cursor ([`SyncState`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream;
use push_core::broker::{Position, Subscription};
use push_core::{Channel, Error, ErrorKind, Event, Message, MessageId, Result};
use tokio::sync::mpsc;

use super::channels::release;
use super::order::{self, InOrder};
use super::{Hub, State, Subscriber};


impl Hub {
    /// Subscribes to `channels` from `from`; see the module docs for the guarantees.
    pub fn subscribe(self: &Arc<Self>, channels: &[Channel], from: Position) -> Result<Subscription> {
        let (tx, rx) = mpsc::channel(self.limits.queue_size.max(1));
        let mut state = self.lock();
        let after = self.admit(&state, channels, from)?;
        let id = state.next_subscriber;
        state.next_subscriber += 1;
        let lagged = Arc::new(AtomicBool::new(false));
        let channels: Arc<[Channel]> = channels.into();
        let subscriber = Arc::new(Subscriber { id, tx, lagged: lagged.clone(), channels: channels.clone() });
        let backlog = if state.closed { Vec::new() } else { register(&mut state, &subscriber, after) };
        drop(state);

        let sync = SyncState {
            hub: self.clone(),
            channels,
            id,
            lagged,
            rx,
            backlog: backlog.into(),
            order: InOrder::new(after),
        };
        let events = stream::unfold(sync, |mut s| async move { s.next().await.map(|e| (e, s)) });
        Ok(Subscription { start: after, events: Box::pin(events), log_until: None })
    }

    /// Where a subscription from `from` starts, unless its cursor is ahead of the log (one
    /// node) or it would track channels past the limit. Runs under the hub lock.
    pub(super) fn admit(&self, state: &State, channels: &[Channel], from: Position) -> Result<MessageId> {
        let last = self.last_id();
        let after = match from {
            Position::Latest => last,
            Position::After(cursor) if cursor > last && self.strict_cursors => {
                return Err(Error::new(
                    ErrorKind::InvalidCursor,
                    format!("cursor {cursor} is ahead of the newest message ({last})"),
                ))
            }
            Position::After(cursor) => cursor,
        };
        let new_channels = channels.iter().filter(|c| !state.channels.contains_key(*c)).count();
        if new_channels > 0 && state.subscribed_only + new_channels > self.limits.max_channels {
            return Err(Error::new(
                ErrorKind::Overloaded,
                format!(
                    "the server tracks its maximum of {} channels that nothing was published to (--max-channels); retry later",
                    self.limits.max_channels
                ),
            )
            .with_source(crate::metrics::Limit::Channels));
        }
        Ok(after)
    }

    /// Removes a subscription from its channels, then [`release`](Self::release)s them.
    fn unregister(&self, channels: &[Channel], subscriber: u64) {
        let mut state = self.lock();
        for ch in channels {
            if let Some(entry) = state.channels.get_mut(ch) {
                entry.subscribers.remove(&subscriber);
            }
        }
        release(&mut state, channels);
    }

}

/// Registers `subscriber` on every channel and returns the backlog after `after`, in id order.
/// Runs under the hub lock.
fn register(state: &mut State, subscriber: &Arc<Subscriber>, after: MessageId) -> Vec<Event> {
    let channels = &subscriber.channels[..];
    let now = Instant::now();
    let mut backlog = Vec::new();
    for channel in channels {
        let entry = state.entry(channel, now);
        entry.subscribers.insert(subscriber.id, subscriber.clone());
        entry.read_after(channel, after, &mut backlog);
    }
    if channels.len() > 1 {
        order::sort(&mut backlog);
    }
    backlog
}

/// One subscription's reading side: backlog first, then the live queue; re-syncs after a lag.
struct SyncState {
    hub: Arc<Hub>,
    channels: Arc<[Channel]>,
    id: u64,
    lagged: Arc<AtomicBool>,
    rx: mpsc::Receiver<Arc<Message>>,
    backlog: VecDeque<Event>,
    order: InOrder,
}

impl SyncState {
    async fn next(&mut self) -> Option<Event> {
        loop {
            let event = match self.backlog.pop_front() {
                Some(e) => e,
                None => match self.rx.recv().await {
                    Some(m) => Event::Message(m),
                    None if self.lagged.load(Ordering::Acquire) => {
                        self.resync();
                        continue;
                    }
                    None => return None,
                },
            };
            // De-duplicate: the backlog and the queue can overlap after a re-sync, and a message
            // to several channels is read from each.
            if self.order.admit(&event) {
                return Some(event);
            }
        }
    }

    /// The queue overflowed and the hub detached us: register again and re-read the rings.
    fn resync(&mut self) {
        let (tx, rx) = mpsc::channel(self.hub.limits.queue_size.max(1));
        self.lagged.store(false, Ordering::Release);
        let subscriber = Arc::new(Subscriber { id: self.id, tx, lagged: self.lagged.clone(), channels: self.channels.clone() });
        let mut state = self.hub.lock();
        let backlog = if state.closed { Vec::new() } else { register(&mut state, &subscriber, self.order.cursor()) };
        drop(state);
        self.rx = rx;
        self.backlog = backlog.into();
    }
}

impl Drop for SyncState {
    fn drop(&mut self) {
        self.hub.unregister(&self.channels, self.id);
    }
}

