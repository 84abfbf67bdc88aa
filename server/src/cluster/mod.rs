//! What one node knows of the others: their connection counts, for channel info that covers the
//! whole cluster, and the disconnects and bans they pass on. Without RabbitMQ a node is alone and
//! this is just its own [`Sessions`].
//!
//! On RabbitMQ ([`link`]) each node sends a [`Wire::Report`] of its counts and bans every
//! [`REPORT_EVERY`] to a fanout exchange every node reads; a node not heard from for [`LEASE`]
//! (killed, cut off) stops counting. A disconnect is applied on the node that took it and sent to
//! the others the same way. A node that joins says [`Wire::Hello`] and the others report at once,
//! so it learns the bans in force before long.

pub mod link;
pub mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use push_core::message::now_millis;
use push_core::{Channel, Error, ErrorKind, Result};

use crate::presence::Presence;
use crate::sessions::{Ban, Occupancy, Sessions};
pub use wire::Wire;

/// How often a node reports its counts.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);
/// How long a node's report counts without a newer one.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often leases and presence graces are checked.
pub const SWEEP_EVERY: Duration = Duration::from_millis(200);
/// Most other nodes tracked (a report from one more is ignored and logged).
pub const MAX_NODES: usize = 256;

/// Counts with where they come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted<T> {
    pub value: T,
    /// Nodes whose counts are included (this one too).
    pub nodes: u32,
    /// When the oldest count included was taken, ms since the Unix epoch.
    pub as_of: u64,
}

/// A disconnect as the server API takes it and nodes pass it on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disconnect {
    pub consumer: String,
    pub channel: Option<Channel>,
    pub reason: String,
    /// Refuse the consumer's subscriptions until then (ms since the Unix epoch).
    pub ban_until: Option<u64>,
}

pub struct Cluster {
    /// This node's name among the others (random per start).
    pub node: String,
    pub sessions: Arc<Sessions>,
    pub presence: Arc<Presence>,
    others: Mutex<HashMap<String, Other>>,
    /// Sends to the other nodes; `None` when alone.
    outbox: Option<link::Outbox>,
}

/// The last complete report of another node, and the one being received.
struct Other {
    at: u64,
    seen: Instant,
    channels: HashMap<Channel, Occupancy>,
    receiving: Option<Receiving>,
}

/// A report whose parts are coming in.
struct Receiving {
    seq: u64,
    parts: u32,
    channels: HashMap<Channel, Occupancy>,
    members: Vec<wire::Entry>,
}

impl Cluster {
    /// A node on its own.
    pub fn alone(sessions: Arc<Sessions>, presence: Arc<Presence>) -> Arc<Cluster> {
        Arc::new(Cluster { node: presence.node.to_string(), sessions, presence, others: Mutex::default(), outbox: None })
    }

    /// A node that talks to the others through `outbox` (see [`link::join`]).
    pub fn linked(sessions: Arc<Sessions>, presence: Arc<Presence>, outbox: link::Outbox) -> Arc<Cluster> {
        Arc::new(Cluster { node: presence.node.to_string(), sessions, presence, others: Mutex::default(), outbox: Some(outbox) })
    }

