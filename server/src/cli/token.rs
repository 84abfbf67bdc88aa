//! `push-server token`: mints a subscriber token, as the SDKs do.

use super::EXIT_USAGE;
use crate::config::Config;

#[derive(clap::Args, Debug, Clone)]
pub struct TokenArgs {
    /// Channel (`/rooms/42`) or prefix pattern (`/rooms/*`) the token covers.
    #[arg(long)]
    pub channel: String,
    /// Only a subscriber with this consumer id may use the token.
    #[arg(long)]
    pub consumer: Option<String>,
    /// Seconds until the token expires.
    #[arg(long, default_value_t = push_core::binding::DEFAULT_TOKEN_EXPIRY_SECS)]
    pub expires_in: u64,
    /// Absolute expiry (Unix seconds) instead of --expires-in.
    #[arg(long)]
    pub expires_at: Option<u64>,
    /// Public info about the consumer that presence shows, a JSON object: `'{"name":"Alice"}'`
    /// (needs --consumer; at most 1024 bytes).
    #[arg(long)]
    pub info: Option<String>,
}

pub fn print(config: &Config, args: &TokenArgs) -> i32 {
    let Some(secret) = config.secret.as_deref().filter(|s| !s.is_empty()) else {
        eprintln!("push-server token: set --secret or PUSH_SECRET");
        return EXIT_USAGE;
    };
    let mut request = push_core::binding::TokenRequest::new(&args.channel);
    request.consumer = args.consumer.clone();
    request.info = match args.info.as_deref().map(compact).transpose() {
        Ok(info) => info,
        Err(e) => {
            eprintln!("push-server token: --info is not JSON: {e}");
            return EXIT_USAGE;
        }
    };
    request.secret = Some(secret.as_bytes().to_vec());
    request.expires_at = args.expires_at.map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    request.expires_in = Some(i64::try_from(args.expires_in).unwrap_or(i64::MAX));
    match request.sign() {
        Ok(token) => {
            println!("{token}");
            0
        }
        Err(e) => {
            eprintln!("push-server token: {e}");
            EXIT_USAGE
        }
    }
}

/// JSON as one compact line, as a token carries it.
fn compact(text: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<serde_json::Value>(text).map(|v| v.to_string())
}
