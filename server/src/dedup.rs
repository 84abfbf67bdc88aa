//! The idempotency window: which key digests the log has seen lately, and the id of each one's
//! first copy. Engines feed it in log order, so every node that reads the same log skips the
//! same later copies.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use push_core::MessageId;

#[derive(Debug)]
pub struct Window {
    ttl: Duration,
    max_keys: usize,
    first: HashMap<String, MessageId>,
    /// Digests in the order they were seen, to expire the oldest.
    order: VecDeque<(Instant, String)>,
}

impl Window {
    pub fn new(ttl: Duration, max_keys: usize) -> Window {
        Window { ttl, max_keys, first: HashMap::new(), order: VecDeque::new() }
    }

    /// The id of the first copy with this digest, if the window still holds it.
    pub fn first_copy(&self, digest: &str) -> Option<MessageId> {
        self.first.get(digest).copied()
    }

    /// Records the first copy of `digest`.
    pub fn record(&mut self, digest: &str, id: MessageId, now: Instant) {
        if self.ttl.is_zero() || self.max_keys == 0 {
            return;
        }
        self.expire(now);
        while self.order.len() >= self.max_keys {
            self.pop_oldest();
        }
        self.first.insert(digest.to_owned(), id);
        self.order.push_back((now, digest.to_owned()));
    }

    /// Forgets digests older than the window.
    pub fn expire(&mut self, now: Instant) {
        while self.order.front().is_some_and(|(at, _)| now.duration_since(*at) > self.ttl) {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((_, digest)) = self.order.pop_front() {
            self.first.remove(&digest);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_first_copies_within_time_and_count() {
        let now = Instant::now();
        let mut w = Window::new(Duration::from_secs(60), 2);
        w.record("a", MessageId(1), now);
        w.record("b", MessageId(2), now);
        assert_eq!(w.first_copy("a"), Some(MessageId(1)));
        w.record("c", MessageId(3), now);
        assert_eq!(w.first_copy("a"), None, "the oldest goes when the count is reached");
        w.expire(now + Duration::from_secs(61));
        assert!(w.is_empty(), "and everything after the time window");
    }
}
