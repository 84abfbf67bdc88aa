//! Publishing straight to the RabbitMQ stream: `amqp://user:pass@host:5672/%2f?stream=push.messages`.
//!
//! A publish returns once RabbitMQ has **confirmed** the message (publisher confirms) **and** the
//! message's offset is known. Confirms do not carry the offset, so each message gets a unique
//! `message_id` and the publisher watches the stream for it to come back:
//!
//! - a producer ([`Echo::Own`]) opens its own stream consumer at `next` before its first publish
//!   (so everything it publishes is after the consumer's start) and reads the stream while
//!   connected;
//! - a server node ([`Echo::External`]) already reads the whole stream and hands each message
//!   back with [`AmqpPublisher::echo`], so its publishes cost no second consumer.
//!
//! Every message carries an idempotency key (the caller's or a fresh one) whose digest is its
//! `message_id`. A failure that leaves it unknown whether RabbitMQ stored the message (the
//! connection broke before the confirm, no confirm in time) is retried with the same key until
//! the timeout: whichever copy reaches the stream first gives the id, and readers skip the others
//! (see [`crate::idempotency`]). Failures are typed and never silent: a publish made while
//! RabbitMQ is unreachable reconnects (with backoff) until the timeout and then fails with
//! `ConnectionFailed`; no offset within the timeout is `Timeout`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Confirmation, Connection};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::amqp::{self, DecodedKind, StartAt, StreamConfig, StreamReader};
use crate::broker::{Publication, Published};
use crate::idempotency;
use crate::message::now_millis;
use crate::{Error, ErrorKind, Result};

/// Largest payload a producer sends unless told otherwise (the server's default limit too).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Who reports a published message's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The publisher's own stream consumer.
    Own,
    /// The caller, through [`AmqpPublisher::echo`] (a server node that consumes the stream).
    External,
}

/// Settings of an [`AmqpPublisher`].
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    pub url: String,
    pub stream: StreamConfig,
    /// Time limit for one publish, reconnection included.
    pub timeout: Duration,
    pub max_payload: usize,
    pub echo: Echo,
    /// Shown as the connection's name in RabbitMQ.
    pub connection_name: String,
    /// CA certificates trusted for `amqps://` besides the system's roots.
    pub ca: Option<crate::tls::CaFile>,
}

/// Waiters for the ids of messages in flight, by `message_id` (several publishes may share a
/// key, and so a `message_id`).
type Waiters = Arc<Mutex<HashMap<String, Vec<oneshot::Sender<Published>>>>>;

/// Publishes to the stream with confirms and learns each message's id. Cheap to share behind an
/// `Arc`; concurrent publishes share one connection and one confirm channel.
pub struct AmqpPublisher {
    options: PublisherOptions,
    waiters: Waiters,
    /// The offset after the last one the own echo consumer saw, to resume it after a reconnect.
    echo_next: Arc<AtomicU64>,
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
    closed: AtomicBool,
}

/// One connection: a confirm channel, and the echo consumer's task if the publisher owns one.
struct Link {
    connection: Connection,
    channel: lapin::Channel,
    /// Set when the echo consumer ended: the link must be replaced.
    broken: Arc<AtomicBool>,
}

impl Link {
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected() && !self.broken.load(Ordering::Acquire)
    }
}

