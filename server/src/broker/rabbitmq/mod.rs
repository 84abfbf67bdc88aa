//! The RabbitMQ engine: every node reads one stream queue, so ids (offsets + 1) agree
//! cluster-wide and any node serves any cursor.
//!
//! - **One consumer per node** ([`StreamReader`]) reads the stream in order and
//!   feeds the [`Hub`], which does the per-channel history and the fan-out in memory.
//! - **Where the node starts**: it attaches at `next`, then publishes a small *marker* message
//!   (never shown to subscribers) so that at least one delivery arrives; the first delivery's id
//!   minus one is the hub's start. Older cursors get the hub's gap, which the catch-up read
//!   below fills.
//! - **Catch-up**: a subscription whose cursor is older than the hub's history (the hub answers
//!   with gaps first) is served by a bounded read of the stream from the cursor
//!   (`--catch-up-limit` messages); only what the stream no longer retains, or what the limit
//!   cut, stays a gap. The hub's events follow, de-duplicated by id.
//! - **Publishing** goes to the stream with confirms (see `push_core::amqp::publisher`); the id
//!   comes back through this node's own consumer, which has ingested the message before the
//!   publish returns (a publisher reads its own writes on this node).
//! - **Broker loss**: health turns `ok: false` with the reason, subscribers stay connected, and the
//!   consumer reconnects with backoff and resumes at the offset after the last one it
//!   processed, so nothing is skipped or delivered twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use push_core::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use push_core::amqp::lapin::types::{AMQPValue, FieldTable};
use push_core::amqp::lapin::{self, BasicProperties, Connection};
use push_core::amqp::{self, DecodedKind, StartAt, StreamConfig, StreamReader};
use push_core::broker::{Health, MemoryStats, Position, Publication, Published, Subscription};
use push_core::amqp::publisher::{AmqpPublisher, Echo, PublisherOptions};
use push_core::{idempotency, Broker, Channel, Error, ErrorKind, MessageId, Result};
use tokio_util::sync::CancellationToken;

use super::catch_up::{CatchUp, CatchUpOptions, LogRead, Read};
use crate::config::Config;
use crate::hub::{Hub, HubLimits};

/// Unacknowledged deliveries the node's consumer may hold (stream credit).
const PREFETCH: u16 = 1000;
/// A catch-up read that receives nothing for this long takes the stream's end as reached.
const CATCH_UP_IDLE: Duration = Duration::from_secs(3);
/// Backoff between reconnection attempts: from the first to the last value, doubling.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// Settings of the engine, from the server's flags.
#[derive(Debug, Clone)]
pub struct RabbitOptions {
    pub url: String,
    /// CA certificates trusted for `amqps://` besides the system's roots (`--broker-ca-file`).
    pub ca: Option<push_core::tls::CaFile>,
    pub stream: StreamConfig,
    pub catch_up: CatchUpOptions,
    pub publish_timeout: Duration,
    pub max_payload: usize,
    pub limits: HubLimits,
}

impl RabbitOptions {
    pub fn from_config(config: &Config, limits: HubLimits) -> Result<RabbitOptions> {
        let (url, _) = amqp::parse_url(&config.broker)?;
        // Read at start-up, so a missing or broken file stops the node with a clear error.
        let ca = config.broker_ca_file.as_deref().filter(|p| !p.as_os_str().is_empty()).map(push_core::tls::CaFile::load).transpose()?;
        Ok(RabbitOptions {
            url,
            ca,
            stream: StreamConfig {
                name: config.stream_name.clone(),
                max_age: Some(config.stream_max_age).filter(|d| !d.is_zero()),
                max_bytes: Some(config.stream_max_bytes).filter(|b| *b > 0),
            },
            catch_up: config.catch_up(),
            publish_timeout: config.publish_timeout,
            max_payload: config.max_payload_bytes,
            limits,
        })
    }
}

pub struct RabbitBroker {
    hub: Arc<Hub>,
    publisher: Arc<AmqpPublisher>,
    shared: Arc<Shared>,
    catch_up: Arc<CatchUp>,
}

