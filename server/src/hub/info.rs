//! What the server API reads from the hub: a channel's history at a glance, its newest
//! messages, and the channels that hold history. Reads under the hub lock, copying out only
//! what was asked for.

use std::sync::Arc;
use std::time::Instant;

use push_core::broker::ChannelHistory;
use push_core::{Channel, Message};

use super::{ChannelState, Hub};

impl ChannelState {
    /// Its history, leaving out what has expired but not yet been swept.
    fn live(&self, hub: &Hub, now: Instant) -> impl DoubleEndedIterator<Item = &Arc<Message>> + ExactSizeIterator {
        let start = self.ring.partition_point(|(at, _)| now.duration_since(*at) > hub.limits.history_age);
        self.ring.range(start..).map(|(_, m)| m)
    }

    fn history(&self, hub: &Hub, now: Instant) -> ChannelHistory {
        let live = self.live(hub, now);
        ChannelHistory { held: live.len(), last_id: self.live(hub, now).next_back().map(|m| m.id) }
    }
}

impl Hub {
    /// The channel's newest id held and how many messages it holds.
    pub fn history_of(&self, channel: &Channel) -> ChannelHistory {
        let state = self.lock();
        state.channels.get(channel).map(|e| e.history(self, Instant::now())).unwrap_or_default()
    }

    /// The channel's newest `n` messages held, oldest first.
    pub fn recent(&self, channel: &Channel, n: usize) -> Vec<Arc<Message>> {
        let state = self.lock();
        let Some(entry) = state.channels.get(channel) else { return Vec::new() };
        let live = entry.live(self, Instant::now());
        let skip = live.len().saturating_sub(n);
        live.skip(skip).cloned().collect()
    }

    /// Channels holding history whose names start with `prefix` and sort after `after`, in name
    /// order, at most `limit`.
    pub fn held_channels(&self, prefix: &str, after: Option<&str>, limit: usize) -> Vec<(Channel, ChannelHistory)> {
        let now = Instant::now();
        let state = self.lock();
        let mut found: Vec<(Channel, ChannelHistory)> = state
            .channels
            .iter()
            .filter(|(c, _)| c.as_str().starts_with(prefix) && after.is_none_or(|a| c.as_str() > a))
            .map(|(c, e)| (c.clone(), e.history(self, now)))
            .filter(|(_, h)| h.held > 0)
            .collect();
        drop(state);
        found.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        found.truncate(limit);
        found
    }
}