impl AmqpPublisher {
    pub fn new(options: PublisherOptions) -> Result<AmqpPublisher> {
        if options.timeout.is_zero() {
            return Err(Error::new(ErrorKind::InvalidConfig, "timeout must be greater than zero"));
        }
        Ok(AmqpPublisher {
            options,
            waiters: Arc::default(),
            echo_next: Arc::new(AtomicU64::new(u64::MAX)),
            link: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    pub fn options(&self) -> &PublisherOptions {
        &self.options
    }

    /// Whether the connection is up now (without trying to connect).
    pub fn connected(&self) -> bool {
        self.link.try_lock().map(|l| l.as_ref().is_some_and(|l| l.usable())).unwrap_or(true)
    }

    /// Publishes and returns the message's id once RabbitMQ confirmed it and its offset is known.
    pub async fn publish(&self, publication: Publication) -> Result<Published> {
        let max = self.options.max_payload;
        if publication.payload.len() > max {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!("payload of {} bytes is larger than the limit of {max} bytes", publication.payload.len()),
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::ConnectionFailed, "the publisher is closed"));
        }
        let key = match &publication.idempotency_key {
            Some(key) => {
                idempotency::validate(key)?;
                key.clone()
            }
            None => idempotency::new_key(),
        };
        let message_id = idempotency::digest(&publication.channel, &key);
        let timeout = self.options.timeout;
        let deadline = Instant::now() + timeout;
        let (tx, mut rx) = oneshot::channel();
        self.waiters.lock().unwrap_or_else(|p| p.into_inner()).entry(message_id.clone()).or_default().push(tx);
        let _waiter = RemoveWaiter { waiters: &self.waiters, message_id: &message_id };

        let mut backoff = Duration::from_millis(50);
        loop {
            match self.send_confirmed(&publication, &message_id, deadline).await {
                Ok(()) => break,
                // Maybe stored: the same key again is safe, and an earlier copy may already be
                // in the stream (then its id arrives and ends the wait).
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionFailed | ErrorKind::Timeout) && Instant::now() + backoff < deadline => {
                    if let Ok(published) = rx.try_recv() {
                        return Ok(published);
                    }
                    tracing::debug!("publish may not have reached RabbitMQ, sending it again with the same key: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(e),
            }
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(published)) => Ok(published),
            Ok(Err(_)) => Err(Error::new(ErrorKind::ConnectionFailed, "the publisher closed before the message's offset was known")),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "RabbitMQ confirmed the message but it was not seen in stream {:?} within {timeout:?}, so its id is unknown \
                     (the message is stored; publishing it again with the same idempotency key is safe)",
                    self.options.stream.name
                ),
            )),
        }
    }

    /// Sends on a usable link (connecting first, retrying until `deadline` while nothing has
    /// been sent) and waits for the confirm.
    async fn send_confirmed(&self, publication: &Publication, message_id: &str, deadline: Instant) -> Result<()> {
        let stream = self.options.stream.name.as_str();
        let properties = amqp::properties(publication, message_id, now_millis());
        let mut backoff = Duration::from_millis(50);
        let confirm = loop {
            let link = self.link(deadline).await?;
            let sent = link
                .channel
                .basic_publish(
                    "".into(),
                    stream.into(),
                    BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() },
                    &publication.payload,
                    properties.clone(),
                )
                .await;
            match sent {
                Ok(confirm) => break confirm,
                // Not sent: the channel or connection was already gone. Reconnect and retry.
                Err(e) => {
                    link.broken.store(true, Ordering::Release);
                    if Instant::now() + backoff >= deadline {
                        return Err(amqp::error("could not publish to stream", stream, e));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        };
        let confirmation = tokio::time::timeout_at(deadline, confirm).await.map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("RabbitMQ did not confirm the message within {:?}; it may or may not be stored", self.options.timeout),
            )
        })?;
        match confirmation {
            Ok(Confirmation::Ack(None)) | Ok(Confirmation::NotRequested) => Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => Err(Error::new(
                ErrorKind::ServerError,
                format!("RabbitMQ could not route the message to stream {stream:?} ({}): does the stream exist?", returned.reply_text),
            )),
            Ok(Confirmation::Nack(_)) => Err(Error::new(ErrorKind::ServerError, format!("RabbitMQ refused the message for stream {stream:?} (nack)"))),
            Err(e) => Err(Error::new(
                ErrorKind::ConnectionFailed,
                format!("the connection to RabbitMQ broke before it confirmed the message; it may or may not be stored: {e}"),
            )
            .with_source(e)),
        }
    }

    /// The current link, or a new one; keeps trying (with backoff) until `deadline`.
    async fn link(&self, deadline: Instant) -> Result<Arc<Link>> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let mut slot = self.link.lock().await;
            if self.closed.load(Ordering::Acquire) {
                return Err(Error::new(ErrorKind::ConnectionFailed, "the publisher is closed"));
            }
            if let Some(link) = slot.as_ref() {
                if link.usable() {
                    return Ok(link.clone());
                }
                let old = slot.take().unwrap();
                tokio::spawn(async move {
                    let _ = old.connection.close(200, "reconnecting".into()).await;
                });
            }
            let attempt = tokio::time::timeout_at(deadline, self.connect()).await;
            match attempt {
                Ok(Ok(link)) => {
                    *slot = Some(link.clone());
                    return Ok(link);
                }
                Ok(Err(e)) if Instant::now() + backoff < deadline && e.is_retryable() => {
                    drop(slot);
                    tracing::debug!("RabbitMQ connection failed, retrying in {backoff:?}: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionFailed,
                        format!("could not connect to RabbitMQ at {} within {:?}", amqp::redact(&self.options.url), self.options.timeout),
                    ))
                }
            }
        }
    }

    async fn connect(&self) -> Result<Arc<Link>> {
        let connection = amqp::connect(&self.options.url, &self.options.connection_name, self.options.ca.as_ref()).await?;
        // A half set-up connection must not linger on the broker: closed on failure, and also
        // when this future is dropped mid-way (the publish's deadline passed during set-up).
        let mut pending = CloseOnDrop(Some(connection));
        let set_up = self.set_up(pending.0.as_ref().expect("just set")).await;
        let connection = pending.0.take().expect("still held");
        match set_up {
            Ok((channel, broken)) => Ok(Arc::new(Link { connection, channel, broken })),
            Err(e) => {
                let _ = connection.close(200, "set-up failed".into()).await;
                Err(e)
            }
        }
    }

    /// Declares the stream, opens the confirm channel and, for [`Echo::Own`], the echo consumer.
    async fn set_up(&self, connection: &Connection) -> Result<(lapin::Channel, Arc<AtomicBool>)> {
        let stream = &self.options.stream;
        amqp::declare_stream(connection, stream).await?;
        let channel = connection.create_channel().await.map_err(|e| amqp::error("could not open a channel to", &stream.name, e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| amqp::error("could not enable publisher confirms on", &stream.name, e))?;
        let broken = Arc::new(AtomicBool::new(false));
        if self.options.echo == Echo::Own {
            // Resume after the last offset seen while messages wait for theirs; else only what is
            // published from now on (everything this publisher sends from here on).
            let pending = !self.waiters.lock().unwrap_or_else(|p| p.into_inner()).is_empty();
            let next = self.echo_next.load(Ordering::Acquire);
            let start = if pending && next != u64::MAX { StartAt::Offset(next) } else { StartAt::Next };
            let reader = StreamReader::open(connection, &stream.name, start, ECHO_PREFETCH).await?;
            tokio::spawn(run_echo(reader, self.waiters.clone(), self.echo_next.clone(), broken.clone()));
        }
        Ok((channel, broken))
    }

    /// Reports what the message with this `message_id` became (for [`Echo::External`]).
    pub fn echo(&self, message_id: &str, published: Published) {
        resolve(&self.waiters, message_id, published);
    }

    /// Closes the connection; publishes fail afterwards.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let link = self.link.lock().await.take();
        if let Some(link) = link {
            let _ = link.connection.close(200, "OK".into()).await;
        }
    }
}

