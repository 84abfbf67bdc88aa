//! Server-Sent Events (`Accept: text/event-stream`).
//!
//! The stream opens with an `id:`-only event carrying the start cursor, so an `EventSource`
//! that reconnects before any message still resumes from where it began. A message is
//! `id: <id>` + `data: <payload>` (multi-line payloads become several `data:` lines; SSE cannot
//! carry a carriage return, so CR and CRLF arrive as LF). Non-UTF-8 payloads are sent base64
//! encoded as `event: binary`. On the multiplexing endpoint `data:` is a JSON frame instead.
//! Gaps are `event: gap` with a JSON frame and the gap's end as `id:`. Comments keep idle
//! connections open. When the subscriber's token expires, an `event: expired` ends the stream.

use std::convert::Infallible;

use axum::http::{header, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::{stream, StreamExt};
use push_core::Event;

use super::frame::Frame;
use super::{SubscribeRequest, PUSH_ID};
use crate::error::ApiResult;
use crate::state::AppState;

/// Reconnect delay suggested to `EventSource`, in milliseconds.
const RETRY_MS: u64 = 2000;

pub async fn respond(state: AppState, request: SubscribeRequest) -> ApiResult<Response> {
    let guard = request.connect(&state, "sse")?;
    let disconnected = guard.disconnected();
    let presence = request.listen(&state);
    let subscription = state.broker.subscribe(&request.channels, request.position)?;
    let multiplexed = request.multiplexed;
    let subscribed = request.channels.clone();

    let start = subscription.start;
    let opening = SseEvent::default().id(subscription.start.to_string()).retry(std::time::Duration::from_millis(RETRY_MS));
    let events = subscription.events.map(move |event| {
        let sse = match &event {
            Event::Message(m) => {
                guard.delivered(1, m.id);
                let base = SseEvent::default().id(m.id.to_string());
                if multiplexed {
                    base.data(String::from_utf8_lossy(&Frame::message_json_for(m, &subscribed)))
                } else {
                    match std::str::from_utf8(&m.payload) {
                        Ok(text) => base.data(text.replace("\r\n", "\n").replace('\r', "\n")),
                        Err(_) => base.event("binary").data(base64::engine::general_purpose::STANDARD.encode(&m.payload)),
                    }
                }
            }
            Event::Gap(channel, g) => {
                guard.gap();
                SseEvent::default().event("gap").id(g.to.to_string()).data(Frame::gap(channel, g).to_json())
            }
        };
        Ok::<_, Infallible>(sse)
    });
    // When the credentials expire, or the server API disconnects the consumer, the stream says
    // so and ends.
    let expiry = Box::pin(SubscribeRequest::expired(request.expires_at));
    let disconnected = Box::pin(disconnected);
    // Presence notices (`?presence=1`) go between messages, without an id: they do not move
    // the cursor.
    let events = stream::unfold((events, expiry, disconnected, presence, false), |(mut events, mut expiry, mut disconnected, mut presence, done)| async move {
        if done {
            return None;
        }
        tokio::select! {
            biased;
            reason = &mut disconnected => {
                let event = SseEvent::default().event("disconnect").data(Frame::Disconnect { reason: &reason }.to_json());
                Some((Ok(event), (events, expiry, disconnected, presence, true)))
            }
            () = &mut expiry => {
                let expired = SseEvent::default().event("expired").data(r#"{"type":"expired"}"#);
                Some((Ok(expired), (events, expiry, disconnected, presence, true)))
            }
            event = events.next() => event.map(|e| (e, (events, expiry, disconnected, presence, false))),
            (kind, notice) = presence.next() => {
                let event = SseEvent::default().event(kind).data(notice.as_ref());
                Some((Ok(event), (events, expiry, disconnected, presence, false)))
            }
        }
    });
    let stream = stream::once(async move { Ok(opening) })
        .chain(events)
        .take_until(state.shutdown.clone().cancelled_owned());
    let mut response = Sse::new(stream).keep_alive(KeepAlive::new().interval(state.config.heartbeat)).into_response();
    // Proxies such as nginx buffer responses unless told not to.
    response.headers_mut().insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    // The headers every transport answers with: the start cursor, and nothing cached.
    response.headers_mut().insert(&PUSH_ID, HeaderValue::from(start.0));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
