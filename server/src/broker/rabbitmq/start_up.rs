//! What a node checks and reads when it attaches to the stream: the marker that tells where its
//! knowledge starts, the idempotency keys of the last window, and (on a reconnect) that the
//! stream did not go backwards.

use std::time::Duration;

use push_core::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use push_core::amqp::lapin::types::{AMQPValue, FieldTable};
use push_core::amqp::lapin::{BasicProperties, Connection};
use push_core::amqp::{self, StartAt, StreamReader};
use push_core::{Error, ErrorKind, MessageId, Result};

use super::{digest_of, CATCH_UP_IDLE, PREFETCH};
use crate::hub::Hub;

/// Publishes the start-up marker (never shown to subscribers) on its own confirm channel and
/// waits for the confirm.
pub(super) async fn publish_marker(connection: &Connection, stream: &str) -> Result<()> {
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

/// Refuses to resume on a stream whose newest offset is below the ones this node processed:
/// it was deleted and recreated, its ids start again, and resuming would skip or repeat them.
/// The node stays unhealthy (503, with this reason) until an operator restarts it.
pub(super) async fn check_not_behind(connection: &Connection, stream: &str, resume: u64) -> Result<()> {
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
pub(super) async fn warm_window(connection: &Connection, stream: &str, hub: &Hub, window: Duration, start: MessageId) {
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
