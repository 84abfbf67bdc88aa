//! The channel table: one entry per channel (its history ring, floor, subscribers and wake-ups),
//! and how entries are made, let go of when unwatched, and shed to fit the memory budget.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use push_core::{Channel, Event, Gap, MessageId};
use tokio::sync::Notify;

use super::budget;
use super::{ChannelState, HubLimits, State};


/// Lets go of channels a subscription or poll no longer keeps: one that nothing was published
/// to, or one whose floor a new entry would get anyway, is dropped; another published one goes
/// back into the budget's order, in case it was skipped while watched.
pub(super) fn release(state: &mut State, channels: &[Channel]) {
    for ch in channels {
        let Some(entry) = state.channels.get_mut(ch) else { continue };
        if !entry.unwatched() || !entry.ring.is_empty() {
            continue;
        }
        if !entry.published || entry.floor <= state.floors.of(ch) {
            state.forget(ch);
        } else if entry.placed.is_none() {
            state.budget.place(ch, entry);
        }
    }
}

impl State {
    /// A new entry for `channel` (not yet in the map), counted as subscribed-only until
    /// something is published to it.
    pub(super) fn new_entry(&mut self, channel: &Channel, now: Instant) -> Box<ChannelState> {
        self.subscribed_only += 1;
        self.next_serial += 1;
        Box::new(ChannelState {
            ring: VecDeque::new(),
            floor: self.floors.of(channel),
            subscribers: HashMap::new(),
            wake: Arc::new(Notify::new()),
            idle_since: now,
            published: false,
            placed: None,
            serial: self.next_serial,
        })
    }

    /// The entry of `channel`, made if the hub has none.
    pub(super) fn entry(&mut self, channel: &Channel, now: Instant) -> &mut ChannelState {
        if !self.channels.contains_key(channel) {
            let entry = self.new_entry(channel, now);
            self.channels.insert(channel.clone(), entry);
        }
        self.channels.get_mut(channel).expect("inserted above")
    }

    /// Drops the entry of `channel`, keeping its floor in [`Floors`].
    pub(super) fn forget(&mut self, channel: &Channel) {
        if let Some(mut entry) = self.channels.remove(channel) {
            self.floors.forget(channel, entry.floor);
            if entry.published {
                self.budget.unplace(&mut entry);
                self.budget.used -= budget::entry_cost(channel) + entry.ring.iter().map(|(_, m)| budget::message_cost(m)).sum::<usize>();
            } else {
                self.subscribed_only -= 1;
            }
        }
    }

    /// Lets go of the oldest history and channels until published channels fit their budget
    /// (see [`budget`]).
    pub(super) fn shed(&mut self) {
        while self.budget.over() {
            let Some(channel) = self.budget.pop_oldest() else { break };
            let Some(entry) = self.channels.get_mut(&channel) else { continue };
            entry.placed = None;
            if let Some((_, oldest)) = entry.ring.pop_front() {
                entry.floor = entry.floor.max(oldest.id);
                self.budget.used -= budget::message_cost(&oldest);
                self.history_shed += 1;
                self.budget.place(&channel, entry);
            } else if entry.unwatched() {
                self.forget(&channel);
                self.channels_shed += 1;
            }
            // Watched with nothing held: left out of the order until it changes or is let go.
        }
    }
}

impl ChannelState {

    /// No queued subscriber and no poll waiting on the channel.
    pub(super) fn unwatched(&self) -> bool {
        self.subscribers.is_empty() && Arc::strong_count(&self.wake) == 1
    }

    pub(super) fn wake_pollers(&self) {
        if Arc::strong_count(&self.wake) > 1 {
            self.wake.notify_waiters();
        }
    }

    /// Adds the channel's events after `after` to `out`: a gap up to the floor when the cursor
    /// is below it, then the ring's newer messages.
    pub(super) fn read_after(&self, channel: &Channel, after: MessageId, out: &mut impl Extend<Event>) {
        if self.floor > after {
            out.extend(Some(Event::Gap(channel.clone(), Gap { from: after.next(), to: self.floor })));
        }
        let start = self.ring.partition_point(|(_, m)| m.id <= after);
        out.extend(self.ring.range(start..).map(|(_, m)| Event::Message(m.clone())));
    }

    /// Drops history past its size or age; returns the bytes it cost.
    pub(super) fn evict(&mut self, limits: &HubLimits, now: Instant) -> usize {
        let mut freed = 0;
        while let Some((at, msg)) = self.ring.front() {
            if self.ring.len() > limits.history_size || now.duration_since(*at) > limits.history_age {
                self.floor = self.floor.max(msg.id);
                freed += budget::message_cost(msg);
                self.ring.pop_front();
                self.idle_since = now;
            } else {
                break;
            }
        }
        freed
    }
}
