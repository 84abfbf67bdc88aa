//! What nodes send each other on RabbitMQ (JSON, one message each): reports of counts and bans,
//! disconnects, and a joining node's hello.

use push_core::Channel;

use crate::sessions::{Ban, Occupancy};

/// Most channels (and, separately, bans) in one report message.
pub const PER_PART: usize = 5000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Wire {
    Hello { node: String },
    /// Part `part` of `parts` of a node's report number `seq`, taken at `at` (ms).
    Report { node: String, seq: u64, part: u32, parts: u32, at: u64, channels: Vec<(Channel, u64, u64)>, bans: Vec<Ban> },
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
pub fn report(node: &str, seq: u64, at: u64, channels: Vec<(Channel, Occupancy)>, bans: Vec<Ban>) -> Vec<Wire> {
    let parts = channels.len().div_ceil(PER_PART).max(bans.len().div_ceil(PER_PART)).max(1);
    let mut channels = channels.into_iter();
    let mut bans = bans.into_iter();
    (0..parts)
        .map(|part| Wire::Report {
            node: node.to_owned(),
            seq,
            part: part as u32,
            parts: parts as u32,
            at,
            channels: channels.by_ref().take(PER_PART).map(|(c, o)| (c, o.connections, o.consumers)).collect(),
            bans: bans.by_ref().take(PER_PART).collect(),
        })
        .collect()
}
