//! The memory of published channels, in bytes, and the order in which it is given back.
//!
//! Every published channel's entry and every message its history holds has a cost: an estimate
//! from the sizes of the structures involved (checked against the process's RSS in
//! tests/flood.rs). Past --channel-memory-bytes, the hub lets go of the oldest first. Each
//! published channel is ordered by the oldest thing it holds: its oldest message, or, with an
//! empty history, its last one (its floor). So a message older than everything else goes first,
//! a channel is forgotten once everything it held is older than what the others hold, and quiet
//! channels go before busy ones. A channel someone waits on with an empty history is skipped
//! (it costs little and is bounded by the connection limits) until it changes or is let go.
//!
//! Channels that exist only for their subscribers (nothing was published to them) are not
//! counted here but by --max-channels, so names that subscribers invent never take the room
//! that the app's publishes use, and publishes never make a subscription fail.

use std::collections::BTreeMap;

use push_core::{Channel, Message, MessageId};

use super::ChannelState;

/// What the allocator adds to each allocation (its header and rounding), on average.
const ALLOCATION: usize = 16;

/// What a published channel's entry costs besides its name: the map slot (twice: the map has
/// up to twice the room it needs after it grows), its state, its wake-up, its place in the
/// order, the ring's first allocation (four slots), and the allocations of the state, the two
/// copies of its name, the wake-up and the ring.
pub const ENTRY_BYTES: usize = std::mem::size_of::<(Channel, Box<ChannelState>)>() * 2
    + std::mem::size_of::<ChannelState>()
    + std::mem::size_of::<tokio::sync::Notify>()
    + 16
    + 64
    + 4 * std::mem::size_of::<(std::time::Instant, std::sync::Arc<Message>)>()
    + 5 * ALLOCATION;

/// What a held message costs besides its bytes: the message, its reference counts, and the
/// allocations of the message, its channel name, payload and content type.
const MESSAGE_BYTES: usize = std::mem::size_of::<Message>() + 16 + 4 * ALLOCATION;

/// A published channel's entry (the name is kept twice: the map's key and the order's).
pub fn entry_cost(channel: &Channel) -> usize {
    ENTRY_BYTES + 2 * channel.as_str().len()
}

/// A held message; the payload counts three times, for the encodings made for streaming
/// subscribers (the JSON frame, the SSE event).
pub fn message_cost(message: &Message) -> usize {
    MESSAGE_BYTES + 3 * message.payload.len() + message.channel.as_str().len() + message.content_type.len() + message.event.as_ref().map_or(0, String::len)
}

/// The key a published channel is ordered by: the oldest id it holds.
pub fn order_key(entry: &ChannelState) -> MessageId {
    entry.ring.front().map_or(entry.floor, |(_, m)| m.id)
}

pub struct Budget {
    pub limit: usize,
    /// Bytes used by published channels and their history.
    pub used: usize,
    /// Published channels by the oldest id they hold (and a serial, as ids can tie).
    order: BTreeMap<(MessageId, u64), Channel>,
}

impl Budget {
    pub fn new(limit: usize) -> Budget {
        Budget { limit, used: 0, order: BTreeMap::new() }
    }

    pub fn over(&self) -> bool {
        self.used > self.limit
    }

    /// Puts a published channel at its place in the order, after its history or floor changed.
    pub fn place(&mut self, channel: &Channel, entry: &mut ChannelState) {
        let key = order_key(entry);
        if entry.placed == Some(key) {
            return;
        }
        let name = match entry.placed.take() {
            Some(old) => self.order.remove(&(old, entry.serial)).unwrap_or_else(|| channel.clone()),
            None => channel.clone(),
        };
        self.order.insert((key, entry.serial), name);
        entry.placed = Some(key);
    }

    /// Takes a channel out of the order (it is forgotten, or skipped while watched and empty).
    pub fn unplace(&mut self, entry: &mut ChannelState) {
        if let Some(old) = entry.placed.take() {
            self.order.remove(&(old, entry.serial));
        }
    }

    /// The channel holding the oldest thing, taken out of the order.
    pub fn pop_oldest(&mut self) -> Option<Channel> {
        self.order.pop_first().map(|(_, channel)| channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_channel_and_a_message_cost() {
        let channel = Channel::parse("/user/123456").unwrap();
        let message = Message {
            id: MessageId(1),
            channel: channel.clone(),
            also: Default::default(),
            payload: bytes::Bytes::from(vec![b'x'; 100]),
            content_type: "text/plain; charset=utf-8".into(),
            event: None,
            published_at: 0,
            encoded: Default::default(),
        };
        let (entry, held) = (entry_cost(&channel), message_cost(&message));
        println!("a published channel costs {entry} bytes, a 100-byte message in its history {held}");
        // docs/PROTOCOL.md and the flags' help quote these.
        assert!((400..=600).contains(&entry), "{entry}");
        assert!((500..=650).contains(&held), "{held}");
    }
}
