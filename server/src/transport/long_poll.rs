//! Long-poll: wait for the first message after the cursor and answer it raw (200), or answer
//! 204 when the wait times out. Either way `Push-Id` is the cursor for the next request, and
//! `Push-Gap: <from>-<to>` says when messages before the answer are gone.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use push_core::{Event, Gap, MessageId};

use super::{SubscribeRequest, PUSH_GAP, PUSH_ID};
use crate::error::ApiResult;
use crate::state::AppState;

pub async fn respond(state: AppState, request: SubscribeRequest) -> ApiResult<Response> {
    let timeout = request.timeout(&state)?;
    let guard = request.connect(&state, "long-poll")?;
    let mut subscription = state.broker.poll(&request.channels, request.position)?;
    let mut cursor = subscription.start;
    let mut gap: Option<Gap> = None;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let disconnected = guard.disconnected();
    tokio::pin!(disconnected);
    loop {
        let event = tokio::select! {
            biased;
            reason = &mut disconnected => return Err(super::disconnected_error(&reason)),
            event = subscription.events.next() => event,
            _ = &mut deadline => None,
            _ = state.shutdown.cancelled() => None,
        };
        match event {
            Some(Event::Gap(_, g)) => {
                guard.gap();
                gap = Some(match gap {
                    Some(prev) => Gap { from: prev.from, to: g.to },
                    None => g,
                });
                cursor = g.to;
                // Answer the gap now unless a message is already waiting.
                deadline.as_mut().reset(tokio::time::Instant::now());
            }
            Some(Event::Message(m)) => {
                guard.delivered(1, m.id);
                let mut response = (StatusCode::OK, m.payload.clone()).into_response();
                let headers = response.headers_mut();
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&m.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
                );
                if let Some(event) = m.event.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
                    headers.insert(push_core::event_name::HEADER, event);
                }
                decorate(&mut response, m.id, gap);
                return Ok(response);
            }
            None => {
                let mut response = StatusCode::NO_CONTENT.into_response();
                decorate(&mut response, cursor, gap);
                return Ok(response);
            }
        }
    }
}

fn decorate(response: &mut Response, id: MessageId, gap: Option<Gap>) {
    let headers = response.headers_mut();
    headers.insert(&PUSH_ID, HeaderValue::from(id.0));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(g) = gap {
        headers.insert(&PUSH_GAP, HeaderValue::from_str(&format!("{}-{}", g.from, g.to)).expect("digits and a dash"));
    }
}
