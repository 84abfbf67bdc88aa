//! The server API's answers, read from its JSON (and written back in the same shape, which is
//! what `push-server info --json` and the like print).

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::MessageId;

/// What a channel holds and who is connected to it (`GET /_push/api/channel/<channel>`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ChannelInfo {
    pub channel: String,
    /// Subscriber connections open on the channel now (a multiplexed one counts on each of its
    /// channels), summed over the nodes counted.
    pub connections: u64,
    /// Distinct consumer ids among them, per node, summed over the nodes.
    pub consumers: u64,
    /// The newest message the channel holds in history; `None` when it holds none.
    pub last_id: Option<MessageId>,
    /// How many messages it holds in history.
    pub history: u64,
    /// How many nodes the counts come from (in a listing: the page's).
    #[serde(default)]
    pub nodes: u32,
    /// When the oldest count included was taken, ms since the Unix epoch (in a listing: the page's).
    #[serde(default)]
    pub as_of: u64,
}

/// Who is present on a presence channel (`GET /_push/api/presence/<channel>`): each consumer
/// once, however many connections and nodes it has, while it is connected or within the
/// server's `--presence-grace` of its last connection closing.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Presence {
    pub channel: String,
    /// In consumer id order; at most the server's `--max-presence-list` (see `count`).
    pub members: Vec<Member>,
    /// How many members there are (more than `members` holds when the list was cut).
    pub count: u64,
    #[serde(default)]
    pub nodes: u32,
    #[serde(default)]
    pub as_of: u64,
}

/// A consumer present on a channel, and the public info its token carried.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Member {
    pub consumer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// One page of the active channels (`GET /_push/api/channels`), in name order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(from = "RawPage")]
#[non_exhaustive]
pub struct ChannelPage {
    pub channels: Vec<ChannelInfo>,
    /// The `after` of the next page; `None` on the last one.
    pub next: Option<String>,
    pub nodes: u32,
    pub as_of: u64,
}

#[derive(Deserialize)]
struct RawPage {
    channels: Vec<ChannelInfo>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    nodes: u32,
    #[serde(default)]
    as_of: u64,
}

impl From<RawPage> for ChannelPage {
    // Entries carry no nodes/as_of on the wire: the page's apply to each.
    fn from(mut raw: RawPage) -> ChannelPage {
        for info in &mut raw.channels {
            if info.nodes == 0 && info.as_of == 0 {
                info.nodes = raw.nodes;
                info.as_of = raw.as_of;
            }
        }
        ChannelPage { channels: raw.channels, next: raw.next, nodes: raw.nodes, as_of: raw.as_of }
    }
}

/// Messages of a channel's history (`GET /_push/api/history/<channel>`), oldest first, in the
/// JSON batch's shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct History {
    pub messages: Vec<HistoryMessage>,
    /// Ranges that are gone (only for [`HistoryRange::After`](super::HistoryRange::After)).
    #[serde(default)]
    pub gaps: Vec<HistoryGap>,
    /// The cursor to read on from (`HistoryRange::After { id: last_id, .. }`): the newest message
    /// returned, else where the read ended (the cursor given; for an empty `All`/`Last` read the
    /// server's newest id). `0` if the server names none.
    #[serde(default, deserialize_with = "id_or_zero")]
    pub last_id: MessageId,
    /// The limit cut the answer: read on from `last_id` for the rest.
    #[serde(default)]
    pub more: bool,
}

fn id_or_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<MessageId, D::Error> {
    Ok(Option::<MessageId>::deserialize(d)?.unwrap_or(MessageId::ZERO))
}

/// One message of a channel's history.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "WireMessage", into = "WireMessage")]
#[non_exhaustive]
pub struct HistoryMessage {
    pub id: MessageId,
    /// The channel asked about (for a message published to several: the first of them).
    pub channel: String,
    /// For a message published to several channels, those of them the read covers (a history
    /// read covers one channel, so it is that one: the server never names channels a reader did
    /// not ask for); empty for a message published to one.
    pub channels: Vec<String>,
    /// The payload, as published (base64 on the wire when it is not UTF-8, decoded here).
    pub data: Bytes,
    pub content_type: String,
    /// Its SSE event name, if it was published with one.
    pub event: Option<String>,
    /// Publish time, ms since the Unix epoch.
    pub time: u64,
}

impl HistoryMessage {
    /// The payload as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }
}

/// A message as the JSON batch carries it.
#[derive(Deserialize, Serialize)]
struct WireMessage {
    id: MessageId,
    channel: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    channels: Vec<String>,
    data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encoding: Option<String>,
    #[serde(default)]
    content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event: Option<String>,
    #[serde(default)]
    time: u64,
}

impl TryFrom<WireMessage> for HistoryMessage {
    type Error = String;
    fn try_from(wire: WireMessage) -> Result<HistoryMessage, String> {
        let data = match wire.encoding.as_deref() {
            None => Bytes::from(wire.data),
            Some("base64") => Bytes::from(
                base64::engine::general_purpose::STANDARD.decode(wire.data.as_bytes()).map_err(|e| format!("message {}: data is not base64: {e}", wire.id))?,
            ),
            Some(other) => return Err(format!("message {}: unknown encoding {other:?}", wire.id)),
        };
        Ok(HistoryMessage { id: wire.id, channel: wire.channel, channels: wire.channels, data, content_type: wire.content_type, event: wire.event, time: wire.time })
    }
}

