//! The stream and how to reach it: its name and retention, the `amqp://` URL, connecting, and
//! declaring the stream (whoever comes first declares it; later declarations only check).

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::tcp::OwnedTLSConfig;
use lapin::{Connection, ConnectionProperties};

use super::{error, is_not_found, kind_of};
use crate::tls::CaFile;
use crate::{Error, ErrorKind, MessageId, Result};

/// The stream's name when none is configured.
pub const DEFAULT_STREAM: &str = "push.messages";
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

/// An `amqp://` or `amqps://` (TLS, port 5671 by default) URL and the stream named in its query (`?stream=`), default [`DEFAULT_STREAM`].
/// Other query parameters (`heartbeat`, `connection_timeout`, ...) are lapin's.
pub fn parse_url(url: &str) -> Result<(String, String)> {
    let parsed = url::Url::parse(url).map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid URL {url:?}: {e}")))?;
    match parsed.scheme() {
        "amqp" | "amqps" => {}
        other => return Err(Error::new(ErrorKind::InvalidConfig, format!("{other}:// is not an AMQP URL; expected amqp(s)://user:pass@host:5672/%2f"))),
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

/// Connects with a name RabbitMQ shows in `rabbitmqctl list_connections`. `amqps://` trusts the
/// system's roots plus `ca`'s certificates (see [`crate::tls`]); a certificate problem is an
/// [`ErrorKind::Tls`] error.
pub async fn connect(url: &str, name: &str, ca: Option<&CaFile>) -> Result<Connection> {
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    let tls = OwnedTLSConfig { identity: None, cert_chain: ca.map(|ca| ca.pem.clone()) };
    let runtime = lapin::runtime::default_runtime().map_err(|e| error("could not connect to RabbitMQ at", &redact(url), e))?;
    Connection::connect_with_config(url, properties, tls, runtime).await.map_err(|e| error("could not connect to RabbitMQ at", &redact(url), e))
}

/// Makes sure the stream exists: a declare with `config`'s arguments (it creates the stream, or
/// finds it as configured), and only if RabbitMQ refuses that because the stream exists with
/// other arguments (another node's retention), a passive declare, which accepts it as it is.
/// The usual starts (the first one, and every later one with the same flags) make no failed
/// declare, so RabbitMQ's channel-close errors appear in the log only for a real mismatch.
pub async fn declare_stream(connection: &Connection, config: &StreamConfig) -> Result<()> {
    config.check()?;
    let channel = connection.create_channel().await.map_err(|e| error("could not open a channel to", &config.name, e))?;
    let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
    let declared = channel.queue_declare(config.name.as_str().into(), durable, config.declare_arguments()).await;
    let _ = channel.close(200, "OK".into()).await;
    let e = match declared {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    if kind_of(&e) == ErrorKind::InvalidConfig {
        // PRECONDITION_FAILED closed that channel: the stream exists with other arguments.
        tracing::warn!(stream = %config.name, "the stream exists with other arguments than this node's flags; using it as it is ({e})");
        let channel = connection.create_channel().await.map_err(|e| error("could not open a channel to", &config.name, e))?;
        let passive = QueueDeclareOptions { passive: true, durable: true, ..QueueDeclareOptions::default() };
        let found = channel.queue_declare(config.name.as_str().into(), passive, FieldTable::default()).await;
        let _ = channel.close(200, "OK".into()).await;
        return found.map(|_| ()).map_err(|e| Error::new(kind_of(&e), format!("could not declare stream {:?}: {e}", config.name)).with_source(e));
    }
    // A declare creates what is missing, so NOT_FOUND means the queue's home node is down or
    // still recovering after a broker restart: transient.
    let kind = if is_not_found(&e) { ErrorKind::ConnectionFailed } else { kind_of(&e) };
    Err(Error::new(kind, format!("could not declare stream {:?}: {e}", config.name)).with_source(e))
}
