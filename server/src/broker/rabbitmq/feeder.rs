//! The node's consumer: reads the stream in order into the hub, and reconnects after a loss.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use push_core::amqp::lapin;
use push_core::amqp::{self, DecodedKind, StartAt, StreamReader};
use push_core::{Error, ErrorKind, MessageId};

use super::start_up::check_not_behind;
use super::{digest_of, Shared, PREFETCH};
use crate::hub::Hub;

/// Backoff between reconnection attempts: from the first to the last value, doubling.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// The node's consumer: reads the stream into the hub, reconnecting until the broker closes.
pub(super) struct Feeder {
    pub(super) hub: Arc<Hub>,
    pub(super) shared: Arc<Shared>,
}

impl Feeder {
    pub(super) async fn run(self, reader: StreamReader, first: lapin::message::Delivery) {
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

    /// Ingests one delivery (in stream order); the hub wakes the publish waiting for it.
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
                    match decoded.kind {
                        DecodedKind::Message(message) => {
                            self.hub.ingest_sent(message, digest_of(&decoded.message_id), decoded.sender.as_deref());
                        }
                        DecodedKind::Marker => self.hub.advance(decoded.id),
                        DecodedKind::Foreign(why) => {
                            tracing::warn!("stream message {} is not a push message ({why}); skipped", decoded.id);
                            self.hub.advance(decoded.id);
                        }
                    }
                    self.shared.next_offset.store(decoded.offset + 1, Ordering::Release);
                }
            }
            Err(e) => tracing::warn!("skipped a delivery: {e}"),
        }
    }
}

