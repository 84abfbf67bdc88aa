//! `push-server token`: mints a subscriber token, as the SDKs do.

use super::EXIT_USAGE;
use crate::config::Config;

pub fn print(config: &Config, channel: &str, consumer: Option<&str>, expires_in: u64, expires_at: Option<u64>) -> i32 {
    let Some(secret) = config.secret.as_deref().filter(|s| !s.is_empty()) else {
        eprintln!("push-server token: set --secret or PUSH_SECRET");
        return EXIT_USAGE;
    };
    let claims = push_core::token::Claims {
        channel: channel.to_owned(),
        consumer: consumer.map(str::to_owned),
        expires_at: expires_at.unwrap_or(push_core::message::now_millis() / 1000 + expires_in),
    };
    match push_core::token::sign(secret.as_bytes(), &claims) {
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
