//! `startServer` / `NativeServer`: the push server in-process, and `runServerCli` for `bin/`.
//!
//! Starting and stopping block (binding a socket, connecting a broker, draining connections), so
//! both run as napi `AsyncTask`s on libuv's thread pool: the event loop only starts them and
//! settles their Promises. The server itself serves on its own threads (its own tokio runtime,
//! see `push_server::embedded`), never on the JavaScript thread.

use std::io::Write;
use std::sync::{Arc, Mutex, TryLockError};

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use push_core::binding::guard;
use push_server::embedded::{config_from_options, OptionValue, Server};

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
    type Output = Result<Server, push_core::Error>;
    type JsValue = NativeServer;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let options = std::mem::take(&mut self.options);
        Ok(guard(|| config_from_options(options).and_then(Server::start)))
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
    url: String,
    port: u32,
    /// `None` once stopped. Locked only by `stop()`'s task (for the whole stop, so a second
    /// `stop()` waits for the first) and briefly by the `running` getter, which never waits.
    server: Arc<Mutex<Option<Server>>>,
}

impl NativeServer {
    fn new(server: Server) -> Self {
        NativeServer {
            url: server.url(),
            port: u32::from(server.local_addr().port()),
            server: Arc::new(Mutex::new(Some(server))),
        }
    }
}

#[napi]
impl NativeServer {
    /// `http://127.0.0.1:PORT`.
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The port it listens on (the real one when started on port 0).
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        self.port
    }

    /// False once `stop()` was called (or the server's thread ended).
    #[napi(getter)]
    pub fn running(&self) -> bool {
        match self.server.try_lock() {
            Ok(server) => server.as_ref().is_some_and(Server::is_running),
            Err(TryLockError::Poisoned(server)) => server.into_inner().as_ref().is_some_and(Server::is_running),
            // A stop is under way.
            Err(TryLockError::WouldBlock) => false,
        }
    }

    /// Stops gracefully (off the JavaScript thread); resolves once the server's threads are gone.
    /// Idempotent: a later call resolves when the first stop is done.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop(&self) -> AsyncTask<StopTask> {
        AsyncTask::new(StopTask {
            server: Arc::clone(&self.server),
        })
    }
}

impl Drop for NativeServer {
    /// Collected (or its worker torn down) while running: stop it on a thread of its own rather
    /// than block the JavaScript thread in a finalizer. (`index.js` keeps running servers
    /// reachable, so this is the worker-exit case.)
    fn drop(&mut self) {
        let server = match self.server.try_lock() {
            Ok(mut server) => server.take(),
            Err(TryLockError::Poisoned(server)) => server.into_inner().take(),
            // A stop is under way on the thread pool; it finishes without this object.
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(server) = server {
            let _ = std::thread::Builder::new()
                .name("push-server-stop".into())
                .spawn(move || drop(server));
        }
    }
}

pub struct StopTask {
    server: Arc<Mutex<Option<Server>>>,
}

impl Task for StopTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut running) = server.take() {
            // A panic while stopping is a bug; the server is gone either way, so stop() resolves.
            let _ = guard(|| {
                running.stop();
                Ok(())
            });
        }
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
