//! `push-server token`: mints a subscriber token, as the SDKs do.

use super::EXIT_USAGE;
use crate::config::Config;

pub fn print(config: &Config, channel: &str, consumer: Option<&str>, expires_in: u64, expires_at: Option<u64>) -> i32 {
    let Some(secret) = config.secret.as_deref().filter(|s| !s.is_empty()) else {
        eprintln!("push-server token: set --secret or PUSH_SECRET");
        return EXIT_USAGE;
    };
    let mut request = push_core::binding::TokenRequest::new(channel);
    request.consumer = consumer.map(str::to_owned);
    request.secret = Some(secret.as_bytes().to_vec());
    request.expires_at = expires_at.map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    request.expires_in = Some(i64::try_from(expires_in).unwrap_or(i64::MAX));
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
