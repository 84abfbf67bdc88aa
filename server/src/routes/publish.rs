//! `POST`/`PUT /<channel>`: publish the body; answer `{"id": "...", "channel": "..."}` once the
//! broker has accepted it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use push_core::broker::{Publication, Published};
use push_core::producer::default_content_type;
use push_core::{event_name, idempotency, Channel, ErrorKind};
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::extract::channels;
use crate::state::AppState;

pub async fn publish(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    authorize(&state, &parts.headers, "publishing")?;
    let channel = channels::from_path(parts.uri.path())?;
    let publication = read_publication(&state, &parts, body, channel.clone(), Vec::new()).await?;
    let published = state.broker.publish(publication).await?;
    Ok(receipt(&state, published, serde_json::json!({ "id": published.id, "channel": channel })))
}

/// The publication a request's body, content type and `Idempotency-Key` make, for `channel` and
/// `also`.
pub async fn read_publication(state: &AppState, parts: &Parts, body: Body, channel: Channel, also: Vec<Channel>) -> ApiResult<Publication> {
    let max = state.config.max_payload_bytes;
    let too_large = || ApiError::new(ErrorKind::PayloadTooLarge, format!("payload is larger than the limit of {max} bytes"));
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let payload = axum::body::to_bytes(body, max).await.map_err(|e| {
        if over_limit(&e) {
            too_large()
        } else {
            ApiError::new(ErrorKind::BadRequest, format!("could not read the request body: {e}"))
        }
    })?;
    // The body is a slice of the connection's read buffer: held in history as it is, each message
    // would keep that whole buffer (kilobytes) alive. A copy of its own costs only its length.
    let payload = Bytes::copy_from_slice(&payload);
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|ct| !ct.is_empty() && *ct != "application/x-www-form-urlencoded")
        .map(str::to_owned)
        .unwrap_or_else(|| default_content_type(&payload).to_owned());

    let idempotency_key = match parts.headers.get(idempotency::HEADER) {
        None => None,
        Some(v) => {
            let key = v.to_str().map_err(|_| ApiError::new(ErrorKind::BadRequest, "the Idempotency-Key header is not visible ASCII"))?;
            idempotency::validate(key)?;
            Some(key.to_owned())
        }
    };
    let event = match parts.headers.get(event_name::HEADER) {
        None => None,
        Some(v) => event_name::parse(Some(v.to_str().map_err(|_| ApiError::new(ErrorKind::BadRequest, "the Push-Event header is not visible ASCII"))?))?,
    };
    Ok(Publication { channel, also, payload, content_type, event, idempotency_key })
}

/// A publish's answer: `body` as JSON, `Idempotent-Replayed` for a repeat (counted otherwise).
pub fn receipt(state: &AppState, published: Published, body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    if published.replayed {
        response.headers_mut().insert(idempotency::REPLAYED_HEADER, HeaderValue::from_static("true"));
    } else {
        state.metrics.published.inc();
    }
    response
}

/// Whether reading the body stopped at the size limit (a cause in the error's chain).
fn over_limit(e: &axum::Error) -> bool {
    std::iter::successors(Some(e as &(dyn std::error::Error + 'static)), |e| e.source()).any(|e| e.is::<http_body_util::LengthLimitError>())
}

/// With a publish key configured, requires `Authorization: Bearer <key>` (constant-time compare).
/// `what` names the request in the refusal ("publishing", "the server API").
pub fn authorize(state: &AppState, headers: &HeaderMap, what: &str) -> ApiResult<()> {
    let Some(key) = state.config.publish_key.as_deref() else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    match given {
        None => Err(ApiError::new(ErrorKind::Unauthorized, format!("{what} needs the publish key: send Authorization: Bearer <key> (SDKs and the push-server CLI take it as publish_key / --publish-key, or PUSH_PUBLISH_KEY)"))),
        Some(given) if bool::from(given.as_bytes().ct_eq(key.as_bytes())) => Ok(()),
        Some(_) => Err(ApiError::new(ErrorKind::Unauthorized, "the publish key is wrong")),
    }
}
