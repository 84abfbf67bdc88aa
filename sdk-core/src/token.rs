//! Subscriber tokens: HMAC-SHA256-signed, URL-safe, mintable with any standard library.
//!
//! ```text
//! claims = <channel or pattern> "\n" <consumer id or empty> "\n" <expiry, Unix seconds>
//!          [ "\n" <info: a JSON object on one line> ]
//! body   = "push1." base64url(claims)
//! token  = body "." base64url(HMAC-SHA256(secret, body))
//! ```
//! base64url is RFC 4648 §5 without padding. A pattern ending in `/*` covers every channel below
//! that prefix (`/rooms/*` covers `/rooms/1` and `/rooms/1/chat`, not `/rooms`); `/*` covers all.
//! The same inputs always give the same token, in every SDK. The optional fourth line is the
//! consumer's public info (e.g. `{"name":"Alice"}`, at most [`MAX_INFO_BYTES`]): what presence
//! shows the other members. It is signed, not secret: never put anything private in it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::message::now_millis;
use crate::{Channel, Error, ErrorKind, Result};

const PREFIX: &str = "push1.";
/// Longest public info a token carries, in bytes of compact JSON.
pub const MAX_INFO_BYTES: usize = 1024;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// A channel (`/rooms/42`) or a prefix pattern (`/rooms/*`).
    pub channel: String,
    /// When set, only a subscriber with this consumer id may use the token.
    pub consumer: Option<String>,
    /// Unix time in seconds after which the token is refused.
    pub expires_at: u64,
    /// Public info about the consumer, a JSON object in compact form (presence shows it).
    pub info: Option<String>,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    #[error("the token's signature does not match (wrong secret or tampered token)")]
    BadSignature,
    #[error("the token expired at {0} (Unix seconds)")]
    Expired(u64),
}

impl Claims {
    /// Whether these claims cover `channel`.
    pub fn covers(&self, channel: &Channel) -> bool {
        match self.channel.strip_suffix("/*") {
            Some(prefix) => channel.as_str().len() > prefix.len() + 1 && channel.as_str().starts_with(prefix) && channel.as_str().as_bytes()[prefix.len()] == b'/',
            None => self.channel == channel.as_str(),
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidConfig, m));
        match self.channel.strip_suffix("/*") {
            Some("") => {}
            Some(prefix) => {
                Channel::parse(prefix)?;
            }
            None => {
                Channel::parse(&self.channel)?;
            }
        }
        if let Some(c) = &self.consumer {
            if c.is_empty() || c.contains('\n') {
                return bad("a token's consumer id must be non-empty and on one line".into());
            }
        }
        if let Some(info) = &self.info {
            check_info(info).map_err(|m| Error::new(ErrorKind::InvalidConfig, format!("a token's info {m}")))?;
            if self.consumer.is_none() {
                return bad("a token's info describes its consumer: give the consumer id too".into());
            }
        }
        Ok(())
    }
}

/// Whether `info` is what a token may carry: a JSON object, compact (one line), at most
/// [`MAX_INFO_BYTES`]. The error completes "a token's info ...".
pub fn check_info(info: &str) -> std::result::Result<(), String> {
    if info.len() > MAX_INFO_BYTES {
        return Err(format!("is {} bytes; at most {MAX_INFO_BYTES}", info.len()));
    }
    if info.contains('\n') {
        return Err("must be compact JSON on one line".into());
    }
    match serde_json::from_str::<serde_json::Value>(info) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err("must be a JSON object".into()),
        Err(e) => Err(format!("is not JSON: {e}")),
    }
}

fn mac(secret: &[u8], body: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body.as_bytes());
    mac
}

/// Signs `claims` with `secret`.
pub fn sign(secret: &[u8], claims: &Claims) -> Result<String> {
    if secret.is_empty() {
        return Err(Error::new(ErrorKind::InvalidConfig, "the token secret is empty (set PUSH_SECRET)"));
    }
    claims.validate()?;
    let mut raw = format!("{}\n{}\n{}", claims.channel, claims.consumer.as_deref().unwrap_or(""), claims.expires_at);
    if let Some(info) = &claims.info {
        raw.push('\n');
        raw.push_str(info);
    }
    let body = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    let signature = URL_SAFE_NO_PAD.encode(mac(secret, &body).finalize().into_bytes());
    Ok(format!("{body}.{signature}"))
}

/// Signs a token that expires `expires_in` seconds from now.
pub fn sign_for(secret: &[u8], channel: &str, consumer: Option<&str>, expires_in: u64) -> Result<String> {
    let claims = Claims {
        channel: channel.to_owned(),
        consumer: consumer.map(str::to_owned),
        expires_at: now_millis() / 1000 + expires_in,
        info: None,
    };
    sign(secret, &claims)
}

