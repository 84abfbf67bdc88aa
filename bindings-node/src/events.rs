//! `verifyEvents`: the server's events (`--events-url`, docs/PRESENCE.md) verified by sdk-core
//! (`push_core::webhook::verify`), synchronously, as plain objects (`index.js` parses `info` and
//! makes `time` a `Date`).
//!
//! The signature check, the timestamp tolerance and the body's shape are sdk-core's, the same in
//! every SDK; this file only converts arguments and picks the secret.

use std::time::{SystemTime, UNIX_EPOCH};

use napi::bindgen_prelude::{Either, Uint8Array};
use napi_derive::napi;
use push_core::binding::guard;
use push_core::webhook::{self, SIGNATURE_HEADER};
use push_core::{Error, ErrorKind};

use crate::errors::to_napi;

/// What `verifyEvents(body, signature, options)` passes down; `index.js` has checked the types.
#[napi(object, object_to_js = false)]
pub struct VerifyEventsRequest {
    /// The raw request body.
    pub body: Either<String, Uint8Array>,
    /// The `Push-Signature` header; absent when the request had none.
    pub signature: Option<String>,
    /// Default: `PUSH_EVENTS_SECRET`, then `PUSH_SECRET` (sdk-core).
    pub secret: Option<Either<String, Uint8Array>>,
    /// Seconds the signature's time may be from now. Default: sdk-core's (300).
    pub tolerance: Option<f64>,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeEvent {
    pub id: String,
    pub name: String,
    pub channel: Option<String>,
    pub consumer: Option<String>,
    /// The member's info as JSON text.
    pub info: Option<String>,
    pub message_id: Option<String>,
    /// ms since the Unix epoch.
    pub time_ms: f64,
}

fn bytes(value: Either<String, Uint8Array>) -> Vec<u8> {
    match value {
        Either::A(text) => text.into_bytes(),
        Either::B(bytes) => bytes.to_vec(),
    }
}

fn verify(request: VerifyEventsRequest) -> push_core::Result<Vec<NativeEvent>> {
    // A request without the header is as unsigned as one with a wrong signature.
    let Some(signature) = request.signature else {
        return Err(Error::new(ErrorKind::Unauthorized, format!("the events request has no {SIGNATURE_HEADER} header: it is not from the server")));
    };
    let tolerance = match request.tolerance {
        None => webhook::DEFAULT_TOLERANCE_SECS,
        Some(t) if t.is_finite() && t >= 0.0 => t as u64,
        Some(t) => return Err(Error::new(ErrorKind::InvalidConfig, format!("tolerance must be a number of seconds, 0 or more, got {t}"))),
    };
    let secret = match request.secret {
        Some(secret) => bytes(secret),
        None => webhook::secret_from_env()?,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let batch = webhook::verify(&secret, &bytes(request.body), &signature, now, tolerance)?;
    Ok(batch
        .events
        .into_iter()
        .map(|e| NativeEvent {
            id: e.id,
            name: e.name,
            channel: e.channel,
            consumer: e.consumer,
            info: e.info.map(|i| i.to_string()),
            message_id: e.message_id.map(|id| id.to_string()),
            time_ms: e.time_ms as f64,
        })
        .collect())
}

/// Verifies a batch of events and returns them. Throws an `Error` whose `code` is the sdk-core
/// code (`UNAUTHORIZED` for a missing, wrong or old signature, `BAD_REQUEST`, `INVALID_CONFIG`).
#[napi]
pub fn verify_events(request: VerifyEventsRequest) -> Result<Vec<NativeEvent>, napi::Error<&'static str>> {
    guard(|| verify(request)).map_err(|e| to_napi(&e))
}
