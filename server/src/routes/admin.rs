//! The server's own endpoints: `/` (a hint for humans), `/_push/health`, `/_push/metrics`,
//! `/_push/client.js` and `/_push/demo`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::state::AppState;

pub async fn index() -> &'static str {
    concat!(
        "push-rs server ", env!("CARGO_PKG_VERSION"), "\n",
        "subscribe: GET /<channel> (long-poll; Accept: text/event-stream for SSE, application/json for a batch, or a WebSocket upgrade)\n",
        "publish:   POST /<channel> with the payload as body\n",
        "also:      /_push/health /_push/metrics /_push/subscribe?channel=/a&channel=/b /_push/client.js /_push/demo\n",
    )
}

pub async fn health(State(state): State<AppState>) -> Response {
    let health = state.broker.health();
    let status = if health.ok && !state.shutdown.is_cancelled() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
        "broker": health,
        "last_id": state.broker.last_id(),
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.observe_memory(state.broker.memory());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

/// The browser client (`client-js/push.js`), built into the binary.
pub async fn client_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        include_str!("../../../client-js/push.js"),
    )
        .into_response()
}

/// A live ticker page using the browser client.
pub async fn demo() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], include_str!("../../../client-js/demo.html")).into_response()
}
