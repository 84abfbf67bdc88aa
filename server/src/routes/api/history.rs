//! History (`GET /_push/api/history/<channel>?last=N` or `?after=<id>&limit=N`): the JSON
//! batch's answer for a backend, at once.

use axum::extract::{Request, State};
use axum::response::Response;
use push_core::broker::Position;
use push_core::{ErrorKind, MessageId};

use crate::error::{ApiError, ApiResult};
use crate::extract::params::Params;
use crate::state::AppState;
use crate::transport::batch;

pub async fn history(State(state): State<AppState>, params: Params, request: Request) -> ApiResult<Response> {
    let channel = super::channel_after("/_push/api/history", request.uri().path())?;
    let max = state.config.max_batch;
    match (params.get("last"), params.get("after")) {
        (Some(_), Some(_)) => Err(ApiError::new(ErrorKind::BadRequest, "give last= or after=, not both")),
        (last, None) => {
            if params.get("limit").is_some() {
                return Err(ApiError::new(ErrorKind::BadRequest, "limit= goes with after=; last= is itself a count"));
            }
            let n = match last {
                None => max,
                Some(raw) => raw.parse::<usize>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
                    ApiError::new(ErrorKind::BadRequest, format!("last={:?} is not a number from 1 to {max} (--max-batch)", raw.chars().take(40).collect::<String>()))
                })?,
            };
            let messages = state.broker.recent(&channel, n);
            Ok(batch::of_messages(&messages, std::slice::from_ref(&channel), state.broker.last_id()))
        }
        (None, Some(after)) => {
            let after: MessageId = after.parse().map_err(|e: push_core::message::ParseIdError| ApiError::new(ErrorKind::InvalidCursor, e.to_string()))?;
            let limit = batch::limit(&state, params.get("limit"))?;
            let channels = [channel];
            let subscription = state.broker.poll(&channels, Position::After(after))?;
            batch::answer(&state, subscription, &channels, limit, async { Ok(()) }, None).await
        }
    }
}
