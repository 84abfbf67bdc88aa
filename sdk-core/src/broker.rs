//! The contract every broker engine keeps.
//!
//! - `publish` returns only once the message is durable in the engine (for RabbitMQ: confirmed),
//!   and returns its id. Ids are global, strictly increasing, and the same on every server node.
//! - `subscribe` registers for live messages *first*, then reads the backlog after the cursor, and
//!   de-duplicates by id, so a message published meanwhile is delivered exactly once.
//! - A subscription yields events in id order: every message of its channels after the cursor, or
//!   a [`Gap`](crate::Gap) naming the range that is gone. Never a silent jump.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::Stream;

use crate::{Channel, Event, MessageId, Result};

/// A message to publish.
#[derive(Debug, Clone)]
pub struct Publication {
    pub channel: Channel,
    /// Further channels: the message is stored once, with one id, on all of them.
    pub also: Vec<Channel>,
    pub payload: Bytes,
    pub content_type: String,
    /// Its SSE event name, checked by [`crate::event_name::parse`]; `None` is `message`.
    pub event: Option<String>,
    /// A second publish with the same key to the same channel within the engine's window stores
    /// nothing and answers the first one's id (see [`crate::idempotency`]).
    pub idempotency_key: Option<String>,
}

impl Publication {
    /// A publication to one channel.
    pub fn new(channel: Channel, payload: Bytes, content_type: impl Into<String>) -> Publication {
        Publication { channel, also: Vec::new(), payload, content_type: content_type.into(), event: None, idempotency_key: None }
    }

    /// Every channel, in order.
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        std::iter::once(&self.channel).chain(self.also.iter())
    }

    /// The message it becomes once the engine gave it an id.
    pub fn into_message(self, id: MessageId, published_at: u64) -> crate::Message {
        crate::Message {
            id,
            channel: self.channel,
            also: self.also.into(),
            payload: self.payload,
            content_type: self.content_type,
            event: self.event,
            published_at,
            encoded: Default::default(),
        }
    }

    /// The idempotency digest of its key, scoped to its channels.
    pub fn digest(&self) -> Option<String> {
        self.idempotency_key.as_deref().map(|key| crate::idempotency::digest_all(self.channels(), key))
    }
}

/// What a publish stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub id: MessageId,
    /// The publication repeated an earlier one's idempotency key: nothing new was stored, and
    /// `id` is the earlier message's.
    pub replayed: bool,
}

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Only messages published after the subscription is registered.
    Latest,
    /// Every message with an id greater than this one.
    After(MessageId),
}

/// The events of one subscription, in id order. Ends when the broker shuts down.
pub type EventStream = Pin<Box<dyn Stream<Item = Event> + Send>>;

/// A registered subscription.
pub struct Subscription {
    /// The cursor the subscription started from (the latest id for [`Position::Latest`]).
    pub start: MessageId,
    pub events: EventStream,
    /// Its first events come from a read of the log (a cursor older than the node's memory), up
    /// to this id, in steps and not at once: a caller that wants what is there now waits for
    /// them, and a batch that ends before this id was cut.
    pub log_until: Option<MessageId>,
}

/// Whether a broker can take publishes and deliver messages now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    pub ok: bool,
    pub engine: &'static str,
    pub detail: String,
}

/// What an engine holds in memory, and what it let go of to stay within its bounds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Channels tracked.
    pub channels: usize,
    /// Estimated bytes of published channels and their history (`--channel-memory-bytes`).
    pub channel_memory_bytes: usize,
    /// Channels forgotten to stay within that memory.
    pub channels_shed: u64,
    /// Messages dropped from history to stay within it.
    pub history_shed: u64,
    /// Idempotency keys remembered, and their bytes (`--idempotency-memory-bytes`).
    pub idempotency_keys: usize,
    pub idempotency_memory_bytes: usize,
    /// Keys younger than `--idempotency-horizon` forgotten for room.
    pub idempotency_evicted_early: u64,
}

/// A channel's history at a glance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelHistory {
    /// The newest message held, if any.
    pub last_id: Option<MessageId>,
    /// How many messages are held.
    pub held: usize,
}

/// A broker engine: in-memory, RabbitMQ, ...
pub trait Broker: Send + Sync + 'static {
    /// Stores a message and returns its id once the engine has accepted it.
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>>;

    /// Subscribes to one or more channels. Fails with `InvalidCursor` for a cursor ahead of the
    /// newest message.
    fn subscribe(&self, channels: &[Channel], from: Position) -> Result<Subscription>;

    /// As [`subscribe`](Self::subscribe), for one request of a polling transport (long-poll,
    /// JSON batch), which takes what is there or the next event and leaves: an engine may serve
    /// it without a queue of its own, reading its history on each poll.
    fn poll(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.subscribe(channels, from)
    }

    /// The newest id this broker has seen.
    fn last_id(&self) -> MessageId;

    /// What the channel holds in memory (the server API's channel info).
    fn history_of(&self, channel: &Channel) -> ChannelHistory;

    /// The channel's newest `n` messages held in memory, oldest first.
    fn recent(&self, channel: &Channel, n: usize) -> Vec<std::sync::Arc<crate::Message>>;

    /// Channels that hold history, named with `prefix` and sorting after `after`, in name order,
    /// at most `limit`.
    fn held_channels(&self, prefix: &str, after: Option<&str>, limit: usize) -> Vec<(Channel, ChannelHistory)>;

    fn health(&self) -> Health;

    /// How many channels the engine tracks in memory (for metrics).
    fn channels(&self) -> usize {
        self.memory().channels
    }

    /// What the engine holds in memory (for metrics).
    fn memory(&self) -> MemoryStats {
        MemoryStats::default()
    }

    /// Ends every subscription and stops taking publishes (server shutdown).
    fn close(&self);
}
