//! The `push-server` command line, as a library call: the Cargo binary and the `push-server`
//! executable of each language package (gem, wheel, npm) all run [`main`], so flags, environment
//! variables, `--help`, logs and exit codes are the same everywhere.
//!
//! Exit codes: 0 success, 1 failure at run time (cannot listen, broker unreachable, a publish
//! failed), 2 bad flags or settings (clap's usage errors too).

mod api;
mod publish;
mod subscribe;
mod token;

use std::ffi::OsString;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub use api::{ChannelsArgs, DisconnectArgs, HistoryArgs, InfoArgs};
pub use publish::{ProducerArgs, PublishArgs};
pub use subscribe::SubscribeArgs;
pub use token::TokenArgs;

pub const EXIT_FAILURE: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

/// push-server: realtime push over HTTP long-poll, Server-Sent Events and WebSocket.
///
/// Subscribe with `curl http://127.0.0.1:4000/greetings` (it waits for the next message) and
/// publish with `curl -X POST -d 'hi there!' http://127.0.0.1:4000/greetings`.
///
/// The whole command line: the server's flags, or a subcommand (which may use some of them:
/// --secret, --publish-key).
#[derive(Parser, Debug, Clone)]
#[command(name = "push-server", version, about, long_about = None, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Print a subscriber token signed with --secret (PUSH_SECRET), then exit.
    Token(TokenArgs),
    /// Publish one message to a running server (or RabbitMQ), print its id, then exit.
    Publish(PublishArgs),
    /// Print a channel's messages as they arrive, until interrupted: each payload and a newline
    /// (one with line breaks spans several lines; --json prints one JSON object per line).
    Subscribe(SubscribeArgs),
    /// List the channels with a connection or with history, with their counts.
    Channels(ChannelsArgs),
    /// Print what a channel holds and who is connected to it, on every node.
    Info(InfoArgs),
    /// Print who is present on a presence channel (each consumer once, with its info), on every node.
    Presence(InfoArgs),
    /// Print a channel's history: what the server holds in memory, or every message after an id.
    History(HistoryArgs),
    /// End a consumer's subscriptions on every node, and optionally ban it for a while.
    Disconnect(DisconnectArgs),
}

/// Runs `push-server` with `args` (the program name first, as in `std::env::args_os`) until it
/// is done, or until SIGINT or SIGTERM for the server; returns the exit code.
///
/// Meant for a process that is the command: it takes over SIGINT and SIGTERM (a Ruby, Python or
/// Node host's own handlers would otherwise turn them into exceptions after the server stopped).
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // ring as rustls' process default before any HTTP client is built (see push_core::tls).
    push_core::tls::ensure_provider();
    let Cli { config, command } = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors go to stderr with 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    match &command {
        Some(Command::Token(args)) => return token::print(&config, args),
        Some(Command::Publish(args)) => return with_runtime(|| publish::run(&config, args)),
        Some(Command::Subscribe(args)) => return with_runtime(|| subscribe::run(args)),
        Some(Command::Channels(args)) => return with_runtime(|| api::channels(&config, args)),
        Some(Command::Info(args)) => return with_runtime(|| api::info(&config, args)),
        Some(Command::Presence(args)) => return with_runtime(|| api::presence(&config, args)),
        Some(Command::History(args)) => return with_runtime(|| api::history(&config, args)),
        Some(Command::Disconnect(args)) => return with_runtime(|| api::disconnect(&config, args)),
        None => {}
    }
    init_logs(&config);
    if let Err(reason) = crate::check_config(&config) {
        eprintln!("push-server: {reason}");
        return EXIT_USAGE;
    }
    default_signal_handlers();
    crate::raise_open_files_limit();
    with_runtime(|| async move {
        crate::tls::take_sighup(&config);
        // Caught before the server listens: once it answers, a Ctrl-C always stops it gracefully.
        let shutdown = shutdown_signal();
        let listener = match crate::listener::bind(config.bind) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("push-server: cannot listen on {}: {e}", config.bind);
                return EXIT_FAILURE;
            }
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
        // Logged once the engine has started (a data dir in use, RabbitMQ unreachable: no
        // "listening" line before the error), naming the engine that runs.
        let broker = match crate::broker::from_config(&config).await {
            Ok(broker) => broker,
            Err(e) => {
                eprintln!("push-server: {e}");
                return EXIT_FAILURE;
            }
        };
        let engine = broker.health().engine;
        let at = match engine {
            "disk" => config.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
            "rabbitmq" => push_core::amqp::redact(&config.broker),
            _ => String::new(),
        };
        tracing::info!(%addr, %scheme, broker = %engine, at = %at, "push-server listening");
        match crate::serve(listener, broker, config, shutdown).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("push-server: {e}");
                EXIT_FAILURE
            }
        }
    })
}

fn with_runtime<F, Fut>(f: F) -> i32
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("push-server").build() {
        Ok(runtime) => {
            let code = runtime.block_on(f());
            // Streams still open after the grace period are not waited for.
            runtime.shutdown_timeout(std::time::Duration::from_secs(1));
            code
        }
        Err(e) => {
            eprintln!("push-server: cannot start the async runtime: {e}");
            EXIT_FAILURE
        }
    }
}

/// Logs go to stderr; a host process that already installed a subscriber keeps its own.
fn init_logs(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour()).with_writer(std::io::stderr).try_init(),
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init(),
    };
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").map_or(true, |v| v.is_empty())
}

/// Resets SIGINT and SIGTERM to their defaults before tokio installs its handlers: tokio chains
/// to a previous handler, and Python's or Ruby's would raise an exception once the server is done.
fn default_signal_handlers() {
    // SAFETY: plain libc calls setting the default disposition.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
}

/// Ends at the first SIGINT or SIGTERM after it is called. The handlers are installed by the
/// call itself (not when the future is first polled), so no signal between then and the first
/// poll gets the default action, which would end the process without a graceful stop.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, Signal, SignalKind};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async fn recv(signal: std::io::Result<Signal>) {
        match signal {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    }
    async move {
        tokio::select! { _ = recv(interrupt) => {}, _ = recv(terminate) => {} }
    }
}
