//! The server's own endpoints: `/` (a hint for humans), `/_push/health`, `/_push/metrics`.

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
        "also:      /_push/health /_push/metrics /_push/subscribe?channel=/a&channel=/b\n",
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}
