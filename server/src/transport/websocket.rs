//! WebSocket: JSON text frames (see [`Frame`]) from server to client. The first frame is
//! `{"type":"subscribed","channels":[...],"last_id":"<cursor>"}`; then messages and gaps in id
//! order. The server pings at the heartbeat interval. Clients need to send only control frames:
//! small data frames are ignored, a message over `--ws-max-message-bytes` closes the socket with
//! 1009, a protocol error with 1002, and a client that sends nothing (not even a pong) for two
//! heartbeats with 1008. The socket closes with 1001 when the server shuts down, and with 4001
//! when the subscriber's token expires.
//!
//! A browser sends cookies with a WebSocket handshake from any site, so an `Origin` not in
//! `--cors-origins` is refused (403) unless that list is `*`.

use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{header, HeaderMap};
use axum::response::Response;
use futures_util::{FutureExt, SinkExt, StreamExt};
use push_core::broker::Subscription;
use push_core::{Channel, Error, ErrorKind, Event};

use super::frame::Frame;
use super::SubscribeRequest;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Limit;
use crate::listener::ConnectionSlot;
use crate::state::{AppState, ConnectionGuard};

/// The read buffer a socket keeps, and the bytes read at a time: clients send only control
/// frames (at most 131 bytes each), so a larger buffer would be memory every idle subscriber
/// holds for nothing. A larger frame grows it for as long as that frame is read.
const READ_BUFFER: usize = 512;
/// Most queued messages written with one flush.
const COALESCE: usize = 64;

/// `slot` is the connection's place under the TCP limits, held for as long as the socket lives.
pub async fn respond(state: AppState, request: SubscribeRequest, upgrade: WebSocketUpgrade, slot: Option<ConnectionSlot>) -> ApiResult<Response> {
    let guard = request.connect(&state, "websocket")?;
    let subscription = state.broker.subscribe(&request.channels, request.position)?;
    let max = state.config.ws_max_message_bytes;
    let upgrade = upgrade.read_buffer_size(READ_BUFFER.min(max).max(256)).max_message_size(max).max_frame_size(max);
    Ok(upgrade.on_upgrade(move |socket| async move {
        serve(socket, state, request, subscription, guard).await;
        drop(slot);
    }))
}

/// Refuses a handshake from a browser page whose origin is not allowed (`--cors-origins`).
/// Requests without `Origin` (curl, services) are not from a browser page and pass.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let Some(origin) = headers.get(header::ORIGIN) else { return Ok(()) };
    if state.config.any_origin() || state.config.origins().any(|o| o.as_bytes() == origin.as_bytes()) {
        return Ok(());
    }
    let shown = String::from_utf8_lossy(origin.as_bytes()).chars().take(100).collect::<String>();
    Err(ApiError(
        Error::new(ErrorKind::Forbidden, format!("WebSocket from origin {shown:?} refused: it is not in --cors-origins"))
            .with_source(Limit::Origin),
    ))
}

/// The close frame for a read error: too large (1009) or anything else (1002).
fn close_for(error: axum::Error) -> CloseFrame {
    let too_large = error
        .into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_large {
        CloseFrame { code: 1009, reason: Utf8Bytes::from_static("message too large: clients send only control frames") }
    } else {
        CloseFrame { code: 1002, reason: Utf8Bytes::from_static("protocol error") }
    }
}

/// A close frame's reason: at most 123 bytes (RFC 6455), cut at a character boundary.
fn close_reason(reason: &str) -> Utf8Bytes {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Utf8Bytes::from(reason[..end].to_owned())
}

/// A message or gap as its JSON frame, counted.
fn frame_text(event: &Event, subscribed: &[Channel], guard: &ConnectionGuard) -> Utf8Bytes {
    match event {
        Event::Message(m) => {
            guard.delivered(1, m.id);
            Utf8Bytes::try_from(Frame::message_json_for(m, subscribed)).expect("JSON is UTF-8")
        }
        Event::Gap(channel, g) => {
            guard.gap();
            Frame::gap(channel, g).to_json().into()
        }
    }
}

async fn serve(socket: WebSocket, state: AppState, request: SubscribeRequest, mut subscription: Subscription, guard: ConnectionGuard) {
    let (mut tx, mut rx) = socket.split();
    let hello = Frame::Subscribed { channels: &request.channels, last_id: subscription.start }.to_json();
    if tx.send(WsMessage::Text(hello.into())).await.is_err() {
        return;
    }
    let mut heartbeat = tokio::time::interval(state.config.heartbeat);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let expired = SubscribeRequest::expired(request.expires_at);
    tokio::pin!(expired);
    let disconnected = guard.disconnected();
    tokio::pin!(disconnected);
    let mut presence = request.listen(&state);
    // A token of its own, waited on by one future for the socket's life: a fresh wait on the
    // server's token every time round the loop took and left a lock every socket shares.
    let shutdown = state.shutdown.child_token().cancelled_owned();
    tokio::pin!(shutdown);
    let mut close = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("server shutting down") };
    loop {
        tokio::select! {
            event = subscription.events.next() => {
                let Some(event) = event else { break };
                // Everything already queued goes out with one flush (one write under a burst),
                // not one write per message.
                let (mut pending, mut written, mut ended) = (Some(event), 0, false);
                while let Some(event) = pending.take() {
                    if tx.feed(WsMessage::Text(frame_text(&event, &request.channels, &guard))).await.is_err() {
                        return;
                    }
                    written += 1;
                    if written < COALESCE {
                        match subscription.events.next().now_or_never() {
                            Some(Some(e)) => pending = Some(e),
                            Some(None) => ended = true,
                            None => {}
                        }
                    }
                }
                if tx.flush().await.is_err() {
                    return;
                }
                if ended {
                    break;
                }
            }
            incoming = rx.next() => match incoming {
                None | Some(Ok(WsMessage::Close(_))) => return,
                Some(Err(e)) => {
                    close = close_for(e);
                    if close.code == 1009 {
                        state.metrics.limit_hit(Limit::WsMessage);
                    }
                    break;
                }
                Some(Ok(_)) => last_heard = Instant::now(),
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > state.config.heartbeat * 2 {
                    state.metrics.limit_hit(Limit::WsPong);
                    close = CloseFrame { code: 1008, reason: Utf8Bytes::from_static("no pong for two heartbeats") };
                    break;
                }
                if tx.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            (_, notice) = presence.next() => {
                if tx.send(WsMessage::Text(Utf8Bytes::from(notice.as_ref()))).await.is_err() {
                    return;
                }
            }
            () = &mut shutdown => break,
            () = &mut expired => {
                close = CloseFrame { code: 4001, reason: Utf8Bytes::from_static("token expired") };
                break;
            }
            reason = &mut disconnected => {
                if tx.send(WsMessage::Text(Frame::Disconnect { reason: &reason }.to_json().into())).await.is_err() {
                    return;
                }
                close = CloseFrame { code: 4003, reason: close_reason(&reason) };
                break;
            }
        }
    }
    let _ = tx.send(WsMessage::Close(Some(close))).await;
}
