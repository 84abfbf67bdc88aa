//! CORS from the one origin allow-list (`--cors-origins`): listed origins may send credentials
//! (cookies, for proxy auth); `*` allows any origin, never with credentials.
//!
//! The router answers CORS with tower-http's layer ([`layer`]); the subscriber answers the lean
//! path gives without the router get the same headers from [`Simple`], made once at start.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::config::Config;

/// Request headers a page may send.
fn allowed_headers(config: &Config) -> [HeaderName; 6] {
    let consumer = HeaderName::from_bytes(config.consumer_header.to_ascii_lowercase().as_bytes())
        .unwrap_or(HeaderName::from_static("consumer-id"));
    [
        header::AUTHORIZATION,
        header::CONTENT_TYPE,
        HeaderName::from_static("last-event-id"),
        // A page's retry-safe publish (PROTOCOL.md, "Retrying safely").
        HeaderName::from_static("idempotency-key"),
        HeaderName::from_static("push-event"),
        consumer,
    ]
}

/// Answer headers a page may read.
fn exposed() -> [HeaderName; 5] {
    [
        HeaderName::from_static("push-id"),
        HeaderName::from_static("push-gap"),
        HeaderName::from_static("push-error"),
        HeaderName::from_static("idempotent-replayed"),
        HeaderName::from_static("push-event"),
    ]
}

/// The router's CORS layer.
pub(super) fn layer(config: &Config) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT])
        .allow_headers(allowed_headers(config))
        .expose_headers(exposed())
        .max_age(std::time::Duration::from_secs(3600));
    if config.any_origin() {
        layer.allow_origin(AllowOrigin::any())
    } else {
        layer.allow_origin(AllowOrigin::list(listed(config))).allow_credentials(true)
    }
}

fn listed(config: &Config) -> Vec<HeaderValue> {
    config.origins().filter_map(|o| HeaderValue::from_str(o).ok()).collect()
}

/// The headers [`layer`] adds to an answer that is not a preflight, as values made once.
pub(super) struct Simple {
    /// `None`: any origin (`*`).
    listed: Option<Vec<HeaderValue>>,
    vary: HeaderValue,
    exposed: HeaderValue,
}

impl Simple {
    pub(super) fn new(config: &Config) -> Simple {
        let exposed = exposed().iter().map(HeaderName::as_str).collect::<Vec<_>>().join(",");
        Simple {
            listed: (!config.any_origin()).then(|| listed(config)),
            vary: HeaderValue::from_static("origin, access-control-request-method, access-control-request-headers"),
            exposed: HeaderValue::from_str(&exposed).expect("header names are valid values"),
        }
    }

    /// Adds to `answer` what the layer would, for a request from `origin`.
    pub(super) fn apply(&self, origin: Option<&HeaderValue>, answer: &mut HeaderMap) {
        answer.append(header::VARY, self.vary.clone());
        answer.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.exposed.clone());
        match &self.listed {
            None => {
                answer.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
            Some(listed) => {
                answer.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
                if let Some(origin) = origin.filter(|o| listed.contains(o)) {
                    answer.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                }
            }
        }
    }
}
