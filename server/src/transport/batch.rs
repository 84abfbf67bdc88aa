//! JSON batch (`Accept: application/json`): every message after the cursor, up to a limit, as
//! one JSON document. Waits like a long-poll when there is nothing yet; `?timeout=0` answers at
//! once. `last_id` is the cursor for the next request; `more` says a limit cut the batch: at most
//! `limit` (`--max-batch`) messages and `--max-batch-bytes` of payload, but always one message.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{FutureExt, StreamExt};
use push_core::{ErrorKind, Event, MessageId};
use serde::Serialize;

use super::frame::Frame;
use super::{SubscribeRequest, PUSH_ID};
use crate::error::{ApiError, ApiResult};
use crate::metrics::Limit;
use crate::state::AppState;

/// What a message adds to a batch, counted as its payload (the JSON around it is small).
fn payload_len(event: &Event) -> usize {
    match event {
        Event::Message(m) => m.payload.len(),
        Event::Gap(..) => 0,
    }
}

#[derive(Serialize)]
struct Batch<'a> {
    messages: Vec<Frame<'a>>,
    gaps: Vec<Frame<'a>>,
    last_id: MessageId,
    more: bool,
}

pub async fn respond(state: AppState, request: SubscribeRequest) -> ApiResult<Response> {
    let timeout = request.timeout(&state)?;
    let limit = match request.params.get("limit") {
        None => state.config.max_batch,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::new(ErrorKind::BadRequest, format!("limit={:?} is not a positive number", raw.chars().take(40).collect::<String>())))?
            .min(state.config.max_batch),
    };
    let guard = state.connect("json")?;
    let mut subscription = state.broker.poll(&request.channels, request.position)?;
    let start = subscription.start;

    let first = tokio::select! {
        biased;
        event = subscription.events.next() => event,
        _ = tokio::time::sleep(timeout) => None,
        _ = state.shutdown.cancelled() => None,
    };
    let mut events = Vec::new();
    let mut next = first;
    let mut more = false;
    let mut bytes = 0usize;
    // `limit` counts messages: a gap before them costs nothing, so `limit=1` still gets one.
    let mut messages = 0usize;
    while let Some(event) = next {
        bytes += payload_len(&event);
        messages += usize::from(matches!(event, Event::Message(_)));
        events.push(event);
        next = subscription.events.next().now_or_never().flatten();
        let Some(peeked) = &next else { break };
        // The peeked event is not lost: the next request reads it again after `last_id`.
        if messages >= limit && matches!(peeked, Event::Message(_)) {
            more = true;
            break;
        }
        if bytes + payload_len(peeked) > state.config.max_batch_bytes {
            state.metrics.limit_hit(Limit::BatchBytes);
            more = true;
            break;
        }
    }

    let mut batch = Batch {
        messages: Vec::new(),
        gaps: Vec::new(),
        last_id: events.last().map_or(start, Event::cursor),
        more,
    };
    for event in &events {
        match event {
            Event::Message(m) => batch.messages.push(Frame::message_for(m, &request.channels)),
            Event::Gap(channel, g) => {
                batch.gaps.push(Frame::gap(channel, g));
                guard.gap();
            }
        }
    }
    guard.delivered(batch.messages.len() as u64);
    let id = batch.last_id;
    let mut response = Json(batch).into_response();
    response.headers_mut().insert(&PUSH_ID, HeaderValue::from(id.0));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
