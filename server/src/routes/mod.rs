//! The HTTP surface: which path and method reach which handler.

pub mod admin;
pub mod publish;
pub mod subscribe;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use push_core::{ErrorKind, ERROR_HEADER};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::AppState;

/// Methods a channel path answers.
const CHANNEL_METHODS: &str = "GET, HEAD, POST, PUT, OPTIONS";

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(admin::index))
        .route("/_push/health", get(admin::health))
        .route("/_push/metrics", get(admin::metrics))
        .route("/_push/subscribe", get(subscribe::multiplexed))
        .route("/_push/client.js", get(admin::client_js))
        .route("/_push/demo", get(admin::demo))
        .route("/{*channel}", any(channel))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors(&state))
        .with_state(state)
}

/// One handler per channel path so that other methods get a 405 with `Allow`.
async fn channel(State(state): State<AppState>, request: Request) -> Response {
    match *request.method() {
        Method::GET | Method::HEAD => subscribe::channel(state, request).await.into_response(),
        Method::POST | Method::PUT => publish::publish(state, request).await.into_response(),
        ref other => {
            let mut response =
                ApiError::new(ErrorKind::BadRequest, format!("method {other} is not allowed on a channel; use GET to subscribe, POST or PUT to publish"))
                    .into_response();
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(CHANNEL_METHODS));
            response
        }
    }
}

fn cors(state: &AppState) -> CorsLayer {
    let origins = &state.config.cors_origins;
    let allow_origin = if origins.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()))
    };
    let consumer = HeaderName::from_bytes(state.config.consumer_header.to_ascii_lowercase().as_bytes())
        .unwrap_or(HeaderName::from_static("consumer-id"));
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("last-event-id"), consumer])
        .expose_headers([
            HeaderName::from_static("push-id"),
            HeaderName::from_static("push-gap"),
            HeaderName::from_static("push-error"),
        ])
        .max_age(std::time::Duration::from_secs(3600))
}

/// Logs each request and counts error answers by route and code.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let route = match (path.starts_with("/_push/"), &method) {
        (true, _) => path.as_str(),
        (false, &Method::POST | &Method::PUT) => "publish",
        (false, _) => "subscribe",
    };
    if let Some(code) = response.headers().get(ERROR_HEADER).and_then(|v| v.to_str().ok()) {
        state.metrics.errors.with_label_values(&[route, code]).inc();
    }
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    response
}
