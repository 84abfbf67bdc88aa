//! The HTTP surface: which path and method reach which handler.

pub mod admin;
pub mod api;
mod cors;
mod direct;
pub mod presence;
pub mod publish;
pub mod subscribe;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use push_core::{ErrorKind, ERROR_HEADER};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::metrics::Limit;
use crate::state::AppState;

/// Methods a channel path answers.
const CHANNEL_METHODS: &str = "GET, HEAD, POST, PUT, OPTIONS";

pub use direct::{direct, Direct};

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(admin::index))
        .route("/_push/health", get(admin::health))
        .route("/_push/metrics", get(admin::metrics))
        .route("/_push/subscribe", get(subscribe::multiplexed))
        .route("/_push/presence/{*channel}", get(presence::presence))
        .route("/_push/client.js", get(admin::client_js))
        .route("/_push/demo", get(admin::demo))
        .merge(api::router(&state))
        // Every other path is a channel; its handlers read the path themselves.
        .route("/{*channel}", get(subscribe::channel).post(publish::publish).put(publish::publish).fallback(method_not_allowed))
        .layer(CatchPanicLayer::custom(panic_answer))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(cors::layer(&state.config))
        .with_state(state)
}

/// Any other method on a channel path: 405 with `Allow`.
async fn method_not_allowed(method: Method) -> Response {
    let mut response =
        ApiError::new(ErrorKind::BadRequest, format!("method {method} is not allowed on a channel; use GET to subscribe, POST or PUT to publish"))
            .into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(CHANNEL_METHODS));
    response
}

/// The route name a request is counted under: a fixed set, never the raw path.
fn route_name(method: &Method, path: &str) -> &'static str {
    match path {
        "/" => "index",
        "/_push/health" => "health",
        "/_push/metrics" => "metrics",
        "/_push/subscribe" => "multiplexed",
        "/_push/client.js" => "client.js",
        "/_push/demo" => "demo",
        p if p.starts_with("/_push/api/") => "api",
        p if p.starts_with("/_push/presence/") => "presence",
        p if p.starts_with("/_push/") => "other",
        _ if matches!(*method, Method::POST | Method::PUT) => "publish",
        _ => "subscribe",
    }
}

/// Logs each request, counts error answers by route and code, and limit hits by limit.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = route_name(&method, request.uri().path());
    let response = next.run(request).await;
    observed(&state, &method, route, &response);
    response
}

/// Counts an answer (its error code, the limit it hit) and logs it.
fn observed(state: &AppState, method: &Method, route: &'static str, response: &Response) {
    if let Some(code) = response.headers().get(ERROR_HEADER).and_then(|v| v.to_str().ok()).and_then(ErrorKind::from_code) {
        state.metrics.errors.with_label_values(&[route, code.code()]).inc();
    }
    if let Some(limit) = response.extensions().get::<Limit>() {
        state.metrics.limit_hit(*limit);
    }
    tracing::debug!(%method, route, status = response.status().as_u16(), "request");
}

/// A bug in a handler answers 500 and is logged; the connection is not reset.
fn panic_answer(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The message goes to the log only: it may name internals a client should not see.
    tracing::error!("a request handler panicked: {}", push_core::binding::panic_message(&*panic));
    ApiError::new(ErrorKind::ServerError, "internal error (logged by the server)").into_response()
}
