//! A producer publishing straight to the RabbitMQ stream:
//! `amqp://user:pass@host:5672/%2f?stream=push.messages`.
//!
//! A publish returns once RabbitMQ stored the message **and** its offset is known. The
//! [`ConfirmSender`] sends with confirms; since confirms do not carry the offset, the producer
//! reads the stream itself: on each connection, before anything is sent on it, it opens a stream
//! reader at `next` (so everything it publishes comes after the reader's start), and hands each
//! message it reads to the publish waiting for that `message_id`. (A server node needs no reader
//! of its own: its hub reads the whole stream and wakes its publishes.)
//!
//! Failures are typed and never silent: a publish made while RabbitMQ is unreachable reconnects
//! (with backoff) until the timeout and then fails with `ConnectionFailed`; no offset within the
//! timeout is `Timeout`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use lapin::Connection;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::confirm::{ConfirmSender, OnConnect, SenderOptions};
use crate::amqp::{self, DecodedKind, StartAt, StreamReader};
use crate::broker::{Publication, Published};
use crate::Result;

/// Prefetch of the producer's reader: credit for this many unacknowledged deliveries.
const PREFETCH: u16 = 1000;

/// Publishes to the stream and learns each message's id from its own reader. Cheap to share
/// behind an `Arc`; concurrent publishes share one connection.
pub struct AmqpPublisher {
    sender: ConfirmSender,
    read_back: Arc<ReadBack>,
}

/// Publishes waiting for their message to be read back, by `message_id` (several publishes may
/// share a key, and so a `message_id`).
struct ReadBack {
    stream: String,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<Published>>>>,
    /// The offset after the last one read, to resume after a reconnect; `u64::MAX` before any.
    next: AtomicU64,
}

impl AmqpPublisher {
    pub fn new(options: SenderOptions) -> Result<AmqpPublisher> {
        let read_back = Arc::new(ReadBack { stream: options.stream.name.clone(), waiters: Mutex::default(), next: AtomicU64::new(u64::MAX) });
        let sender = ConfirmSender::new(options, Some(Box::new(read_back.clone())))?;
        Ok(AmqpPublisher { sender, read_back })
    }

    pub fn options(&self) -> &SenderOptions {
        self.sender.options()
    }

    /// Publishes and returns the message's id once RabbitMQ stored it and its offset is known.
    pub async fn publish(&self, publication: Publication) -> Result<Published> {
        let message_id = self.sender.message_id(&publication)?;
        let deadline = Instant::now() + self.sender.options().timeout;
        let (tx, rx) = oneshot::channel();
        self.read_back.lock().entry(message_id.clone()).or_default().push(tx);
        let _waiting = Waiting { read_back: &self.read_back, message_id: &message_id };
        self.sender.publish(&publication, &message_id, None, deadline, async { rx.await.ok() }).await
    }

    /// Closes the connection; publishes fail afterwards.
    pub async fn close(&self) {
        self.sender.close().await;
    }
}

impl ReadBack {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<oneshot::Sender<Published>>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the stream and hands each message its id, until the reader ends.
    async fn run(self: Arc<Self>, mut reader: StreamReader, broken: Arc<AtomicBool>) {
        while let Some(Ok(delivery)) = reader.next().await {
            if let Ok(decoded) = amqp::decode(&delivery.properties, &[]) {
                self.next.store(decoded.offset + 1, Ordering::Release);
                // The first copy of a key gives the id; later copies (retries) find no waiter.
                if let (Some(mid), DecodedKind::Message(_) | DecodedKind::Foreign(_)) = (&decoded.message_id, &decoded.kind) {
                    if let Some(list) = self.lock().remove(mid.as_str()) {
                        for tx in list {
                            let _ = tx.send(Published { id: decoded.id, replayed: false });
                        }
                    }
                }
            }
        }
        broken.store(true, Ordering::Release);
        reader.close().await;
    }
}

impl OnConnect for Arc<ReadBack> {
    /// Starts reading on the new connection: after the last offset read while publishes wait
    /// for theirs, else at the stream's end (everything this producer sends from now on).
    fn connected<'a>(&'a self, connection: &'a Connection, broken: Arc<AtomicBool>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let pending = !self.lock().is_empty();
            let next = self.next.load(Ordering::Acquire);
            let start = if pending && next != u64::MAX { StartAt::Offset(next) } else { StartAt::Next };
            let reader = StreamReader::open(connection, &self.stream, start, PREFETCH).await?;
            tokio::spawn(self.clone().run(reader, broken));
            Ok(())
        })
    }
}

/// Removes a publish's waiter however the publish ends.
struct Waiting<'a> {
    read_back: &'a ReadBack,
    message_id: &'a str,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiters = self.read_back.lock();
        if let Some(list) = waiters.get_mut(self.message_id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                waiters.remove(self.message_id);
            }
        }
    }
}
