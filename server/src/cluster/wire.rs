//! What nodes send each other on RabbitMQ (JSON, one message each): reports of counts and bans,
//! disconnects, and a joining node's hello.

use push_core::Channel;

use crate::presence::undelivered::Got;
use crate::presence::Change;
use crate::sessions::{Ban, Occupancy};

/// A presence member as a report lists it: channel, consumer id, public info.
pub type Entry = (Channel, String, Option<String>);

/// Most channels (and, separately, bans and presence members) in one report message.
pub const PER_PART: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Wire {
    Hello { node: String },
    /// Part `part` of `parts` of a node's report number `seq`, taken at `at` (ms).
    Report {
        node: String,
        seq: u64,
        part: u32,
        parts: u32,
        at: u64,
        channels: Vec<(Channel, u64, u64)>,
        bans: Vec<Ban>,
        /// The node's presence members (its whole table once all parts are in).
        #[serde(default)]
        members: Vec<Entry>,
    },
    /// Changes of the node's presence members since its last message, and its answers to
    /// undelivered checks.
    Presence {
        node: String,
        #[serde(default)]
        changes: Vec<Change>,
        #[serde(default)]
        got: Vec<Got>,
    },
    Disconnect { node: String, command: super::Disconnect },
}

impl Wire {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("wire messages serialize")
    }

    pub fn decode(body: &[u8]) -> Result<Wire, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// A node's report, cut into parts.
pub fn report(node: &str, seq: u64, at: u64, channels: Vec<(Channel, Occupancy)>, bans: Vec<Ban>, members: Vec<Entry>) -> Vec<Wire> {
    let parts = [channels.len(), bans.len(), members.len()].into_iter().map(|n| n.div_ceil(PER_PART)).max().unwrap_or(0).max(1);
    let mut channels = channels.into_iter();
    let mut bans = bans.into_iter();
    let mut members = members.into_iter();
    (0..parts)
        .map(|part| Wire::Report {
            node: node.to_owned(),
            seq,
            part: part as u32,
            parts: parts as u32,
            at,
            channels: channels.by_ref().take(PER_PART).map(|(c, o)| (c, o.connections, o.consumers)).collect(),
            bans: bans.by_ref().take(PER_PART).collect(),
            members: members.by_ref().take(PER_PART).collect(),
        })
        .collect()
}
