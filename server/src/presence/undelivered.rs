//! `--undelivered-after`: the `undelivered` event for a member that did not get a message.
//!
//! Every node follows each occupied presence channel with a subscription of its own (a tap).
//! For each message it notes the members present then; when the time is up it asks which of
//! them had the message written to a connection on this node. The node that owns the channel
//! decides: with other nodes it waits [`COLLECT`] for theirs ([`Got`], sent only when not
//! empty), then tells the app of every noted member that no node wrote it to.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use push_core::broker::Position;
use push_core::{Broker, Channel, Event, MessageId};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Presence;

/// How long the owner waits for the other nodes' answers after its own deadline.
pub const COLLECT: Duration = Duration::from_secs(2);
/// Most messages one channel's tap keeps checks for; more are not checked (and logged).
pub const MAX_PENDING: usize = 10_000;
/// Most answers kept while waiting ([`Got`] from other nodes, per message).
const MAX_COLLECTING: usize = 100_000;

/// Which members of a message's check got it on a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Got {
    pub channel: Channel,
    pub id: MessageId,
    pub consumers: Vec<String>,
}

pub struct Undelivered {
    broker: Arc<dyn Broker>,
    after: Duration,
    /// Answers from other nodes, per (channel, message).
    collecting: Mutex<HashMap<(Channel, u64), HashSet<Arc<str>>>>,
    /// This node's answers for the others, taken by the cluster link.
    pub outbox: Mutex<Vec<Got>>,
    /// Whether other nodes may answer (RabbitMQ): the owner then waits for them.
    linked: bool,
    taps: Mutex<HashMap<Channel, CancellationToken>>,
    stop: CancellationToken,
}

impl Undelivered {
    pub fn new(broker: Arc<dyn Broker>, after: Duration, linked: bool, stop: CancellationToken) -> Arc<Undelivered> {
        Arc::new(Undelivered { broker, after, collecting: Mutex::default(), outbox: Mutex::default(), linked, taps: Mutex::default(), stop })
    }

    /// Follows the rooms that presence says are occupied or vacated, until the server stops.
    pub fn run(self: &Arc<Self>, presence: Arc<Presence>, mut rooms: mpsc::UnboundedReceiver<(Channel, bool)>) {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                let (channel, occupied) = tokio::select! {
                    _ = this.stop.cancelled() => return,
                    room = rooms.recv() => match room { Some(r) => r, None => return },
                };
                let mut taps = this.taps.lock().unwrap_or_else(|p| p.into_inner());
                if occupied {
                    let done = CancellationToken::new();
                    if let Some(old) = taps.insert(channel.clone(), done.clone()) {
                        old.cancel();
                    }
                    tokio::spawn(this.clone().tap(presence.clone(), channel, done));
                } else if let Some(done) = taps.remove(&channel) {
                    done.cancel();
                }
            }
        });
    }

    /// Another node's answer.
    pub fn received(&self, got: Got) {
        let mut collecting = self.collecting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = collecting.get_mut(&(got.channel.clone(), got.id.0)) {
            set.extend(got.consumers.into_iter().map(Arc::from));
        }
    }

    /// One room's checks: notes each message's members, checks them when the time is up. Stops
    /// following when the room is vacated (`done`), but still checks what it noted.
    async fn tap(self: Arc<Self>, presence: Arc<Presence>, channel: Channel, done: CancellationToken) {
        let mut subscription = match self.broker.subscribe(std::slice::from_ref(&channel), Position::Latest) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(%channel, "undelivered checks cannot follow the channel: {e}");
                None
            }
        };
        // (when, message, members noted, whether this is the owner's second look)
        let mut pending: VecDeque<(Instant, MessageId, Vec<Arc<str>>, bool)> = VecDeque::new();
        let mut warned = false;
        loop {
            if subscription.is_none() && pending.is_empty() {
                return;
            }
            let next = pending.front().map(|(at, ..)| *at);
            tokio::select! {
                _ = self.stop.cancelled() => return,
                _ = done.cancelled(), if subscription.is_some() => subscription = None,
                event = async { subscription.as_mut().expect("guarded").events.next().await }, if subscription.is_some() => match event {
                    Some(Event::Message(m)) => {
                        if pending.len() >= MAX_PENDING {
                            if !warned {
                                tracing::warn!(%channel, "more than {MAX_PENDING} messages wait for undelivered checks; later ones are not checked");
                                warned = true;
                            }
                            continue;
                        }
                        let members = presence.present(&channel);
                        if !members.is_empty() {
                            pending.push_back((Instant::now() + self.after, m.id, members, false));
                        }
                    }
                    Some(Event::Gap(..)) => {}
                    None => subscription = None,
                },
                () = tokio::time::sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => {
                    let (_, id, members, second) = pending.pop_front().expect("a front to wait for");
                    if let Some(later) = self.check(&presence, &channel, id, members, second) {
                        // Second looks come COLLECT after first ones, so they stay in order.
                        pending.push_back(later);
                    }
                }
            }
        }
    }

    /// A check whose time is up. Returns the owner's second look when it must wait for others.
    fn check(&self, presence: &Presence, channel: &Channel, id: MessageId, members: Vec<Arc<str>>, second: bool) -> Option<(Instant, MessageId, Vec<Arc<str>>, bool)> {
        let got_here = presence.got(channel, id.0, &members);
        let owner = presence.owns(channel.as_str());
        if !second && self.linked {
            if !owner {
                if !got_here.is_empty() {
                    let consumers = got_here.iter().map(|c| c.to_string()).collect();
                    self.outbox.lock().unwrap_or_else(|p| p.into_inner()).push(Got { channel: channel.clone(), id, consumers });
                    presence.changed.notify_one();
                }
                return None;
            }
            let mut collecting = self.collecting.lock().unwrap_or_else(|p| p.into_inner());
            if collecting.len() < MAX_COLLECTING {
                collecting.insert((channel.clone(), id.0), HashSet::new());
            }
            return Some((Instant::now() + COLLECT, id, members, true));
        }
        let theirs = self.collecting.lock().unwrap_or_else(|p| p.into_inner()).remove(&(channel.clone(), id.0)).unwrap_or_default();
        if !owner {
            return None;
        }
        let Some(events) = presence.events() else { return None };
        for consumer in members {
            if got_here.contains(&consumer) || theirs.contains(&consumer) {
                continue;
            }
            events.push("undelivered", |e| {
                e.channel = Some(channel.to_string());
                e.consumer = Some(consumer.to_string());
                e.message_id = Some(id);
            });
        }
        None
    }
}
