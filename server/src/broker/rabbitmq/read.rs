//! Catch-up reads of the stream, for cursors older than the hub's history.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use push_core::amqp::{self, DecodedKind, StartAt, StreamReader};
use push_core::{Error, ErrorKind, MessageId, Result};

use super::{digest_of, Shared, CATCH_UP_IDLE, PREFETCH};
use crate::broker::catch_up::{LogRead, Read};
use crate::hub::Hub;

/// Catch-up reads from the stream, on the consumer's connection.
pub(super) struct StreamRead(pub(super) Arc<Shared>);

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
