//! The consumer id: who subscribes, for logs and metrics. Read from the configured header,
//! else the configured query parameter. It names a subscriber; it is not a server-side queue.

use axum::http::HeaderMap;

use super::params::Params;
use crate::config::Config;

/// Longest consumer id kept; longer ones are cut (they only label logs).
const MAX_LEN: usize = 128;

pub fn consumer(config: &Config, params: &Params, headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get(config.consumer_header.as_str())
        .and_then(|v| v.to_str().ok())
        .or_else(|| params.get(&config.consumer_param))?;
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).take(MAX_LEN).collect();
    (!cleaned.is_empty()).then_some(cleaned)
}
