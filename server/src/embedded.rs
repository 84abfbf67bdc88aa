//! The server inside another program: `Push::Server.start` in Ruby, `push.Server` in Python and
//! `Server.start` in Node all run this. It serves on its own threads (its own tokio runtime), so
//! the host's GVL, GIL or event loop is never held by it, and stops gracefully on [`Server::stop`]
//! or drop.
//!
//! Options are the command-line flags by name (`publish_key`, `publishKey` or `publish-key` all
//! mean `--publish-key`), parsed and validated by the same code as the flags, so each language
//! accepts exactly what `push-server --help` lists. `PUSH_*` environment variables apply as they
//! do to the binary. Unlike the binary, the default bind is `127.0.0.1:0` (a free port).
//!
//! A binding's server object holds a [`Hosted`]: the start/stop/running rules for a server that
//! many host threads share, that a garbage collector drops, and that a forked child inherits.

mod hosted;

pub use hosted::Hosted;

use std::net::SocketAddr;
use std::thread::JoinHandle;

use clap::Parser;
use push_core::{Error, ErrorKind};
use tokio::sync::oneshot;

use crate::config::Config;

/// One option's value, as a binding converts it from its language.
#[derive(Debug, Clone)]
pub enum OptionValue {
    /// A switch (`allow_open_publish: true`); `false` leaves it off.
    Flag(bool),
    /// Any other value; numbers and durations as text (`"30s"`).
    Text(String),
    /// A list (`cors_origins: ["https://a", "https://b"]`), passed as one comma-separated value.
    List(Vec<String>),
}

/// `publish_key`, `publishKey` and `publish-key` → `--publish-key`.
fn flag_name(name: &str) -> Result<String, Error> {
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid || name.starts_with(['-', '_']) {
        return Err(Error::new(ErrorKind::InvalidConfig, format!("{name:?} is not a server option")));
    }
    let mut flag = String::from("--");
    for c in name.chars() {
        match c {
            '_' => flag.push('-'),
            c if c.is_ascii_uppercase() => {
                flag.push('-');
                flag.push(c.to_ascii_lowercase());
            }
            c => flag.push(c),
        }
    }
    Ok(flag)
}

/// Builds and validates a [`Config`] from named options, as the flags would.
pub fn config_from_options<I>(options: I) -> Result<Config, Error>
where
    I: IntoIterator<Item = (String, OptionValue)>,
{
    let mut args = vec!["push-server".to_owned()];
    let mut has_bind = false;
    for (name, value) in options {
        let flag = flag_name(&name)?;
        if matches!(flag.as_str(), "--help" | "--version") {
            return Err(Error::new(ErrorKind::InvalidConfig, format!("{name:?} is not a server option")));
        }
        has_bind |= flag == "--bind";
        match value {
            OptionValue::Flag(true) => args.push(flag),
            OptionValue::Flag(false) => {}
            OptionValue::Text(v) => args.push(format!("{flag}={v}")),
            OptionValue::List(vs) => args.push(format!("{flag}={}", vs.join(","))),
        }
    }
    if !has_bind {
        args.push("--bind=127.0.0.1:0".to_owned());
    }
    let config = Config::try_parse_from(&args).map_err(|e| Error::new(ErrorKind::InvalidConfig, clap_reason(&e)))?;
    crate::check_config(&config).map_err(|reason| Error::new(ErrorKind::InvalidConfig, reason))?;
    Ok(config)
}

/// clap's first line without its `error: ` prefix and usage block.
fn clap_reason(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid server options");
    first.trim_start_matches("error: ").replace("argument '--", "option '--")
}

/// A running in-process server.
pub struct Server {
    addr: SocketAddr,
    /// Serving HTTPS (--tls-cert).
    tls: bool,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds, connects the broker, and serves; returns once the server accepts connections.
    /// Fails with `INVALID_CONFIG` for bad options, an unknown broker or an address that cannot
    /// be bound, and `CONNECTION_FAILED` when the broker cannot be reached.
    pub fn start(config: Config) -> Result<Server, Error> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<SocketAddr, Error>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let tls = config.tls_cert.is_some();
        let thread = std::thread::Builder::new()
            .name("push-server".into())
            .spawn(move || serve_on_own_runtime(config, ready_tx, stop_rx))
            .map_err(|e| Error::new(ErrorKind::ServerError, format!("cannot start the server thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(addr)) => Ok(Server { addr, tls, stop: Some(stop_tx), thread: Some(thread) }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::new(ErrorKind::ServerError, "the server thread ended before it was ready"))
            }
        }
    }

