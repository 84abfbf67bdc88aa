//! WebSocket: JSON text frames (see [`Frame`]) from server to client. The first frame is
//! `{"type":"subscribed","channels":[...],"last_id":"<cursor>"}`; then messages and gaps in id
//! order. The server pings at the heartbeat interval; what the client sends is ignored except
//! close. The socket closes with 1001 when the server shuts down, and with 4001 when the
//! subscriber's token expires.

use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use push_core::broker::Subscription;
use push_core::Event;

use super::frame::Frame;
use super::SubscribeRequest;
use crate::error::ApiResult;
use crate::state::{AppState, ConnectionGuard};

pub async fn respond(state: AppState, request: SubscribeRequest, upgrade: WebSocketUpgrade) -> ApiResult<Response> {
    let guard = state.connect("websocket")?;
    let subscription = state.broker.subscribe(&request.channels, request.position)?;
    Ok(upgrade.on_upgrade(move |socket| serve(socket, state, request, subscription, guard)))
}

async fn serve(socket: WebSocket, state: AppState, request: SubscribeRequest, mut subscription: Subscription, guard: ConnectionGuard) {
    let (mut tx, mut rx) = socket.split();
    let hello = Frame::Subscribed { channels: &request.channels, last_id: subscription.start }.to_json();
    if tx.send(WsMessage::Text(hello.into())).await.is_err() {
        return;
    }
    let mut heartbeat = tokio::time::interval(state.config.heartbeat);
    heartbeat.tick().await;
    let expired = SubscribeRequest::expired(request.expires_at);
    tokio::pin!(expired);
    let mut close = CloseFrame { code: 1001, reason: Utf8Bytes::from_static("server shutting down") };
    loop {
        tokio::select! {
            event = subscription.events.next() => {
                let Some(event) = event else { break };
                let text = match &event {
                    Event::Message(m) => { guard.delivered(1); Frame::message(m).to_json() }
                    Event::Gap(channel, g) => { guard.gap(); Frame::gap(channel, g).to_json() }
                };
                if tx.send(WsMessage::Text(text.into())).await.is_err() {
                    return;
                }
            }
            incoming = rx.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                if tx.send(WsMessage::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            _ = state.shutdown.cancelled() => break,
            () = &mut expired => {
                close = CloseFrame { code: 4001, reason: Utf8Bytes::from_static("token expired") };
                break;
            }
        }
    }
    let _ = tx.send(WsMessage::Close(Some(close))).await;
}
