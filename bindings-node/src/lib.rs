//! The native half of the npm package `push-rs` (loaded through the generated `binding.js`).
//!
//! - [`producer`]: `NativeProducer` (its own producer, or with `fromEnvironment` sdk-core's
//!   `DefaultProducer`), which converts JavaScript arguments and makes one sdk-core call per
//!   method; calls run on napi's tokio runtime and settle a Promise, so the event loop never
//!   waits on the network.
//! - [`api`]: the server API's requests and answers (channel info, presence, channels, history,
//!   disconnect) as plain objects.
//! - [`token`]: `signToken`, subscriber tokens minted by sdk-core, synchronously.
//! - [`events`]: `verifyEvents`, the server's signed events verified by sdk-core, synchronously.
//! - [`server`]: `startServer` / `NativeServer`, the push server (linked in whole) running
//!   in-process on its own threads, and `runServerCli`, the `push-server` command of `bin/`.
//! - [`errors`]: sdk-core errors become JavaScript errors whose `code` is the stable error code;
//!   `errorTable` hands sdk-core's table to `index.js`, which builds the `PushError` subclasses
//!   from it; panics become `INTERNAL` errors.
//!
//! The public API (`Producer`, `publish`, `channel`, `channels`, `disconnect`, `Token`,
//! `verifyEvents`, `Server`, the error classes) is written in `index.js`; this crate exports only what that file needs.

mod api;
mod errors;
mod events;
mod producer;
mod server;
mod token;

pub use api::{
    ChannelsRequest, DisconnectRequest, HistoryRequest, NativeChannelInfo, NativeChannelPage, NativeDisconnected, NativeGap, NativeHistory, NativeHistoryMessage, NativeMember,
    NativePresence,
};
pub use errors::{error_table, test_panic, test_panic_async, ErrorRow};
pub use events::{verify_events, NativeEvent, VerifyEventsRequest};
pub use producer::{NativeProducer, ProducerConfig};
pub use server::{run_server_cli, start_server, NativeServer, ServerOption};
pub use token::{sign_token, TokenRequest};
