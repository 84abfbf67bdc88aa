//! What the engines that keep a log (the data dir, RabbitMQ's stream) share: the [`Hub`] in
//! front for live fan-out and recent history, and the [`CatchUp`] read behind it for cursors
//! older than the hub. An engine supplies only what differs ([`LogEngine`]).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use push_core::broker::{ChannelHistory, Health, MemoryStats, Position, Publication, Published, Subscription};
use push_core::{Broker, Channel, Message, MessageId, Result};

use super::catch_up::CatchUp;
use crate::hub::Hub;

/// How a publish reaches the log, what health says, and how the engine stops.
pub trait LogEngine: Send + Sync + 'static {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>>;
    fn health(&self, hub: &Hub, catch_up: &CatchUp) -> Health;
    /// Called after the hub and the catch-up reads are closed.
    fn close(&self);
}

/// A broker made of a hub, a catch-up read and a log engine.
pub struct Logged<E> {
    hub: Arc<Hub>,
    catch_up: Arc<CatchUp>,
    engine: E,
}

impl<E: LogEngine> Logged<E> {
    pub fn new(hub: Arc<Hub>, catch_up: Arc<CatchUp>, engine: E) -> Logged<E> {
        Logged { hub, catch_up, engine }
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }
}

impl<E: LogEngine> Broker for Logged<E> {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>> {
        self.engine.publish(publication)
    }

    fn subscribe(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.catch_up.subscribe(&self.hub, channels, from)
    }

    fn poll(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.catch_up.poll(&self.hub, channels, from)
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
        self.engine.health(&self.hub, &self.catch_up)
    }

    fn close(&self) {
        self.hub.close();
        self.catch_up.close();
        self.engine.close();
    }
}
