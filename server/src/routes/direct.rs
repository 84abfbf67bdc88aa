//! Subscriber `GET`s answered without the router: `GET /<channel>` and `GET /_push/subscribe`
//! as the lean HTTP/1.1 path reads them ([`crate::listener`]). They are most of the requests a
//! push server answers, and most of them then wait. The router's layers become plain calls
//! around the same handlers (a panic caught and answered 500, the error and limit counts, the
//! CORS headers), so the answer is the router's, without the services it clones, boxes and
//! copies for every request. Any other request, or one with an upgrade, goes to the router.

use std::net::SocketAddr;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::subscribe::{self, Answering};
use super::{cors, observed, panic_answer, route_name};
use crate::error::ApiResult;
use crate::extract::params::Params;
use crate::state::AppState;

pub use crate::listener::Direct;

/// Whether a request is one answered here: a `GET` of a channel, or of the multiplexing
/// endpoint (`Some(true)`), without an upgrade. The index and the server's own paths are the
/// router's.
fn takes(request: &Request) -> Option<bool> {
    if request.method() != Method::GET || request.headers().contains_key(header::UPGRADE) {
        return None;
    }
    match request.uri().path() {
        "/_push/subscribe" => Some(true),
        "/" => None,
        p if p.starts_with("/_push/") => None,
        _ => Some(false),
    }
}

/// What the lean path asks first: an answer for a subscriber `GET`, or the request back.
pub fn direct(state: AppState) -> Direct {
    let cors = Arc::new(cors::Simple::new(&state.config));
    Arc::new(move |mut request: Request, peer: SocketAddr| {
        let Some(multiplexed) = takes(&request) else { return Err(request) };
        // Counted as the router counts it.
        let route = route_name(&Method::GET, request.uri().path());
        let origin = request.headers().get(header::ORIGIN).cloned();
        if state.auth.reads_client_address() {
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        let params = Params::from_query(request.uri().query());
        // The checks run in a box of their own, let go before the transport waits: the answer's
        // future, which lives as long as the subscriber waits, holds neither them nor the head.
        let checks = Box::pin(subscribe::prepare(state.clone(), params, request, multiplexed));
        Ok(Box::pin(answer(state.clone(), cors.clone(), route, origin, checks)))
    })
}

async fn answer(
    state: AppState,
    cors: Arc<cors::Simple>,
    route: &'static str,
    origin: Option<HeaderValue>,
    checks: Pin<Box<impl Future<Output = ApiResult<Answering>>>>,
) -> Response {
    let handled = match AssertUnwindSafe(checks).catch_unwind().await {
        Ok(Ok(answering)) => AssertUnwindSafe(answering).catch_unwind().await,
        Ok(Err(refused)) => Ok(Err(refused)),
        Err(panic) => Err(panic),
    };
    let mut response = match handled {
        Ok(answered) => answered.into_response(),
        Err(panic) => panic_answer(panic),
    };
    observed(&state, &Method::GET, route, &response);
    cors.apply(origin.as_ref(), response.headers_mut());
    response
}
