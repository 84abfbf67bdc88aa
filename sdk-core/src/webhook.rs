//! Events the server sends to the app (`--events-url`): batches of JSON events in a POST, signed
//! so the app can tell they come from its server. Every SDK verifies them with this module.
//!
//! ```text
//! Push-Signature: t=<Unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." body)>
//! body = {"events":[{"id":"…","name":"member_joined","channel":"/presence-lobby","consumer":"alice",
//!                    "info":{"name":"Alice"},"time_ms":1764870000000}, …]}
//! ```
//! The timestamp is signed with the body, so a captured request cannot be replayed after
//! [`DEFAULT_TOLERANCE_SECS`]; an event's `id` is the same on every retry, so the app drops one
//! it has seen. docs/EVENTS.md is the contract.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Error, ErrorKind, MessageId, Result};

/// The request header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Push-Signature";
/// How far a signature's timestamp may be from the receiver's clock, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;
/// The variable the events' secret comes from (then `PUSH_SECRET`), on both ends.
pub const SECRET_ENV: &str = "PUSH_EVENTS_SECRET";

/// One POST's events, in the order they happened (per channel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub events: Vec<Event>,
}

/// What happened. `name` is one of `channel_occupied`, `channel_vacated`, `member_joined`,
/// `member_left`, `consumer_connected`, `consumer_disconnected`, `undelivered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique per event and the same on every retry of it.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// The member's public info from its token (`member_joined`, `member_left`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// The message the consumer did not receive (`undelivered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// When it happened, ms since the Unix epoch.
    pub time_ms: u64,
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Push-Signature` value for `body` sent at `timestamp` (Unix seconds).
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Checks `signature` (the `Push-Signature` header) over `body` in constant time, and that its
/// timestamp is within `tolerance_secs` of `now` (Unix seconds); then reads the events.
/// A wrong or missing signature is `Unauthorized`, a body that is not a batch `BadRequest`.
pub fn verify(secret: &[u8], body: &[u8], signature: &str, now: u64, tolerance_secs: u64) -> Result<Batch> {
    if secret.is_empty() {
        return Err(Error::new(ErrorKind::InvalidConfig, format!("the events secret is empty (set {SECRET_ENV} or PUSH_SECRET)")));
    }
    let refused = |why: &str| Err(Error::new(ErrorKind::Unauthorized, format!("the events request is not from the server: {why}")));
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in signature.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", hex)) => signatures.push(hex),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else { return refused("the Push-Signature header has no t=<seconds>") };
    if signatures.is_empty() {
        return refused("the Push-Signature header has no v1=<signature>");
    }
    // Any v1 may match: a server rolling its secret can sign with both.
    let expected = mac(secret, timestamp, body);
    if !signatures.iter().filter_map(|hex| decode_hex(hex)).any(|sig| expected.clone().verify_slice(&sig).is_ok()) {
        return refused("the signature does not match (wrong secret, or the body was changed)");
    }
    if now.abs_diff(timestamp) > tolerance_secs {
        return refused(&format!("it was signed at {timestamp}, more than {tolerance_secs} s from now ({now}): replayed, or a clock is off"));
    }
    serde_json::from_slice(body).map_err(|e| Error::new(ErrorKind::BadRequest, format!("the events request's body is not an events batch: {e}")))
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// The events' secret when none is given: `PUSH_EVENTS_SECRET`, then `PUSH_SECRET`.
pub fn secret_from_env() -> Result<Vec<u8>> {
    std::env::var(SECRET_ENV)
        .or_else(|_| std::env::var(crate::binding::SECRET_ENV))
        .map(String::into_bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidConfig, format!("no events secret: pass a secret or set {SECRET_ENV} (or PUSH_SECRET)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"events":[{"id":"e1","name":"member_left","channel":"/presence-lobby","consumer":"alice","time_ms":1}]}"#;

    #[test]
    fn known_answer() {
        // Fixed inputs and output: every SDK's test checks this signature.
        assert_eq!(sign(b"s3cret", 2_000_000_000, BODY), KNOWN);
    }

    #[test]
    fn verifies_and_refuses() {
        let header = sign(b"k", 1000, BODY);
        let batch = verify(b"k", BODY, &header, 1100, 300).unwrap();
        assert_eq!(batch.events[0].name, "member_left");
        assert_eq!(batch.events[0].consumer.as_deref(), Some("alice"));
        let kind = |r: Result<Batch>| r.unwrap_err().kind();
        assert_eq!(kind(verify(b"other", BODY, &header, 1000, 300)), ErrorKind::Unauthorized);
        assert_eq!(kind(verify(b"k", b"{}", &header, 1000, 300)), ErrorKind::Unauthorized);
        assert_eq!(kind(verify(b"k", BODY, &header, 1301, 300)), ErrorKind::Unauthorized);
        assert_eq!(kind(verify(b"k", BODY, "v1=00", 1000, 300)), ErrorKind::Unauthorized);
        assert_eq!(kind(verify(b"k", BODY, "garbage", 1000, 300)), ErrorKind::Unauthorized);
        assert_eq!(kind(verify(b"", BODY, &header, 1000, 300)), ErrorKind::InvalidConfig);
        let rolled = format!("{},v1=abcd", header);
        assert!(verify(b"k", BODY, &rolled, 1000, 300).is_ok());
        let not_a_batch = br#"{"x":1}"#;
        assert_eq!(kind(verify(b"k", not_a_batch, &sign(b"k", 1000, not_a_batch), 1000, 300)), ErrorKind::BadRequest);
    }

    const KNOWN: &str = "t=2000000000,v1=831e7358c2d4915f2e9ec13c7b37394411f4e7afcf43792ab2099b758093fa41";
}