/// What the consumer task, catch-up reads and the broker handle share.
struct Shared {
    options: RabbitOptions,
    /// The consumer's connection, also used for catch-up reads; `None` while reconnecting.
    connection: Mutex<Option<Arc<Connection>>>,
    /// Why the consumer is not reading now, or `None` while it is.
    down: Mutex<Option<String>>,
    /// The offset after the last delivery processed: where a reconnected consumer resumes.
    next_offset: AtomicU64,
    stop: CancellationToken,
    /// Ends when the consumer task has closed its connection.
    stopped: tokio::sync::Notify,
}

impl Shared {
    fn connection(&self) -> Option<Arc<Connection>> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    fn set_connection(&self, c: Option<Arc<Connection>>) {
        *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }
    fn take_connection(&self) -> Option<Arc<Connection>> {
        self.connection.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
    fn set_down(&self, why: Option<String>) {
        *self.down.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }
}

impl RabbitBroker {
    /// Connects, makes sure the stream exists, attaches the node's consumer at the stream's end
    /// and starts feeding the hub. Fails if RabbitMQ cannot be reached now.
    pub async fn start(options: RabbitOptions) -> Result<RabbitBroker> {
        let redacted = amqp::redact(&options.url);
        let connection = Arc::new(amqp::connect(&options.url, &format!("push-server consumer ({})", options.stream.name), options.ca.as_ref()).await?);
        amqp::declare_stream(&connection, &options.stream).await?;
        let stream = options.stream.name.clone();
        let mut reader = StreamReader::open(&connection, &stream, StartAt::Next, PREFETCH).await?;
        publish_marker(&connection, &stream).await?;
        // The consumer was attached before the marker was confirmed, so the marker (or something
        // before it) arrives: the first delivery is where this node's knowledge starts.
        let first = reader
            .next_within(options.publish_timeout)
            .await
            .ok_or_else(|| Error::new(ErrorKind::Timeout, format!("stream {stream:?} delivered nothing within {:?} after start-up", options.publish_timeout)))?
            .map_err(|e| amqp::error("could not read stream", &stream, e))?;
        let decoded = amqp::decode(&first.properties, &first.data)?;
        let start = MessageId(decoded.id.0 - 1);
        let hub = Hub::new(start, options.limits.clone(), false);
        warm_window(&connection, &stream, &hub, options.limits.idempotency.ttl, start).await;
        hub.spawn_sweeper();
        tracing::info!(stream = %stream, broker = %redacted, "RabbitMQ engine starts at id {start}");

        let publisher = Arc::new(AmqpPublisher::new(PublisherOptions {
            url: options.url.clone(),
            stream: options.stream.clone(),
            timeout: options.publish_timeout,
            max_payload: options.max_payload,
            echo: Echo::External,
            connection_name: format!("push-server publisher ({})", options.stream.name),
            ca: options.ca.clone(),
        })?);
        let shared = Arc::new(Shared {
            options,
            connection: Mutex::new(Some(connection)),
            down: Mutex::new(None),
            next_offset: AtomicU64::new(decoded.offset),
            stop: CancellationToken::new(),
            stopped: tokio::sync::Notify::new(),
        });
        let feeder = Feeder { hub: hub.clone(), publisher: publisher.clone(), shared: shared.clone() };
        tokio::spawn(feeder.run(reader, first));
        let catch_up = CatchUp::new(shared.options.catch_up, Arc::new(StreamRead(shared.clone())));
        Ok(RabbitBroker { hub, publisher, shared, catch_up })
    }

