//! Server-Sent Events (`Accept: text/event-stream`).
//!
//! The stream opens with an `id:`-only event carrying the start cursor, so an `EventSource`
//! that reconnects before any message still resumes from where it began. A message is
//! `id: <id>` + `data: <payload>` (multi-line payloads become several `data:` lines; SSE cannot
//! carry a carriage return, so CR and CRLF arrive as LF). Non-UTF-8 payloads are sent base64
//! encoded as `event: binary`. On the multiplexing endpoint `data:` is a JSON frame instead.
//! Gaps are `event: gap` with a JSON frame and the gap's end as `id:`. Comments keep idle
//! connections open. When the subscriber's token expires, an `event: expired` ends the stream.
//! `?gap=turbo-refresh` announces a gap as a Turbo Streams `refresh` action in a plain `message`
//! event instead, so a page whose `<turbo-stream-source>` missed messages reloads
//! (docs/HOTWIRE_HTMX.md); message events may carry their publisher's `event:` name.
//!
//! Files: [`body`] (the response body: what is ready goes out in one write), [`encode`] (the
//! events' bytes; a plain channel's message is encoded once for every subscriber).

mod body;
mod encode;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::{SubscribeRequest, PUSH_ID};
use crate::error::ApiResult;
use crate::state::AppState;
use body::SseBody;

pub async fn respond(state: AppState, request: SubscribeRequest) -> ApiResult<Response> {
    let gap_as = encode::GapAs::parse(request.params.get("gap"), request.multiplexed)?;
    let guard = request.connect(&state, "sse")?;
    let presence = request.listen(&state);
    let subscription = state.broker.subscribe(&request.channels, request.position)?;
    let start = subscription.start;
    let body = SseBody::new(&state, &request, subscription, guard, presence, gap_as);
    let mut response = axum::body::Body::new(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    // The headers every transport answers with: the start cursor, and nothing cached.
    headers.insert(&PUSH_ID, HeaderValue::from(start.0));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies such as nginx buffer responses unless told not to.
    headers.insert("X-Accel-Buffering", HeaderValue::from_static("no"));
    Ok(response)
}
