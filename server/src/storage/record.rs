//! How one log entry is laid out on disk. The key is the message id; the value is a version byte,
//! a kind byte, then the kind's fields (little endian, lengths before strings). A message's
//! channel field holds several names separated by commas when it was published to several.
//! Decoding checks every length, so a foreign or damaged value is an error, never a panic or a
//! wrong message.

use bytes::Bytes;
use push_core::{Channel, Message, MessageId};

const VERSION: u8 = 1;
const VERSION_EVENT: u8 = 2;
const MESSAGE: u8 = 0;
const LOST: u8 = 1;

/// One entry of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A published message, with its idempotency digest if it had a key.
    Message { message: Message, digest: Option<String> },
    /// Ids `from ..= this entry's id` may have been given to publishes that a crash took before
    /// they were on disk (`--fsync interval|never`): every channel reads them as a gap.
    Lost { from: MessageId },
}

pub fn encode_message(message: &Message, digest: Option<&str>) -> Vec<u8> {
    // A message to several channels names them all, separated by commas.
    let channels = (!message.also.is_empty()).then(|| Channel::join(message.channels()));
    let channel = channels.as_deref().unwrap_or(message.channel.as_str()).as_bytes();
    let (content_type, digest) = (message.content_type.as_bytes(), digest.unwrap_or("").as_bytes());
    let event = message.event.as_deref().map(str::as_bytes);
    let mut out = Vec::with_capacity(20 + channel.len() + content_type.len() + digest.len() + event.map_or(0, <[u8]>::len) + message.payload.len());
    out.extend_from_slice(&[if event.is_some() { VERSION_EVENT } else { VERSION }, MESSAGE]);
    out.extend_from_slice(&message.published_at.to_le_bytes());
    for field in [channel, content_type, digest].into_iter().chain(event) {
        out.extend_from_slice(&(field.len() as u32).to_le_bytes());
        out.extend_from_slice(field);
    }
    out.extend_from_slice(&message.payload);
    out
}

pub fn encode_lost(from: MessageId) -> Vec<u8> {
    let mut out = vec![VERSION, LOST];
    out.extend_from_slice(&from.0.to_le_bytes());
    out
}

/// The publish time of an encoded message (for retention by age) without decoding the rest.
pub fn published_at(value: &[u8]) -> Option<u64> {
    match value {
        [VERSION | VERSION_EVENT, MESSAGE, rest @ ..] => rest.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))),
        _ => None,
    }
}

/// The idempotency digest of an encoded message, if it has one.
pub fn digest(value: &[u8]) -> Option<String> {
    match decode(MessageId(1), value) {
        Ok(Record::Message { digest, .. }) => digest,
        _ => None,
    }
}

pub fn decode(id: MessageId, value: &[u8]) -> Result<Record, String> {
    let mut r = Reader(value);
    match (r.take(1)?, r.take(1)?) {
        ([version @ (VERSION | VERSION_EVENT)], [MESSAGE]) => {
            let published_at = u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            let channel = std::str::from_utf8(r.field()?).map_err(|_| "channel is not UTF-8".to_owned())?;
            let mut channels = Channel::parse_list(channel).map_err(|e| format!("bad channel: {e}"))?.into_iter();
            let channel = channels.next().expect("split gives at least one");
            let also = channels.collect();
            let content_type = String::from_utf8(r.field()?.to_vec()).map_err(|_| "content type is not UTF-8".to_owned())?;
            let digest = std::str::from_utf8(r.field()?).map_err(|_| "digest is not UTF-8".to_owned())?;
            let digest = (!digest.is_empty()).then(|| digest.to_owned());
            let event = match *version {
                VERSION_EVENT => {
                    let name = std::str::from_utf8(r.field()?).map_err(|_| "event name is not UTF-8".to_owned())?;
                    Some(push_core::event_name::parse(Some(name)).ok().flatten().ok_or_else(|| format!("bad event name {name:?}"))?)
                }
                _ => None,
            };
            let message = Message { id, channel, also, payload: Bytes::copy_from_slice(r.0), content_type, event, published_at, encoded: Default::default() };
            Ok(Record::Message { message, digest })
        }
        ([VERSION], [LOST]) => Ok(Record::Lost { from: MessageId(u64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"))) }),
        (version, kind) => Err(format!("unknown entry (format {version:?}, kind {kind:?})")),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("entry is truncated".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")) as usize;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_lost_ranges_round_trip() {
        let message = Message { id: MessageId(7), channel: Channel::parse("/a/b").unwrap(), also: Default::default(), payload: Bytes::from_static(b"\x00hi"), content_type: "text/plain".into(), event: None, published_at: 123, encoded: Default::default() };
        let value = encode_message(&message, Some("dg"));
        assert_eq!(decode(MessageId(7), &value).unwrap(), Record::Message { message: message.clone(), digest: Some("dg".into()) });
        assert_eq!(published_at(&value), Some(123));
        assert_eq!(decode(MessageId(7), &encode_message(&message, None)).unwrap(), Record::Message { message: message.clone(), digest: None });
        assert_eq!(decode(MessageId(9), &encode_lost(MessageId(3))).unwrap(), Record::Lost { from: MessageId(3) });
        let many = Message { also: vec![Channel::parse("/c").unwrap(), Channel::parse("/d/e").unwrap()].into(), ..message.clone() };
        assert_eq!(decode(MessageId(7), &encode_message(&many, None)).unwrap(), Record::Message { message: many, digest: None });
        let named = Message { event: Some("chat".into()), ..message.clone() };
        let value = encode_message(&named, Some("dg"));
        assert_eq!(value[0], VERSION_EVENT);
        assert_eq!(published_at(&value), Some(123));
        assert_eq!(decode(MessageId(7), &value).unwrap(), Record::Message { message: named, digest: Some("dg".into()) });
    }

    #[test]
    fn damaged_entries_are_errors() {
        let message = Message { id: MessageId(1), channel: Channel::parse("/a").unwrap(), also: Default::default(), payload: Bytes::new(), content_type: "t".into(), event: Some("e".into()), published_at: 1, encoded: Default::default() };
        let value = encode_message(&message, None);
        // The payload is empty: every cut loses a field.
        for cut in 0..value.len() {
            assert!(decode(MessageId(1), &value[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(MessageId(1), b"\x09\x00").unwrap_err().contains("unknown entry"));
    }
}