    /// The other nodes within their lease; those past it are dropped, and their presence
    /// members with them.
    fn others(&self) -> std::sync::MutexGuard<'_, HashMap<String, Other>> {
        let mut others = self.others.lock().unwrap_or_else(|p| p.into_inner());
        others.retain(|node, o| {
            let alive = o.seen.elapsed() < LEASE;
            if !alive {
                tracing::info!(node = %node, "node not heard from for {LEASE:?}: its counts and members are dropped");
                self.presence.forget(node);
            }
            alive
        });
        others
    }

    /// Drops nodes past their lease and lets presence members whose grace ended leave: run
    /// every [`SWEEP_EVERY`].
    pub fn sweep(&self) {
        drop(self.others());
        self.presence.sweep();
    }

    /// Connections on `channel` across the cluster.
    pub fn occupancy(&self, channel: &Channel) -> Counted<Occupancy> {
        let now = now_millis();
        let mut value = self.sessions.occupancy(channel);
        let others = self.others();
        for other in others.values() {
            if let Some(o) = other.channels.get(channel) {
                value += *o;
            }
        }
        Counted { value, nodes: 1 + others.len() as u32, as_of: others.values().map(|o| o.at.min(now)).min().unwrap_or(now) }
    }

    /// Channels with connections across the cluster, named with `prefix` and after `after`, in
    /// name order, at most `limit`.
    pub fn occupied(&self, prefix: &str, after: Option<&str>, limit: usize) -> Counted<Vec<(Channel, Occupancy)>> {
        let now = now_millis();
        let mut all: HashMap<Channel, Occupancy> = self.sessions.occupied(prefix, after, limit).into_iter().collect();
        let others = self.others();
        for other in others.values() {
            let mut theirs: Vec<(&Channel, &Occupancy)> =
                other.channels.iter().filter(|(c, _)| c.as_str().starts_with(prefix) && after.is_none_or(|a| c.as_str() > a)).collect();
            // Only their first `limit` can be on this page.
            theirs.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
            for (c, o) in theirs.into_iter().take(limit) {
                *all.entry(c.clone()).or_default() += *o;
            }
        }
        let mut value: Vec<(Channel, Occupancy)> = all.into_iter().collect();
        value.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        value.truncate(limit);
        Counted { value, nodes: 1 + others.len() as u32, as_of: others.values().map(|o| o.at.min(now)).min().unwrap_or(now) }
    }

    /// Ends the consumer's connections here and sends the disconnect to the other nodes; returns
    /// how many ended here. Applied here even when sending fails (the error says so).
    pub async fn disconnect(&self, command: Disconnect) -> Result<usize> {
        let ended = self.apply(&command);
        self.sessions.bans.save().await?;
        if let Some(outbox) = &self.outbox {
            outbox.send(&Wire::Disconnect { node: self.node.clone(), command }).await.map_err(|e| {
                Error::new(e.kind(), format!("the disconnect was applied on this node but could not reach the others ({}); retry it", e.message()))
            })?;
        }
        Ok(ended)
    }

    fn apply(&self, command: &Disconnect) -> usize {
        if let Some(until) = command.ban_until {
            self.sessions.bans.add(Ban { consumer: command.consumer.clone(), channel: command.channel.clone(), until, reason: command.reason.clone() });
        }
        self.sessions.disconnect(&command.consumer, command.channel.as_ref(), &command.reason)
    }

    /// Takes what another node sent. Returns whether that node asks for a report now.
    pub fn receive(&self, wire: Wire) -> bool {
        match wire {
            Wire::Hello { node } => node != self.node,
            Wire::Disconnect { node, command } => {
                if node != self.node {
                    self.apply(&command);
                }
                false
            }
            Wire::Presence { node, changes, got } => {
                if node != self.node && self.others().contains_key(&node) {
                    self.presence.apply(&node, changes);
                    if let Some(undelivered) = &self.presence.undelivered {
                        got.into_iter().for_each(|g| undelivered.received(g));
                    }
                }
                false
            }
            Wire::Report { node, seq, part, parts, at, channels, bans, members } => {
                if node == self.node {
                    return false;
                }
                for ban in bans {
                    self.sessions.bans.add(ban);
                }
                let mut others = self.others();
                if !others.contains_key(&node) && others.len() >= MAX_NODES {
                    tracing::warn!("a report from node {node} ignored: already tracking {MAX_NODES} nodes");
                    return false;
                }
                let other = others.entry(node.clone()).or_insert_with(|| Other { at, seen: Instant::now(), channels: HashMap::new(), receiving: None });
                if other.receiving.as_ref().is_none_or(|r| r.seq != seq) {
                    other.receiving = Some(Receiving { seq, parts: 0, channels: HashMap::new(), members: Vec::new() });
                }
                let receiving = other.receiving.as_mut().expect("set above");
                receiving.parts += 1;
                receiving.channels.extend(channels.into_iter().map(|(c, connections, consumers)| (c, Occupancy { connections, consumers })));
                receiving.members.extend(members);
                if part + 1 >= parts || receiving.parts >= parts {
                    let whole = other.receiving.take().expect("set above");
                    other.channels = whole.channels;
                    other.at = at;
                    other.seen = Instant::now();
                    drop(others);
                    self.presence.replace(&node, whole.members);
                }
                false
            }
        }
    }

    /// This node's report, in parts of at most [`wire::PER_PART`] channels and bans.
    pub fn report(&self, seq: u64) -> Vec<Wire> {
        wire::report(&self.node, seq, now_millis(), self.sessions.snapshot(), self.sessions.bans.list(), self.presence.local())
    }
}

