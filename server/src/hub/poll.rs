//! Queue-free subscriptions for the polling transports (long-poll, JSON batch).
//!
//! A poll request takes one answer and leaves, so a queue of its own, registered on each channel
//! and removed again, is all overhead. A [`Pull`] holds only its cursor: it reads the channels'
//! rings after it under the hub lock, and when there is nothing new it waits on the channels'
//! wake-ups (armed under the same lock, so nothing published after the read is missed). What the
//! ring no longer holds is a gap, as for a queued subscriber that lagged.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use futures_util::stream;
use push_core::broker::{Position, Subscription};
use push_core::{Channel, Event, Result};
use tokio::sync::futures::OwnedNotified;

use super::order::{self, InOrder};
use super::{Hub, State};

impl Hub {
    /// Subscribes to `channels` from `from` without a queue (see the module docs); the same
    /// guarantees and errors as [`Hub::subscribe`].
    pub fn poll(self: &Arc<Self>, channels: &[Channel], from: Position) -> Result<Subscription> {
        let mut state = self.lock();
        let after = self.admit(&state, channels, from)?;
        let closed = state.closed;
        let mut pull = Pull { hub: self.clone(), channels: channels.into(), order: InOrder::new(after), ready: VecDeque::new(), waits: Vec::new(), closed, empty_seen: false };
        if !closed {
            pull.read(&mut state);
        }
        drop(state);
        let events = stream::unfold(pull, |mut p| async move { p.next().await.map(|e| (e, p)) });
        Ok(Subscription { start: after, events: Box::pin(events), log_until: None })
    }
}

/// One queue-free subscription: its cursor, what the last read found, and the armed wake-ups.
struct Pull {
    hub: Arc<Hub>,
    channels: Box<[Channel]>,
    order: InOrder,
    ready: VecDeque<Event>,
    /// Boxed to be polled in place and dropped with the `Pull`, before it lets go of its
    /// channels.
    waits: Vec<Pin<Box<OwnedNotified>>>,
    closed: bool,
    /// The last read found a channel without history: the `Pull` may be all that keeps it, so
    /// it is offered back when the `Pull` ends (the only lock taken then).
    empty_seen: bool,
}

impl Pull {
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                // A later channel's gap can end below what an earlier event moved the cursor to,
                // and a message to several channels is read from each.
                if self.order.admit(&event) {
                    return Some(event);
                }
            }
            if self.closed {
                return None;
            }
            if !self.waits.is_empty() {
                std::future::poll_fn(|cx| if self.waits.iter_mut().any(|w| w.as_mut().poll(cx).is_ready()) { Poll::Ready(()) } else { Poll::Pending }).await;
                self.waits.clear();
            }
            let hub = self.hub.clone();
            let mut state = hub.lock();
            self.closed = state.closed;
            if !self.closed {
                self.read(&mut state);
            }
        }
    }

    /// Reads every channel's ring after the cursor into `ready`, in id order; when nothing is
    /// there, arms the channels' wake-ups before the lock is let go. Runs under the hub lock.
    fn read(&mut self, state: &mut State) {
        let now = Instant::now();
        let after = self.order.cursor();
        let mut empty_seen = false;
        for channel in self.channels.iter() {
            // Made anew if it was dropped while no one waited on it: a new entry gets the floor
            // the old one was forgotten with.
            let entry = state.entry(channel, now);
            entry.read_after(channel, after, &mut self.ready);
            empty_seen |= entry.ring.is_empty();
        }
        self.empty_seen = empty_seen;
        if self.channels.len() > 1 {
            order::sort(self.ready.make_contiguous());
        }
        if self.ready.is_empty() {
            self.waits.extend(self.channels.iter().map(|c| Box::pin(state.channels[c].wake.clone().notified_owned())));
        }
    }
}

impl Drop for Pull {
    fn drop(&mut self) {
        self.waits.clear();
        if self.empty_seen {
            self.hub.release(&self.channels);
        }
    }
}
