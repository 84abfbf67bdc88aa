//! The subscriber's cursor: the `Last-Event-ID` header, else `?after=<id>`. None means "only
//! what is published from now on". The header wins: an `EventSource` opened with `?after=`
//! keeps that URL on every reconnect, while its `Last-Event-ID` is the newest id it has seen.

use axum::http::HeaderMap;
use push_core::broker::Position;
use push_core::{ErrorKind, MessageId};

use super::params::Params;
use crate::error::ApiError;

pub const PARAM: &str = "after";

pub fn position(params: &Params, headers: &HeaderMap) -> Result<Position, ApiError> {
    let header = headers.get("last-event-id").map(|v| String::from_utf8_lossy(v.as_bytes())).filter(|v| !v.trim().is_empty());
    let raw = match &header {
        Some(h) => Some(h.as_ref()),
        None => params.get(PARAM),
    };
    match raw {
        None => Ok(Position::Latest),
        Some(raw) if raw.trim().is_empty() => Ok(Position::Latest),
        Some(raw) => raw.parse::<MessageId>().map(Position::After).map_err(|e| ApiError::new(ErrorKind::InvalidCursor, e.to_string())),
    }
}
