//! A subscriber reads who is present (`GET /_push/presence/<channel>`): allowed as subscribing
//! to the channel is, for the long-poll and JSON batch clients that get no join and leave.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use push_core::Channel;

use crate::error::ApiResult;
use crate::extract::{channels, consumer, params::Params};
use crate::state::AppState;

/// Where the subscriber's route starts.
const ROUTE: &str = "/_push/presence";

pub async fn presence(State(state): State<AppState>, params: Params, request: Request) -> ApiResult<Response> {
    let (parts, _) = request.into_parts();
    let channel = channels::from_path(parts.uri.path().strip_prefix(ROUTE).unwrap_or(""))?;
    let consumer = consumer::consumer(&state.config, &params, &parts.headers);
    state.auth.authorize(&parts, &params, std::slice::from_ref(&channel), consumer.as_deref()).await?;
    answer(&state, &channel)
}

/// The members of a presence channel as JSON (`400` for any other channel).
pub fn answer(state: &AppState, channel: &Channel) -> ApiResult<Response> {
    let presence = state.presence();
    presence.check(channel)?;
    let members = presence.members(channel);
    let counted = state.cluster.occupancy(channel);
    let json = crate::presence::answer_json(channel, &members, counted.nodes, counted.as_of);
    let mut response = json.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
