//! The RabbitMQ engine: every node reads one stream queue, so ids (offsets + 1) agree
//! cluster-wide and any node serves any cursor.
//!
//! - **One consumer per node** ([`feeder`]) reads the stream in order and feeds the [`Hub`],
//!   which does the per-channel history and the fan-out in memory.
//! - **Where the node starts** ([`start_up`]): it attaches at `next`, then publishes a small
//!   *marker* message (never shown to subscribers) so that at least one delivery arrives; the
//!   first delivery's id minus one is the hub's start. Older cursors get the hub's gap, which
//!   the catch-up read ([`read`]) fills from the stream.
//! - **A publish walks one way**: the route calls [`RabbitEngine::publish`], which registers a
//!   wait for the message's idempotency digest with the hub, then sends the message with
//!   confirms (`push_core::amqp::confirm`). The stream delivers it to this node's feeder, the
//!   feeder hands it to the hub, and the hub — deciding first copies in its idempotency window —
//!   wakes the waiting publish with the id. A publisher reads its own writes on this node:
//!   subscribers here have the message before the publish returns.
//! - **Broker loss**: health turns `ok: false` with the reason, subscribers stay connected, and the
//!   consumer reconnects with backoff and resumes at the offset after the last one it
//!   processed, so nothing is skipped or delivered twice.

mod feeder;
mod read;
mod start_up;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use push_core::amqp::confirm::{ConfirmSender, SenderOptions};
use push_core::amqp::lapin::Connection;
use push_core::amqp::{self, StartAt, StreamConfig, StreamReader};
use push_core::broker::{Health, Publication, Published};
use push_core::{idempotency, Broker, Error, ErrorKind, MessageId, Result};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::catch_up::{CatchUp, CatchUpOptions};
use super::logged::{LogEngine, Logged};
use crate::config::Config;
use crate::hub::{Hub, HubLimits};
use feeder::Feeder;
use read::StreamRead;
use start_up::{publish_marker, warm_window};

/// Unacknowledged deliveries the node's consumer may hold (stream credit).
const PREFETCH: u16 = 1000;
/// A catch-up read that receives nothing for this long takes the stream's end as reached.
const CATCH_UP_IDLE: Duration = Duration::from_secs(3);

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
            catch_up: CatchUpOptions::from_config(config),
            publish_timeout: config.publish_timeout,
            max_payload: config.max_payload_bytes,
            limits,
        })
    }
}

/// A node on RabbitMQ.
pub type RabbitBroker = Logged<RabbitEngine>;

/// The stream's part of the broker: sending publishes, and the consumer's shared state.
pub struct RabbitEngine {
    hub: Arc<Hub>,
    sender: Arc<ConfirmSender>,
    shared: Arc<Shared>,
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

impl Logged<RabbitEngine> {
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

        let sender = Arc::new(ConfirmSender::new(
            SenderOptions {
                url: options.url.clone(),
                stream: options.stream.clone(),
                timeout: options.publish_timeout,
                max_payload: options.max_payload,
                connection_name: format!("push-server publisher ({})", options.stream.name),
                ca: options.ca.clone(),
            },
            None,
        )?);
        let shared = Arc::new(Shared {
            options,
            connection: Mutex::new(Some(connection)),
            down: Mutex::new(None),
            next_offset: AtomicU64::new(decoded.offset),
            stop: CancellationToken::new(),
            stopped: tokio::sync::Notify::new(),
        });
        let feeder = Feeder { hub: hub.clone(), shared: shared.clone() };
        tokio::spawn(feeder.run(reader, first));
        let catch_up = CatchUp::new(shared.options.catch_up, Arc::new(StreamRead(shared.clone())));
        Ok(Logged::new(hub.clone(), catch_up, RabbitEngine { hub, sender, shared }))
    }

    /// Closes the AMQP connections and waits (up to `limit`) until they are closed.
    pub async fn shutdown(&self, limit: Duration) {
        self.close();
        let engine = self.engine();
        let _ = tokio::time::timeout(limit, async {
            engine.sender.close().await;
            if engine.shared.connection().is_some() {
                engine.shared.stopped.notified().await;
            }
        })
        .await;
    }
}

impl LogEngine for RabbitEngine {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>> {
        Box::pin(async move {
            let digest = self.sender.message_id(&publication)?;
            // A key this node has seen: its first copy's id, without storing another copy.
            if publication.idempotency_key.is_some() {
                if let Some(first) = self.hub.first_copy(&digest) {
                    return Ok(Published { id: first, replayed: true });
                }
            }
            let deadline = Instant::now() + self.sender.options().timeout;
            // Names this call in its copies: another node's copy of the same key, read here
            // first, makes this publish a replay.
            let sender = idempotency::new_key();
            let mut awaited = self.hub.await_id(&digest, Some(&sender));
            self.sender.publish(&publication, &digest, Some(&sender), deadline, awaited.id()).await
        })
    }

    fn health(&self, _: &Hub, catch_up: &CatchUp) -> Health {
        let down = self.shared.down.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let stream = &self.shared.options.stream.name;
        match down {
            None => Health {
                ok: true,
                engine: "rabbitmq",
                detail: format!(
                    "stream {stream:?}, read up to offset {}, {} catch-up reads",
                    self.shared.next_offset.load(Ordering::Acquire).saturating_sub(1),
                    catch_up.reads()
                ),
            },
            Some(why) => Health { ok: false, engine: "rabbitmq", detail: format!("stream {stream:?}: {why}") },
        }
    }

    fn close(&self) {
        self.shared.stop.cancel();
        let sender = self.sender.clone();
        tokio::spawn(async move { sender.close().await });
    }
}

/// The idempotency digest an AMQP `message_id` carries, if it is one.
fn digest_of(message_id: &Option<String>) -> Option<&str> {
    message_id.as_deref().filter(|m| m.starts_with(idempotency::DIGEST_PREFIX))
}

