//! The RabbitMQ topology shared by producers and server nodes: the one place its names live.
//!
//! - One **stream queue** (default [`DEFAULT_STREAM`]) holds every message of every channel, in
//!   order. It is declared durable with `x-queue-type: stream` and retention by age
//!   (`x-max-age`) and size (`x-max-length-bytes`). Whoever comes first declares it; later
//!   declarations only check that it exists (see [`declare_stream`]), so nodes and producers with
//!   other retention settings do not collide.
//! - A message is published to the default exchange with the stream's name as routing key. The
//!   body is the payload, stored as is. The channel is the `push-channel` header; the content
//!   type is the `content_type` property; the publish time is the `push-time` header
//!   (milliseconds since the Unix epoch) and the `timestamp` property (seconds); `message_id` is
//!   a unique string that lets a publisher recognise its own message when it comes back.
//! - A message id is the stream offset **plus one** ([`id_from_offset`]): offsets start at 0 but
//!   id 0 is the cursor "before everything", so the first message of a stream has id 1.
//!
//! docs/RABBITMQ.md describes the same format for clients in other languages.

use std::time::Duration;

use bytes::Bytes;
pub use lapin;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};

use crate::broker::Publication;
use crate::{Channel, Error, ErrorKind, Message, MessageId, Result};

/// The stream's name when none is configured.
pub const DEFAULT_STREAM: &str = "push.messages";
/// Header naming the message's channel (a string, e.g. `/greetings`). Required.
pub const CHANNEL_HEADER: &str = "push-channel";
/// Header with the publish time in milliseconds since the Unix epoch (an integer). Optional.
pub const TIME_HEADER: &str = "push-time";
/// Header a server node sets on the marker it publishes at start-up (not a message: subscribers
/// never see it, it only tells the node where the stream's end was).
pub const MARKER_HEADER: &str = "push-marker";
/// Header in which RabbitMQ gives each delivery from a stream its offset.
pub const OFFSET_HEADER: &str = "x-stream-offset";
/// Consumer argument naming where a stream consumer starts.
pub const OFFSET_ARGUMENT: &str = "x-stream-offset";
/// Stream consumers acknowledge deliveries in batches of this many (`multiple`): on a stream an
/// ack removes nothing, it only gives the consumer credit for more deliveries.
pub const ACK_EVERY: u64 = 100;
/// URL query parameter that names the stream (`amqp://host/%2f?stream=push.messages`).
pub const STREAM_PARAM: &str = "stream";

/// The stream queue's name and retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub name: String,
    /// `x-max-age`: segments older than this are deleted. `None`: kept by size only.
    pub max_age: Option<Duration>,
    /// `x-max-length-bytes`: the stream's size limit. `None`: kept by age only.
    pub max_bytes: Option<u64>,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig { name: DEFAULT_STREAM.to_owned(), max_age: Some(Duration::from_secs(24 * 3600)), max_bytes: Some(1 << 30) }
    }
}

impl StreamConfig {
    pub fn named(name: impl Into<String>) -> StreamConfig {
        StreamConfig { name: name.into(), ..StreamConfig::default() }
    }

    /// The arguments the stream is declared with.
    pub fn declare_arguments(&self) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), AMQPValue::LongString("stream".into()));
        if let Some(age) = self.max_age {
            // RabbitMQ wants a number and a unit (Y M D h m s); seconds are exact.
            args.insert("x-max-age".into(), AMQPValue::LongString(format!("{}s", age.as_secs().max(1)).into()));
        }
        if let Some(bytes) = self.max_bytes {
            args.insert("x-max-length-bytes".into(), AMQPValue::LongLongInt(bytes.min(i64::MAX as u64) as i64));
        }
        args
    }

    fn check(&self) -> Result<()> {
        if self.name.is_empty() || self.name.len() > 255 {
            return Err(Error::new(ErrorKind::InvalidConfig, format!("stream name {:?} must be 1 to 255 bytes", self.name)));
        }
        Ok(())
    }
}