    /// Closes the AMQP connections and waits (up to `limit`) until they are closed.
    pub async fn shutdown(&self, limit: Duration) {
        self.close();
        let _ = tokio::time::timeout(limit, async {
            self.publisher.close().await;
            if self.shared.connection().is_some() {
                self.shared.stopped.notified().await;
            }
        })
        .await;
    }
}

/// Publishes the start-up marker on its own confirm channel and waits for the confirm.
/// Refuses to resume on a stream whose newest offset is below the ones this node processed:
/// it was deleted and recreated, its ids start again, and resuming would skip or repeat them.
/// The node stays unhealthy (503, with this reason) until an operator restarts it.
async fn check_not_behind(connection: &Connection, stream: &str, resume: u64) -> Result<()> {
    if resume == 0 {
        return Ok(());
    }
    let mut reader = StreamReader::open(connection, stream, StartAt::Last, 100).await?;
    let mut newest = None;
    // `last` delivers the stream's last chunk at once; an empty stream delivers nothing.
    while let Some(Ok(delivery)) = reader.next_within(Duration::from_millis(500)).await {
        let decoded = amqp::decode(&delivery.properties, &[])?;
        newest = Some(newest.map_or(decoded.offset, |n: u64| n.max(decoded.offset)));
        if decoded.offset + 1 >= resume {
            break;
        }
    }
    reader.close().await;
    match newest {
        Some(n) if n + 1 >= resume => Ok(()),
        newest => Err(Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "stream {stream:?} went backwards: its newest offset is {} but this node already read up to {}; \
                 it was deleted and recreated. Restart every node (see docs/RABBITMQ.md)",
                newest.map_or("none (empty)".to_owned(), |n| n.to_string()),
                resume - 1
            ),
        )),
    }
}

/// Reads the last `window` of the stream up to `start` and remembers its idempotency digests,
/// so that this node skips a retry's copy whose first copy came before the node started, as the
/// nodes that were running do. Best effort: a failure leaves the window as it is (logged).
async fn warm_window(connection: &Connection, stream: &str, hub: &Hub, window: Duration, start: MessageId) {
    if window.is_zero() {
        return;
    }
    let since = (push_core::message::now_millis() / 1000).saturating_sub(window.as_secs() + 1);
    let read = async {
        let mut reader = StreamReader::open(connection, stream, StartAt::Timestamp(since), PREFETCH).await?;
        let mut count = 0u64;
        while let Some(Ok(delivery)) = reader.next_within(CATCH_UP_IDLE).await {
            let decoded = amqp::decode(&delivery.properties, &[])?;
            if decoded.id > start {
                break;
            }
            if let Some(digest) = digest_of(&decoded.message_id) {
                hub.remember(digest, decoded.id);
                count += 1;
            }
        }
        reader.close().await;
        Ok::<_, Error>(count)
    };
    match read.await {
        Ok(count) => tracing::info!(stream, "idempotency window warmed with {count} keys from the last {window:?}"),
        Err(e) => tracing::warn!(stream, "could not read the last {window:?} of the stream for idempotency keys: {e}"),
    }
}

