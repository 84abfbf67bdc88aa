//! `signToken`: subscriber tokens signed by sdk-core (`push_core::binding::TokenRequest`).
//!
//! This file only converts arguments: the format, the HMAC, the default expiry, the
//! `PUSH_SECRET` fallback and every check of the channel, consumer id and secret are sdk-core's,
//! so a Node-signed token is the same string as one from any other SDK or `push-server token`.

use napi::bindgen_prelude::{Either, Uint8Array};
use napi_derive::napi;
use push_core::binding::guard;
use push_core::{Error, ErrorKind};

use crate::errors::to_napi;

/// What `Token.sign(...)` passes down; `index.js` has checked the JavaScript types.
#[napi(object)]
pub struct TokenRequest {
    /// The HMAC secret shared with the server (`--secret`). Default: `PUSH_SECRET` (sdk-core).
    pub secret: Option<Either<String, Uint8Array>>,
    /// A channel (`/rooms/42`) or a prefix pattern (`/rooms/*`).
    pub channel: String,
    /// When set, only a subscriber with this consumer id may use the token.
    pub consumer: Option<String>,
    /// Seconds from now until the token expires. Default: sdk-core's (3600).
    pub expires_in: Option<f64>,
    /// Absolute expiry in Unix seconds; used instead of `expiresIn` when set.
    pub expires_at: Option<f64>,
    /// The consumer's public info as compact JSON (`JSON.stringify` of the caller's object).
    pub info: Option<String>,
}

/// A JavaScript number as whole seconds (sdk-core checks the sign): finite, no fraction.
fn whole(name: &str, value: f64) -> push_core::Result<i64> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if value.is_finite() && value.fract() == 0.0 && value.abs() <= MAX_SAFE_INTEGER {
        Ok(value as i64)
    } else {
        Err(Error::new(ErrorKind::InvalidConfig, format!("{name} must be a whole number of seconds, 0 or more, got {value}")))
    }
}

fn sign(request: TokenRequest) -> push_core::Result<String> {
    push_core::binding::TokenRequest {
        channel: request.channel,
        consumer: request.consumer,
        expires_in: request.expires_in.map(|s| whole("expiresIn", s)).transpose()?,
        expires_at: request.expires_at.map(|s| whole("expiresAt", s)).transpose()?,
        secret: request.secret.map(|secret| match secret {
            Either::A(text) => text.into_bytes(),
            Either::B(bytes) => bytes.to_vec(),
        }),
        info: request.info,
    }
    .sign()
}

/// Signs a subscriber token with sdk-core. Throws an `Error` whose `code` is the sdk-core code
/// (`INVALID_CONFIG` for a missing secret, `INVALID_CHANNEL` for a bad channel, ...).
#[napi]
pub fn sign_token(request: TokenRequest) -> Result<String, napi::Error<&'static str>> {
    guard(|| sign(request)).map_err(|e| to_napi(&e))
}
