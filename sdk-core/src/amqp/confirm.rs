//! Sending to the stream with publisher confirms: [`ConfirmSender`].
//!
//! A send ends when RabbitMQ confirmed the message. Confirms do not carry the stream offset, so
//! learning the message's id is the caller's part: each message carries a unique `message_id`
//! (the digest of its idempotency key, see [`crate::idempotency`]) and whoever reads the stream
//! matches it — a server node's hub, or a producer's own reader ([`super::publisher`]).
//!
//! A failure that leaves it unknown whether RabbitMQ stored the message (the connection broke
//! before the confirm) is sent again with the same `message_id` until the deadline: readers keep
//! the first copy and skip the others. A send while RabbitMQ is unreachable reconnects (with
//! backoff) until the deadline, then fails with `ConnectionFailed`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Confirmation, Connection};
use tokio::time::Instant;

use crate::amqp::{self, StreamConfig};
use crate::broker::{Publication, Published};
use crate::idempotency;
use crate::message::now_millis;
use crate::{Error, ErrorKind, Result};

/// Largest payload a producer sends unless told otherwise (the server's default limit too).
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

/// Settings of a [`ConfirmSender`].
#[derive(Debug, Clone)]
pub struct SenderOptions {
    pub url: String,
    pub stream: StreamConfig,
    /// Time limit for one publish, reconnection included.
    pub timeout: Duration,
    pub max_payload: usize,
    /// Shown as the connection's name in RabbitMQ.
    pub connection_name: String,
    /// CA certificates trusted for `amqps://` besides the system's roots.
    pub ca: Option<crate::tls::CaFile>,
}

/// Work done on each new connection before anything is sent on it (a producer starts its own
/// stream reader there). Setting `broken` makes the sender replace the connection.
pub trait OnConnect: Send + Sync {
    fn connected<'a>(&'a self, connection: &'a Connection, broken: Arc<AtomicBool>) -> BoxFuture<'a, Result<()>>;
}

/// Sends to the stream and waits for confirms. Cheap to share behind an `Arc`; concurrent sends
/// share one connection and one confirm channel.
pub struct ConfirmSender {
    options: SenderOptions,
    on_connect: Option<Box<dyn OnConnect>>,
    link: tokio::sync::Mutex<Option<Arc<Link>>>,
    closed: AtomicBool,
}

/// One connection and its confirm channel.
struct Link {
    connection: Connection,
    channel: lapin::Channel,
    /// Set when something on this connection failed: it must be replaced.
    broken: Arc<AtomicBool>,
}

impl Link {
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected() && !self.broken.load(Ordering::Acquire)
    }
}

impl ConfirmSender {
    pub fn new(options: SenderOptions, on_connect: Option<Box<dyn OnConnect>>) -> Result<ConfirmSender> {
        if options.timeout.is_zero() {
            return Err(Error::new(ErrorKind::InvalidConfig, "timeout must be greater than zero"));
        }
        Ok(ConfirmSender { options, on_connect, link: tokio::sync::Mutex::new(None), closed: AtomicBool::new(false) })
    }

    pub fn options(&self) -> &SenderOptions {
        &self.options
    }

    /// Checks a publication before anything is sent and returns its `message_id`: the digest of
    /// its idempotency key (the caller's, or a fresh one).
    pub fn message_id(&self, publication: &Publication) -> Result<String> {
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
        Ok(idempotency::digest_all(publication.channels(), &key))
    }

    /// Sends `publication` and returns its id, which `id` (the caller's reader of the stream
    /// matching `message_id`) reports: as soon as it does, since a message read from the stream
    /// is stored, or after the confirm, until `deadline`. `id` gives `None` if its reader ended.
    /// `sender` names this call in every copy it sends ([`SENDER_HEADER`](amqp::SENDER_HEADER)),
    /// so that a reader tells its own copy from another publisher's with the same key.
    pub async fn publish(
        &self,
        publication: &Publication,
        message_id: &str,
        sender: Option<&str>,
        deadline: Instant,
        id: impl Future<Output = Option<Published>>,
    ) -> Result<Published> {
        let mut id = std::pin::pin!(id);
        tokio::select! {
            biased;
            published = &mut id => return published.ok_or_else(reader_ended),
            sent = self.send(publication, message_id, sender, deadline) => sent?,
        }
        match tokio::time::timeout_at(deadline, id).await {
            Ok(published) => published.ok_or_else(reader_ended),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "RabbitMQ confirmed the message but it was not seen in stream {:?} within {:?}, so its id is unknown \
                     (the message is stored; publishing it again with the same idempotency key is safe)",
                    self.options.stream.name, self.options.timeout
                ),
            )),
        }
    }

    /// Sends until RabbitMQ confirms a copy, sending again (same `message_id`) after a failure
    /// that may or may not have stored it, until `deadline`.
    async fn send(&self, publication: &Publication, message_id: &str, sender: Option<&str>, deadline: Instant) -> Result<()> {
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.send_once(publication, message_id, sender, deadline).await {
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionFailed | ErrorKind::Timeout) && Instant::now() + backoff < deadline => {
                    tracing::debug!("publish may not have reached RabbitMQ, sending it again with the same key: {e}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
                done => return done,
            }
        }
    }

    /// Sends on a usable link (connecting first, retrying until `deadline` while nothing has
    /// been sent) and waits for the confirm.
    async fn send_once(&self, publication: &Publication, message_id: &str, sender: Option<&str>, deadline: Instant) -> Result<()> {
        let stream = self.options.stream.name.as_str();
        let properties = amqp::with_sender(amqp::properties(publication, message_id, now_millis()), sender);
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
                let old = slot.take().expect("checked above");
                tokio::spawn(async move {
                    let _ = old.connection.close(200, "reconnecting".into()).await;
                });
            }
            match tokio::time::timeout_at(deadline, self.connect()).await {
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

    /// Declares the stream, opens the confirm channel and runs the [`OnConnect`] work.
    async fn set_up(&self, connection: &Connection) -> Result<(lapin::Channel, Arc<AtomicBool>)> {
        let stream = &self.options.stream;
        amqp::declare_stream(connection, stream).await?;
        let channel = connection.create_channel().await.map_err(|e| amqp::error("could not open a channel to", &stream.name, e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| amqp::error("could not enable publisher confirms on", &stream.name, e))?;
        let broken = Arc::new(AtomicBool::new(false));
        if let Some(on_connect) = &self.on_connect {
            on_connect.connected(connection, broken.clone()).await?;
        }
        Ok((channel, broken))
    }

    /// Closes the connection; sends fail afterwards.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let link = self.link.lock().await.take();
        if let Some(link) = link {
            let _ = link.connection.close(200, "OK".into()).await;
        }
    }
}

impl Drop for ConfirmSender {
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

fn reader_ended() -> Error {
    Error::new(ErrorKind::ConnectionFailed, "the publisher closed before the message's offset was known")
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
