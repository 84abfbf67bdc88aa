//! The message format on the stream: headers and properties a publication is sent with, and
//! what a delivery decodes to. docs/RABBITMQ.md describes it for clients in other languages.

use bytes::Bytes;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;

use super::id_from_offset;
use crate::broker::Publication;
use crate::{Channel, Error, ErrorKind, Message, MessageId, Result};

/// Header naming the message's channel (a string, e.g. `/greetings`). Required.
pub const CHANNEL_HEADER: &str = "push-channel";
/// Header naming every channel of a message published to several, separated by commas, the
/// first one first (`push-channel` names that one too, for readers that know only it). Optional.
pub const CHANNELS_HEADER: &str = "push-channels";
/// Header with the publish time in milliseconds since the Unix epoch (an integer). Optional.
pub const TIME_HEADER: &str = "push-time";
/// never see it, it only tells the node where the stream's end was).
pub const MARKER_HEADER: &str = "push-marker";
/// Header naming the publish call that sent a copy (a server node's publish: random text), so
/// that the node tells its own copy from another publisher's copy with the same idempotency
/// digest. Optional; readers that do not know it ignore it.
pub const SENDER_HEADER: &str = "push-sender";
/// Header with the message's SSE event name (see [`crate::event_name`]). Optional; a name the
/// server would refuse from a publisher is dropped (the message is then a plain `message`).
pub const EVENT_HEADER: &str = "push-event";
/// Header in which RabbitMQ gives each delivery from a stream its offset.
pub const OFFSET_HEADER: &str = "x-stream-offset";

/// The properties a publication is sent with. `message_id` must be unique to this message.
pub fn properties(publication: &Publication, message_id: &str, now_millis: u64) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(CHANNEL_HEADER.into(), AMQPValue::LongString(publication.channel.as_str().into()));
    if !publication.also.is_empty() {
        headers.insert(CHANNELS_HEADER.into(), AMQPValue::LongString(Channel::join(publication.channels()).into()));
    }
    headers.insert(TIME_HEADER.into(), AMQPValue::LongLongInt(now_millis.min(i64::MAX as u64) as i64));
    if let Some(event) = &publication.event {
        headers.insert(EVENT_HEADER.into(), AMQPValue::LongString(event.as_str().into()));
    }
    BasicProperties::default()
        .with_content_type(ShortString::from(short(&publication.content_type)))
        .with_headers(headers)
        .with_message_id(message_id.into())
        .with_timestamp(now_millis / 1000)
        .with_delivery_mode(2)
}

/// `properties` naming the publish call that sends them ([`SENDER_HEADER`]), if any.
pub fn with_sender(properties: BasicProperties, sender: Option<&str>) -> BasicProperties {
    let Some(sender) = sender else { return properties };
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(SENDER_HEADER.into(), AMQPValue::LongString(sender.into()));
    properties.with_headers(headers)
}

/// Content types longer than a short string (255 bytes) are cut rather than refused.
fn short(s: &str) -> String {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// What a delivery from the stream is.
#[derive(Debug)]
pub struct Decoded {
    pub offset: u64,
    pub id: MessageId,
    /// The publisher's `message_id`, if it set one.
    pub message_id: Option<String>,
    /// The publish call that sent it ([`SENDER_HEADER`]), if named.
    pub sender: Option<String>,
    pub kind: DecodedKind,
}

#[derive(Debug)]
pub enum DecodedKind {
    Message(Message),
    /// A server node's start-up marker.
    Marker,
    /// Not a push message (no or an invalid `push-channel` header): skipped, with the reason.
    Foreign(String),
}

/// Reads a delivery. Fails only when it has no offset (it is not from a stream).
pub fn decode(properties: &BasicProperties, body: &[u8]) -> Result<Decoded> {
    let headers = properties.headers().as_ref();
    let header = |name: &str| headers.and_then(|h| h.inner().get(name));
    let offset = header(OFFSET_HEADER).and_then(as_u64).ok_or_else(|| {
        Error::new(ErrorKind::ServerError, format!("a delivery without an {OFFSET_HEADER} header: is the queue a stream?"))
    })?;
    let id = id_from_offset(offset);
    let message_id = properties.message_id().as_ref().map(|m| m.as_str().to_owned());
    let kind = if header(MARKER_HEADER).is_some() {
        DecodedKind::Marker
    } else {
        let channels = match header(CHANNELS_HEADER).and_then(as_text) {
            Some(list) => Some(Channel::parse_list(&list)),
            None => header(CHANNEL_HEADER).and_then(as_text).map(|c| Channel::parse(&c).map(|c| vec![c])),
        };
        match channels {
            None => DecodedKind::Foreign(format!("no {CHANNEL_HEADER} header")),
            Some(Err(e)) => DecodedKind::Foreign(e.to_string()),
            Some(Ok(channels)) => {
                let mut channels = channels.into_iter();
                let channel = channels.next().expect("split gives at least one");
                let also = channels.collect();
                let content_type = properties
                    .content_type()
                    .as_ref()
                    .map(|c| c.as_str().to_owned())
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| crate::producer::default_content_type(body).to_owned());
                let published_at = header(TIME_HEADER)
                    .and_then(as_u64)
                    .or_else(|| properties.timestamp().map(|s| s.saturating_mul(1000)))
                    .unwrap_or(0);
                let event = header(EVENT_HEADER).and_then(as_text).and_then(|e| crate::event_name::parse(Some(&e)).ok().flatten());
                DecodedKind::Message(Message { id, channel, also, payload: Bytes::copy_from_slice(body), content_type, event, published_at, encoded: Default::default() })
            }
        }
    };
    let sender = header(SENDER_HEADER).and_then(as_text);
    Ok(Decoded { offset, id, message_id, sender, kind })
}

fn as_u64(v: &AMQPValue) -> Option<u64> {
    match v {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.trim().parse().ok(),
        AMQPValue::ShortString(s) => s.as_str().trim().parse().ok(),
        _ => None,
    }
}

fn as_text(v: &AMQPValue) -> Option<String> {
    match v {
        AMQPValue::LongString(s) => String::from_utf8(s.as_bytes().to_vec()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::ByteArray(b) => String::from_utf8(b.as_slice().to_vec()).ok(),
        _ => None,
    }
}

/// A `LongString` header value, for callers building their own headers.
pub fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}
