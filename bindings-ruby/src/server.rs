//! `Push::Server`: push-server inside the Ruby process (`push_server::embedded`), and the
//! `push-server` command line (`push_server::cli`) for the gem's executable.
//!
//! `lib/push/server.rb` holds the Ruby-facing part (`Push::Server.start(**options)` with its
//! block form, the conversion of option values, `Push::Server.cli`, docs); this file starts,
//! stops and inspects the server. Starting and stopping block while the server's own threads
//! bind or wind down, so both run with the GVL released.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Mutex, TryLockError};

use magnus::{function, method, prelude::*, Error, RArray, RModule, RString, Ruby, TryConvert, Value};
use push_server::embedded::{config_from_options, OptionValue, Server as Embedded};

use crate::{errors, nogvl};

#[magnus::wrap(class = "Push::Server", size)]
pub struct Server {
    /// `None` once stopped. Locked only without the GVL (stop) or with `try_lock` (running?),
    /// so a Ruby thread never waits for the lock while holding the GVL.
    inner: Mutex<Option<Embedded>>,
    addr: SocketAddr,
    /// `http://` or, with `tls_cert`, `https://` and the address.
    url: String,
    /// The process that started it: a forked child has a copy of this object but none of the
    /// server's threads, so it must neither stop nor join them.
    pid: u32,
}

impl Server {
    /// `Push::Server._start(options)`: `options` is an Array of `[name, value]` pairs, each value
    /// `true`/`false`, a String, or an Array of Strings (`lib/push/server.rb` converts to these).
    fn start(ruby: &Ruby, options: RArray) -> Result<Server, Error> {
        let mut pairs = Vec::with_capacity(options.len());
        for pair in options.into_iter() {
            let (name, value) = <(String, Value)>::try_convert(pair)?;
            pairs.push((name, option_value(value)?));
        }
        let config = errors::native(ruby, || config_from_options(pairs))?;
        let server = nogvl::blocking(ruby, "starting the server", move || Embedded::start(config))?;
        Ok(Server {
            addr: server.local_addr(),
            url: server.url(),
            inner: Mutex::new(Some(server)),
            pid: std::process::id(),
        })
    }

    fn forked(&self) -> bool {
        self.pid != std::process::id()
    }

    /// Stops gracefully and waits for the server's threads; idempotent. A second thread calling
    /// it meanwhile returns once the first one is done.
    fn stop(ruby: &Ruby, rb_self: &Self) -> Result<(), Error> {
        if rb_self.forked() {
            return Ok(()); // the parent's server: not ours to stop
        }
        nogvl::blocking(ruby, "stopping the server", || {
            let mut guard = rb_self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(mut server) = guard.take() {
                server.stop();
            }
            Ok(())
        })
    }

    fn is_running(&self) -> bool {
        if self.forked() {
            return false;
        }
        match self.inner.try_lock() {
            Ok(guard) => guard.as_ref().is_some_and(Embedded::is_running),
            Err(TryLockError::Poisoned(p)) => p.into_inner().as_ref().is_some_and(Embedded::is_running),
            Err(TryLockError::WouldBlock) => false, // being stopped
        }
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.forked() {
            // Joining threads that do not exist in this process would hang: leak the handle.
            let inner = self.inner.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::forget(inner.take());
        }
        // Otherwise dropping the Embedded stops it.
    }
}

fn option_value(value: Value) -> Result<OptionValue, Error> {
    if let Some(text) = RString::from_value(value) {
        Ok(OptionValue::Text(text.to_string()?))
    } else if let Some(list) = RArray::from_value(value) {
        Ok(OptionValue::List(list.to_vec::<String>()?))
    } else {
        Ok(OptionValue::Flag(value.to_bool()))
    }
}

/// `Push::Server._cli(args)`: runs the `push-server` command line with `args` (without the
/// program name) and returns its exit code. Blocks, without the GVL, until the command is done
/// (for the server: until SIGINT or SIGTERM).
fn cli(ruby: &Ruby, args: RArray) -> Result<i32, Error> {
    let mut argv: Vec<OsString> = vec!["push-server".into()];
    for arg in args.into_iter() {
        let arg = RString::try_convert(arg)?;
        // SAFETY: the bytes are copied at once, while no Ruby code runs.
        argv.push(OsString::from_vec(unsafe { arg.as_slice() }.to_vec()));
    }
    nogvl::blocking(ruby, "push-server", move || Ok(push_server::cli::main(argv)))
}

pub fn init(ruby: &Ruby, push: RModule) -> Result<(), Error> {
    let class = push.define_class("Server", ruby.class_object())?;
    // Only `start` makes one.
    class.undef_default_alloc_func();
    class.define_singleton_method("_start", function!(Server::start, 1))?;
    class.define_singleton_method("_cli", function!(cli, 1))?;
    class.define_method("stop", method!(Server::stop, 0))?;
    class.define_method("running?", method!(Server::is_running, 0))?;
    class.define_method("url", method!(Server::url, 0))?;
    class.define_method("port", method!(Server::port, 0))?;
    Ok(())
}
