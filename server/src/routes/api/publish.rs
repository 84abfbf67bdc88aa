//! One message to many channels (`POST /_push/api/publish?channel=/a&channel=/b`): one id, stored
//! on each, delivered once to a subscriber of several.

use axum::extract::{Request, State};
use axum::response::Response;
use push_core::ErrorKind;

use crate::error::{ApiError, ApiResult};
use crate::extract::channels;
use crate::extract::params::Params;
use crate::routes::publish::{read_publication, receipt};
use crate::state::AppState;

pub async fn publish(State(state): State<AppState>, params: Params, request: Request) -> ApiResult<Response> {
    let mut list = channels::list(&params)?;
    let max = state.config.max_publish_channels;
    if list.is_empty() {
        return Err(ApiError::new(ErrorKind::BadRequest, "name at least one channel: ?channel=/a&channel=/b"));
    }
    if list.len() > max {
        return Err(ApiError::new(ErrorKind::BadRequest, format!("{} channels named; one publish goes to at most {max} (--max-publish-channels)", list.len())));
    }
    let (parts, body) = request.into_parts();
    let first = list.remove(0);
    let publication = read_publication(&state, &parts, body, first, list).await?;
    let named: Vec<_> = publication.channels().cloned().collect();
    let published = state.broker.publish(publication).await?;
    Ok(receipt(&state, published, serde_json::json!({ "id": published.id, "channels": named })))
}
