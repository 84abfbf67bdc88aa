//! `signToken`: subscriber tokens minted by sdk-core (`push_core::token`), synchronously.
//!
//! This file only converts arguments: the format, the HMAC and every check of the channel,
//! consumer id and secret are sdk-core's, so a Node-minted token is the same string as one from
//! any other SDK or `push-server token`.

use napi::bindgen_prelude::{Either, Uint8Array};
use napi_derive::napi;
use push_core::token::{self, Claims};
use push_core::{Error, ErrorKind};

use crate::errors::to_napi;

/// Lifetime of a token when neither `expiresIn` nor `expiresAt` is given, in seconds.
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// What `Token.sign(...)` passes down; `index.js` has checked the JavaScript types.
#[napi(object)]
pub struct TokenRequest {
    /// The HMAC secret shared with the server (`--secret`); `index.js` falls back to `PUSH_SECRET`.
    pub secret: Option<Either<String, Uint8Array>>,
    /// A channel (`/rooms/42`) or a prefix pattern (`/rooms/*`).
    pub channel: String,
    /// When set, only a subscriber with this consumer id may use the token.
    pub consumer: Option<String>,
    /// Seconds from now until the token expires. Default: 3600.
    pub expires_in: Option<f64>,
    /// Absolute expiry in Unix seconds; used instead of `expiresIn` when set.
    pub expires_at: Option<f64>,
}

/// A JavaScript number as whole seconds: finite, not negative, no fraction, exactly representable.
fn seconds(name: &str, value: f64) -> push_core::Result<u64> {
    const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= MAX_SAFE_INTEGER {
        Ok(value as u64)
    } else {
        Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("{name} must be a whole number of seconds, 0 or more, got {value}"),
        ))
    }
}

fn sign(request: TokenRequest) -> push_core::Result<String> {
    let secret: &[u8] = match &request.secret {
        None => &[],
        Some(Either::A(text)) => text.as_bytes(),
        Some(Either::B(bytes)) => &bytes[..],
    };
    let consumer = request.consumer.as_deref();
    match (request.expires_at, request.expires_in) {
        (Some(at), _) => {
            let claims = Claims {
                channel: request.channel.clone(),
                consumer: consumer.map(str::to_owned),
                expires_at: seconds("expiresAt", at)?,
            };
            token::sign(secret, &claims)
        }
        (None, expires_in) => {
            let expires_in =
                expires_in.map_or(Ok(DEFAULT_EXPIRES_IN), |s| seconds("expiresIn", s))?;
            token::sign_for(secret, &request.channel, consumer, expires_in)
        }
    }
}

/// Signs a subscriber token with sdk-core. Throws an `Error` whose `code` is the sdk-core code
/// (`INVALID_CONFIG` for a missing secret, `INVALID_CHANNEL` for a bad channel, ...).
#[napi]
pub fn sign_token(request: TokenRequest) -> Result<String, napi::Error<&'static str>> {
    sign(request).map_err(|e| to_napi(&e))
}
