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
        /// For a message published to several channels: those of them the reader subscribed to.
        #[serde(skip_serializing_if = "Option::is_none")]
        channels: Option<Vec<&'a Channel>>,
        data: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        encoding: Option<&'static str>,
        content_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<&'a str>,
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
    /// The server API disconnected the subscriber; the connection ends after it.
    Disconnect {
        reason: &'a str,
    },
}

impl<'a> Frame<'a> {
    pub fn message(m: &'a Message) -> Frame<'a> {
        let (data, encoding) = match std::str::from_utf8(&m.payload) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (base64::engine::general_purpose::STANDARD.encode(&m.payload), Some("base64")),
        };
        Frame::Message { id: m.id, channel: &m.channel, channels: None, data, encoding, content_type: &m.content_type, event: m.event.as_deref(), time: m.published_at }
    }

    /// A message's frame for a reader of `subscribed`: a message published to several channels
    /// names those of them the reader subscribed to (never the others), the first as `channel`.
    pub fn message_for(m: &'a Message, subscribed: &[Channel]) -> Frame<'a> {
        let mut frame = Frame::message(m);
        if !m.also.is_empty() {
            if let Frame::Message { channel, channels, .. } = &mut frame {
                let mine: Vec<&'a Channel> = m.channels().filter(|c| subscribed.contains(c)).collect();
                *channel = mine.first().copied().unwrap_or(&m.channel);
                *channels = Some(mine);
            }
        }
        frame
    }

    /// [`message_json`](Self::message_json) for a reader of `subscribed`: shared by every reader
    /// unless the message went to several channels (then what it names depends on the reader).
    pub fn message_json_for(m: &Message, subscribed: &[Channel]) -> bytes::Bytes {
        if m.also.is_empty() {
            Frame::message_json(m)
        } else {
            Frame::message_for(m, subscribed).to_json().into()
        }
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
