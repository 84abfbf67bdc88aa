//! The server API a backend uses beside publishing (`/_push/api/...`, docs/PROTOCOL.md "Server
//! API"): what a channel holds and who is connected, the active channels, a channel's history,
//! disconnecting (and banning) a consumer, and one message published to many channels.
//!
//! The calls are methods of the producer ([`Producer::channel_info`](crate::Producer::channel_info),
//! [`channels`](crate::Producer::channels), [`history`](crate::Producer::history),
//! [`disconnect`](crate::Producer::disconnect), and `publish(data).to([...])` through
//! [`Targets`]), over its `http(s)://` URL and publish key. This module holds their inputs,
//! checked before any I/O, and their answers, read from the server's JSON.
//!
//! ```no_run
//! # async fn example() -> push_core::Result<()> {
//! use push_core::api::{ChannelsQuery, Disconnect, HistoryRange};
//! use std::time::Duration;
//!
//! let producer = push_core::Producer::new(None)?;
//! let info = producer.channel_info("/rooms/1").await?;
//! println!("{} connections, {} consumers", info.connections, info.consumers);
//! let page = producer.channels(ChannelsQuery::new().prefix("/rooms/")).await?;
//! let recent = producer.history("/rooms/1", HistoryRange::Last(10)).await?;
//! producer.disconnect(Disconnect::new("alice").reason("logged out").ban(Duration::from_secs(600))).await?;
//! producer.publish("hi").to(["/rooms/1", "/rooms/2"]).await?;
//! # Ok(()) }
//! ```

mod request;
mod targets;
mod types;

pub use request::{ChannelsQuery, Disconnect, HistoryRange};
pub use targets::Targets;
pub use types::{ChannelInfo, ChannelPage, Disconnected, History, HistoryGap, HistoryMessage, Member, Presence};

pub(crate) use request::Call;

/// Most channels one publish goes to (the server's `--max-publish-channels` default).
pub const MAX_PUBLISH_CHANNELS: usize = 100;
/// Largest `limit` of a channel listing.
pub const MAX_CHANNELS_LIMIT: u32 = 1000;
/// Longest disconnect `reason`, in bytes.
pub const MAX_REASON_BYTES: usize = 200;
/// Longest ban, in seconds (a day).
pub const MAX_BAN_SECS: u64 = 86_400;
