//! push-rs for Python: the private compiled module `push._push`.
//!
//! - [`producer`]: `Producer` and `Publish`, thin wrappers of sdk-core's blocking producer, and
//!   `default_producer()` / `close_default()` (sdk-core's `DefaultProducer`).
//! - [`channel`]: `Channel` (`info`, `presence`, `history`), a channel of a producer.
//! - [`calls`]: one call of sdk-core's producer, blocking or as an asyncio future.
//! - [`arguments`]: Python arguments to sdk-core's inputs (payloads, channels, queries).
//! - [`answers`]: sdk-core's answers as `push._api` dataclasses.
//! - [`wait`]: a blocking wait for a task that Ctrl-C interrupts (`Publish.to`).
//! - [`future`]: the bridge from a tokio task to an asyncio future (`to_async`).
//! - [`token`]: `Token.sign`, subscriber tokens signed by sdk-core.
//! - [`events`]: `verify_events`, the server's signed events verified by sdk-core.
//! - [`server`]: `Server` (the server in this process) and `server_main` (the `push-server` command).
//! - [`errors`]: sdk-core errors (and caught panics) to the exception classes of `push._errors`,
//!   and `error_table()`, sdk-core's table of kinds.
//!
//! The public package `push` (python/push/__init__.py) re-exports all of it.

mod answers;
mod arguments;
mod calls;
mod channel;
mod errors;
mod events;
mod future;
mod producer;
mod server;
mod token;
mod wait;

use pyo3::prelude::*;

#[pymodule]
fn _push(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<producer::Producer>()?;
    m.add_class::<producer::Publish>()?;
    m.add_class::<channel::Channel>()?;
    m.add_class::<token::Token>()?;
    m.add_class::<server::Server>()?;
    m.add_function(wrap_pyfunction!(server::server_main, m)?)?;
    m.add_function(wrap_pyfunction!(events::verify_events, m)?)?;
    m.add_function(wrap_pyfunction!(producer::default_producer, m)?)?;
    m.add_function(wrap_pyfunction!(producer::close_default, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_table, m)?)?;
    m.add_function(wrap_pyfunction!(errors::raise_internal, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // Keep the runtime threads out of Python while it shuts down (see future.rs).
    let before_exit = wrap_pyfunction!(future::before_exit, m)?;
    m.py().import("atexit")?.call_method1("register", (before_exit,))?;
    Ok(())
}
