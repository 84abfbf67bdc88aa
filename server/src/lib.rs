//! push-server: the bundled server of push-rs.
//!
//! - [`auth`]: who may subscribe (signed tokens, or asking the web app).
//! - [`config`]: flags and their `PUSH_*` environment variables, as plain data with the checks
//!   that need nothing else; [`check_config`] adds the listener's and TLS's.
//! - [`dedup`]: the idempotency window (a retried publish is stored once).
//! - [`hub`]: per-channel history and in-memory fan-out, bounded in bytes, fed in id order by
//!   one engine; it also wakes a publish waiting for its message to come back through a log.
//! - [`broker`]: engines behind the [`push_core::Broker`] contract: memory, the data dir
//!   (`--data-dir`, on [`storage`]: the log in one redb file) and RabbitMQ (a stream). The two
//!   with a log share one broker (`broker::logged`: the hub in front, the catch-up read from the
//!   log behind) and differ only in how a publish reaches their log.
//! - [`routes`]: paths and methods; [`transport`]: long-poll, JSON batch, SSE, WebSocket.
//! - [`extract`]: channels, cursor and consumer id from a request.
//! - [`listener`]: the accept loop, TCP connection limits, HTTP/1 and HTTP/2 limits; [`tls`]:
//!   HTTPS (rustls), certificates reloaded on SIGHUP or when their files change.
//! - [`cli`]: the `push-server` command, its flags and subcommands (every package's executable
//!   runs it); [`embedded`]: the server inside another program (the in-process `Server` of each
//!   SDK).
//! - [`sessions`]: who is connected (counts, disconnects, bans); [`cluster`]: the same across
//!   nodes on RabbitMQ; [`presence`]: members of presence channels, their joins and leaves;
//!   [`events`]: the signed events POSTed to the app (`--events-url`).
//! - [`error`]: error kinds as statuses; [`metrics`]: Prometheus counters; [`state`]: shared state.

pub mod auth;
pub mod broker;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod dedup;
pub mod embedded;
pub mod error;
pub mod events;
pub mod extract;
pub mod hub;
pub mod listener;
pub mod metrics;
pub mod presence;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod storage;
pub mod tls;
pub mod transport;

use std::future::Future;
use std::sync::Arc;

use push_core::Broker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

/// Checks `config` whole: its own rules, then the listener's (the exempt networks parse) and
/// TLS's (the certificate files load), so a bad setting stops the start before anything listens.
pub fn check_config(config: &Config) -> Result<(), String> {
    config.validate()?;
    listener::check(config)?;
    tls::check(config)
}

/// Every connection is a file descriptor: lifts the soft open-files limit (often 1024) to the
/// hard one, as nginx's `worker_rlimit_nofile` does, so --max-tcp-connections is what bounds
/// sockets. The binary calls it at start; embedders and tests may too.
pub fn raise_open_files_limit() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!("could not raise the open-files limit: {e}");
    }
}

/// The application: all routes over `state`. Tests can drive it without a socket.
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}

/// Serves on `listener` until `shutdown` completes, then stops taking connections, ends open
/// streams, and waits up to `--shutdown-timeout` for requests in flight.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let broker = broker::from_config(&config).await.map_err(|e| std::io::Error::other(e.to_string()))?;
    serve(listener, broker, config, shutdown).await
}

/// As [`run`], with a broker made by the caller.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<dyn Broker>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let token = CancellationToken::new();
    let grace = config.shutdown_timeout;
    let state = match AppState::new(broker.clone(), config, token.clone()) {
        Ok(state) => state,
        Err(e) => {
            token.cancel();
            broker.close();
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()));
        }
    };
    let (config, metrics) = (state.config.clone(), state.metrics.clone());
    let tls = match tls::Tls::from_config(&config, metrics.clone()) {
        Ok(tls) => tls,
        Err(reason) => {
            token.cancel();
            broker.close();
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, reason));
        }
    };
    if let Some(tls) = &tls {
        tls.watch(config.tls_reload_interval, token.clone());
    }
    let direct = routes::direct(state.clone());
    let app = app(state);
    let signal = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        signal.cancel();
    });
    let server = listener::serve(listener, app, direct, &config, metrics, tls, token.clone());
    tokio::select! {
        () = server => {}
        _ = async { token.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!("requests still open after {grace:?}; closing them");
        }
    }
    broker.close();
    Ok(())
}
