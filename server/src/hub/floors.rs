//! Floors of the channels the hub no longer tracks.
//!
//! A channel's floor is the highest id below which the hub may no longer hold its messages. When
//! the hub forgets a channel (to stay within its memory, or after it sat idle), its floor goes
//! into one of a fixed number of buckets, picked by a hash of the name, where it is kept as the
//! bucket's maximum. A channel tracked anew starts from its bucket's floor: never below the
//! truth, so a returning cursor is never told "nothing missing" wrongly; at worst (another
//! channel of the same bucket was forgotten later) its gap is wider than the truth, which a gap
//! allows ("may be missing"), and on the engines with a log (--data-dir, RabbitMQ) the gap is
//! read back from the log. The buckets cost a fixed 512 KiB, however many channels come and go.

use std::hash::{BuildHasher, RandomState};

use push_core::{Channel, MessageId};

const BUCKETS: usize = 1 << 16;

pub struct Floors {
    /// The floor of every channel: the hub's start, or what the log lost.
    base: MessageId,
    buckets: Box<[MessageId]>,
    hasher: RandomState,
}

impl Floors {
    pub fn new(start: MessageId) -> Floors {
        Floors { base: start, buckets: vec![MessageId(0); BUCKETS].into_boxed_slice(), hasher: RandomState::new() }
    }

    /// The floor a channel the hub does not track starts from.
    pub fn of(&self, channel: &Channel) -> MessageId {
        self.base.max(self.buckets[self.bucket(channel)])
    }

    /// Keeps the floor of a channel being forgotten.
    pub fn forget(&mut self, channel: &Channel, floor: MessageId) {
        let bucket = self.bucket(channel);
        self.buckets[bucket] = self.buckets[bucket].max(floor);
    }

    /// Raises every channel's floor to `to` (the log lost messages up to it).
    pub fn raise(&mut self, to: MessageId) {
        self.base = self.base.max(to);
    }

    fn bucket(&self, channel: &Channel) -> usize {
        self.hasher.hash_one(channel.as_str()) as usize & (BUCKETS - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[test]
    fn a_forgotten_floor_comes_back_never_lower() {
        let mut floors = Floors::new(MessageId(10));
        assert_eq!(floors.of(&ch("/a")), MessageId(10));
        floors.forget(&ch("/a"), MessageId(500));
        assert_eq!(floors.of(&ch("/a")), MessageId(500));
        floors.forget(&ch("/a"), MessageId(300));
        assert_eq!(floors.of(&ch("/a")), MessageId(500), "a bucket keeps its maximum");
        floors.raise(MessageId(1000));
        assert_eq!(floors.of(&ch("/a")), MessageId(1000));
    }

    #[test]
    fn most_channels_do_not_share_a_forgotten_floor() {
        let mut floors = Floors::new(MessageId(0));
        for n in 0..1000 {
            floors.forget(&ch(&format!("/forgotten/{n}")), MessageId(1_000_000 + n));
        }
        let raised = (0..10_000).filter(|n| floors.of(&ch(&format!("/other/{n}"))) > MessageId(0)).count();
        // 1,000 of 65,536 buckets are taken: about 1.5% of other names land in one.
        assert!(raised < 400, "{raised} of 10000 untouched channels got a raised floor");
    }
}
