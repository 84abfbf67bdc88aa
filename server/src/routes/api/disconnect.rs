//! Disconnect (`POST /_push/api/disconnect`): end a consumer's connections on every node, with a
//! reason the client sees, and optionally refuse its return for a while.

use axum::body::Body;
use axum::extract::State;
use axum::Json;
use push_core::message::now_millis;
use push_core::{Channel, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::cluster::Disconnect;
use crate::error::{ApiError, ApiResult};
use crate::sessions::bans::MAX_BAN_SECS;
use crate::state::AppState;

/// Largest request body.
const MAX_BODY: usize = 4096;
/// Longest reason, in bytes.
const MAX_REASON: usize = 200;
/// Longest consumer id (as the subscribe side cuts them).
const MAX_CONSUMER: usize = 128;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    consumer: String,
    channel: Option<Channel>,
    reason: Option<String>,
    ban: Option<f64>,
}

#[derive(Serialize)]
pub struct Answer {
    consumer: String,
    channel: Option<Channel>,
    disconnected: usize,
    ban_until: Option<u64>,
}

pub async fn disconnect(State(state): State<AppState>, body: Body) -> ApiResult<Json<Answer>> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::new(ErrorKind::PayloadTooLarge, format!("a disconnect's body is at most {MAX_BODY} bytes")))?;
    let request: Request = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(ErrorKind::BadRequest, format!("the body is not a disconnect ({e}); send {{\"consumer\": \"alice\", \"reason\": \"...\"}}"))
    })?;
    let bad = |m: String| Err(ApiError::new(ErrorKind::BadRequest, m));
    if request.consumer.is_empty() || request.consumer.chars().count() > MAX_CONSUMER || request.consumer.chars().any(char::is_control) {
        return bad(format!("consumer must be 1 to {MAX_CONSUMER} characters, without control characters"));
    }
    let reason = request.reason.unwrap_or_else(|| "disconnected by the server".to_owned());
    if reason.len() > MAX_REASON {
        return bad(format!("reason is at most {MAX_REASON} bytes"));
    }
    let ban_until = match request.ban {
        None => None,
        Some(secs) if (0.0..=MAX_BAN_SECS as f64).contains(&secs) => Some(now_millis() + (secs * 1000.0) as u64).filter(|_| secs > 0.0),
        Some(_) => return bad(format!("ban is a number of seconds from 0 to {MAX_BAN_SECS}")),
    };
    let command = Disconnect { consumer: request.consumer.clone(), channel: request.channel.clone(), reason, ban_until };
    let disconnected = state.cluster.disconnect(command).await?;
    tracing::info!(consumer = %request.consumer, channel = ?request.channel, disconnected, ?ban_until, "disconnect");
    Ok(Json(Answer { consumer: request.consumer, channel: request.channel, disconnected, ban_until }))
}