async fn publish_marker(connection: &Connection, stream: &str) -> Result<()> {
    let channel = connection.create_channel().await.map_err(|e| amqp::error("could not open a channel to", stream, e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| amqp::error("could not enable confirms on", stream, e))?;
    let mut headers = FieldTable::default();
    headers.insert(amqp::MARKER_HEADER.into(), AMQPValue::LongString("push-server start".into()));
    let confirm = channel
        .basic_publish("".into(), stream.into(), BasicPublishOptions::default(), b"", BasicProperties::default().with_headers(headers))
        .await
        .map_err(|e| amqp::error("could not publish to", stream, e))?;
    confirm.await.map_err(|e| amqp::error("no confirm from", stream, e))?;
    let _ = channel.close(200, "OK".into()).await;
    Ok(())
}

/// The node's consumer: reads the stream into the hub, reconnecting until the broker closes.
struct Feeder {
    hub: Arc<Hub>,
    publisher: Arc<AmqpPublisher>,
    shared: Arc<Shared>,
}

impl Feeder {
    async fn run(self, reader: StreamReader, first: lapin::message::Delivery) {
        let stream = self.shared.options.stream.name.clone();
        self.take(&first);
        let mut current = Some(reader);
        let mut backoff = BACKOFF.0;
        while let Some(mut reader) = current.take() {
            let why = loop {
                let next = tokio::select! {
                    _ = self.shared.stop.cancelled() => break None,
                    next = reader.next() => next,
                };
                match next {
                    Some(Ok(delivery)) => {
                        backoff = BACKOFF.0;
                        self.take(&delivery)
                    }
                    Some(Err(e)) => break Some(format!("lost the stream consumer: {e}")),
                    None => break Some("RabbitMQ cancelled the stream consumer".to_owned()),
                }
            };
            let Some(why) = why else {
                reader.close().await;
                break;
            };
            tracing::warn!(stream = %stream, "{why}; reconnecting");
            self.shared.set_down(Some(format!("{why}; reconnecting")));
            if let Some(old) = self.shared.take_connection() {
                tokio::spawn(async move {
                    let _ = old.close(200, "reconnecting".into()).await;
                });
            }
            current = self.reconnect(&mut backoff).await;
        }
        if let Some(connection) = self.shared.take_connection() {
            if connection.status().connected() {
                let _ = connection.close(200, "OK".into()).await;
            }
        }
        self.shared.stopped.notify_waiters();
        self.shared.stopped.notify_one();
    }

    /// Connects again and resumes after the last processed offset; `None` once stopped.
    async fn reconnect(&self, backoff: &mut Duration) -> Option<StreamReader> {
        let options = &self.shared.options;
        loop {
            tokio::select! {
                _ = self.shared.stop.cancelled() => return None,
                _ = tokio::time::sleep(*backoff) => {}
            }
            *backoff = (*backoff * 2).min(BACKOFF.1);
            let attempt = async {
                let connection = Arc::new(amqp::connect(&options.url, &format!("push-server consumer ({})", options.stream.name), options.ca.as_ref()).await?);
                let resume = self.shared.next_offset.load(Ordering::Acquire);
                let set_up = async {
                    amqp::declare_stream(&connection, &options.stream).await?;
                    check_not_behind(&connection, &options.stream.name, resume).await?;
                    StreamReader::open(&connection, &options.stream.name, StartAt::Offset(resume), PREFETCH).await
                };
                match set_up.await {
                    Ok(reader) => Ok::<_, Error>((connection, reader, resume)),
                    Err(e) => {
                        // Close it now: a half set-up connection must not linger on the broker.
                        let _ = connection.close(200, "set-up failed".into()).await;
                        Err(e)
                    }
                }
            };
            let attempt = tokio::select! {
                _ = self.shared.stop.cancelled() => return None,
                attempt = attempt => attempt,
            };
            match attempt {
                Ok((connection, reader, resume)) => {
                    tracing::info!(stream = %options.stream.name, "RabbitMQ consumer resumed at offset {resume}");
                    self.shared.set_connection(Some(connection));
                    self.shared.set_down(None);
                    return Some(reader);
                }
                Err(e) if e.kind() == ErrorKind::InvalidConfig => {
                    // Not a passing fault: stay down, saying why, until an operator acts.
                    tracing::error!(stream = %options.stream.name, "{e}");
                    self.shared.set_down(Some(e.message().to_owned()));
                    return None;
                }
                Err(e) => {
                    tracing::warn!(stream = %options.stream.name, "reconnecting to RabbitMQ failed, next try in {backoff:?}: {e}");
                    self.shared.set_down(Some(format!("RabbitMQ unreachable, reconnecting: {e}")));
                }
            }
        }
    }

    /// Ingests one delivery (in stream order) and hands its id to a waiting publish.
    fn take(&self, delivery: &lapin::message::Delivery) {
        match amqp::decode(&delivery.properties, &delivery.data) {
            Ok(decoded) => {
                let expected = self.shared.next_offset.load(Ordering::Acquire);
                if decoded.offset < expected {
                    // Re-read after a resume that started at the head of a chunk: seen already.
                } else {
                    if decoded.offset > expected {
                        // Removed by retention while this node was away: subscribers get a gap.
                        tracing::warn!(
                            "stream offsets {expected}..{} were removed before this node read them; subscribers get a gap",
                            decoded.offset - 1
                        );
                        self.hub.lost(MessageId(decoded.id.0 - 1));
                    }
                    let published = match decoded.kind {
                        DecodedKind::Message(message) => self.hub.ingest_keyed(message, digest_of(&decoded.message_id)),
                        DecodedKind::Marker => {
                            self.hub.advance(decoded.id);
                            Published { id: decoded.id, replayed: false }
                        }
                        DecodedKind::Foreign(why) => {
                            tracing::warn!("stream message {} is not a push message ({why}); skipped", decoded.id);
                            self.hub.advance(decoded.id);
                            Published { id: decoded.id, replayed: false }
                        }
                    };
                    self.shared.next_offset.store(decoded.offset + 1, Ordering::Release);
                    if let Some(mid) = &decoded.message_id {
                        self.publisher.echo(mid, published);
                    }
                }
            }
            Err(e) => tracing::warn!("skipped a delivery: {e}"),
        }
    }
}

impl Broker for RabbitBroker {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>> {
        Box::pin(self.publisher.publish(publication))
    }

    fn subscribe(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.catch_up.subscribe(&self.hub, channels, from)
    }

    fn poll(&self, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.catch_up.poll(&self.hub, channels, from)
    }

    fn last_id(&self) -> MessageId {
        self.hub.last_id()
    }

    fn memory(&self) -> MemoryStats {
        self.hub.stats()
    }

    fn health(&self) -> Health {
        let down = self.shared.down.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let stream = &self.shared.options.stream.name;
        match down {
            None => Health {
                ok: true,
                engine: "rabbitmq",
                detail: format!(
                    "stream {stream:?}, read up to offset {}, {} catch-up reads",
                    self.shared.next_offset.load(Ordering::Acquire).saturating_sub(1),
                    self.catch_up.reads()
                ),
            },
            Some(why) => Health { ok: false, engine: "rabbitmq", detail: format!("stream {stream:?}: {why}") },
        }
    }

    fn close(&self) {
        self.hub.close();
        self.shared.stop.cancel();
        self.catch_up.close();
        let publisher = self.publisher.clone();
        tokio::spawn(async move { publisher.close().await });
    }
}

/// The idempotency digest an AMQP `message_id` carries, if it is one.
fn digest_of(message_id: &Option<String>) -> Option<&str> {
    message_id.as_deref().filter(|m| m.starts_with(idempotency::DIGEST_PREFIX))
}

/// Catch-up reads from the stream, on the consumer's connection.
struct StreamRead(Arc<Shared>);

impl LogRead for StreamRead {
    fn read(&self, hub: Arc<Hub>, after: MessageId, until: MessageId, limit: usize) -> BoxFuture<'_, Result<Read>> {
        Box::pin(async move {
            let shared = &self.0;
            let connection = shared.connection().ok_or_else(|| Error::new(ErrorKind::ConnectionFailed, "not connected to RabbitMQ"))?;
            let stream = &shared.options.stream.name;
            let prefetch = limit.clamp(1, PREFETCH as usize) as u16;
            let mut reader = StreamReader::open(&connection, stream, StartAt::Offset(amqp::offset_after(after)), prefetch).await?;
            let mut read = Read { after, messages: Vec::new(), first: None, last: None, lost: Vec::new(), cut: false };
            let mut read_digests = HashSet::new();
            let mut count = 0usize;
            loop {
                let next = tokio::select! {
                    _ = shared.stop.cancelled() => break,
                    next = reader.next_within(CATCH_UP_IDLE) => next,
                };
                let delivery = match next {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => {
                        reader.close().await;
                        return Err(amqp::error("catch-up read of", stream, e));
                    }
                    None => break,
                };
                let decoded = amqp::decode(&delivery.properties, &delivery.data)?;
                if decoded.id <= after {
                    continue; // the head of the chunk holding the start offset
                }
                if decoded.id > until {
                    break;
                }
                read.first.get_or_insert(decoded.id);
                read.last = Some(decoded.id);
                if let DecodedKind::Message(m) = decoded.kind {
                    // A later copy of an idempotency key is skipped here as the feeder skipped it live:
                    // its first copy came earlier in this read, or before it (still in the window).
                    let digest = digest_of(&decoded.message_id);
                    let repeat = digest.is_some_and(|d| !read_digests.insert(d.to_owned()) || hub.first_copy(d).is_some_and(|first| first < m.id));
                    if !repeat {
                        read.messages.push(Arc::new(m));
                    }
                }
                count += 1;
                if decoded.id >= until {
                    break;
                }
                if count >= limit {
                    read.cut = true;
                    break;
                }
            }
            reader.close().await;
            Ok(read)
        })
    }
}
