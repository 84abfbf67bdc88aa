//! `push-server publish <channel>[,<channel>...] [data]`: publishes one message with the Rust
//! producer, so an operator can test a deployment without curl. Prints the message's id.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use push_core::{ErrorKind, Producer, ProducerOptions};

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::config::Config;

/// Where a subcommand that uses the producer sends its requests; the key is the server flag
/// --publish-key (PUSH_PUBLISH_KEY).
#[derive(clap::Args, Debug, Clone)]
pub struct ProducerArgs {
    /// Server (`http://host:port`), or RabbitMQ (`amqp://...`) to publish to; the key is
    /// --publish-key (PUSH_PUBLISH_KEY).
    #[arg(long, env = "PUSH_URL", default_value = push_core::DEFAULT_URL)]
    pub url: String,
    /// Seconds the publish or request may take, retries included.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
}

impl ProducerArgs {
    /// The producer, or the exit code after saying why there is none (`command` names the
    /// subcommand in the message).
    pub fn producer(&self, config: &Config, command: &str) -> Result<Producer, i32> {
        if !(self.timeout.is_finite() && self.timeout > 0.0 && self.timeout < 1e9) {
            eprintln!("push-server {command}: --timeout must be a positive number of seconds");
            return Err(EXIT_USAGE);
        }
        let mut options = ProducerOptions::new().url(self.url.clone()).timeout(Duration::from_secs_f64(self.timeout));
        if let Some(key) = &config.publish_key {
            options = options.publish_key(key.clone());
        }
        // Every option error is the command line's (a bad URL, an unreadable CA file).
        Producer::with_options(options).map_err(|e| {
            eprintln!("push-server {command}: {e} ({})", e.kind().code());
            EXIT_USAGE
        })
    }
}

/// Says why `command` failed; the exit code is 2 for what the command line got wrong (found before
/// any request), else 1.
pub fn fail(command: &str, e: &push_core::Error) -> i32 {
    eprintln!("push-server {command}: {e} ({})", e.kind().code());
    let usage = matches!(e.kind(), ErrorKind::InvalidChannel | ErrorKind::InvalidConfig) || (e.kind() == ErrorKind::BadRequest && e.status().is_none());
    if usage {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

#[derive(clap::Args, Debug, Clone)]
pub struct PublishArgs {
    /// Channel to publish to, e.g. `/greetings`; several separated by commas (`/a,/b`) get one
    /// message with one id.
    pub channel: String,
    /// The message; read from stdin when absent or `-`.
    pub data: Option<String>,
    #[command(flatten)]
    pub producer: ProducerArgs,
    /// Content type of the message (default: text for UTF-8, else application/octet-stream).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Idempotency key: publishing again with it stores the message once.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// SSE event name of the message (`event: <name>`), what htmx's `sse-swap` selects; default:
    /// a plain `message` event.
    #[arg(long)]
    pub event: Option<String>,
}

pub async fn run(config: &Config, args: &PublishArgs) -> i32 {
    let data = match &args.data {
        Some(d) if d != "-" => Bytes::from(d.clone().into_bytes()),
        _ => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().lock().read_to_end(&mut buf) {
                eprintln!("push-server publish: cannot read the message from stdin: {e}");
                return EXIT_FAILURE;
            }
            Bytes::from(buf)
        }
    };
    let producer = match args.producer.producer(config, "publish") {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut publish = producer.publish(data);
    if let Some(ct) = &args.content_type {
        publish = publish.content_type(ct.clone());
    }
    if let Some(key) = &args.idempotency_key {
        publish = publish.idempotency_key(key.clone());
    }
    if let Some(event) = &args.event {
        publish = publish.event(event.clone());
    }
    // A comma is never part of a channel name.
    let channels: Vec<&str> = args.channel.split(',').collect();
    match publish.to(channels).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => fail("publish", &e),
    }
}
