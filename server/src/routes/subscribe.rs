//! `GET /<channel>` and `GET /_push/subscribe?channel=...`: pick the transport the request asks
//! for. WebSocket upgrade, `Accept: text/event-stream` (SSE), `Accept: application/json` (JSON
//! batch), else long-poll (raw payload; JSON batch on the multiplexing endpoint).

use std::future::Future;
use std::pin::Pin;

use axum::extract::{FromRequestParts, Request, State, WebSocketUpgrade};
use axum::http::{header, request::Parts};
use axum::response::Response;
use push_core::ErrorKind;

use crate::error::{ApiError, ApiResult};
use crate::extract::{channels, consumer, cursor, params::Params};
use crate::state::AppState;
use crate::transport::{batch, long_poll, sse, websocket, SubscribeRequest};

pub async fn channel(State(state): State<AppState>, params: Params, request: Request) -> ApiResult<Response> {
    prepare(state, params, request, false).await?.await
}

pub async fn multiplexed(State(state): State<AppState>, params: Params, request: Request) -> ApiResult<Response> {
    prepare(state, params, request, true).await?.await
}

/// A transport answering a subscriber: it runs (and waits) in its own box, sized to it, so a
/// waiting subscriber does not carry the checks before it (auth, the request's head).
pub type Answering = Pin<Box<dyn Future<Output = ApiResult<Response>> + Send>>;

/// Checks a subscriber request (`/<channel>`, or `/_push/subscribe` when `multiplexed`) and
/// picks the transport that answers it.
pub async fn prepare(state: AppState, params: Params, request: Request, multiplexed: bool) -> ApiResult<Answering> {
    let (parts, _) = request.into_parts();
    let channels = if multiplexed {
        channels::from_params(&params, state.config.max_channels_per_connection)?
    } else {
        vec![channels::from_path(parts.uri.path())?]
    };
    dispatch(state, parts, params, channels, multiplexed).await
}

async fn dispatch(state: AppState, mut parts: Parts, params: Params, channels: Vec<push_core::Channel>, multiplexed: bool) -> ApiResult<Answering> {
    let upgrade = parts.headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        // Before auth: a page from another site must not even cause a check with its cookies.
        websocket::check_origin(&state, &parts.headers)?;
    }
    let position = cursor::position(&params, &parts.headers)?;
    let consumer = consumer::consumer(&state.config, &params, &parts.headers);
    let grant = state.auth.authorize(&parts, &params, &channels, consumer.as_deref()).await?;
    if let Some(ban) = consumer.as_deref().and_then(|c| state.sessions().bans.check(c, &channels)) {
        let left = ban.until.saturating_sub(push_core::message::now_millis()).div_ceil(1000);
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            format!("consumer {:?} was disconnected ({}); subscribing is refused for another {left} s", ban.consumer, ban.reason),
        ));
    }
    let presence = params.flag("presence")?;
    let request = SubscribeRequest { channels, position, consumer, multiplexed, params, expires_at: grant.expires_at, info: grant.info, presence };
    tracing::debug!(channels = ?request.channels, consumer = request.consumer.as_deref(), "subscribe");

    if upgrade {
        let ws = WebSocketUpgrade::from_request_parts(&mut parts, &state)
            .await
            .map_err(|e| ApiError::new(ErrorKind::BadRequest, format!("bad WebSocket upgrade: {}", e.body_text())))?;
        let slot = parts.extensions.get::<crate::listener::ConnectionSlot>().cloned();
        drop(parts);
        return Ok(Box::pin(websocket::respond(state, request, ws, slot)));
    }
    let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let sse = accept.contains("text/event-stream");
    let batch = accept.contains("application/json") || multiplexed;
    // The request head shares hyper's read buffer: let it go before a poll waits, or an idle
    // poller keeps that buffer as well as the one hyper reads the next request into.
    drop(parts);
    Ok(if sse {
        Box::pin(sse::respond(state, request))
    } else if batch {
        Box::pin(batch::respond(state, request))
    } else {
        Box::pin(long_poll::respond(state, request))
    })
}
