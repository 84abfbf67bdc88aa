//! push-rs core, shared by the server and every language binding.
//!
//! - [`channel`]: the one parser and validator of channel names.
//! - [`message`]: message ids, cursors, messages and gaps.
//! - [`amqp`] (feature `amqp`, on by default): the RabbitMQ stream's topology, message format,
//!   reader and confirm sender, shared by producers and servers, and the `amqp://` producer's
//!   publisher (which reads its own messages back to learn their ids).
//! - [`broker`]: the contract every broker engine (memory, data dir, RabbitMQ) keeps.
//! - [`producer`]: `Producer::new(url)?.publish(data).to(channel)`, async, blocking, and lazy
//!   (connects on first use and again in a forked child; what the bindings hold).
//! - [`api`]: the server API's inputs and answers (channel info, active channels, history,
//!   disconnect, publishing to many channels), called through the producer.
//! - [`event_name`]: a message's SSE event name (`Push-Event`), checked once.
//! - [`idempotency`]: keys that make a retried publish store once.
//! - [`binding`]: what the Ruby, Python and Node bindings do alike (options, tokens, the
//!   default producer, caught panics), decided once.
//! - [`tls`]: trusted roots (the system's plus a CA file) and certificate errors for `https://`
//!   and `amqps://`.
//! - [`error`]: one error type whose [`ErrorKind`] has a stable code in every language.

#[cfg(feature = "amqp")]
pub mod amqp;
pub mod api;
pub mod binding;
pub mod broker;
pub mod channel;
pub mod error;
pub mod event_name;
pub mod idempotency;
pub mod message;
pub mod producer;
pub mod tls;
pub mod token;
pub mod webhook;

pub use broker::{Broker, EventStream, Position, Publication, Published, Subscription};
pub use channel::{Channel, ChannelError};
pub use error::{Error, ErrorKind, KindInfo, Result, KINDS};
pub use message::{Encoded, Event, Gap, Message, MessageId};
pub use producer::{Producer, ProducerOptions, PublishOptions};

/// The URL a producer uses when none is given and `PUSH_URL` is unset.
pub const DEFAULT_URL: &str = "http://127.0.0.1:4000";

/// The response header that carries a message id (and the cursor to continue from).
pub const ID_HEADER: &str = "Push-Id";
/// The response header that carries an error's stable code (see [`ErrorKind::code`]).
pub const ERROR_HEADER: &str = "Push-Error";
/// The response header that announces a gap: `<from>-<to>`, both inclusive.
pub const GAP_HEADER: &str = "Push-Gap";
