//! A real HTTP receiver of the server's events (`--events-url`), as an app would run one: it
//! checks each request's signature with the SDK's verifier, can fail the first requests with a
//! 500, and keeps every batch it was sent.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use push_core::webhook::{self, Event};

pub const SECRET: &str = "events-secret";

#[derive(Default)]
struct Shared {
    /// Requests to answer with 500 before accepting.
    fail_first: AtomicUsize,
    /// Every request: whether it was accepted, and its events.
    requests: Mutex<Vec<(bool, Vec<Event>)>>,
    bad_signatures: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Listens on 127.0.0.1; the first `fail_first` requests are answered 500.
    pub async fn start(fail_first: usize) -> Receiver {
        let shared = Arc::new(Shared { fail_first: AtomicUsize::new(fail_first), ..Default::default() });
        let app = axum::Router::new().route("/events", axum::routing::post(receive)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, shared }
    }

    /// The events of accepted requests, in the order they came.
    pub fn accepted(&self) -> Vec<Event> {
        self.shared.requests.lock().unwrap().iter().filter(|(ok, _)| *ok).flat_map(|(_, e)| e.clone()).collect()
    }

    /// Every request, refused ones too.
    pub fn requests(&self) -> Vec<(bool, Vec<Event>)> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn bad_signatures(&self) -> usize {
        self.shared.bad_signatures.load(Ordering::SeqCst)
    }

    /// Waits until the accepted events satisfy `done` (at most `limit`), and returns them.
    pub async fn wait(&self, limit: Duration, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + limit;
        loop {
            let events = self.accepted();
            if done(&events) {
                return events;
            }
            assert!(Instant::now() < deadline, "events never matched; accepted: {:#?}", names(&events));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `name consumer channel` of each event, for assertions and messages.
pub fn names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| format!("{} {} {}", e.name, e.consumer.as_deref().unwrap_or("-"), e.channel.as_deref().unwrap_or("-")))
        .collect()
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(webhook::SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let now = push_core::message::now_millis() / 1000;
    let batch = match webhook::verify(SECRET.as_bytes(), &body, signature, now, webhook::DEFAULT_TOLERANCE_SECS) {
        Ok(batch) => batch,
        Err(_) => {
            shared.bad_signatures.fetch_add(1, Ordering::SeqCst);
            return StatusCode::UNAUTHORIZED;
        }
    };
    let fail = shared.fail_first.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    shared.requests.lock().unwrap().push((!fail, batch.events));
    if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}
