//! `push-server subscribe <channel>`: prints the messages of a channel as they arrive, each
//! payload and a newline (or one JSON object per line with `--json`, for payloads with line
//! breaks), for operators debugging a deployment without curl.
//! It reads with the JSON batch transport, so it resumes by cursor, sees gaps, and loses nothing
//! between requests; a failed request is retried with backoff, from the same cursor.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use super::{EXIT_FAILURE, EXIT_USAGE};

#[derive(clap::Args, Debug, Clone)]
pub struct SubscribeArgs {
    /// Channel to read, e.g. `/greetings`.
    pub channel: String,
    /// Server to read from.
    #[arg(long, env = "PUSH_URL", default_value = push_core::DEFAULT_URL)]
    pub url: String,
    /// Start after this message id (cursor) instead of with the next message.
    #[arg(long)]
    pub after: Option<String>,
    /// Exit after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Print each message and gap as a JSON object, exactly one per line, instead of the payload
    /// (whose own line breaks would split it over several lines).
    #[arg(long)]
    pub json: bool,
    /// Subscriber token, for servers started with --auth token.
    #[arg(long)]
    pub token: Option<String>,
    /// Consumer id sent with each request.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Failed requests retried in a row (from the same cursor) before giving up.
    #[arg(long, default_value_t = 10)]
    pub retries: u32,
}

/// Server-side wait of one request; shorter than the client's own timeout below.
const WAIT_SECS: u64 = 25;

pub async fn run(args: &SubscribeArgs) -> i32 {
    if let Err(e) = push_core::Channel::parse(&args.channel) {
        eprintln!("push-server subscribe: {e}");
        return EXIT_USAGE;
    }
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(WAIT_SECS + 10));
    if args.url.starts_with("https://") {
        // The producers' trust: the system's roots plus PUSH_CA_FILE.
        match push_core::tls::ca_file_from_env().and_then(|ca| push_core::tls::client_config(ca.as_ref())) {
            Ok(config) => builder = builder.tls_backend_preconfigured(config),
            Err(e) => {
                eprintln!("push-server subscribe: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("push-server subscribe: {e}");
            return EXIT_FAILURE;
        }
    };
    let base = format!("{}{}", args.url.trim_end_matches('/'), args.channel);
    let mut cursor = args.after.clone();
    let mut received = 0u64;
    let mut failures = 0u32;
    loop {
        let mut query: Vec<(&str, String)> = vec![("timeout", WAIT_SECS.to_string())];
        if let Some(c) = &cursor {
            query.push(("after", c.clone()));
        }
        if let Some(t) = &args.token {
            query.push(("token", t.clone()));
        }
        if let Some(c) = &args.consumer {
            query.push(("consumer", c.clone()));
        }
        let url = format!("{base}?{}", form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish());
        let answer = match client.get(&url).header("Accept", "application/json").send().await {
            Ok(a) => a,
            Err(e) => {
                // A certificate problem does not go away on retry.
                if let Some(tls) = push_core::tls::rustls_error(&e) {
                    eprintln!("push-server subscribe: {base}: {}", push_core::tls::describe(tls));
                    return EXIT_FAILURE;
                }
                failures += 1;
                if failures > args.retries {
                    eprintln!("push-server subscribe: {base}: {e}");
                    return EXIT_FAILURE;
                }
                let wait = Duration::from_millis(250 * u64::from(failures.min(8)));
                eprintln!("push-server subscribe: {e}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                continue;
            }
        };
        let status = answer.status();
        let body = answer.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            eprintln!("push-server subscribe: {base} answered {status}: {}", text.trim());
            // 4xx will not change on retry (bad channel, token, cursor); 5xx might.
            if status.is_client_error() || failures >= args.retries {
                return EXIT_FAILURE;
            }
            failures += 1;
            tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(8)))).await;
            continue;
        }
        failures = 0;
        let batch: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("push-server subscribe: unreadable answer from {base}: {e}");
                return EXIT_FAILURE;
            }
        };
        let mut events: Vec<&Value> = batch["gaps"].as_array().into_iter().flatten().chain(batch["messages"].as_array().into_iter().flatten()).collect();
        // Gaps and messages in id order (a gap's `to` precedes the first message after it).
        events.sort_by_key(|e| e["id"].as_str().or(e["to"].as_str()).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0));
        let mut out = std::io::stdout().lock();
        for event in events {
            let line = if args.json {
                event.to_string()
            } else if event["type"] == "gap" {
                eprintln!("push-server subscribe: gap: messages {}..{} of {} are gone", event["from"].as_str().unwrap_or("?"), event["to"].as_str().unwrap_or("?"), args.channel);
                continue;
            } else {
                text_of(event)
            };
            if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                return 0; // stdout closed (`| head`): done
            }
            if event["type"] != "gap" {
                received += 1;
                if args.count.is_some_and(|n| received >= n) {
                    return 0;
                }
            }
        }
        if let Some(last) = batch["last_id"].as_str() {
            cursor = Some(last.to_owned());
        }
    }
}

/// A message's payload as text; a binary one prints as the base64 the batch carries it in.
fn text_of(message: &Value) -> String {
    message["data"].as_str().unwrap_or_default().to_owned()
}
