//! The hub's own tests: ordering, gaps, re-syncs, limits, polls.

use super::*;
use push_core::broker::{Position, Subscription};
use push_core::{ErrorKind, Event, Gap};
use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};

fn msg(id: u64, channel: &str) -> Message {
    Message {
        id: MessageId(id),
        channel: Channel::parse(channel).unwrap(),
        also: Default::default(),
        payload: Bytes::from(format!("m{id}")),
        content_type: "text/plain".into(),
        event: None,
        published_at: 0,
        encoded: Default::default(),
    }
}

/// Messages 1 to 10 on `/a` with a history of 3: 1 to 7 are evicted.
fn ten_in_a_ring_of_three(strict_cursors: bool) -> Arc<Hub> {
    let hub = Hub::new(MessageId(0), HubLimits { history_size: 3, ..HubLimits::default() }, strict_cursors);
    for i in 1..=10 {
        hub.ingest(msg(i, "/a"));
    }
    hub
}

fn ids(events: &[Event]) -> Vec<u64> {
    events.iter().map(|e| e.cursor().0).collect()
}

async fn ready(sub: &mut Subscription) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(Some(e)) = sub.events.next().now_or_never() {
        out.push(e);
    }
    out
}

fn ch(name: &str) -> Channel {
    Channel::parse(name).unwrap()
}

#[tokio::test]
async fn latest_sees_only_new_messages() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    hub.ingest(msg(1, "/a"));
    let mut sub = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    assert_eq!(sub.start, MessageId(1));
    hub.ingest(msg(2, "/b"));
    hub.ingest(msg(3, "/a"));
    assert_eq!(ids(&ready(&mut sub).await), vec![3]);
}

#[tokio::test]
async fn cursor_reads_backlog_then_live_without_duplicates() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    for i in 1..=5 {
        hub.ingest(msg(i, "/a"));
    }
    let mut sub = hub.subscribe(&[ch("/a")], Position::After(MessageId(2))).unwrap();
    hub.ingest(msg(6, "/a"));
    assert_eq!(ids(&ready(&mut sub).await), vec![3, 4, 5, 6]);
}

#[tokio::test]
async fn evicted_history_is_a_gap() {
    let hub = ten_in_a_ring_of_three(true);
    let mut sub = hub.subscribe(&[ch("/a")], Position::After(MessageId(2))).unwrap();
    let events = ready(&mut sub).await;
    assert!(matches!(&events[0], Event::Gap(_, g) if *g == Gap { from: MessageId(3), to: MessageId(7) }));
    assert_eq!(ids(&events[1..]), vec![8, 9, 10]);
}

#[tokio::test]
async fn cursor_before_start_is_a_gap_and_future_cursor_an_error() {
    let hub = Hub::new(MessageId(100), HubLimits::default(), true);
    let mut sub = hub.subscribe(&[ch("/a")], Position::After(MessageId(40))).unwrap();
    let events = ready(&mut sub).await;
    assert!(matches!(&events[0], Event::Gap(_, g) if g.from == MessageId(41) && g.to == MessageId(100)));
    let err = hub.subscribe(&[ch("/a")], Position::After(MessageId(101))).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidCursor);
}

#[tokio::test]
async fn slow_subscriber_resyncs_from_the_ring_without_loss() {
    let limits = HubLimits { queue_size: 4, history_size: 1000, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    let mut sub = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    for i in 1..=50 {
        hub.ingest(msg(i, "/a"));
    }
    assert_eq!(ids(&ready(&mut sub).await), (1..=50).collect::<Vec<_>>());
    hub.ingest(msg(51, "/a"));
    assert_eq!(ids(&ready(&mut sub).await), vec![51]);
}

#[tokio::test]
async fn slow_subscriber_past_the_ring_gets_a_gap() {
    let limits = HubLimits { queue_size: 2, history_size: 5, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    let mut sub = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    for i in 1..=20 {
        hub.ingest(msg(i, "/a"));
    }
    let events = ready(&mut sub).await;
    assert_eq!(ids(&events[..2]), vec![1, 2]);
    assert!(matches!(&events[2], Event::Gap(_, g) if g.from == MessageId(3) && g.to == MessageId(15)));
    assert_eq!(ids(&events[3..]), vec![16, 17, 18, 19, 20]);
}

#[tokio::test]
async fn many_channels_arrive_in_id_order() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    hub.ingest(msg(1, "/a"));
    hub.ingest(msg(2, "/b"));
    hub.ingest(msg(3, "/a"));
    let mut sub = hub.subscribe(&[ch("/a"), ch("/b")], Position::After(MessageId(0))).unwrap();
    hub.ingest(msg(4, "/b"));
    hub.ingest(msg(5, "/c"));
    hub.ingest(msg(6, "/a"));
    assert_eq!(ids(&ready(&mut sub).await), vec![1, 2, 3, 4, 6]);
}

#[tokio::test]
async fn dropped_subscriptions_unregister() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    hub.ingest(msg(1, "/a"));
    let sub = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    drop(sub);
    assert!(hub.lock().channels[&ch("/a")].subscribers.is_empty());
}

