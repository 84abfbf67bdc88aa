//! The members of every presence channel as this node sees the cluster: its own connections,
//! counted, and each other node's members as that node last said. A member is held while any
//! node has a connection of it, and leaves a grace period after none has. Every change that
//! matters to someone comes out as a [`Transition`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use push_core::Channel;

/// A member's public info (compact JSON object text), if its token carried one.
pub type Info = Option<Arc<str>>;

/// What the cluster's presence did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Occupied(Channel),
    Vacated(Channel),
    Joined(Channel, Arc<str>, Info),
    Left(Channel, Arc<str>, Info),
    /// A consumer joined its first presence channel.
    Connected(Arc<str>),
    /// It left its last one.
    Disconnected(Arc<str>),
}

/// This node gained (`here`) or lost its last connection of a consumer on a channel: what the
/// other nodes are told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub channel: Channel,
    pub consumer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
    pub here: bool,
}

pub struct Member {
    pub info: Info,
    /// Connections on this node.
    local: u32,
    /// Other nodes that hold a connection of it.
    remote: u32,
    /// When it leaves, if no node holds it now.
    leaving_at: Option<Instant>,
    /// The newest message id written to one of its connections here.
    pub delivered: Arc<AtomicU64>,
}

#[derive(Default)]
pub struct Room {
    pub members: HashMap<Arc<str>, Member>,
    /// Members that had connections here and left, with their delivery marks, kept for the
    /// undelivered checks that may still ask.
    pub departed: HashMap<Arc<str>, (u64, Instant)>,
}

#[derive(Default)]
pub struct Table {
    pub rooms: HashMap<Channel, Room>,
    /// Each other node's members, as it last said.
    nodes: HashMap<Arc<str>, HashMap<(Channel, Arc<str>), Info>>,
    /// Presence channels each consumer is a member of.
    consumers: HashMap<Arc<str>, u32>,
    /// Members whose last connection closed, in the order of their deadlines.
    leaving: VecDeque<(Instant, Channel, Arc<str>)>,
    /// Changes of this node's connections not yet sent to the others.
    pub outbox: Vec<Change>,
    /// Members in all rooms.
    pub members: usize,
}

impl Table {
    /// Whether `consumer` may take a connection on `channel` (room for one more member).
    pub fn admits(&self, channel: &Channel, consumer: &str, max: usize) -> bool {
        self.rooms.get(channel).is_none_or(|r| r.members.len() < max || r.members.contains_key(consumer))
    }

    /// A connection of `consumer` here; returns its delivery mark for the channel.
    pub fn enter(&mut self, channel: &Channel, consumer: &Arc<str>, info: &Info, out: &mut Vec<Transition>) -> Arc<AtomicU64> {
        let member = self.member(channel, consumer, info.clone(), out);
        member.local += 1;
        let (first, mark) = (member.local == 1, member.delivered.clone());
        if first {
            self.outbox.push(Change { channel: channel.clone(), consumer: consumer.to_string(), info: info.as_deref().map(str::to_owned), here: true });
        }
        self.settle(channel, consumer, Duration::ZERO);
        mark
    }

    /// A connection of `consumer` here closed.
    pub fn exit(&mut self, channel: &Channel, consumer: &Arc<str>, grace: Duration) {
        let Some(member) = self.rooms.get_mut(channel).and_then(|r| r.members.get_mut(consumer)) else { return };
        member.local = member.local.saturating_sub(1);
        if member.local == 0 {
            self.outbox.push(Change { channel: channel.clone(), consumer: consumer.to_string(), info: None, here: false });
        }
        self.settle(channel, consumer, grace);
    }

    /// Another node's changes.
    pub fn apply(&mut self, node: &Arc<str>, changes: Vec<Change>, grace: Duration, out: &mut Vec<Transition>) {
        for change in changes {
            let consumer: Arc<str> = Arc::from(change.consumer);
            let info: Info = change.info.map(Arc::from);
            if change.here {
                self.hold(node, change.channel, consumer, info, out);
            } else {
                self.release(node, &change.channel, &consumer, grace);
            }
        }
    }

    /// Another node's whole table, replacing what it said before.
    pub fn replace(&mut self, node: &Arc<str>, entries: Vec<(Channel, Arc<str>, Info)>, grace: Duration, out: &mut Vec<Transition>) {
        let mut before = self.nodes.remove(node).unwrap_or_default();
        self.nodes.insert(node.clone(), HashMap::new());
        for (channel, consumer, info) in entries {
            before.remove(&(channel.clone(), consumer.clone()));
            self.hold(node, channel, consumer, info, out);
        }
        // Let go only after holding the new ones: a member that moved stays.
        for ((channel, consumer), _) in before {
            self.decrement(&channel, &consumer, grace);
        }
    }

