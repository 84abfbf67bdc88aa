//! The native half of the `push-rs` gem: the native methods of `Push::Producer`,
//! `Push::Channel`, `Push::Token` and `Push::Server`, `Push.error_table` and the private
//! `Push._verify_events`, over sdk-core.
//!
//! - `producer.rs`: `Push::Producer`; converts arguments and makes one sdk-core call.
//! - `api.rs`: the server API (channel info, presence, channel listing, history, disconnect) on
//!   `Push::Producer`, and `Push::Channel`'s name check.
//! - `token.rs`: `Push::Token`; signs subscriber tokens with sdk-core.
//! - `events.rs`: `Push.verify_events`' native half; the server's signed events, verified by
//!   sdk-core.
//! - `server.rs`: `Push::Server`; push-server in-process, and its command line (the gem's
//!   `push-server` executable).
//! - `errors.rs`: sdk-core errors to the `Push::Error` subclasses that `lib/push/errors.rb`
//!   defines from sdk-core's error table (`Push.error_table`); looked up when an error is
//!   raised, never cached.
//! - `nogvl.rs`: runs a publish or a server API call (or a server start/stop) with the GVL
//!   released, so other Ruby threads run meanwhile.
//!
//! `lib/push.rb` loads this library as `push/push_ext` before the Ruby files.

mod api;
mod errors;
mod events;
mod nogvl;
mod producer;
mod server;
mod token;

use magnus::{Error, Ruby};

#[magnus::init(name = "push_ext")]
fn init(ruby: &Ruby) -> Result<(), Error> {
    let push = ruby.define_module("Push")?;
    errors::init(ruby, push)?;
    producer::init(ruby, push)?;
    api::init(ruby, push)?;
    token::init(ruby, push)?;
    events::init(ruby, push)?;
    server::init(ruby, push)
}