#[tokio::test]
async fn subscribe_only_channels_are_dropped_with_their_last_subscriber() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    hub.ingest(msg(1, "/kept"));
    let first = hub.subscribe(&[ch("/x"), ch("/kept")], Position::Latest).unwrap();
    let second = hub.subscribe(&[ch("/x")], Position::Latest).unwrap();
    assert_eq!(hub.channel_count(), 2);
    drop(first);
    assert_eq!(hub.channel_count(), 2, "/x still has a subscriber");
    drop(second);
    assert_eq!(hub.channel_count(), 1, "/x had no history: dropped; /kept has history");
    // Forgetting /x lost nothing: a cursor from before still reads the same (no gap).
    let mut again = hub.subscribe(&[ch("/x")], Position::After(MessageId(0))).unwrap();
    hub.ingest(msg(2, "/x"));
    assert_eq!(ids(&ready(&mut again).await), vec![2]);
}

#[tokio::test]
async fn later_copies_of_a_key_are_skipped_and_answer_the_first_id() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    let mut sub = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    assert_eq!(hub.ingest_keyed(msg(1, "/a"), Some("k")), Published { id: MessageId(1), replayed: false });
    assert_eq!(hub.ingest_keyed(msg(2, "/a"), Some("k")), Published { id: MessageId(1), replayed: true });
    assert_eq!(hub.ingest_keyed(msg(3, "/a"), Some("other")), Published { id: MessageId(3), replayed: false });
    assert_eq!(ids(&ready(&mut sub).await), vec![1, 3], "the second copy is never delivered");
    assert_eq!(hub.last_id(), MessageId(3));
}

#[tokio::test]
async fn a_lost_range_is_a_gap_for_live_and_resuming_subscribers() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), false);
    hub.ingest(msg(1, "/a"));
    let mut live = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    hub.lost(MessageId(5));
    hub.ingest(msg(6, "/a"));
    let events = ready(&mut live).await;
    assert!(matches!(&events[0], Event::Gap(_, g) if *g == Gap { from: MessageId(2), to: MessageId(5) }), "{events:?}");
    assert_eq!(ids(&events[1..]), vec![6]);
    let mut resuming = hub.subscribe(&[ch("/b")], Position::After(MessageId(1))).unwrap();
    assert!(matches!(&ready(&mut resuming).await[0], Event::Gap(_, g) if g.to == MessageId(5)));
}