/// An `amqp://` URL and the stream named in its query (`?stream=`), default [`DEFAULT_STREAM`].
/// Other query parameters (`heartbeat`, `connection_timeout`, ...) are lapin's.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let parsed = url::Url::parse(url).map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "amqp" => {}
        "amqps" => {
            return Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("{}: amqps:// (TLS) is not supported by this build; use amqp:// on a trusted network or a TLS tunnel", redact(url)),
            ))
        }
        other => return Err(Error::new(ErrorKind::InvalidConfig, format!("{other}:// is not an AMQP URL; expected amqp://user:pass@host:5672/%2f"))),
    }
    if parsed.host_str().unwrap_or("").is_empty() {
        return Err(Error::new(ErrorKind::InvalidConfig, format!("{} has no host", redact(url))));
    }
    let stream = parsed
        .query_pairs()
        .find(|(k, _)| k == STREAM_PARAM)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| DEFAULT_STREAM.to_owned());
    StreamConfig::named(stream.clone()).check()?;
    // lapin's own parser is the judge of the rest; it ignores parameters it does not know.
    url.parse::<lapin::uri::AMQPUri>()
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid AMQP URL {}: {e}", redact(url))))?;
    Ok((url.to_owned(), stream))
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

/// The id of the message at `offset`.
pub fn id_from_offset(offset: u64) -> MessageId {
    MessageId(offset + 1)
}

/// The offset of the first message after cursor `id` (the offset to start reading at).
pub fn offset_after(id: MessageId) -> u64 {
    id.0
}

/// Connects with a name RabbitMQ shows in `rabbitmqctl list_connections`.
pub async fn connect(url: &str, name: &str) -> Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, properties).await.map_err(|e| error("could not connect to RabbitMQ at", &redact(url), e))
}

/// Makes sure the stream exists: a passive declare first (it accepts the stream whatever its
/// retention), and only if that fails a real one with `config`'s arguments.
pub async fn declare_stream(connection: &Connection, config: &StreamConfig) -> Result<()> {
    config.check()?;
    let channel = connection.create_channel().await.map_err(|e| error("could not open a channel to", &config.name, e))?;
    let passive = QueueDeclareOptions { passive: true, durable: true, ..QueueDeclareOptions::default() };
    if channel.queue_declare(config.name.as_str().into(), passive, FieldTable::default()).await.is_ok() {
        let _ = channel.close(200, "OK".into()).await;
        return Ok(());
    }
    // A failed passive declare closes its channel (404 NOT_FOUND): declare on a new one.
    let channel = connection.create_channel().await.map_err(|e| error("could not open a channel to", &config.name, e))?;
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    let declared = channel.queue_declare(config.name.as_str().into(), durable, config.declare_arguments()).await;
    let _ = channel.close(200, "OK".into()).await;
    declared.map(|_| ()).map_err(|e| {
        // A declare creates what is missing, so NOT_FOUND means the queue's home node is down
        // or still recovering after a broker restart: transient.
        let kind = if is_not_found(&e) { ErrorKind::ConnectionFailed } else { kind_of(&e) };
        Error::new(kind, format!("could not declare stream {:?}: {e}", config.name)).with_source(e)
    })
}

/// One stream consumer, the only way push-rs reads a stream (a server node's feed, its catch-up
/// and start-up reads, a producer's read-back): deliveries in offset order, credit granted back
/// in batches (on a stream an ack only grants credit, it removes nothing).
pub struct StreamReader {
    channel: lapin::Channel,
    consumer: lapin::Consumer,
    read: u64,
    ack_every: u64,
}

impl StreamReader {
    /// Starts reading `stream` at `start`, with credit for `prefetch` deliveries.
    pub async fn open(connection: &Connection, stream: &str, start: StartAt, prefetch: u16) -> Result<StreamReader> {
        let (channel, consumer) = consume(connection, stream, start, prefetch, "").await?;
        let ack_every = ACK_EVERY.min(u64::from(prefetch) / 2).max(1);
        Ok(StreamReader { channel, consumer, read: 0, ack_every })
    }

    /// The next delivery; `None` once the broker cancelled the consumer, `Some(Err)` when the
    /// connection or channel broke.
    pub async fn next(&mut self) -> Option<lapin::Result<lapin::message::Delivery>> {
        let delivery = self.consumer.next().await?;
        if let Ok(d) = &delivery {
            self.read += 1;
            if self.read % self.ack_every == 0 {
                // A failed ack shows up as a consumer error next.
                let _ = d.acker.ack(BasicAckOptions { multiple: true }).await;
            }
        }
        Some(delivery)
    }

    /// As [`next`](Self::next), but `None` also when nothing arrives for `idle` (the end of
    /// what the stream holds now, for reads that stop there).
    pub async fn next_within(&mut self, idle: Duration) -> Option<lapin::Result<lapin::message::Delivery>> {
        tokio::time::timeout(idle, self.next()).await.ok().flatten()
    }

