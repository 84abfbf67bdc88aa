//! The idempotency window: which key digests the log has seen lately, and the id of each one's
//! first copy. Engines feed it in log order, so every node that reads the same log skips the
//! same later copies.
//!
//! Keys are kept compactly: each digest is stored once, as its 16 bytes, in a ring in arrival
//! order (oldest first), and a hash table holds only the ring positions. A key costs
//! [`KEY_BYTES`] (the ring slot plus the table's share), and the window holds at most as many
//! keys as `--idempotency-memory` pays for. A key leaves when it is older than
//! `--idempotency-window`, or, the oldest first, when a new key needs its room. The latter
//! is fine for keys older than `--idempotency-horizon` (producers have stopped retrying them);
//! a key younger than that is counted (`push_idempotency_evicted_early_total`) and logged once,
//! so an operator sees the guarantee at risk.

use std::collections::VecDeque;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use hashbrown::HashTable;
use push_core::MessageId;

/// One remembered key: 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Key {
    digest: [u8; 16],
    id: MessageId,
    /// Milliseconds since the window's epoch.
    at: u64,
}

/// Memory of one remembered key: its ring slot, and the table's `u32` slot and control byte at
/// the table's 7/8 load.
pub const KEY_BYTES: usize = std::mem::size_of::<Key>() + (std::mem::size_of::<u32>() + 1) * 8 / 7;

/// Bounds of the window.
#[derive(Debug, Clone, Copy)]
pub struct WindowLimits {
    /// How long a key is remembered; zero turns de-duplication off.
    pub ttl: Duration,
    /// How long producers retry with the same key: evicting a younger key risks a duplicate.
    pub horizon: Duration,
    /// Memory for keys, in bytes.
    pub max_bytes: usize,
}

#[derive(Debug)]
pub struct Window {
    limits: WindowLimits,
    max_keys: usize,
    epoch: Instant,
    /// Keys in the order they were seen; `ring[0]` has sequence number `head`.
    ring: VecDeque<Key>,
    head: u32,
    /// Sequence numbers of the keys in `ring`, found by digest.
    index: HashTable<u32>,
    hasher: RandomState,
    /// Keys younger than the horizon evicted for room.
    evicted_early: u64,
}

impl Window {
    pub fn new(limits: WindowLimits) -> Window {
        let max_keys = if limits.ttl.is_zero() { 0 } else { (limits.max_bytes / KEY_BYTES).min(u32::MAX as usize / 2) };
        Window {
            limits,
            max_keys,
            epoch: Instant::now(),
            ring: VecDeque::new(),
            head: 0,
            index: HashTable::new(),
            hasher: RandomState::new(),
            evicted_early: 0,
        }
    }

    /// The id of the first copy with this digest, if the window still holds it.
    pub fn first_copy(&self, digest: &str) -> Option<MessageId> {
        let digest = compact(digest);
        let hash = self.hasher.hash_one(digest);
        self.index.find(hash, |seq| self.key(*seq).digest == digest).map(|seq| self.key(*seq).id)
    }

    /// Records the first copy of `digest`, seen at `now`.
    pub fn record(&mut self, digest: &str, id: MessageId, now: Instant) {
        if self.max_keys == 0 {
            return;
        }
        self.expire(now);
        let at = self.millis(now);
        while self.ring.len() >= self.max_keys {
            let oldest = self.ring.front().map_or(at, |k| k.at);
            if at.saturating_sub(oldest) < self.limits.horizon.as_millis() as u64 {
                self.evicted_early += 1;
                if self.evicted_early == 1 {
                    tracing::warn!(
                        keys = self.ring.len(),
                        memory_bytes = self.ring.len() * KEY_BYTES,
                        horizon = ?self.limits.horizon,
                        "the idempotency window is full: keys younger than --idempotency-horizon are forgotten, so a producer's retry may be stored twice; raise --idempotency-memory (counted in push_idempotency_evicted_early_total; logged once)"
                    );
                }
            }
            self.pop_oldest();
        }
        let digest = compact(digest);
        let seq = self.head.wrapping_add(self.ring.len() as u32);
        self.ring.push_back(Key { digest, id, at });
        let hash = self.hasher.hash_one(digest);
        let (ring, head, hasher) = (&self.ring, self.head, &self.hasher);
        self.index.insert_unique(hash, seq, |s| hasher.hash_one(ring[s.wrapping_sub(head) as usize].digest));
    }

    /// Forgets digests older than the window.
    pub fn expire(&mut self, now: Instant) {
        let now = self.millis(now);
        let ttl = self.limits.ttl.as_millis() as u64;
        while self.ring.front().is_some_and(|k| now.saturating_sub(k.at) > ttl) {
            self.pop_oldest();
        }
        // Give back what a burst grew the ring to once it is mostly empty again.
        if self.ring.capacity() > 1024 && self.ring.len() < self.ring.capacity() / 4 {
            self.ring.shrink_to(self.ring.len() * 2);
            let (ring, head, hasher) = (&self.ring, self.head, &self.hasher);
            self.index.shrink_to(ring.len() * 2, |s| hasher.hash_one(ring[s.wrapping_sub(head) as usize].digest));
        }
    }

