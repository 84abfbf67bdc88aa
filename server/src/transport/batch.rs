//! JSON batch (`Accept: application/json`): every message after the cursor, up to a limit, as
//! one JSON document. Waits like a long-poll when there is nothing yet; `?timeout=0` answers at
//! once. `last_id` is the cursor for the next request; `more` says a limit cut the batch: at most
//! `limit` (`--max-batch`) messages and `--max-batch-bytes` of payload, but always one message.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt, StreamExt};
use push_core::{ErrorKind, Event, MessageId};

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

/// A batch's parts; its messages are their shared JSON frames (made once per message, not per
/// poll), written into the answer as they are.
struct Batch<'a> {
    messages: Vec<bytes::Bytes>,
    gaps: Vec<Frame<'a>>,
    /// The ids every gap of the batch spans together, for `Push-Gap`.
    gap_span: Option<(MessageId, MessageId)>,
    last_id: MessageId,
    more: bool,
}

pub async fn respond(state: AppState, request: SubscribeRequest) -> ApiResult<Response> {
    let timeout = request.timeout(&state)?;
    let limit = limit(&state, request.params.get("limit"))?;
    let guard = request.connect(&state, "json")?;
    let subscription = state.broker.poll(&request.channels, request.position)?;
    let disconnected = guard.disconnected();
    let wait = async {
        tokio::select! {
            biased;
            reason = disconnected => Err(super::disconnected_error(&reason)),
            _ = tokio::time::sleep(timeout) => Ok(()),
        }
    };
    answer(&state, subscription, &request.channels, limit, wait, Some(&guard)).await
}

/// `?limit=`: a positive number, at most `--max-batch` (which is also the default).
pub fn limit(state: &AppState, raw: Option<&str>) -> ApiResult<usize> {
    match raw {
        None => Ok(state.config.max_batch),
        Some(raw) => Ok(raw
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::new(ErrorKind::BadRequest, format!("limit={:?} is not a positive number", raw.chars().take(40).collect::<String>())))?
            .min(state.config.max_batch)),
    }
}

/// The batch of `subscription`'s events: what is there, else the first to come before `wait`
/// ends (an error from `wait` is the answer). A subscription that reads the log first waits for
/// that read however short `wait` is (up to `--long-poll-timeout`): what is there includes it.
pub async fn answer(
    state: &AppState,
    mut subscription: push_core::Subscription,
    channels: &[push_core::Channel],
    limit: usize,
    wait: impl std::future::Future<Output = ApiResult<()>>,
    guard: Option<&crate::state::ConnectionGuard>,
) -> ApiResult<Response> {
    let start = subscription.start;
    let log_read = async {
        if subscription.log_until.is_some() {
            tokio::time::sleep(state.config.long_poll_timeout).await
        }
    };
    let first = tokio::select! {
        biased;
        event = subscription.events.next() => event,
        waited = async { log_read.await; wait.await } => {
            waited?;
            None
        }
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

    let last_id = events.last().map_or(start, Event::cursor);
    // A catch-up read goes in steps of --catch-up-limit: a batch that ends before the range it
    // reads does was cut too, even when the next step was not ready yet.
    let more = more || subscription.log_until.is_some_and(|until| last_id < until);
    let mut batch = Batch { messages: Vec::new(), gaps: Vec::new(), gap_span: None, last_id, more };
    for event in &events {
        match event {
            Event::Message(m) => batch.messages.push(Frame::message_json_for(m, channels)),
            Event::Gap(channel, g) => {
                batch.gaps.push(Frame::gap(channel, g));
                batch.gap_span = Some(batch.gap_span.map_or((g.from, g.to), |(from, to)| (from.min(g.from), to.max(g.to))));
                if let Some(guard) = guard {
                    guard.gap();
                }
            }
        }
    }
    if let Some(guard) = guard {
        let newest = events.iter().rev().find_map(|e| match e {
            Event::Message(m) => Some(m.id),
            Event::Gap(..) => None,
        });
        if let Some(newest) = newest {
            guard.delivered(batch.messages.len() as u64, newest);
        }
    }
    Ok(render(batch))
}

/// A batch as its JSON answer (`{"messages":[...],"gaps":[...],"last_id":"..","more":..}`),
/// with the common headers.
fn render(batch: Batch<'_>) -> Response {
    let id = batch.last_id;
    let mut body = Vec::with_capacity(64 + batch.messages.iter().map(|m| m.len() + 1).sum::<usize>());
    body.extend_from_slice(b"{\"messages\":[");
    for (i, message) in batch.messages.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(message);
    }
    body.extend_from_slice(b"],\"gaps\":");
    serde_json::to_writer(&mut body, &batch.gaps).expect("frames always serialize");
    body.extend_from_slice(b",\"last_id\":");
    serde_json::to_writer(&mut body, &batch.last_id).expect("an id always serializes");
    body.extend_from_slice(if batch.more { b",\"more\":true}" } else { b",\"more\":false}" });
    let mut response = ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    response.headers_mut().insert(&PUSH_ID, HeaderValue::from(id.0));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // As on a long-poll answer: a client can see a gap without reading the body.
    if let Some((from, to)) = batch.gap_span {
        response.headers_mut().insert(&super::PUSH_GAP, HeaderValue::from_str(&format!("{from}-{to}")).expect("digits and a dash"));
    }
    response
}

/// The newest messages of a channel as a batch (the server API's `last=`): `last_id` is the
/// newest, or `last` (the broker's newest id) when there are none.
pub fn of_messages(messages: &[std::sync::Arc<push_core::Message>], channels: &[push_core::Channel], last: MessageId) -> Response {
    render(Batch {
        messages: messages.iter().map(|m| Frame::message_json_for(m, channels)).collect(),
        gaps: Vec::new(),
        gap_span: None,
        last_id: messages.last().map_or(last, |m| m.id),
        more: false,
    })
}
