//! RabbitMQ, shared by producers and server nodes: the one place its names and formats live.
//! Built with the `amqp` feature (on by default).
//!
//! - [`topology`]: one **stream queue** (default [`DEFAULT_STREAM`]) holds every message of every
//!   channel, in order, declared durable with `x-queue-type: stream` and retention by age
//!   (`x-max-age`) and size (`x-max-length-bytes`).
//! - [`format`]: a message goes to the default exchange with the stream's name as routing key;
//!   the body is the payload, the channel the `push-channel` header, the content type the
//!   `content_type` property, the publish time the `push-time` header and the `timestamp`
//!   property; `message_id` is the idempotency digest (see [`crate::idempotency`]).
//! - [`reader`]: every read of the stream goes through one [`StreamReader`].
//! - [`confirm`]: sending with publisher confirms, for producers and server nodes alike.
//! - [`publisher`]: a producer's publish: confirms, and its own reader learning each id.
//! - A message id is the stream offset **plus one** ([`id_from_offset`]): offsets start at 0 but
//!   id 0 is the cursor "before everything", so the first message of a stream has id 1.
//!
//! docs/RABBITMQ.md describes the same format for clients in other languages.

pub mod confirm;
pub mod format;
pub mod publisher;
pub mod reader;
pub mod topology;

pub use format::*;
pub use lapin;
pub use reader::*;
pub use topology::*;

use crate::{Error, ErrorKind};

/// The error kind of a lapin failure: broken connections and closed channels are
/// `ConnectionFailed` (retrying later may work), anything else the broker refused is a
/// `ServerError`.
pub fn kind_of(e: &lapin::Error) -> ErrorKind {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    use lapin::ErrorKind as K;
    match e.kind() {
        K::IOError(_) | K::RuntimeShutdownError(_) | K::MissingHeartbeatError | K::InvalidConnectionState(_) | K::InvalidChannelState(..) => {
            ErrorKind::ConnectionFailed
        }
        // By reply code, never by message text.
        K::ProtocolError(reply) => match reply.kind() {
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => ErrorKind::Unauthorized,
            AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) => ErrorKind::InvalidConfig,
            // A queue being recovered (e.g. after a broker restart) is locked for a moment.
            AMQPErrorKind::Soft(AMQPSoftError::RESOURCELOCKED) => ErrorKind::ConnectionFailed,
            AMQPErrorKind::Soft(_) => ErrorKind::ServerError,
            // The broker closed the connection (shutting down, forced): try again later.
            AMQPErrorKind::Hard(_) => ErrorKind::ConnectionFailed,
        },
        K::AuthProviderError(_) => ErrorKind::Unauthorized,
        _ => ErrorKind::ServerError,
    }
}

/// Whether RabbitMQ answered NOT_FOUND (404).
fn is_not_found(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
    matches!(e.kind(), lapin::ErrorKind::ProtocolError(reply) if matches!(reply.kind(), AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)))
}

