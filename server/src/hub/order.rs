//! The order a subscription's events go out in, and each message once.
//!
//! Events are sorted by cursor, a gap before a message with the same id: a message published to
//! several channels ([`Message::also`](push_core::Message)) can share its id with another
//! channel's gap end, and both must reach the subscriber. A subscription of several channels
//! also reads such a message once per channel; only the first copy goes out.

use push_core::{Event, MessageId};

/// Sorts events for delivery: by cursor, gaps first.
pub fn sort(events: &mut [Event]) {
    events.sort_by_key(|e| (e.cursor(), matches!(e, Event::Message(_))));
}

/// What a subscription has delivered: its cursor, and whether a message took it there.
#[derive(Debug, Clone, Copy)]
pub struct InOrder {
    cursor: MessageId,
    message_at_cursor: bool,
}

impl InOrder {
    pub fn new(start: MessageId) -> InOrder {
        InOrder { cursor: start, message_at_cursor: true }
    }

    pub fn cursor(&self) -> MessageId {
        self.cursor
    }

    /// Whether `event` goes out (and moves the cursor): anything past the cursor; at the cursor,
    /// anything after a gap (another channel's gap ending there, or the message itself), but no
    /// message twice.
    pub fn admit(&mut self, event: &Event) -> bool {
        let at = event.cursor();
        let message = matches!(event, Event::Message(_));
        if at > self.cursor || (at == self.cursor && !self.message_at_cursor) {
            self.cursor = at;
            self.message_at_cursor = message;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use push_core::{Channel, Gap};

    fn gap(ch: &str, from: u64, to: u64) -> Event {
        Event::Gap(Channel::parse(ch).unwrap(), Gap { from: MessageId(from), to: MessageId(to) })
    }

    #[test]
    fn a_gap_and_a_message_at_one_id_both_go_out_once() {
        let m = Event::Message(std::sync::Arc::new(push_core::Message {
            id: MessageId(10),
            channel: Channel::parse("/a").unwrap(),
            also: vec![Channel::parse("/b").unwrap()].into(),
            payload: Default::default(),
            content_type: String::new(),
            event: None,
            published_at: 0,
            encoded: Default::default(),
        }));
        let mut events = vec![m.clone(), gap("/b", 6, 10), m.clone(), gap("/c", 6, 10)];
        sort(&mut events);
        let mut order = InOrder::new(MessageId(5));
        let out: Vec<bool> = events.iter().map(|e| order.admit(e)).collect();
        assert_eq!(out, [true, true, true, false]);
        assert!(!order.admit(&gap("/b", 6, 10)));
        assert!(!order.admit(&m));
        assert_eq!(order.cursor(), MessageId(10));
    }
}
