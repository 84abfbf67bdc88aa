//! Errors as HTTP answers: a status, the stable code in the `Push-Error` header and a one-line
//! plain-text reason. This is the only place kinds become statuses.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use push_core::{ChannelError, Error, ErrorKind, ERROR_HEADER};

use crate::metrics::Limit;

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError(Error::new(kind, message))
    }
}

/// The status of a kind, from sdk-core's one error table (docs/ERRORS.md).
pub fn status_of(kind: ErrorKind) -> StatusCode {
    StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind());
        if status.is_server_error() && self.0.kind() != ErrorKind::Overloaded {
            tracing::warn!(code = self.0.code(), "{}", self.0);
        }
        // One line: the reason never carries newlines into a client's terminal.
        let reason = self.0.message().replace(['\r', '\n'], " ");
        let mut response = (status, format!("{reason}\n")).into_response();
        response.headers_mut().insert(ERROR_HEADER, HeaderValue::from_static(self.0.code()));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert("WWW-Authenticate", HeaderValue::from_static("Bearer"));
        }
        if matches!(self.0.kind(), ErrorKind::Overloaded | ErrorKind::TooManyConnections) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        // The limit that refused the request, for the metrics middleware to count.
        if let Some(limit) = std::error::Error::source(&self.0).and_then(|s| s.downcast_ref::<Limit>()) {
            response.extensions_mut().insert(*limit);
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> ApiError {
        ApiError(e.into())
    }
}
