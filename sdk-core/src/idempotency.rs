//! Idempotency keys: a publish retried with the same key (to the same channel) is stored once.
//!
//! Every SDK publish carries a key, the caller's or a fresh one, and is retried with that key
//! after an ambiguous failure. Engines recognise a second copy by the key's [`digest`] within a
//! window (see the server's `--idempotency-window`) and answer the first copy's id. On RabbitMQ
//! the digest is the message's AMQP `message_id`, so every node that reads the stream makes the
//! same decision.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::{Channel, Error, ErrorKind, Result};

/// The HTTP request header (the IETF httpapi draft's name).
pub const HEADER: &str = "Idempotency-Key";
/// The response header set when a publish was a repeat of an earlier one with the same key.
pub const REPLAYED_HEADER: &str = "Idempotent-Replayed";
/// Longest key accepted, in bytes.
pub const MAX_LEN: usize = 255;
/// The prefix of a digest; AMQP message ids that carry it are idempotency digests.
pub const DIGEST_PREFIX: &str = "idem-";

/// Checks a caller's key: 1 to 255 visible ASCII characters.
pub fn validate(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::new(
            ErrorKind::BadRequest,
            format!("an idempotency key is 1 to {MAX_LEN} visible ASCII characters (no spaces)"),
        ));
    }
    Ok(())
}

/// A fresh key, unique across processes and machines with overwhelming probability.
pub fn new_key() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}-{n}", random(n), random(!n))
}

/// What engines compare: the key scoped to its channel, fixed-length (fits an AMQP short string).
pub fn digest(channel: &Channel, key: &str) -> String {
    digest_all(std::iter::once(channel), key)
}

/// The digest of a key scoped to a publish's channels, in order (for one channel the same as
/// [`digest`]). A key has no newline, so no list of channels and key reads as another.
pub fn digest_all<'a>(channels: impl IntoIterator<Item = &'a Channel>, key: &str) -> String {
    let mut hash = Sha256::new();
    for channel in channels {
        hash.update(channel.as_str().as_bytes());
        hash.update(b"\n");
    }
    hash.update(key.as_bytes());
    let bytes = hash.finalize();
    let hex: String = bytes[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{DIGEST_PREFIX}{hex}")
}

/// 16 bytes standing for a digest of another form than [`digest`]'s (a foreign AMQP
/// `message_id`), so engines can keep every digest in the same fixed size.
pub fn digest_bytes(text: &str) -> [u8; 16] {
    let hash = Sha256::digest(text.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_valid() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        validate(&a).unwrap();
    }

    #[test]
    fn digests_scope_the_key_to_its_channel() {
        let a = Channel::parse("/a").unwrap();
        let b = Channel::parse("/b").unwrap();
        assert_eq!(digest(&a, "k"), digest(&a, "k"));
        assert_ne!(digest(&a, "k"), digest(&b, "k"));
        assert_ne!(digest(&a, "k"), digest(&a, "k2"));
        assert!(digest(&a, &"x".repeat(255)).len() < 255);
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in ["", "has space", "tab\t", "é", &"x".repeat(256)] {
            assert_eq!(validate(bad).unwrap_err().kind(), ErrorKind::BadRequest, "{bad:?}");
        }
    }
}
