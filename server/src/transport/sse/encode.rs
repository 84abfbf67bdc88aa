//! The bytes of each SSE event, as the `EventSource` format defines them: `field: value` lines
//! and a blank line; a value with line breaks becomes one `data:` line per line.

use std::sync::Arc;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use push_core::{Channel, ErrorKind, Gap, Message, MessageId};

use crate::error::{ApiError, ApiResult};
use crate::transport::frame::Frame;

/// Reconnect delay suggested to `EventSource`, in milliseconds.
const RETRY_MS: u64 = 2000;

/// A heartbeat: a comment, ignored by every client.
pub(super) const HEARTBEAT: &[u8] = b":\n\n";

/// The first event: the start cursor, and the reconnect delay.
pub(super) fn opening(start: MessageId) -> Bytes {
    Bytes::from(format!("id: {start}\nretry: {RETRY_MS}\n\n"))
}

/// A message for a reader of `subscribed`: on a channel path the payload itself (made once per
/// message and shared), on the multiplexing endpoint a JSON frame.
pub(super) fn message(m: &Arc<Message>, multiplexed: bool, subscribed: &[Channel]) -> Bytes {
    if multiplexed {
        let json = Frame::message_json_for(m, subscribed);
        return event(None, Some(m.id), &String::from_utf8_lossy(&json));
    }
    m.encoded.sse_or_init(|| match std::str::from_utf8(&m.payload) {
        Ok(text) => event(m.event.as_deref(), Some(m.id), &text.replace("\r\n", "\n").replace('\r', "\n")),
        Err(_) => event(Some("binary"), Some(m.id), &base64::engine::general_purpose::STANDARD.encode(&m.payload)),
    })
}

/// How a gap is announced (`?gap=`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GapAs {
    /// `event: gap` with a JSON frame (the default, `?gap=event`).
    Event,
    /// `<turbo-stream action="refresh">` as a `message` event (`?gap=turbo-refresh`).
    TurboRefresh,
}

impl GapAs {
    pub(super) fn parse(given: Option<&str>, multiplexed: bool) -> ApiResult<GapAs> {
        match given {
            None | Some("event") => Ok(GapAs::Event),
            Some("turbo-refresh") if !multiplexed => Ok(GapAs::TurboRefresh),
            Some("turbo-refresh") => Err(ApiError::new(ErrorKind::BadRequest, "gap=turbo-refresh is for a channel's own SSE stream (GET /<channel>), not /_push/subscribe")),
            Some(other) => {
                let shown: String = other.chars().take(20).collect();
                Err(ApiError::new(ErrorKind::BadRequest, format!("gap={shown:?} is not a way to announce a gap: use event (the default) or turbo-refresh")))
            }
        }
    }
}

/// A gap; its end is the id, so a reconnect resumes after it either way.
pub(super) fn gap(channel: &Channel, g: &Gap, gap_as: GapAs) -> Bytes {
    match gap_as {
        GapAs::Event => event(Some("gap"), Some(g.to), &Frame::gap(channel, g).to_json()),
        GapAs::TurboRefresh => event(None, Some(g.to), TURBO_REFRESH),
    }
}

/// Turbo's action for "reload this page" (Turbo 8; morphs when the page asks for morphing).
const TURBO_REFRESH: &str = r#"<turbo-stream action="refresh"></turbo-stream>"#;

/// An event without an id (notices that do not move the cursor).
pub(super) fn notice(name: &str, data: &str) -> Bytes {
    event(Some(name), None, data)
}

/// `id:` first, then `event:`, then the data lines; CR never reaches here.
fn event(name: Option<&str>, id: Option<MessageId>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 40);
    if let Some(id) = id {
        out.put_slice(b"id: ");
        out.put_slice(id.0.to_string().as_bytes());
        out.put_u8(b'\n');
    }
    if let Some(name) = name {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_u8(b'\n');
    }
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_field_lines_and_a_blank_line() {
        assert_eq!(&event(None, Some(MessageId(7)), "a\nb")[..], b"id: 7\ndata: a\ndata: b\n\n");
        assert_eq!(&event(Some("gap"), Some(MessageId(9)), "{}")[..], b"id: 9\nevent: gap\ndata: {}\n\n");
        assert_eq!(&notice("join", "")[..], b"event: join\ndata: \n\n");
        assert_eq!(&opening(MessageId(3))[..], b"id: 3\nretry: 2000\n\n");
        let (channel, g) = (Channel::parse("/a").unwrap(), Gap { from: MessageId(2), to: MessageId(5) });
        assert_eq!(&gap(&channel, &g, GapAs::TurboRefresh)[..], &b"id: 5\ndata: <turbo-stream action=\"refresh\"></turbo-stream>\n\n"[..]);
        assert!(gap(&channel, &g, GapAs::Event).starts_with(b"id: 5\nevent: gap\n"));
    }
}
