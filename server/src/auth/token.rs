//! `--auth token`: each channel of a subscription must be covered by a valid token, given as
//! `?token=` (repeatable; `EventSource` cannot set headers) or `Authorization: Bearer`.

use axum::http::{header, request::Parts};
use push_core::message::now_millis;
use push_core::token::{verify, Claims};
use push_core::{Channel, ErrorKind};

use super::Grant;
use crate::error::{ApiError, ApiResult};
use crate::extract::params::Params;

pub const PARAM: &str = "token";

pub struct TokenAuth {
    secret: String,
}

impl TokenAuth {
    pub fn new(secret: String) -> TokenAuth {
        TokenAuth { secret }
    }

    pub fn authorize(&self, parts: &Parts, params: &Params, channels: &[Channel], consumer: Option<&str>) -> ApiResult<Grant> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        let raw: Vec<&str> = params.all(PARAM).chain(bearer).filter(|t| !t.is_empty()).collect();
        if raw.is_empty() {
            return Err(ApiError::new(ErrorKind::Unauthorized, "subscribing needs a token: ?token=<token> or Authorization: Bearer <token>"));
        }
        let now = now_millis() / 1000;
        let mut claims = Vec::with_capacity(raw.len());
        for token in raw {
            let c = verify(self.secret.as_bytes(), token.trim(), now)
                .map_err(|e| ApiError::new(ErrorKind::Unauthorized, e.to_string()))?;
            claims.push(c);
        }
        let mut expires_at = u64::MAX;
        // Info comes from a token bound to this consumer: anyone's would let a subscriber
        // show itself under a name another token gave.
        let info = claims.iter().filter(|c| c.consumer.is_some() && c.consumer.as_deref() == consumer).find_map(|c| c.info.clone());
        for channel in channels {
            let usable = |c: &&Claims| c.covers(channel) && (c.consumer.is_none() || c.consumer.as_deref() == consumer);
            match claims.iter().filter(usable).map(|c| c.expires_at).max() {
                Some(exp) => expires_at = expires_at.min(exp),
                None if claims.iter().any(|c| c.covers(channel)) => {
                    return Err(ApiError::new(
                        ErrorKind::Forbidden,
                        format!("the token for {channel} was signed for another consumer id: subscribe with that id (?consumer=<id>, or the Consumer-Id header)"),
                    ))
                }
                None => return Err(ApiError::new(ErrorKind::Forbidden, format!("no token given covers the channel {channel}"))),
            }
        }
        Ok(Grant { expires_at: Some(expires_at), info })
    }
}