    fn pop_oldest(&mut self) {
        if let Some(oldest) = self.ring.front().copied() {
            let hash = self.hasher.hash_one(oldest.digest);
            let head = self.head;
            if let Ok(entry) = self.index.find_entry(hash, |seq| *seq == head) {
                entry.remove();
            }
            self.ring.pop_front();
            self.head = self.head.wrapping_add(1);
        }
    }

    fn key(&self, seq: u32) -> &Key {
        &self.ring[seq.wrapping_sub(self.head) as usize]
    }

    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// What the keys held now cost, in bytes ([`KEY_BYTES`] each).
    pub fn memory_bytes(&self) -> usize {
        self.ring.len() * KEY_BYTES
    }

    /// Keys younger than the horizon forgotten for room, since the start.
    pub fn evicted_early(&self) -> u64 {
        self.evicted_early
    }
}

/// A digest's 16 bytes: the hex that sdk-core's `idempotency::digest` makes, or, for a digest of
/// another form (a foreign AMQP `message_id`), a hash of its text.
fn compact(digest: &str) -> [u8; 16] {
    let hex = digest.strip_prefix(push_core::idempotency::DIGEST_PREFIX).unwrap_or(digest).as_bytes();
    let mut out = [0u8; 16];
    let parsed = hex.len() == 32
        && hex.chunks(2).zip(out.iter_mut()).all(|(pair, byte)| {
            match std::str::from_utf8(pair).ok().and_then(|p| u8::from_str_radix(p, 16).ok()) {
                Some(b) => {
                    *byte = b;
                    true
                }
                None => false,
            }
        });
    if parsed {
        out
    } else {
        push_core::idempotency::digest_bytes(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u32) -> String {
        push_core::idempotency::digest(&push_core::Channel::parse("/c").unwrap(), &format!("key-{n}"))
    }

    fn window(max_keys: usize, ttl: u64, horizon: u64) -> Window {
        Window::new(WindowLimits { ttl: Duration::from_secs(ttl), horizon: Duration::from_secs(horizon), max_bytes: max_keys * KEY_BYTES })
    }

    #[test]
    fn remembers_first_copies_within_time_and_memory() {
        let now = Instant::now();
        let mut w = window(2, 60, 0);
        w.record(&digest(1), MessageId(1), now);
        w.record(&digest(2), MessageId(2), now);
        assert_eq!(w.first_copy(&digest(1)), Some(MessageId(1)));
        assert_eq!(w.first_copy(&digest(2)), Some(MessageId(2)));
        w.record(&digest(3), MessageId(3), now);
        assert_eq!(w.first_copy(&digest(1)), None, "the oldest goes when the memory is used up");
        assert_eq!(w.first_copy(&digest(3)), Some(MessageId(3)));
        assert_eq!(w.memory_bytes(), 2 * KEY_BYTES);
        w.expire(now + Duration::from_secs(61));
        assert!(w.is_empty(), "and everything after the time window");
        assert_eq!(w.first_copy(&digest(3)), None);
    }

    #[test]
    fn a_key_costs_at_most_40_bytes() {
        assert_eq!(std::mem::size_of::<Key>(), 32);
        assert!(KEY_BYTES <= 40, "{KEY_BYTES}");
    }

    #[test]
    fn evicting_keys_younger_than_the_horizon_is_counted() {
        let now = Instant::now();
        let mut w = window(100, 300, 10);
        for n in 0..250 {
            w.record(&digest(n), MessageId(n as u64 + 1), now);
        }
        assert_eq!(w.len(), 100);
        assert_eq!(w.evicted_early(), 150);
        // Keys older than the horizon go without being counted.
        let later = now + Duration::from_secs(11);
        w.record(&digest(1000), MessageId(1000), later);
        assert_eq!(w.evicted_early(), 150);
        assert_eq!(w.first_copy(&digest(249)), Some(MessageId(250)));
    }

    #[test]
    fn many_keys_through_a_small_ring_stay_findable() {
        let now = Instant::now();
        let mut w = window(1000, 300, 0);
        for n in 0..100_000u32 {
            w.record(&digest(n), MessageId(n as u64 + 1), now);
            if n >= 1000 {
                assert_eq!(w.first_copy(&digest(n - 1000)), None);
            }
        }
        for n in 99_000..100_000u32 {
            assert_eq!(w.first_copy(&digest(n)), Some(MessageId(n as u64 + 1)));
        }
    }

    #[test]
    fn digests_of_other_forms_are_kept_apart() {
        let now = Instant::now();
        let mut w = window(10, 60, 0);
        w.record("idem-not-hex", MessageId(1), now);
        w.record("something else", MessageId(2), now);
        assert_eq!(w.first_copy("idem-not-hex"), Some(MessageId(1)));
        assert_eq!(w.first_copy("something else"), Some(MessageId(2)));
        assert_eq!(w.first_copy("other"), None);
    }

    #[test]
    fn a_zero_window_remembers_nothing() {
        let mut w = Window::new(WindowLimits { ttl: Duration::ZERO, horizon: Duration::ZERO, max_bytes: 1 << 20 });
        w.record(&digest(1), MessageId(1), Instant::now());
        assert_eq!(w.first_copy(&digest(1)), None);
    }
}
