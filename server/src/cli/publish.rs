//! `push-server publish <channel> [data]`: publishes one message with the Rust producer, so an
//! operator can test a deployment without curl. Prints the message's id.

use std::io::Read;
use std::time::Duration;

use bytes::Bytes;
use push_core::{Producer, ProducerOptions};

use super::{EXIT_FAILURE, EXIT_USAGE};
use crate::config::Config;

#[derive(clap::Args, Debug, Clone)]
pub struct PublishArgs {
    /// Channel to publish to, e.g. `/greetings`.
    pub channel: String,
    /// The message; read from stdin when absent or `-`.
    pub data: Option<String>,
    /// Server (`http://host:port`) or RabbitMQ (`amqp://...`) to publish to; the key is
    /// --publish-key (PUSH_PUBLISH_KEY).
    #[arg(long, env = "PUSH_URL", default_value = push_core::DEFAULT_URL)]
    pub url: String,
    /// Content type of the message (default: text for UTF-8, else application/octet-stream).
    #[arg(long)]
    pub content_type: Option<String>,
    /// Idempotency key: publishing again with it stores the message once.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Seconds the publish may take, retries included.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
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
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout < 1e9) {
        eprintln!("push-server publish: --timeout must be a positive number of seconds");
        return EXIT_USAGE;
    }
    let mut options = ProducerOptions::new().url(args.url.clone()).timeout(Duration::from_secs_f64(args.timeout));
    if let Some(key) = &config.publish_key {
        options = options.publish_key(key.clone());
    }
    let producer = match Producer::with_options(options) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("push-server publish: {e} ({})", e.kind().code());
            return EXIT_USAGE;
        }
    };
    let mut publish = producer.publish(data);
    if let Some(ct) = &args.content_type {
        publish = publish.content_type(ct.clone());
    }
    if let Some(key) = &args.idempotency_key {
        publish = publish.idempotency_key(key.clone());
    }
    match publish.to(&args.channel).await {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => {
            eprintln!("push-server publish: {e} ({})", e.kind().code());
            if matches!(e.kind(), push_core::ErrorKind::InvalidChannel | push_core::ErrorKind::InvalidConfig) { EXIT_USAGE } else { EXIT_FAILURE }
        }
    }
}
