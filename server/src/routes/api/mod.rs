//! The server API (`/_push/api/...`): what a web app's backend asks and does. Every endpoint
//! needs the publish key, as publishing does. docs/PROTOCOL.md, "Server API", is the contract.

mod disconnect;
mod history;
mod info;
mod presence;
mod publish;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiResult;
use crate::state::AppState;

/// Where the API's routes start.
pub const PREFIX: &str = "/_push/api";

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/_push/api/channel/{*channel}", get(info::channel))
        .route("/_push/api/channels", get(info::channels))
        .route("/_push/api/history/{*channel}", get(history::history))
        .route("/_push/api/presence/{*channel}", get(presence::presence))
        .route("/_push/api/publish", post(publish::publish))
        .route("/_push/api/disconnect", post(disconnect::disconnect))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key))
}

async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> ApiResult<Response> {
    super::publish::authorize(&state, request.headers(), "the server API")?;
    Ok(next.run(request).await)
}

/// The channel named by the rest of a path after `route` (e.g. `/_push/api/channel`).
fn channel_after(route: &str, path: &str) -> ApiResult<push_core::Channel> {
    crate::extract::channels::from_path(path.strip_prefix(route).unwrap_or(path))
}
