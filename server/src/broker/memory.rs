//! The embedded broker: a counter and the hub, in this process.
//!
//! Ids continue across restarts without storage: the counter starts at the start time in
//! microseconds, so ids of a restarted server are above those of its previous run (unless it
//! published more than a million messages a second) and an old cursor gets a gap, not an error.
//! `after=0` ("from before everything") is read from this process's start: a client that has
//! seen nothing missed nothing of a run it never saw, so it gets no gap for it.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use push_core::broker::{ChannelHistory, Health, MemoryStats, Position, Publication, Published, Subscription};
use push_core::message::now_millis;
use push_core::{Broker, Channel, Message, MessageId, Result};

use crate::hub::{Hub, HubLimits};

pub struct MemoryBroker {
    hub: Arc<Hub>,
    next: Mutex<u64>,
    start: MessageId,
}

impl MemoryBroker {
    pub fn new(limits: HubLimits) -> MemoryBroker {
        let start = now_millis() * 1000;
        let hub = Hub::new(MessageId(start), limits, true);
        hub.spawn_sweeper();
        MemoryBroker { hub, next: Mutex::new(start), start: MessageId(start) }
    }

    /// `after=0` is this run's start (see the module doc); every other position as it is.
    fn from(&self, from: Position) -> Position {
        match from {
            Position::After(MessageId::ZERO) => Position::After(self.start),
            other => other,
        }
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>> {
        let digest = publication.digest();
        // Assign and ingest under one lock so the hub sees ids in order; a repeated key takes no
        // new id.
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(first) = digest.as_deref().and_then(|d| self.hub.first_copy(d)) {
            return Box::pin(async move { Ok(Published { id: first, replayed: true }) });
        }
        *next += 1;
        let id = MessageId(*next);
        let message = publication.into_message(id, now_millis());
        let published = self.hub.ingest_keyed(message, digest.as_deref());
        drop(next);
        Box::pin(async move { Ok(published) })
    }

    fn subscribe(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.hub.subscribe(channels, self.from(from))
    }

    fn poll(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.hub.poll(channels, self.from(from))
    }

    fn last_id(&self) -> MessageId {
        self.hub.last_id()
    }

    fn history_of(&self, channel: &Channel) -> ChannelHistory {
        self.hub.history_of(channel)
    }

    fn recent(&self, channel: &Channel, n: usize) -> Vec<Arc<Message>> {
        self.hub.recent(channel, n)
    }

    fn held_channels(&self, prefix: &str, after: Option<&str>, limit: usize) -> Vec<(Channel, ChannelHistory)> {
        self.hub.held_channels(prefix, after, limit)
    }

    fn memory(&self) -> MemoryStats {
        self.hub.stats()
    }

    fn health(&self) -> Health {
        Health { ok: true, engine: "memory", detail: format!("{} channels", self.hub.channel_count()) }
    }

    fn close(&self) {
        self.hub.close();
    }
}