impl Drop for AmqpPublisher {
    fn drop(&mut self) {
        // Close the connection politely when a runtime is there to do it; otherwise dropping the
        // handles closes the socket. Whatever its state: one that is reconnecting must not stay.
        if let (Some(link), Ok(handle)) = (self.link.get_mut().take(), tokio::runtime::Handle::try_current()) {
            handle.spawn(async move {
                let _ = link.connection.close(200, "OK".into()).await;
            });
        }
    }
}

/// A connection being set up; closed (in the background) if dropped before it is taken.
struct CloseOnDrop(Option<Connection>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let (Some(connection), Ok(handle)) = (self.0.take(), tokio::runtime::Handle::try_current()) {
            handle.spawn(async move {
                let _ = connection.close(200, "set-up abandoned".into()).await;
            });
        }
    }
}

/// Prefetch of a producer's echo consumer: credit for this many unacknowledged deliveries.
const ECHO_PREFETCH: u16 = 1000;

/// Reads the stream and hands each of our messages its id, until the consumer ends.
async fn run_echo(mut reader: StreamReader, waiters: Waiters, echo_next: Arc<AtomicU64>, broken: Arc<AtomicBool>) {
    while let Some(Ok(delivery)) = reader.next().await {
        if let Ok(decoded) = amqp::decode(&delivery.properties, &[]) {
            echo_next.store(decoded.offset + 1, Ordering::Release);
            // The first copy of a key gives the id; later copies (retries) find no waiter.
            if let (Some(mid), DecodedKind::Message(_) | DecodedKind::Foreign(_)) = (&decoded.message_id, &decoded.kind) {
                resolve(&waiters, mid, Published { id: decoded.id, replayed: false });
            }
        }
    }
    broken.store(true, Ordering::Release);
    reader.close().await;
}

/// Removes a publish's waiter however the publish ends.
struct RemoveWaiter<'a> {
    waiters: &'a Waiters,
    message_id: &'a str,
}

impl Drop for RemoveWaiter<'_> {
    fn drop(&mut self) {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = waiters.get_mut(self.message_id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                waiters.remove(self.message_id);
            }
        }
    }
}

/// Hands `published` to every publish waiting on `message_id`.
fn resolve(waiters: &Waiters, message_id: &str, published: Published) {
    if let Some(list) = waiters.lock().unwrap_or_else(|p| p.into_inner()).remove(message_id) {
        for tx in list {
            let _ = tx.send(published);
        }
    }
}
