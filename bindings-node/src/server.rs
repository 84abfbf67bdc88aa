//! `startServer` / `NativeServer`: the push server in-process, and `runServerCli` for `bin/`.
//!
//! Starting and stopping block (binding a socket, connecting a broker, draining connections), so
//! both run as napi `AsyncTask`s on libuv's thread pool: the event loop only starts them and
//! settles their Promises. The server itself serves on its own threads (its own tokio runtime,
//! see `push_server::embedded`), never on the JavaScript thread.

use std::io::Write;
use std::sync::Arc;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use push_core::binding::guard;
use push_server::embedded::{config_from_options, Hosted, OptionValue};

use crate::errors::to_rejection;

/// One server option as `index.js` converted it: exactly one of `flag`, `text`, `list` is set.
#[napi(object)]
pub struct ServerOption {
    /// The flag's name in camelCase, snake_case or kebab-case (`publishKey` is `--publish-key`).
    pub name: String,
    pub flag: Option<bool>,
    pub text: Option<String>,
    pub list: Option<Vec<String>>,
}

fn option_value(option: ServerOption) -> (String, OptionValue) {
    let value = match (option.flag, option.text, option.list) {
        (Some(flag), _, _) => OptionValue::Flag(flag),
        (_, Some(text), _) => OptionValue::Text(text),
        (_, _, Some(list)) => OptionValue::List(list),
        // index.js never sends this; an empty value lets the flag parser name the problem.
        (None, None, None) => OptionValue::Text(String::new()),
    };
    (option.name, value)
}

pub struct StartTask {
    options: Vec<(String, OptionValue)>,
}

impl Task for StartTask {
    type Output = Result<Hosted, push_core::Error>;
    type JsValue = NativeServer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let options = std::mem::take(&mut self.options);
        Ok(guard(|| {
            let server = Hosted::new(config_from_options(options)?);
            server.start()?;
            Ok(server)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<NativeServer> {
        match output {
            Ok(server) => Ok(NativeServer::new(server)),
            Err(e) => Err(to_rejection(&env, &e)),
        }
    }
}

/// Checks the options and starts a server (off the JavaScript thread). Rejects with an `Error`
/// whose `code` is `INVALID_CONFIG` (bad option, address in use) or `CONNECTION_FAILED` (broker).
#[napi(ts_return_type = "Promise<NativeServer>")]
pub fn start_server(options: Vec<ServerOption>) -> AsyncTask<StartTask> {
    AsyncTask::new(StartTask {
        options: options.into_iter().map(option_value).collect(),
    })
}

/// A running server; `index.js` wraps it as `Server`.
#[napi]
pub struct NativeServer {
    // `Hosted` decides what stop, `running` and garbage collection do; `stop()`'s task holds a
    // clone while it stops.
    server: Arc<Hosted>,
}

impl NativeServer {
    fn new(server: Hosted) -> Self {
        NativeServer { server: Arc::new(server) }
    }
}

#[napi]
impl NativeServer {
    /// `http://127.0.0.1:PORT`.
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.server.url().unwrap_or_default()
    }

    /// The port it listens on (the real one when started on port 0).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.server.local_addr().map_or(0, |addr| u32::from(addr.port()))
    }

    /// False once `stop()` was called (or the server's thread ended).
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.server.is_running()
    }

    /// Stops gracefully (off the JavaScript thread); resolves once the server's threads are gone.
    /// Idempotent: a later call resolves when the first stop is done.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self) -> AsyncTask<StopTask> {
        AsyncTask::new(StopTask { server: Arc::clone(&self.server) })
    }
}

pub struct StopTask {
    server: Arc<Hosted>,
}

impl Task for StopTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        // A panic while stopping is a bug; the server is gone either way, so stop() resolves.
        let _ = guard(|| {
            self.server.stop();
            Ok(())
        });
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

/// The `push-server` command line (`argv[0]` is the program name); returns the exit code. Blocks
/// the calling thread for the server's whole life: only for `bin/push-server.js`, a process that
/// is the command.
#[napi]
pub fn run_server_cli(argv: Vec<String>) -> i32 {
    let code = push_server::cli::main(argv);
    // Node exits with process.exit() right after: nothing may stay in Rust's buffer.
    let _ = std::io::stdout().flush();
    code
}