/// Sweeps (see [`Cluster::sweep`]) until `stop`.
pub async fn sweep_until(cluster: Arc<Cluster>, stop: tokio_util::sync::CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => cluster.sweep(),
        }
    }
}

/// A node's name: random per start.
pub fn new_node_name() -> String {
    let key = push_core::idempotency::new_key();
    key[..16].to_owned()
}

/// The error of a disconnect that another node could not be told of.
pub fn unreachable(why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::ConnectionFailed, format!("the other nodes are unreachable: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::Bans;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    fn alone() -> Arc<Cluster> {
        Cluster::alone(Sessions::new(Bans::in_memory()), crate::presence::for_tests(&new_node_name()))
    }

    #[test]
    fn counts_add_up_over_nodes_and_a_report_in_parts_counts_when_whole() {
        let here = alone();
        let _s = here.sessions.register(Some("alice"), &[ch("/a")]);
        let there = alone();
        let _t = there.sessions.register(Some("bob"), &[ch("/a"), ch("/b")]);
        let _u = there.sessions.register(None, &[ch("/b")]);
        for part in there.report(1) {
            here.receive(part);
        }
        let a = here.occupancy(&ch("/a"));
        assert_eq!((a.value, a.nodes), (Occupancy { connections: 2, consumers: 2 }, 2));
        let listed = here.occupied("/", None, 10).value;
        assert_eq!(listed, vec![(ch("/a"), Occupancy { connections: 2, consumers: 2 }), (ch("/b"), Occupancy { connections: 2, consumers: 1 })]);
        assert_eq!(here.occupied("/", Some("/a"), 10).value.len(), 1);

        // Half of a report in two parts changes nothing until the rest comes.
        let parts = wire::report(&there.node, 2, now_millis(), vec![(ch("/a"), Occupancy { connections: 5, consumers: 0 })], Vec::new(), Vec::new());
        let Wire::Report { at, .. } = parts[0].clone() else { panic!() };
        here.receive(Wire::Report { node: there.node.clone(), seq: 3, part: 0, parts: 2, at, channels: vec![(ch("/c"), 1, 0)], bans: Vec::new(), members: Vec::new() });
        assert_eq!(here.occupancy(&ch("/c")).value.connections, 0);
        here.receive(Wire::Report { node: there.node.clone(), seq: 3, part: 1, parts: 2, at, channels: vec![(ch("/d"), 1, 0)], bans: Vec::new(), members: Vec::new() });
        assert_eq!(here.occupancy(&ch("/c")).value.connections, 1);
        assert_eq!(here.occupancy(&ch("/a")).value.connections, 1, "the newer report replaced the older");
    }

    #[test]
    fn a_disconnect_from_another_node_bans_and_ends_connections_here() {
        let here = alone();
        let s = here.sessions.register(Some("alice"), &[ch("/a")]);
        let command = Disconnect { consumer: "alice".into(), channel: None, reason: "bye".into(), ban_until: Some(now_millis() + 60_000) };
        here.receive(Wire::Disconnect { node: "other".into(), command });
        assert!(futures_util::FutureExt::now_or_never(s.disconnected()).is_some());
        assert!(here.sessions.bans.check("alice", &[ch("/x")]).is_some());
    }
}
