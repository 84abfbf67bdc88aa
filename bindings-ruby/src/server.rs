//! `Push::Server`: push-server inside the Ruby process (`push_server::embedded`), and the
//! `push-server` command line (`push_server::cli`) for the gem's executable.
//!
//! `lib/push/server.rb` holds the Ruby-facing part (`Push::Server.start(**options)` with its
//! block form, the conversion of option values, `Push::Server.cli`, docs); this file starts,
//! stops and inspects the server. Starting and stopping block while the server's own threads
//! bind or wind down, so both run with the GVL released.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use magnus::{function, method, prelude::*, Error, RArray, RModule, RString, Ruby, TryConvert, Value};
use push_server::embedded::{config_from_options, Hosted, OptionValue};

use crate::{errors, nogvl};

/// Started by `_start`; `Hosted` decides what stop, `running?`, a fork and the GC do.
#[magnus::wrap(class = "Push::Server", size)]
pub struct Server {
    hosted: Hosted,
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
        let server = Server { hosted: Hosted::new(config) };
        nogvl::blocking(ruby, "starting the server", || server.hosted.start())?;
        Ok(server)
    }

    /// Stops gracefully and waits for the server's threads; idempotent. A second thread calling
    /// it meanwhile returns once the first one is done.
    fn stop(ruby: &Ruby, rb_self: &Self) -> Result<(), Error> {
        nogvl::blocking(ruby, "stopping the server", || {
            rb_self.hosted.stop();
            Ok(())
        })
    }

    fn is_running(&self) -> bool {
        self.hosted.is_running()
    }

    fn url(&self) -> Option<String> {
        self.hosted.url()
    }

    fn port(&self) -> Option<u16> {
        self.hosted.local_addr().map(|addr| addr.port())
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