#[tokio::test]
async fn new_channels_past_the_limit_are_refused() {
    let limits = HubLimits { max_channels: 2, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    let _a = hub.subscribe(&[ch("/a")], Position::Latest).unwrap();
    let err = hub.subscribe(&[ch("/b"), ch("/c")], Position::Latest).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(hub.channel_count(), 1, "a refused subscription registers nothing");
    let _b = hub.subscribe(&[ch("/a"), ch("/b")], Position::Latest).unwrap();
    // Published messages are always taken, whatever the limit.
    hub.ingest(msg(1, "/d"));
    assert_eq!(hub.channel_count(), 3);
}

#[tokio::test]
async fn publishing_never_locks_out_subscribers() {
    let limits = HubLimits { max_channels: 2, history_age: Duration::ZERO, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    for i in 1..=100 {
        hub.ingest(msg(i, &format!("/user/{i}")));
    }
    hub.sweep(); // every message has expired: 100 empty published channels stay tracked
    assert_eq!(hub.channel_count(), 100);
    let _new = hub.subscribe(&[ch("/new/1"), ch("/new/2")], Position::Latest).expect("new channels are accepted");
    let _published = hub.subscribe(&[ch("/user/1"), ch("/user/50")], Position::Latest).expect("so are published ones");
    let err = hub.subscribe(&[ch("/new/3")], Position::Latest).err().expect("--max-channels still bounds invented names");
    assert_eq!(err.kind(), ErrorKind::Overloaded);
}

#[tokio::test]
async fn channel_memory_lets_go_of_the_oldest_first() {
    let one = budget::entry_cost(&ch("/c/00")) + budget::message_cost(&msg(1, "/c/00"));
    let limits = HubLimits { channel_memory: 10 * one, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    for i in 1..=40 {
        hub.ingest(msg(i, &format!("/c/{i:02}")));
        assert!(hub.stats().channel_memory_bytes <= 10 * one);
    }
    let stats = hub.stats();
    assert_eq!(hub.channel_count(), 10, "{stats:?}");
    // 31 messages went, and the 30 channels that held the oldest of them: /c/31 keeps its
    // bookkeeping without its message, which fits beside nine whole channels.
    assert_eq!(stats.channels_shed, 30);
    assert_eq!(stats.history_shed, 31);
    // The newest ten are whole; a cursor on a forgotten one gets a gap, never silence.
    let mut newest = hub.subscribe(&[ch("/c/40")], Position::After(MessageId(0))).unwrap();
    assert_eq!(ids(&ready(&mut newest).await), vec![40]);
    let mut gone = hub.subscribe(&[ch("/c/05")], Position::After(MessageId(4))).unwrap();
    match ready(&mut gone).await.as_slice() {
        [Event::Gap(_, gap)] => assert!(gap.from == MessageId(5) && gap.to >= MessageId(5), "{gap:?}"),
        other => panic!("expected a gap covering message 5, got {other:?}"),
    }
    // A cursor past a forgotten channel's last message sees no gap (unless its floor bucket
    // was raised by another channel, which 65,536 buckets make rare).
    let mut caught_up = hub.subscribe(&[ch("/c/06")], Position::After(MessageId(6))).unwrap();
    let events = ready(&mut caught_up).await;
    assert!(events.iter().all(|e| matches!(e, Event::Gap(..))), "{events:?}");
}

#[tokio::test]
async fn a_watched_channel_is_never_shed_from_under_its_subscriber() {
    let one = budget::entry_cost(&ch("/c/00")) + budget::message_cost(&msg(1, "/c/00"));
    let limits = HubLimits { channel_memory: 5 * one, history_size: 1, ..HubLimits::default() };
    let hub = Hub::new(MessageId(0), limits, true);
    hub.ingest(msg(1, "/watched"));
    let mut sub = hub.subscribe(&[ch("/watched")], Position::Latest).unwrap();
    for i in 2..=50 {
        hub.ingest(msg(i, &format!("/c/{i:02}")));
    }
    hub.ingest(msg(51, "/watched"));
    assert_eq!(ids(&ready(&mut sub).await), vec![51], "still registered: the live message arrives");
    drop(sub);
    assert!(hub.stats().channel_memory_bytes <= 5 * one);
}

#[tokio::test]
async fn a_poll_reads_the_ring_then_waits_for_the_next_message() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    for i in 1..=3 {
        hub.ingest(msg(i, "/a"));
    }
    let mut poll = hub.poll(&[ch("/a")], Position::After(MessageId(1))).unwrap();
    assert_eq!(ids(&ready(&mut poll).await), vec![2, 3]);
    hub.ingest(msg(4, "/b"));
    assert!(ready(&mut poll).await.is_empty(), "another channel's message does not wake it");
    let waiting = tokio::spawn(async move { poll.events.next().await.map(|e| e.cursor()) });
    tokio::task::yield_now().await;
    hub.ingest(msg(5, "/a"));
    assert_eq!(waiting.await.unwrap(), Some(MessageId(5)));
}

#[tokio::test]
async fn a_poll_on_several_channels_wakes_for_any_and_reads_in_id_order() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    let mut poll = hub.poll(&[ch("/a"), ch("/b")], Position::Latest).unwrap();
    assert!(ready(&mut poll).await.is_empty());
    hub.ingest(msg(1, "/b"));
    hub.ingest(msg(2, "/a"));
    assert_eq!(ids(&ready(&mut poll).await), vec![1, 2]);
}

#[tokio::test]
async fn a_poll_behind_the_ring_gets_a_gap_and_a_lost_range_wakes_it() {
    let hub = ten_in_a_ring_of_three(false);
    let mut behind = hub.poll(&[ch("/a")], Position::After(MessageId(2))).unwrap();
    let events = ready(&mut behind).await;
    assert!(matches!(&events[0], Event::Gap(_, g) if *g == Gap { from: MessageId(3), to: MessageId(7) }), "{events:?}");
    assert_eq!(ids(&events[1..]), vec![8, 9, 10]);
    assert!(ready(&mut behind).await.is_empty());
    hub.lost(MessageId(20));
    let events = ready(&mut behind).await;
    assert!(matches!(&events[..], [Event::Gap(_, g)] if *g == Gap { from: MessageId(11), to: MessageId(20) }), "{events:?}");
}

#[tokio::test]
async fn a_waiting_poll_keeps_its_channel_and_releases_it_when_done() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    let mut poll = hub.poll(&[ch("/fleeting")], Position::Latest).unwrap();
    assert!(ready(&mut poll).await.is_empty());
    hub.sweep();
    assert_eq!(hub.channel_count(), 1, "held while a poll waits on it");
    drop(poll);
    assert_eq!(hub.channel_count(), 0, "an empty channel no one watches is dropped");
}

#[tokio::test]
async fn closing_the_hub_ends_waiting_polls() {
    let hub = Hub::new(MessageId(0), HubLimits::default(), true);
    let mut poll = hub.poll(&[ch("/a")], Position::Latest).unwrap();
    assert!(ready(&mut poll).await.is_empty());
    hub.close();
    assert!(poll.events.next().now_or_never().expect("woken").is_none());
    let mut late = hub.poll(&[ch("/a")], Position::Latest).unwrap();
    assert!(late.events.next().now_or_never().expect("ends at once").is_none());
}