impl From<HistoryMessage> for WireMessage {
    fn from(m: HistoryMessage) -> WireMessage {
        let (data, encoding) = match std::str::from_utf8(&m.data) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(&m.data), Some("base64".to_owned())),
        };
        WireMessage { id: m.id, channel: m.channel, channels: m.channels, data, encoding, content_type: m.content_type, event: m.event, time: m.time }
    }
}

/// Messages of `channel` with ids in `from..=to` may be gone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct HistoryGap {
    pub channel: String,
    pub from: MessageId,
    pub to: MessageId,
}

/// What a disconnect did (`POST /_push/api/disconnect`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Disconnected {
    pub consumer: String,
    #[serde(default)]
    pub channel: Option<String>,
    /// Connections ended on the node that answered (the others end theirs as the command
    /// reaches them).
    pub disconnected: u64,
    /// When the ban ends, ms since the Unix epoch; `None` without a ban.
    #[serde(default)]
    pub ban_until: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_info_reads_the_documented_answer() {
        let info: ChannelInfo = serde_json::from_str(
            r#"{"channel": "/rooms/1", "connections": 3, "consumers": 2, "last_id": "1795870127759001", "history": 10, "nodes": 2, "as_of": 1795870128569}"#,
        )
        .unwrap();
        assert_eq!((info.channel.as_str(), info.connections, info.consumers, info.history), ("/rooms/1", 3, 2, 10));
        assert_eq!((info.last_id, info.nodes, info.as_of), (Some(MessageId(1795870127759001)), 2, 1795870128569));
        let empty: ChannelInfo = serde_json::from_str(r#"{"channel":"/x","connections":0,"consumers":0,"last_id":null,"history":0,"nodes":1,"as_of":5}"#).unwrap();
        assert_eq!(empty.last_id, None);
    }

    #[test]
    fn a_page_lends_its_nodes_and_time_to_its_entries() {
        let page: ChannelPage = serde_json::from_str(
            r#"{"channels": [{"channel": "/rooms/1", "connections": 3, "consumers": 2, "last_id": "17", "history": 10}],
                "next": "/rooms/1", "nodes": 2, "as_of": 1795870128569}"#,
        )
        .unwrap();
        assert_eq!(page.next.as_deref(), Some("/rooms/1"));
        assert_eq!((page.channels[0].nodes, page.channels[0].as_of, page.channels[0].last_id), (2, 1795870128569, Some(MessageId(17))));
        let last: ChannelPage = serde_json::from_str(r#"{"channels": [], "next": null, "nodes": 1, "as_of": 1}"#).unwrap();
        assert_eq!((last.channels.len(), last.next), (0, None));
    }

    #[test]
    fn history_decodes_base64_and_keeps_channels() {
        let h: History = serde_json::from_str(
            r#"{"messages": [
                 {"type": "message", "id": "5", "channel": "/a", "data": "hi", "content_type": "text/plain; charset=utf-8", "time": 9},
                 {"type": "message", "id": "7", "channel": "/a", "channels": ["/a", "/b"], "data": "AJ+Slg==", "encoding": "base64", "content_type": "application/octet-stream", "time": 10}],
               "gaps": [{"type": "gap", "channel": "/a", "from": "1", "to": "4"}],
               "last_id": "7", "more": true}"#,
        )
        .unwrap();
        assert_eq!(h.messages[0].text(), Some("hi"));
        assert!(h.messages[0].channels.is_empty());
        assert_eq!(h.messages[1].data.as_ref(), &[0, 159, 146, 150]);
        assert_eq!(h.messages[1].channels, ["/a", "/b"]);
        assert_eq!(h.gaps, [HistoryGap { channel: "/a".into(), from: MessageId(1), to: MessageId(4) }]);
        assert_eq!((h.last_id, h.more), (MessageId(7), true));
        // Written back in the wire's shape.
        let again: History = serde_json::from_str(&serde_json::to_string(&h).unwrap()).unwrap();
        assert_eq!(again, h);
        let json = serde_json::to_value(&h.messages[1]).unwrap();
        assert_eq!((json["encoding"].as_str(), json["data"].as_str(), json["id"].as_str()), (Some("base64"), Some("AJ+Slg=="), Some("7")));
        assert!(serde_json::from_str::<HistoryMessage>(r#"{"id":"1","channel":"/a","data":"!!","encoding":"base64"}"#).is_err());
        assert!(serde_json::from_str::<HistoryMessage>(r#"{"id":"1","channel":"/a","data":"x","encoding":"rot13"}"#).is_err());
        let nothing: History = serde_json::from_str(r#"{"messages": [], "gaps": [], "last_id": null, "more": false}"#).unwrap();
        assert_eq!(nothing.last_id, MessageId::ZERO);
    }

    #[test]
    fn disconnected_reads_with_and_without_a_ban() {
        let d: Disconnected = serde_json::from_str(r#"{"consumer": "alice", "channel": "/rooms/1", "disconnected": 1, "ban_until": 1795870728569}"#).unwrap();
        assert_eq!((d.consumer.as_str(), d.channel.as_deref(), d.disconnected, d.ban_until), ("alice", Some("/rooms/1"), 1, Some(1795870728569)));
        let d: Disconnected = serde_json::from_str(r#"{"consumer": "bob", "channel": null, "disconnected": 0, "ban_until": null}"#).unwrap();
        assert_eq!((d.channel, d.ban_until), (None, None));
    }
}