/// Checks the signature (in constant time) and the expiry against `now` (Unix seconds).
pub fn verify(secret: &[u8], token: &str, now: u64) -> std::result::Result<Claims, TokenError> {
    let (body, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed("no signature part"))?;
    let encoded = body.strip_prefix(PREFIX).ok_or(TokenError::Malformed("unknown version (expected push1.)"))?;
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed("signature is not base64url"))?;
    mac(secret, body).verify_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    let raw = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| TokenError::Malformed("claims are not base64url"))?;
    let raw = String::from_utf8(raw).map_err(|_| TokenError::Malformed("claims are not UTF-8"))?;
    let mut parts = raw.split('\n');
    let (Some(channel), Some(consumer), Some(expiry), info, None) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed("claims do not have three or four lines"));
    };
    if info.is_some_and(|i| check_info(i).is_err()) {
        return Err(TokenError::Malformed("the info line is not a compact JSON object within 1024 bytes"));
    }
    let expires_at: u64 = expiry.parse().map_err(|_| TokenError::Malformed("expiry is not a number"))?;
    if now >= expires_at {
        return Err(TokenError::Expired(expires_at));
    }
    Ok(Claims {
        channel: channel.to_owned(),
        consumer: (!consumer.is_empty()).then(|| consumer.to_owned()),
        expires_at,
        info: info.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(channel: &str, consumer: Option<&str>) -> Claims {
        Claims { channel: channel.into(), consumer: consumer.map(Into::into), expires_at: 2_000_000_000, info: None }
    }

    #[test]
    fn info_rides_on_a_fourth_line() {
        let mut with_info = claims("/presence-lobby", Some("alice"));
        with_info.info = Some(r#"{"name":"Alice"}"#.into());
        let token = sign(b"s3cret", &with_info).unwrap();
        // Fixed vector: every SDK signs the same token from the same inputs.
        assert_eq!(token, KNOWN_WITH_INFO);
        assert_eq!(verify(b"s3cret", &token, 1).unwrap(), with_info);
        for bad in ["[1]", "{\"a\":\n1}", "nope", &format!("{{\"a\":\"{}\"}}", "x".repeat(1100))] {
            with_info.info = Some(bad.into());
            assert_eq!(sign(b"k", &with_info).unwrap_err().kind(), ErrorKind::InvalidConfig, "{bad}");
        }
        let mut anonymous = claims("/a", None);
        anonymous.info = Some("{}".into());
        assert!(sign(b"k", &anonymous).unwrap_err().to_string().contains("consumer id"));
    }

    const KNOWN_WITH_INFO: &str = "push1.L3ByZXNlbmNlLWxvYmJ5CmFsaWNlCjIwMDAwMDAwMDAKeyJuYW1lIjoiQWxpY2UifQ.EevWok3FQiooG8ioVSnkFJLSGN2fD_BlBXcWzmdsbWY";

    #[test]
    fn known_answer() {
        // Fixed inputs and output (checked with Python's hmac module too): every SDK tests this token.
        let token = sign(b"s3cret", &claims("/rooms/*", Some("alice"))).unwrap();
        assert_eq!(token, "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY");
    }

    #[test]
    fn round_trip_and_refusals() {
        let token = sign(b"k", &claims("/a", None)).unwrap();
        assert_eq!(verify(b"k", &token, 1).unwrap(), claims("/a", None));
        assert_eq!(verify(b"other", &token, 1), Err(TokenError::BadSignature));
        assert_eq!(verify(b"k", &token, 2_000_000_000), Err(TokenError::Expired(2_000_000_000)));
        let tampered = token.replacen("push1.L2E", "push1.L2I", 1);
        assert!(verify(b"k", &tampered, 1).is_err());
        assert!(matches!(verify(b"k", "garbage", 1), Err(TokenError::Malformed(_))));
        assert!(sign(b"", &claims("/a", None)).is_err());
        assert_eq!(sign(b"k", &claims("nope", None)).unwrap_err().kind(), ErrorKind::InvalidChannel);
    }

    #[test]
    fn patterns_cover_what_is_below() {
        let ch = |s| Channel::parse(s).unwrap();
        let rooms = claims("/rooms/*", None);
        assert!(rooms.covers(&ch("/rooms/1")));
        assert!(rooms.covers(&ch("/rooms/1/chat")));
        assert!(!rooms.covers(&ch("/rooms")));
        assert!(!rooms.covers(&ch("/roomsx/1")));
        assert!(claims("/*", None).covers(&ch("/anything")));
        assert!(claims("/a", None).covers(&ch("/a")));
        assert!(!claims("/a", None).covers(&ch("/a/b")));
    }
}
