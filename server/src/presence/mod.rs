//! Presence (docs/PRESENCE.md): who is on each presence channel across the cluster, the join
//! and leave notices its subscribers ask for, and the events the app gets (`--events-url`),
//! sent by the one node that owns the channel.
//!
//! Connections enter and exit through [`Presence::enter`]'s [`Ticket`]; the cluster link feeds
//! in what the other nodes say ([`Presence::apply`], [`Presence::replace`], [`Presence::forget`])
//! and takes this node's changes to send ([`Presence::take_changes`]).

mod notice;
mod table;
pub mod undelivered;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use push_core::{Channel, ErrorKind};
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc, Notify};

use crate::config::Config;
use crate::error::ApiError;
use crate::events::Events;
use crate::metrics::PresenceMetrics;
pub use notice::{answer_json, Listener, Notice, Notices};
pub use table::{Change, Info, Transition};
use table::Table;
use undelivered::Undelivered;

/// Most members one list names (the count says how many there are).
pub const MAX_LISTED: usize = 1000;
/// Notices a listening connection may fall behind by before it gets a fresh list instead.
const NOTICE_BUFFER: usize = 1024;

pub struct Presence {
    prefixes: Vec<String>,
    grace: Duration,
    max_members: usize,
    /// How long a departed member's delivery mark is kept (undelivered checks; zero: not kept).
    keep_marks: Duration,
    /// This node's name among the others.
    pub node: Arc<str>,
    table: Mutex<State>,
    /// Rung when this node has changes for the others.
    pub changed: Notify,
    events: Option<Arc<Events>>,
    /// `--undelivered-after` checks, told which rooms are occupied.
    pub undelivered: Option<Arc<Undelivered>>,
    rooms: Option<mpsc::UnboundedSender<(Channel, bool)>>,
    metrics: PresenceMetrics,
}

struct State {
    table: Table,
    /// Linked to other nodes but not yet heard from all of them: until then the app's events
    /// wait here, and which node sends each is decided when this ends.
    warming: Option<Instant>,
    held: Vec<Transition>,
    notices: std::collections::HashMap<Channel, broadcast::Sender<Notice>>,
}

/// The members of a channel, in consumer id order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    pub members: Vec<(Arc<str>, Info)>,
    pub count: usize,
}