/// A push error for a lapin failure while doing `what` with `target`; a TLS failure (found in
/// the error's source chain) is [`ErrorKind::Tls`].
pub fn error(what: &str, target: &str, e: lapin::Error) -> Error {
    if let Some(tls) = crate::tls::rustls_error(&e) {
        return Error::new(ErrorKind::Tls, format!("{what} {target}: {}", crate::tls::describe(tls))).with_source(e);
    }
    Error::new(kind_of(&e), format!("{what} {target}: {e}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::Publication;
    use crate::{Channel, MessageId};
    use bytes::Bytes;
    use std::time::Duration;
    use lapin::types::{AMQPValue, FieldTable};
    use lapin::BasicProperties;

    fn publication() -> Publication {
        Publication { channel: Channel::parse("/a/b").unwrap(), also: Vec::new(), payload: Bytes::from_static(b"hi"), content_type: "text/plain".into(), event: None, idempotency_key: None }
    }

    fn with_offset(mut props: BasicProperties, offset: i64) -> BasicProperties {
        let mut headers = props.headers().clone().unwrap_or_default();
        headers.insert(OFFSET_HEADER.into(), AMQPValue::LongLongInt(offset));
        props = props.with_headers(headers);
        props
    }

    #[test]
    fn a_publication_round_trips() {
        let props = with_offset(properties(&publication(), "m-1", 1_700_000_000_123), 41);
        let d = decode(&props, b"hi").unwrap();
        assert_eq!(d.offset, 41);
        assert_eq!(d.id, MessageId(42));
        assert_eq!(d.message_id.as_deref(), Some("m-1"));
        let DecodedKind::Message(m) = d.kind else { panic!("{:?}", d.kind) };
        assert_eq!(m.channel.as_str(), "/a/b");
        assert_eq!(m.content_type, "text/plain");
        assert_eq!(m.published_at, 1_700_000_000_123);
        assert_eq!(&m.payload[..], b"hi");
    }

    #[test]
    fn a_publication_to_several_channels_round_trips() {
        let mut p = publication();
        p.also = vec![Channel::parse("/c").unwrap()];
        let d = decode(&with_offset(properties(&p, "m-2", 1), 0), b"hi").unwrap();
        let DecodedKind::Message(m) = d.kind else { panic!("{:?}", d.kind) };
        assert_eq!(m.channels().map(Channel::as_str).collect::<Vec<_>>(), ["/a/b", "/c"]);
    }

    #[test]
    fn an_event_name_round_trips_and_a_bad_one_is_dropped() {
        let mut p = publication();
        p.event = Some("chat".into());
        let d = decode(&with_offset(properties(&p, "m-3", 1), 0), b"hi").unwrap();
        let DecodedKind::Message(m) = d.kind else { panic!("{:?}", d.kind) };
        assert_eq!(m.event.as_deref(), Some("chat"));
        // Another client's header is checked like a publisher's: a line break never reaches SSE.
        let mut headers = FieldTable::default();
        headers.insert(CHANNEL_HEADER.into(), text("/x"));
        headers.insert(format::EVENT_HEADER.into(), text("a\ndata: forged"));
        let d = decode(&with_offset(BasicProperties::default().with_headers(headers), 0), b"x").unwrap();
        let DecodedKind::Message(m) = d.kind else { panic!() };
        assert_eq!(m.event, None);
    }

    #[test]
    fn plain_clients_need_only_the_channel_header() {
        let mut headers = FieldTable::default();
        headers.insert(CHANNEL_HEADER.into(), text("/x"));
        let props = with_offset(BasicProperties::default().with_headers(headers).with_timestamp(5), 0);
        let d = decode(&props, b"\xff").unwrap();
        assert_eq!(d.id, MessageId(1));
        let DecodedKind::Message(m) = d.kind else { panic!() };
        assert_eq!(m.content_type, "application/octet-stream");
        assert_eq!(m.published_at, 5000);
    }

    #[test]
    fn foreign_messages_are_named() {
        let d = decode(&with_offset(BasicProperties::default(), 3), b"x").unwrap();
        assert!(matches!(d.kind, DecodedKind::Foreign(_)));
        assert!(decode(&BasicProperties::default(), b"x").is_err());
    }

    #[test]
    fn urls_name_the_stream() {
        assert_eq!(parse_url("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap().1, DEFAULT_STREAM);
        assert_eq!(parse_url("amqp://127.0.0.1/%2f?stream=s1&heartbeat=10").unwrap().1, "s1");
        assert_eq!(parse_url("amqps://127.0.0.1/%2f").unwrap().1, DEFAULT_STREAM);
        assert!(!redact("amqps://u:secret@h/").contains("secret"));
    }

    #[test]
    fn retention_is_declared() {
        let args = StreamConfig { name: "s".into(), max_age: Some(Duration::from_secs(3600)), max_bytes: Some(10) }.declare_arguments();
        assert_eq!(args.inner().get("x-max-age"), Some(&AMQPValue::LongString("3600s".into())));
        assert_eq!(args.inner().get("x-max-length-bytes"), Some(&AMQPValue::LongLongInt(10)));
        assert_eq!(args.inner().get("x-queue-type"), Some(&AMQPValue::LongString("stream".into())));
    }
}
