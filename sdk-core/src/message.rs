//! Message ids, messages and gaps.
//!
//! A [`MessageId`] is the broker's position: one global, strictly increasing integer shared by all
//! channels. A subscriber's cursor is the id of the last message it saw; it resumes with "every
//! message after this id", so ids never need to be contiguous within a channel.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::channel::Channel;

/// A message's position in the broker's log. Written and parsed as a decimal integer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MessageId(pub u64);

impl MessageId {
    pub const ZERO: MessageId = MessageId(0);

    pub fn get(self) -> u64 {
        self.0
    }
    pub fn next(self) -> MessageId {
        MessageId(self.0.saturating_add(1))
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why a string is not a message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a message id (expected a decimal integer such as 42)")]
pub struct ParseIdError(pub String);

impl FromStr for MessageId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseIdError(s.to_owned()));
        }
        t.parse().map(MessageId).map_err(|_| ParseIdError(s.to_owned()))
    }
}

impl serde::Serialize for MessageId {
    // As a string: ids can exceed what a JavaScript number holds exactly.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(MessageId(n)),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A published message as brokers store and deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    /// The channel it was published to; the first one, for a publish to several.
    pub channel: Channel,
    /// The further channels of a publish to several (empty for most messages): one message,
    /// one id, delivered once to a subscriber of more than one of them.
    pub also: Box<[Channel]>,
    pub payload: Bytes,
    pub content_type: String,
    /// Its SSE event name, if the publisher gave one (see [`crate::event_name`]).
    pub event: Option<String>,
    /// Publish time, milliseconds since the Unix epoch.
    pub published_at: u64,
    /// The message as the server sends it, made once and shared by every subscriber.
    pub encoded: Encoded,
}

impl Message {
    /// Every channel the message was published to, in the publish's order.
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        std::iter::once(&self.channel).chain(self.also.iter())
    }

    /// Whether it was published to `channel`.
    pub fn is_for(&self, channel: &Channel) -> bool {
        self.channel == *channel || self.also.contains(channel)
    }
}

/// The wire encodings of a message (the server keeps its JSON frame and its SSE event here),
/// each made by the first subscriber that needs it: a message delivered to 10,000 subscribers
/// is encoded once, not 10,000 times. Not part of the message: equality and `Debug` ignore it.
#[derive(Clone, Default)]
pub struct Encoded {
    json: std::sync::OnceLock<Bytes>,
    sse: std::sync::OnceLock<Bytes>,
}

impl Encoded {
    /// The JSON encoding, made by `make` on first use.
    pub fn get_or_init(&self, make: impl FnOnce() -> Bytes) -> Bytes {
        self.json.get_or_init(make).clone()
    }

    /// The Server-Sent Events encoding, made by `make` on first use.
    pub fn sse_or_init(&self, make: impl FnOnce() -> Bytes) -> Bytes {
        self.sse.get_or_init(make).clone()
    }
}

impl PartialEq for Encoded {
    fn eq(&self, _: &Encoded) -> bool {
        true
    }
}

impl Eq for Encoded {}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.json.get().is_some() || self.sse.get().is_some() { "Encoded(..)" } else { "Encoded(none)" })
    }
}

/// Messages in `from..=to` are gone (expired from history, or dropped for a subscriber that
/// fell too far behind). A subscriber gets this instead of a silent jump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    pub from: MessageId,
    pub to: MessageId,
}

/// What a subscription yields, in id order.
#[derive(Debug, Clone)]
pub enum Event {
    Message(std::sync::Arc<Message>),
    /// Messages of this channel in the range may have been lost; the next event is after `to`.
    Gap(Channel, Gap),
}

impl Event {
    /// The cursor a subscriber holds after this event.
    pub fn cursor(&self) -> MessageId {
        match self {
            Event::Message(m) => m.id,
            Event::Gap(_, g) => g.to,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_strictly() {
        assert_eq!("42".parse::<MessageId>(), Ok(MessageId(42)));
        assert!("-1".parse::<MessageId>().is_err());
        assert!("4x".parse::<MessageId>().is_err());
        assert!("".parse::<MessageId>().is_err());
        assert!("99999999999999999999999".parse::<MessageId>().is_err());
    }

    #[test]
    fn ids_serialize_as_strings_and_read_both() {
        assert_eq!(serde_json::to_string(&MessageId(7)).unwrap(), "\"7\"");
        assert_eq!(serde_json::from_str::<MessageId>("7").unwrap(), MessageId(7));
        assert_eq!(serde_json::from_str::<MessageId>("\"7\"").unwrap(), MessageId(7));
    }
}