impl Presence {
    /// Presence for node `node`; with `events`, the app is told, and with `undelivered` (which
    /// needs events) messages are checked.
    /// `linked`: on RabbitMQ, among other nodes, the app's events wait for the link at most this
    /// long (see [`Presence::warm_in`]).
    pub fn new(config: &Config, node: &str, linked: Option<Duration>, events: Option<Arc<Events>>, undelivered: Option<Arc<Undelivered>>, metrics: PresenceMetrics) -> Arc<Presence> {
        let (rooms, rx) = match undelivered {
            Some(_) => {
                let (tx, rx) = mpsc::unbounded_channel();
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let keep_marks = if config.undelivered_after.is_zero() { Duration::ZERO } else { config.undelivered_after * 2 + Duration::from_secs(5) };
        let presence = Arc::new(Presence {
            prefixes: config.presence_prefixes(),
            grace: config.presence_grace,
            max_members: config.max_presence_members,
            keep_marks,
            node: Arc::from(node),
            table: Mutex::new(State {
                table: Table::default(),
                // Until the link says it is up (or a lease passes without it).
                warming: linked.map(|wait| Instant::now() + wait),
                held: Vec::new(),
                notices: Default::default(),
            }),
            changed: Notify::new(),
            events,
            undelivered: undelivered.clone(),
            rooms,
            metrics,
        });
        if let (Some(u), Some(rx)) = (undelivered, rx) {
            u.run(presence.clone(), rx);
        }
        presence
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `channel` is a presence channel (`--presence-prefix`).
    pub fn covers(&self, channel: &Channel) -> bool {
        self.prefixes.iter().any(|p| channel.as_str().starts_with(p.as_str()))
    }

    /// A `400` for a channel that is not a presence channel.
    pub fn check(&self, channel: &Channel) -> Result<(), ApiError> {
        if self.covers(channel) {
            return Ok(());
        }
        let prefixes = if self.prefixes.is_empty() { "presence is off: --presence-prefix is empty".to_owned() } else { format!("names start with {}", self.prefixes.join(" or ")) };
        Err(ApiError::new(ErrorKind::BadRequest, format!("{channel} is not a presence channel ({prefixes})")))
    }

    /// Enters a subscriber connection into the presence channels among `channels`; `None` when
    /// there are none (plain channels cost this check only). Refused with `400` without a
    /// consumer id, `503` when a channel holds its maximum of members.
    pub fn enter(self: &Arc<Self>, consumer: Option<&str>, info: Option<&str>, channels: &[Channel]) -> Result<Option<Ticket>, ApiError> {
        if !channels.iter().any(|c| self.covers(c)) {
            return Ok(None);
        }
        let Some(consumer) = consumer else {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                "a presence channel needs a consumer id: send Consumer-Id, ?consumer=, or a token bound to one",
            ));
        };
        let consumer: Arc<str> = Arc::from(consumer);
        let info: Info = info.map(Arc::from);
        let mut state = self.lock();
        let present: Vec<&Channel> = channels.iter().filter(|c| self.covers(c)).collect();
        if let Some(full) = present.iter().find(|c| !state.table.admits(c, &consumer, self.max_members)) {
            return Err(ApiError::new(
                ErrorKind::Overloaded,
                format!("{full} holds its maximum of {} members (--max-presence-members); retry later", self.max_members),
            ));
        }
        let mut out = Vec::new();
        let marks = present.into_iter().map(|c| (c.clone(), state.table.enter(c, &consumer, &info, &mut out))).collect();
        self.dispatch(&mut state, out);
        drop(state);
        self.changed.notify_one();
        Ok(Some(Ticket { presence: self.clone(), consumer, marks }))
    }

    fn exit(&self, ticket: &Ticket) {
        let mut state = self.lock();
        for (channel, _) in &ticket.marks {
            state.table.exit(channel, &ticket.consumer, self.grace);
        }
        drop(state);
        self.changed.notify_one();
    }

    /// The members of `channel` (at most [`MAX_LISTED`]) and how many there are.
    pub fn members(&self, channel: &Channel) -> Members {
        members_of(&self.lock().table, channel)
    }

    /// The current members of the presence channels among `channels`, and their notices from
    /// now on, with nothing between the two lost or told twice.
    pub fn listen(self: &Arc<Self>, channels: &[Channel]) -> Notices {
        if !channels.iter().any(|c| self.covers(c)) {
            return Notices(None);
        }
        let mut state = self.lock();
        let mut rooms = Vec::new();
        for channel in channels.iter().filter(|c| self.covers(c)) {
            let list = members_of(&state.table, channel);
            let sender = state.notices.entry(channel.clone()).or_insert_with(|| broadcast::channel(NOTICE_BUFFER).0);
            rooms.push((channel.clone(), list, sender.subscribe()));
        }
        drop(state);
        Notices(Some(Box::new(Listener::new(self.clone(), rooms))))
    }

    /// What another node's connections changed.
    pub fn apply(&self, node: &str, changes: Vec<Change>) {
        let mut state = self.lock();
        let mut out = Vec::new();
        state.table.apply(&Arc::from(node), changes, self.grace, &mut out);
        self.dispatch(&mut state, out);
    }

    /// Another node's whole table (from its report).
    pub fn replace(&self, node: &str, entries: Vec<(Channel, String, Option<String>)>) {
        let entries = entries.into_iter().map(|(c, consumer, info)| (c, Arc::from(consumer), info.map(Arc::from))).collect();
        let mut state = self.lock();
        let mut out = Vec::new();
        state.table.replace(&Arc::from(node), entries, self.grace, &mut out);
        self.dispatch(&mut state, out);
    }

    /// A node not heard from within the lease: its members are held no more.
    pub fn forget(&self, node: &str) {
        self.lock().table.forget(node, self.grace);
    }

    /// The link is up and has asked the others to report: after `wait` this node has heard from
    /// every live node, and decides which of the events held meanwhile are its to send.
    pub fn warm_in(&self, wait: Duration) {
        self.lock().warming = Some(Instant::now() + wait);
    }

    /// Members whose grace ended leave; departed delivery marks expire.
    pub fn sweep(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        if state.warming.is_some_and(|at| at <= now) {
            state.warming = None;
            let held = std::mem::take(&mut state.held);
            self.tell_app(&state, held);
        }
        if state.table.next_deadline().is_none_or(|at| at > now) && self.keep_marks.is_zero() {
            return;
        }
        let mut out = Vec::new();
        state.table.sweep(now, self.keep_marks, &mut out);
        self.dispatch(&mut state, out);
    }

    /// This node's changes since the last call, for the other nodes: the last of each
    /// member's (a long-poll's request after request nets out to one, or none).
    pub fn take_changes(&self) -> Vec<Change> {
        let changes = std::mem::take(&mut self.lock().table.outbox);
        let mut last: std::collections::HashMap<(&Channel, &str), usize> = std::collections::HashMap::new();
        for (i, change) in changes.iter().enumerate() {
            last.insert((&change.channel, change.consumer.as_str()), i);
        }
        let keep: std::collections::HashSet<usize> = last.into_values().collect();
        changes.iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, c)| c.clone()).collect()
    }

    /// This node's members, for its report.
    pub fn local(&self) -> Vec<(Channel, String, Option<String>)> {
        self.lock().table.local().into_iter().map(|(c, consumer, info)| (c, consumer.to_string(), info.map(|i| i.to_string()))).collect()
    }

    /// For an undelivered check: the members present now (connected or within their grace).
    pub fn present(&self, channel: &Channel) -> Vec<Arc<str>> {
        self.lock().table.rooms.get(channel).map(|r| r.members.keys().cloned().collect()).unwrap_or_default()
    }

    /// For an undelivered check: which of `consumers` had message `id` written to one of their
    /// connections on this node.
    pub fn got(&self, channel: &Channel, id: u64, consumers: &[Arc<str>]) -> Vec<Arc<str>> {
        let state = self.lock();
        let Some(room) = state.table.rooms.get(channel) else { return Vec::new() };
        consumers
            .iter()
            .filter(|c| {
                let live = room.members.get(*c).map(|m| m.delivered.load(Ordering::Acquire));
                let gone = room.departed.get(*c).map(|(mark, _)| *mark);
                live.max(gone).is_some_and(|mark| mark >= id)
            })
            .cloned()
            .collect()
    }

    /// Whether this node sends the events about `key` (a channel or a consumer id): the node
    /// with the highest score for it among those alive (rendezvous hashing), so one node does.
    pub fn owns(&self, key: &str) -> bool {
        owns(&self.node, self.lock().table.nodes(), key)
    }

    /// The events sink, when `--events-url` is set.
    pub fn events(&self) -> Option<&Arc<Events>> {
        self.events.as_ref()
    }

    /// Tells the listeners and, on the owning node, the app.
    fn dispatch(&self, state: &mut State, out: Vec<Transition>) {
        self.metrics.members.set(state.table.members as i64);
        if out.is_empty() {
            return;
        }
        for transition in out {
            match &transition {
                Transition::Joined(channel, consumer, info) | Transition::Left(channel, consumer, info) => {
                    let joined = matches!(transition, Transition::Joined(..));
                    if let Some(sender) = state.notices.get(channel) {
                        if sender.send(Notice::new(joined, channel, consumer, info)).is_err() {
                            // Nobody listens any more.
                            state.notices.remove(channel);
                        }
                    }
                }
                Transition::Occupied(channel) | Transition::Vacated(channel) => {
                    if let Some(rooms) = &self.rooms {
                        let _ = rooms.send((channel.clone(), matches!(transition, Transition::Occupied(_))));
                    }
                }
                _ => {}
            }
            if self.events.is_some() {
                if state.warming.is_some() {
                    state.held.push(transition);
                } else {
                    self.tell_app(state, vec![transition]);
                }
            }
        }
    }

    /// Sends the app the events of `transitions` that this node owns.
    fn tell_app(&self, state: &State, transitions: Vec<Transition>) {
        let Some(events) = &self.events else { return };
        for transition in transitions {
            let key = match &transition {
                Transition::Connected(c) | Transition::Disconnected(c) => c.as_ref(),
                Transition::Occupied(ch) | Transition::Vacated(ch) | Transition::Joined(ch, _, _) | Transition::Left(ch, _, _) => ch.as_str(),
            };
            if owns(&self.node, state.table.nodes(), key) {
                notice::to_event(events, transition);
            }
        }
    }
}

