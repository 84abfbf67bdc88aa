//! Who is present (`GET /_push/api/presence/<channel>`), over every node: docs/PRESENCE.md.

use axum::extract::{Request, State};
use axum::response::Response;

use crate::error::ApiResult;
use crate::state::AppState;

pub async fn presence(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let channel = super::channel_after("/_push/api/presence", request.uri().path())?;
    crate::routes::presence::answer(&state, &channel)
}
