//! JSON shapes of messages and gaps, shared by the JSON batch, WebSocket frames and
//! multiplexed SSE. Payloads that are UTF-8 travel as text; others as base64 with
//! `"encoding": "base64"`.

use base64::Engine;
use push_core::{Channel, Gap, Message, MessageId};
use serde::Serialize;

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Frame<'a> {
    Message {
        id: MessageId,
        channel: &'a Channel,
        data: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        encoding: Option<&'static str>,
        content_type: &'a str,
        time: u64,
    },
    Gap {
        channel: &'a Channel,
        from: MessageId,
        to: MessageId,
    },
    Subscribed {
        channels: &'a [Channel],
        last_id: MessageId,
    },
}

impl<'a> Frame<'a> {
    pub fn message(m: &'a Message) -> Frame<'a> {
        let (data, encoding) = match std::str::from_utf8(&m.payload) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(&m.payload), Some("base64")),
        };
        Frame::Message { id: m.id, channel: &m.channel, data, encoding, content_type: &m.content_type, time: m.published_at }
    }

    pub fn gap(channel: &'a Channel, gap: &Gap) -> Frame<'a> {
        Frame::Gap { channel, from: gap.from, to: gap.to }
    }

    /// A message's frame as JSON text, made once per message and shared by every subscriber
    /// (WebSocket, multiplexed SSE).
    pub fn message_json(m: &Message) -> bytes::Bytes {
        m.encoded.get_or_init(|| Frame::message(m).to_json().into())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("frames always serialize")
    }
}
