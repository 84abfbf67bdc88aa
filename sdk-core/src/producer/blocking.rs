//! A blocking producer for plain threads and for the language bindings.
//!
//! It is a [`LazyProducer`] with a small tokio runtime of its own per process, made on first use
//! (and again in a forked child, see [`super::lazy`]).

use bytes::Bytes;
use tokio::runtime::Handle;

use super::lazy::LazyProducer;
use super::{Producer, ProducerOptions, PublishOptions};
use crate::api::{ChannelInfo, Presence, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange, Targets};
use crate::{MessageId, Result};

/// A thread-safe, fork-safe producer whose calls block the calling thread.
pub struct BlockingProducer(LazyProducer);

impl BlockingProducer {
    /// Checks the options now; connects on the first publish.
    pub fn new(options: ProducerOptions) -> Result<BlockingProducer> {
        LazyProducer::with_own_runtime(options).map(BlockingProducer)
    }

    pub fn url(&self) -> &str {
        self.0.url()
    }

    /// Publishes and blocks until the server (or broker) has accepted the message.
    /// Must not be called from inside an async runtime.
    pub fn send(&self, channels: impl Targets, payload: Bytes, content_type: Option<&str>) -> Result<MessageId> {
        self.send_with(channels, payload, PublishOptions { content_type: content_type.map(str::to_owned), ..Default::default() })
    }

    /// [`send`](Self::send) with every option (see [`Producer::send_with`]).
    pub fn send_with(&self, channels: impl Targets, payload: Bytes, options: PublishOptions) -> Result<MessageId> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.send_with(channels, payload, options))
    }

    /// [`Producer::channel_info`], blocking.
    pub fn channel_info(&self, channel: &str) -> Result<ChannelInfo> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.channel_info(channel))
    }

    /// [`Producer::presence`], blocking.
    pub fn presence(&self, channel: &str) -> Result<Presence> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.presence(channel))
    }

    /// [`Producer::channels`], blocking.
    pub fn channels(&self, query: ChannelsQuery) -> Result<ChannelPage> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.channels(query))
    }

    /// [`Producer::history`], blocking.
    pub fn history(&self, channel: &str, range: HistoryRange) -> Result<History> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.history(channel, range))
    }

    /// [`Producer::disconnect`], blocking.
    pub fn disconnect(&self, request: Disconnect) -> Result<Disconnected> {
        let local = self.0.local()?;
        local.runtime().block_on(local.producer.disconnect(request))
    }

    /// `producer.publish(data).to(channel)`, blocking.
    pub fn publish(&self, data: impl Into<Bytes>) -> BlockingPublish<'_> {
        BlockingPublish { producer: self, data: data.into(), options: PublishOptions::default() }
    }

    /// The runtime handle and async producer of this process, for bindings that bridge to their
    /// language's event loop (asyncio, ...). Spawn the producer's futures on the handle.
    pub fn async_parts(&self) -> Result<(Handle, Producer)> {
        let local = self.0.local()?;
        Ok((local.runtime().handle().clone(), local.producer.clone()))
    }

    /// Closes connections and stops the runtime. The producer can still be used afterwards: it
    /// reconnects on the next publish.
    pub fn close(&self) {
        self.0.close();
    }
}

impl std::fmt::Debug for BlockingProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingProducer").field("url", &self.url()).finish()
    }
}

/// A blocking publish waiting for its channels.
#[must_use = "a publish does nothing until .to(channel) is called"]
pub struct BlockingPublish<'a> {
    producer: &'a BlockingProducer,
    data: Bytes,
    options: PublishOptions,
}

impl BlockingPublish<'_> {
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.options.content_type = Some(content_type.into());
        self
    }

    /// See [`Publish::idempotency_key`](super::Publish::idempotency_key).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// See [`Publish::event`](super::Publish::event).
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.options.event = Some(name.into());
        self
    }

    /// See [`Publish::to`](super::Publish::to): one channel or several.
    pub fn to(self, channels: impl Targets) -> Result<MessageId> {
        self.producer.send_with(channels, self.data, self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn blocking_errors_are_typed() {
        let p = BlockingProducer::new(ProducerOptions::new().url("http://127.0.0.1:9")).unwrap();
        assert_eq!(p.publish("x").to("bad").unwrap_err().kind(), ErrorKind::InvalidChannel);
        assert_eq!(p.publish("x").to("/a").unwrap_err().kind(), ErrorKind::ConnectionFailed);
        p.close();
        assert_eq!(p.publish("x").to("/a").unwrap_err().kind(), ErrorKind::ConnectionFailed);
        assert_eq!(p.publish("x").to(["/a", "b"]).unwrap_err().kind(), ErrorKind::InvalidChannel);
        assert_eq!(p.channel_info("/a").unwrap_err().kind(), ErrorKind::ConnectionFailed);
        assert_eq!(p.history("a", HistoryRange::All).unwrap_err().kind(), ErrorKind::InvalidChannel);
    }
}
