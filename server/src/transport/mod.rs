//! Subscriber transports. Each takes a [`SubscribeRequest`] and answers in its own format; the
//! guarantees (order, no loss, gaps) come from the broker's subscription, not from here.

pub mod batch;
pub mod frame;
pub mod long_poll;
pub mod sse;
pub mod websocket;

use std::time::Duration;

use push_core::broker::Position;
use push_core::{Channel, ErrorKind};

use crate::error::ApiError;
use crate::extract::params::Params;
use crate::state::AppState;

/// `Push-Id` and `Push-Gap` as header names made once (a name given as text is parsed and
/// copied on every insert).
pub static PUSH_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("push-id");
pub static PUSH_GAP: axum::http::HeaderName = axum::http::HeaderName::from_static("push-gap");

/// Largest `?timeout=` accepted, in seconds (larger is a client bug: 400).
pub const MAX_TIMEOUT_PARAM: f64 = 3600.0;

/// What a waiting poll answers when the server API disconnects its consumer.
pub fn disconnected_error(reason: &str) -> ApiError {
    ApiError::new(ErrorKind::Forbidden, format!("disconnected by the server: {reason}"))
}

/// A subscription as the request asked for it.
#[derive(Debug)]
pub struct SubscribeRequest {
    pub channels: Vec<Channel>,
    pub position: Position,
    pub consumer: Option<String>,
    /// Came through `/_push/subscribe`: frames name their channel.
    pub multiplexed: bool,
    pub params: Params,
    /// When the subscriber's credentials expire (Unix seconds): streams end then.
    pub expires_at: Option<u64>,
    /// The consumer's public info from its token (presence).
    pub info: Option<String>,
    /// `?presence=1`: the stream carries the presence lists, joins and leaves.
    pub presence: bool,
}

impl SubscribeRequest {
    /// Completes when the credentials expire (never without an expiry).
    pub async fn expired(expires_at: Option<u64>) {
        match expires_at {
            Some(at) => {
                let now = push_core::message::now_millis();
                let left = (at * 1000).saturating_sub(now);
                tokio::time::sleep(Duration::from_millis(left)).await
            }
            None => std::future::pending().await,
        }
    }

    /// Counts and registers this subscriber's connection for as long as the guard lives.
    pub fn connect(&self, state: &AppState, transport: &'static str) -> Result<crate::state::ConnectionGuard, ApiError> {
        state.connect(transport, self.consumer.as_deref(), self.info.as_deref(), &self.channels)
    }

    /// The presence notices this stream asked for (`?presence=1`); none when it did not.
    pub fn listen(&self, state: &AppState) -> crate::presence::Notices {
        let channels: &[Channel] = if self.presence { &self.channels } else { &[] };
        state.presence().listen(channels)
    }

    /// `?timeout=<seconds>` shortens a long-poll (0 answers at once): a number from 0 to
    /// [`MAX_TIMEOUT_PARAM`]; the server's `--long-poll-timeout` caps it.
    pub fn timeout(&self, state: &AppState) -> Result<Duration, ApiError> {
        let max = state.config.long_poll_timeout;
        match self.params.get("timeout") {
            None => Ok(max),
            Some(raw) => raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=MAX_TIMEOUT_PARAM).contains(s))
                .map(|s| Duration::from_secs_f64(s).min(max))
                .ok_or_else(|| {
                    let raw: String = raw.chars().take(40).collect();
                    ApiError::new(ErrorKind::BadRequest, format!("timeout={raw:?} is not a number of seconds from 0 to {MAX_TIMEOUT_PARAM}"))
                }),
        }
    }
}