    /// Ends the consumer and its channel (the connection stays).
    pub async fn close(self) {
        let _ = self.channel.close(200, "OK".into()).await;
    }
}

/// Opens a channel and starts a stream consumer at `offset` (`next`, `first`, or a number).
/// A stream consumer needs a prefetch and manual acks.
async fn consume(connection: &Connection, stream: &str, offset: StartAt, prefetch: u16, tag: &str) -> Result<(lapin::Channel, lapin::Consumer)> {
    let channel = connection.create_channel().await.map_err(|e| error("could not open a channel to", stream, e))?;
    channel
        .basic_qos(prefetch.max(1), BasicQosOptions::default())
        .await
        .map_err(|e| error("could not set the prefetch on", stream, e))?;
    let mut args = FieldTable::default();
    args.insert(
        OFFSET_ARGUMENT.into(),
        match offset {
            StartAt::Next => AMQPValue::LongString("next".into()),
            StartAt::Last => AMQPValue::LongString("last".into()),
            StartAt::Offset(n) => AMQPValue::LongLongInt(n.min(i64::MAX as u64) as i64),
            StartAt::Timestamp(seconds) => AMQPValue::Timestamp(seconds),
        },
    );
    let consumer = channel
        .basic_consume(stream.into(), tag.into(), lapin::options::BasicConsumeOptions::default(), args)
        .await
        .map_err(|e| error("could not consume stream", stream, e))?;
    Ok((channel, consumer))
}

/// Where a stream consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// After the last message in the stream now.
    Next,
    /// At the start of the stream's last chunk (so its newest message comes).
    Last,
    /// At this offset, or at the first one still retained if it is older.
    Offset(u64),
    /// At the first chunk published at or after this time (Unix seconds); chunks hold several
    /// messages, so a few earlier ones may come first.
    Timestamp(u64),
}

/// The properties a publication is sent with. `message_id` must be unique to this message.
pub fn properties(publication: &Publication, message_id: &str, now_millis: u64) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(CHANNEL_HEADER.into(), AMQPValue::LongString(publication.channel.as_str().into()));
    headers.insert(TIME_HEADER.into(), AMQPValue::LongLongInt(now_millis.min(i64::MAX as u64) as i64));
    BasicProperties::default()
        .with_content_type(ShortString::from(short(&publication.content_type)))
        .with_headers(headers)
        .with_message_id(message_id.into())
        .with_timestamp(now_millis / 1000)
        .with_delivery_mode(2)
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
        match header(CHANNEL_HEADER).and_then(as_text).map(|c| Channel::parse(&c)) {
            None => DecodedKind::Foreign(format!("no {CHANNEL_HEADER} header")),
            Some(Err(e)) => DecodedKind::Foreign(e.to_string()),
            Some(Ok(channel)) => {
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
                DecodedKind::Message(Message { id, channel, payload: Bytes::copy_from_slice(body), content_type, published_at })
            }
        }
    };
    Ok(Decoded { offset, id, message_id, kind })
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

/// A unique `message_id` prefix for one publisher: random bits from the std hasher's seed,
/// the process id and the time, so two processes (or a forked child) never share one.
pub fn unique_prefix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    format!("push-{:016x}-{}", h.finish(), std::process::id())
}

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

/// A push error for a lapin failure while doing `what` with `target`.
pub fn error(what: &str, target: &str, e: lapin::Error) -> Error {
    Error::new(kind_of(&e), format!("{what} {target}: {e}")).with_source(e)
}

/// A `LongString` header value, for callers building their own headers.
pub fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publication() -> Publication {
        Publication { channel: Channel::parse("/a/b").unwrap(), payload: Bytes::from_static(b"hi"), content_type: "text/plain".into(), idempotency_key: None }
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
        assert_eq!(parse_url("amqps://127.0.0.1/%2f").unwrap_err().kind(), ErrorKind::InvalidConfig);
        let e = parse_url("amqps://u:secret@h/").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn retention_is_declared() {
        let args = StreamConfig { name: "s".into(), max_age: Some(Duration::from_secs(3600)), max_bytes: Some(10) }.declare_arguments();
        assert_eq!(args.inner().get("x-max-age"), Some(&AMQPValue::LongString("3600s".into())));
        assert_eq!(args.inner().get("x-max-length-bytes"), Some(&AMQPValue::LongLongInt(10)));
        assert_eq!(args.inner().get("x-queue-type"), Some(&AMQPValue::LongString("stream".into())));
    }
}