    /// A node that is gone: its members are held no more.
    pub fn forget(&mut self, node: &str, grace: Duration) {
        for ((channel, consumer), _) in self.nodes.remove(node).unwrap_or_default() {
            self.decrement(&channel, &consumer, grace);
        }
    }

    /// Nodes this table has heard from.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<str>> {
        self.nodes.keys()
    }

    fn hold(&mut self, node: &Arc<str>, channel: Channel, consumer: Arc<str>, info: Info, out: &mut Vec<Transition>) {
        let table = self.nodes.entry(node.clone()).or_default();
        if table.insert((channel.clone(), consumer.clone()), info.clone()).is_some() {
            return;
        }
        let member = self.member(&channel, &consumer, info, out);
        member.remote += 1;
        self.settle(&channel, &consumer, Duration::ZERO);
    }

    fn release(&mut self, node: &Arc<str>, channel: &Channel, consumer: &Arc<str>, grace: Duration) {
        let held = self.nodes.get_mut(node).is_some_and(|t| t.remove(&(channel.clone(), consumer.clone())).is_some());
        if held {
            self.decrement(channel, consumer, grace);
        }
    }

    fn decrement(&mut self, channel: &Channel, consumer: &Arc<str>, grace: Duration) {
        if let Some(member) = self.rooms.get_mut(channel).and_then(|r| r.members.get_mut(consumer)) {
            member.remote = member.remote.saturating_sub(1);
            self.settle(channel, consumer, grace);
        }
    }

    /// The member, made (and announced) if it was not one.
    fn member(&mut self, channel: &Channel, consumer: &Arc<str>, info: Info, out: &mut Vec<Transition>) -> &mut Member {
        if !self.rooms.contains_key(channel) {
            self.rooms.insert(channel.clone(), Room::default());
        }
        let room = self.rooms.get_mut(channel).expect("inserted above");
        if !room.members.contains_key(consumer) {
            if room.members.is_empty() {
                out.push(Transition::Occupied(channel.clone()));
            }
            let departed = room.departed.remove(consumer).map_or(0, |(mark, _)| mark);
            room.members.insert(
                consumer.clone(),
                Member { info: info.clone(), local: 0, remote: 0, leaving_at: None, delivered: Arc::new(AtomicU64::new(departed)) },
            );
            self.members += 1;
            out.push(Transition::Joined(channel.clone(), consumer.clone(), info.clone()));
            let rooms = self.consumers.entry(consumer.clone()).or_default();
            *rooms += 1;
            if *rooms == 1 {
                out.push(Transition::Connected(consumer.clone()));
            }
        }
        let member = room.members.get_mut(consumer).expect("inserted above");
        if member.info.is_none() {
            member.info = info;
        }
        member
    }

    /// Starts or cancels a member's leaving after its holders changed.
    fn settle(&mut self, channel: &Channel, consumer: &Arc<str>, grace: Duration) {
        let Some(member) = self.rooms.get_mut(channel).and_then(|r| r.members.get_mut(consumer)) else { return };
        let held = member.local + member.remote > 0;
        if held {
            member.leaving_at = None;
        } else if member.leaving_at.is_none() {
            let at = Instant::now() + grace;
            member.leaving_at = Some(at);
            self.leaving.push_back((at, channel.clone(), consumer.clone()));
        }
    }

    /// Members whose grace ended leave. `keep_marks`: how long a departed member's delivery mark
    /// stays for undelivered checks (zero: not kept).
    pub fn sweep(&mut self, now: Instant, keep_marks: Duration, out: &mut Vec<Transition>) {
        while let Some((at, _, _)) = self.leaving.front() {
            if *at > now {
                break;
            }
            let (at, channel, consumer) = self.leaving.pop_front().expect("front exists");
            let Some(room) = self.rooms.get_mut(&channel) else { continue };
            // Back since, or leaving again with a later deadline: not this entry's turn.
            if room.members.get(&consumer).is_none_or(|m| m.leaving_at != Some(at)) {
                continue;
            }
            let member = room.members.remove(&consumer).expect("checked above");
            self.members -= 1;
            if !keep_marks.is_zero() {
                let mark = member.delivered.load(std::sync::atomic::Ordering::Acquire);
                if mark > 0 {
                    room.departed.insert(consumer.clone(), (mark, now));
                }
            }
            out.push(Transition::Left(channel.clone(), consumer.clone(), member.info));
            if room.members.is_empty() {
                out.push(Transition::Vacated(channel.clone()));
                if room.departed.is_empty() {
                    self.rooms.remove(&channel);
                }
            }
            if let Some(rooms) = self.consumers.get_mut(&consumer) {
                *rooms -= 1;
                if *rooms == 0 {
                    self.consumers.remove(&consumer);
                    out.push(Transition::Disconnected(consumer));
                }
            }
        }
        if !keep_marks.is_zero() {
            self.rooms.retain(|_, room| {
                room.departed.retain(|_, (_, since)| now.duration_since(*since) < keep_marks);
                !(room.members.is_empty() && room.departed.is_empty())
            });
        }
    }

    /// This node's own members (what its report says).
    pub fn local(&self) -> Vec<(Channel, Arc<str>, Info)> {
        let mut mine = Vec::new();
        for (channel, room) in &self.rooms {
            for (consumer, member) in &room.members {
                if member.local > 0 {
                    mine.push((channel.clone(), consumer.clone(), member.info.clone()));
                }
            }
        }
        mine
    }

    /// The next deadline to sweep at, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.leaving.front().map(|(at, _, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    fn later(d: u64) -> Instant {
        Instant::now() + Duration::from_millis(d)
    }

    const GRACE: Duration = Duration::from_millis(100);

    #[test]
    fn one_member_however_many_connections_and_nodes() {
        let (mut t, mut out) = (Table::default(), Vec::new());
        let (lobby, alice, b) = (ch("/presence-lobby"), Arc::<str>::from("alice"), Arc::<str>::from("node-b"));
        t.enter(&lobby, &alice, &Some(Arc::from(r#"{"n":1}"#)), &mut out);
        t.enter(&lobby, &alice, &None, &mut out);
        t.apply(&b, vec![Change { channel: lobby.clone(), consumer: "alice".into(), info: None, here: true }], GRACE, &mut out);
        assert_eq!(
            out,
            vec![Transition::Occupied(lobby.clone()), Transition::Joined(lobby.clone(), alice.clone(), Some(Arc::from(r#"{"n":1}"#))), Transition::Connected(alice.clone())]
        );
        assert_eq!(t.outbox.len(), 1, "only the first connection here is news to the others");
        out.clear();
        t.exit(&lobby, &alice, GRACE);
        t.exit(&lobby, &alice, GRACE);
        t.sweep(later(200), Duration::ZERO, &mut out);
        assert!(out.is_empty(), "node b still holds alice");
        t.forget("node-b", GRACE);
        t.sweep(later(50), Duration::ZERO, &mut out);
        assert!(out.is_empty(), "within the grace");
        t.sweep(later(200), Duration::ZERO, &mut out);
        assert_eq!(out, vec![Transition::Left(lobby.clone(), alice.clone(), Some(Arc::from(r#"{"n":1}"#))), Transition::Vacated(lobby.clone()), Transition::Disconnected(alice)]);
        assert_eq!(t.members, 0);
        assert!(t.rooms.is_empty());
    }

    #[test]
    fn back_within_the_grace_is_no_leave_and_no_join() {
        let (mut t, mut out) = (Table::default(), Vec::new());
        let (lobby, alice) = (ch("/presence-lobby"), Arc::<str>::from("alice"));
        t.enter(&lobby, &alice, &None, &mut out);
        out.clear();
        t.exit(&lobby, &alice, GRACE);
        t.enter(&lobby, &alice, &None, &mut out);
        t.sweep(later(500), Duration::ZERO, &mut out);
        assert!(out.is_empty());
        assert_eq!(t.members, 1);
    }

    #[test]
    fn a_report_replaces_a_nodes_table() {
        let (mut t, mut out) = (Table::default(), Vec::new());
        let (a, b, node) = (ch("/presence-a"), ch("/presence-b"), Arc::<str>::from("n"));
        let bob: Arc<str> = Arc::from("bob");
        t.replace(&node, vec![(a.clone(), bob.clone(), None)], GRACE, &mut out);
        out.clear();
        t.replace(&node, vec![(b.clone(), bob.clone(), None)], GRACE, &mut out);
        assert_eq!(out, vec![Transition::Occupied(b.clone()), Transition::Joined(b.clone(), bob.clone(), None)]);
        out.clear();
        t.sweep(later(200), Duration::ZERO, &mut out);
        assert_eq!(out, vec![Transition::Left(a.clone(), bob.clone(), None), Transition::Vacated(a)]);
    }

    #[test]
    fn the_bound_admits_members_already_in() {
        let (mut t, mut out) = (Table::default(), Vec::new());
        let lobby = ch("/presence-lobby");
        t.enter(&lobby, &Arc::from("a"), &None, &mut out);
        assert!(t.admits(&lobby, "a", 1));
        assert!(!t.admits(&lobby, "b", 1));
    }
}
