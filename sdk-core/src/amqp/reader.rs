//! Reading the stream: [`StreamReader`] and where it starts ([`StartAt`]).

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::Connection;

use super::error;
use crate::Result;

/// Consumer argument naming where a stream consumer starts.
pub const OFFSET_ARGUMENT: &str = "x-stream-offset";
/// ack removes nothing, it only gives the consumer credit for more deliveries.
pub const ACK_EVERY: u64 = 100;

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