/// Presence with the default settings and nothing to tell (unit tests).
#[cfg(test)]
pub fn for_tests(node: &str) -> Arc<Presence> {
    Presence::new(&Config::defaults(), node, None, None, None, PresenceMetrics::unregistered())
}

fn members_of(table: &Table, channel: &Channel) -> Members {
    let Some(room) = table.rooms.get(channel) else { return Members::default() };
    let mut members: Vec<(Arc<str>, Info)> = room.members.iter().map(|(c, m)| (c.clone(), m.info.clone())).collect();
    let count = members.len();
    if count > MAX_LISTED {
        members.select_nth_unstable_by(MAX_LISTED, |a, b| a.0.cmp(&b.0));
        members.truncate(MAX_LISTED);
    }
    members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Members { members, count }
}

fn score(node: &str, key: &str) -> u64 {
    let digest = Sha256::new().chain_update(node.as_bytes()).chain_update([0]).chain_update(key.as_bytes()).finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

fn owns<'a>(me: &str, others: impl Iterator<Item = &'a Arc<str>>, key: &str) -> bool {
    let mine = score(me, key);
    others.filter(|n| n.as_ref() != me).all(|n| score(n, key) < mine)
}

/// A connection's place in presence: its delivery marks, and its exit when dropped.
pub struct Ticket {
    presence: Arc<Presence>,
    consumer: Arc<str>,
    marks: Vec<(Channel, Arc<AtomicU64>)>,
}

impl Ticket {
    /// Message `id` was written to this connection (it passed every earlier one too).
    pub fn delivered(&self, id: u64) {
        for (_, mark) in &self.marks {
            mark.fetch_max(id, Ordering::AcqRel);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.presence.exit(self);
    }
}