    /// The address it listens on (the real port when started with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port` (`https://` with --tls-cert), for producers and subscribers.
    pub fn url(&self) -> String {
        url(self.tls, self.addr)
    }

    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops taking connections, ends open streams, waits for requests in flight (up to
    /// `--shutdown-timeout`), and returns when the server's threads are gone. Idempotent.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn url(tls: bool, addr: SocketAddr) -> String {
    format!("{}://{addr}", if tls { "https" } else { "http" })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("running", &self.is_running()).finish()
    }
}

fn serve_on_own_runtime(config: Config, ready: std::sync::mpsc::Sender<Result<SocketAddr, Error>>, stop: oneshot::Receiver<()>) {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("push-server-worker").build() {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(Error::new(ErrorKind::ServerError, format!("cannot start the async runtime: {e}"))));
            return;
        }
    };
    runtime.block_on(async move {
        crate::tls::take_sighup(&config);
        let listener = match crate::listener::bind(config.bind) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(Error::new(ErrorKind::InvalidConfig, format!("cannot listen on {}: {e}", config.bind))));
                return;
            }
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                let _ = ready.send(Err(Error::new(ErrorKind::ServerError, e.to_string())));
                return;
            }
        };
        let broker = match crate::broker::from_config(&config).await {
            Ok(b) => b,
            Err(e) => {
                // Its own kind: INVALID_CONFIG for an unknown engine, CONNECTION_FAILED for a
                // broker that cannot be reached.
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(addr));
        if let Err(e) = crate::serve(listener, broker, config, async move {
            let _ = stop.await;
        })
        .await
        {
            tracing::error!("push-server: {e}");
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> OptionValue {
        OptionValue::Text(s.into())
    }

    #[test]
    fn option_names_in_every_spelling_map_to_the_flag() {
        for name in ["publish_key", "publishKey", "publish-key"] {
            assert_eq!(flag_name(name).unwrap(), "--publish-key");
        }
        assert!(flag_name("--bind").is_err());
        assert!(flag_name("bind=x").is_err());
        assert!(flag_name("").is_err());
    }

    #[test]
    fn options_are_checked_like_flags() {
        let config = config_from_options([("history_size".into(), text("5")), ("corsOrigins".into(), OptionValue::List(vec!["https://a.example".into(), "https://b.example".into()]))]).unwrap();
        assert_eq!(config.history_size, 5);
        assert_eq!(config.cors_origins, vec!["https://a.example", "https://b.example"]);
        assert_eq!(config.bind.port(), 0, "a free port by default");
        let e = config_from_options([("no_such_option".into(), text("1"))]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("--no-such-option"), "{e}");
        let e = config_from_options([("history_size".into(), text("lots"))]).unwrap_err();
        assert!(e.to_string().contains("lots"), "{e}");
        let e = config_from_options([("bind".into(), text("0.0.0.0:0"))]).unwrap_err();
        assert!(e.to_string().contains("publish key"), "{e}");
        assert!(config_from_options([("help".into(), OptionValue::Flag(true))]).is_err());
    }

    #[test]
    fn starts_on_a_free_port_serves_and_stops() {
        let mut server = Server::start(config_from_options(Vec::new()).unwrap()).unwrap();
        assert_ne!(server.local_addr().port(), 0);
        assert!(server.is_running());
        let addr = server.local_addr();
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /_push/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        server.stop();
        assert!(!server.is_running());
        assert!(std::net::TcpStream::connect(addr).is_err(), "still listening after stop");
        server.stop();
    }

    #[test]
    fn a_taken_port_is_a_config_error() {
        let first = Server::start(config_from_options(Vec::new()).unwrap()).unwrap();
        let taken = first.local_addr().to_string();
        let e = Server::start(config_from_options([("bind".into(), text(&taken))]).unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("cannot listen"), "{e}");
    }

    #[test]
    fn a_data_dir_is_released_at_stop_and_refused_while_in_use() {
        let dir = std::env::temp_dir().join(format!("push-embedded-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let options = || config_from_options([("data_dir".into(), text(dir.to_str().unwrap())), ("fsync".into(), text("interval"))]).unwrap();
        assert_eq!(options().fsync, crate::config::FsyncPolicy::Interval);
        let mut first = Server::start(options()).unwrap();
        let e = Server::start(options()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("in use by another push-server process"), "{e}");
        first.stop();
        // Stopped: the same process (a test suite, a reloading app) may open it again.
        let mut again = Server::start(options()).unwrap();
        again.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn broker_errors_keep_their_kind() {
        let unknown = config_from_options([("broker".into(), text("gopher://x"))]).unwrap();
        assert_eq!(Server::start(unknown).unwrap_err().kind(), ErrorKind::InvalidConfig);
        // Nothing listens on port 1: the broker cannot be reached.
        let unreachable = config_from_options([("broker".into(), text("amqp://guest:guest@127.0.0.1:1/%2f"))]).unwrap();
        assert_eq!(Server::start(unreachable).unwrap_err().kind(), ErrorKind::ConnectionFailed);
    }
}
