//! The broker contract, one suite for every engine: the embedded broker (in memory, and with a
//! data dir) and RabbitMQ run the same checks through [`push_core::Broker`], built the way the server builds them
//! (`broker::from_config`). A new engine adds one line to `engines!` below.
//!
//! The central check is [`assert_accounted`]: a subscription from a cursor yields every later
//! message of its channels exactly once, in id order, except ranges it announces as gaps. How a
//! range is served (ring, catch-up read, gap) is the engine's business; that nothing is skipped
//! silently or repeated is the contract.

mod rabbitmq_support;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use push_core::broker::{Position, Publication, Subscription};
use push_core::{Broker, Channel, Event, MessageId};
use push_server::Config;

type Check = fn(Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Clone, Copy)]
enum Engine {
    Memory,
    /// The embedded broker with a data dir (a fresh temporary one per check).
    Disk,
    RabbitMq,
}

/// Builds the engine with `tweak`ed settings, runs `check`, closes the engine (and, on
/// RabbitMQ, checks nothing was left behind and deletes the test's stream).
async fn run(engine: Engine, name: &str, tweak: fn(&mut Config), check: Check) {
    let mut config = Config::defaults();
    config.publish_timeout = Duration::from_secs(5);
    tweak(&mut config);
    let dir = std::env::temp_dir().join(format!("push-contract-{}-{name}", std::process::id()));
    let (_turn, stream) = match engine {
        Engine::Memory => (None, None),
        Engine::Disk => {
            let _ = std::fs::remove_dir_all(&dir);
            config.data_dir = Some(dir.clone());
            (None, None)
        }
        Engine::RabbitMq => {
            let turn = rabbitmq_support::serial().await;
            let stream = rabbitmq_support::unique_stream(name);
            config.broker = rabbitmq_support::AMQP_URL.to_owned();
            config.stream_name = stream.clone();
            (Some(turn), Some(stream))
        }
    };
    let broker = push_server::broker::from_config(&config).await.expect("the engine starts");
    check(broker.clone()).await;
    broker.close();
    drop(broker);
    if let Some(stream) = stream {
        rabbitmq_support::no_leaks_then_delete(&stream).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn channel(name: &str) -> Channel {
    Channel::parse(name).unwrap()
}

async fn publish(broker: &dyn Broker, to: &str, body: String) -> MessageId {
    publish_keyed(broker, to, body, None).await.0
}

async fn publish_keyed(broker: &dyn Broker, to: &str, body: String, key: Option<&str>) -> (MessageId, bool) {
    let publication = Publication {
        channel: channel(to),
        also: Vec::new(),
        payload: Bytes::from(body),
        content_type: "text/plain".into(),
        event: None,
        idempotency_key: key.map(str::to_owned),
    };
    let published = broker.publish(publication).await.expect("publish");
    (published.id, published.replayed)
}

/// The next `n` events, each within a few seconds.
async fn take(subscription: &mut Subscription, n: usize) -> Vec<Event> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), subscription.events.next()).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => panic!("the subscription ended after {} of {n} events", events.len()),
            Err(_) => panic!("no event within 10 s after {} of {n}: {:?}", events.len(), describe(&events)),
        }
    }
    events
}

/// Events until `last` (a message or the end of a gap) has been yielded.
async fn take_through(subscription: &mut Subscription, last: MessageId) -> Vec<Event> {
    let mut events = Vec::new();
    while events.last().map_or(true, |e: &Event| e.cursor() < last) {
        events.extend(take(subscription, 1).await);
    }
    events
}

/// Nothing more is ready now (after what was read, the subscription has no stray event).
fn assert_nothing_ready(subscription: &mut Subscription) {
    if let Some(Some(extra)) = subscription.events.next().now_or_never() {
        panic!("unexpected extra event {:?}", describe(&[extra]));
    }
}

fn describe(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Event::Message(m) => format!("{}:{}:{}", m.id, m.channel, String::from_utf8_lossy(&m.payload)),
            Event::Gap(c, g) => format!("gap {c} {}-{}", g.from, g.to),
        })
        .collect()
}

/// `events` account for `expected` (the ids published after the cursor, in order, with their
/// payloads): each one is delivered once, in order, or inside an announced gap. Returns how many
/// were delivered (the rest were announced lost).
fn assert_accounted(events: &[Event], expected: &[(MessageId, String)]) -> usize {
    let mut rest = expected;
    let mut delivered = 0;
    let mut cursor = MessageId::ZERO;
    for event in events {
        assert!(event.cursor() > cursor, "out of order or repeated at {:?} in {:?}", describe(&[event.clone()]), describe(events));
        cursor = event.cursor();
        match event {
            Event::Gap(_, gap) => {
                assert!(gap.from <= gap.to, "an empty gap {gap:?}");
                while rest.first().is_some_and(|(id, _)| *id <= gap.to) {
                    assert!(rest[0].0 >= gap.from, "message {} skipped without a gap: {:?}", rest[0].0, describe(events));
                    rest = &rest[1..];
                }
            }
            Event::Message(m) => {
                let Some(((id, body), tail)) = rest.split_first() else {
                    panic!("message {} was not expected: {:?}", m.id, describe(events))
                };
                assert_eq!(m.id, *id, "message {id} skipped without a gap: {:?}", describe(events));
                assert_eq!(String::from_utf8_lossy(&m.payload), body.as_str());
                rest = tail;
                delivered += 1;
            }
        }
    }
    assert!(rest.is_empty(), "never delivered nor announced as a gap: {:?}", rest.iter().map(|(id, _)| id).collect::<Vec<_>>());
    delivered
}

// --- the checks -------------------------------------------------------------------------------

fn defaults(_: &mut Config) {}

/// Live subscribers get every message published after they subscribed, in order.
fn live_in_order(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut first = broker.subscribe(&[channel("/c/live")], Position::Latest).unwrap();
        let mut second = broker.subscribe(&[channel("/c/live")], Position::Latest).unwrap();
        let mut sent = Vec::new();
        for i in 0..50 {
            let body = format!("m{i}");
            sent.push((publish(&*broker, "/c/live", body.clone()).await, body));
        }
        assert!(sent.windows(2).all(|w| w[0].0 < w[1].0), "ids increase");
        for sub in [&mut first, &mut second] {
            let events = take(sub, 50).await;
            assert_eq!(assert_accounted(&events, &sent), 50);
            assert_nothing_ready(sub);
        }
    })
}

/// A cursor in the middle resumes right after it, then continues live without a repeat.
fn resume_from_cursor(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut sent = Vec::new();
        for i in 0..10 {
            let body = format!("r{i}");
            sent.push((publish(&*broker, "/c/resume", body.clone()).await, body));
        }
        let mut sub = broker.subscribe(&[channel("/c/resume")], Position::After(sent[3].0)).unwrap();
        assert_eq!(sub.start, sent[3].0);
        let backlog = take(&mut sub, 6).await;
        assert_eq!(assert_accounted(&backlog, &sent[4..]), 6);
        let id = publish(&*broker, "/c/resume", "live".into()).await;
        let live = take(&mut sub, 1).await;
        assert_eq!(assert_accounted(&live, &[(id, "live".into())]), 1);
        assert_nothing_ready(&mut sub);
    })
}

/// One subscription to several channels yields their messages in one id order.
fn channels_in_one_order(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let before = publish(&*broker, "/c/other", "before".into()).await;
        let mut sent = Vec::new();
        for i in 0..20 {
            let (to, body) = (if i % 3 == 0 { "/c/b" } else { "/c/a" }, format!("x{i}"));
            sent.push((publish(&*broker, to, body.clone()).await, body));
        }
        let mut sub = broker.subscribe(&[channel("/c/a"), channel("/c/b")], Position::After(before)).unwrap();
        let events = take(&mut sub, 20).await;
        assert_eq!(assert_accounted(&events, &sent), 20);
        assert_nothing_ready(&mut sub);
    })
}

fn small_history(config: &mut Config) {
    config.history_size = 5;
}

/// A cursor older than the engine's history gets the rest as messages (a catch-up read) or as
/// an announced gap, never a silent jump.
fn older_than_history(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(behind_history(broker, "/c/evict", false))
}

/// Publishes 20 messages to `to`, then reads them from a cursor older than the engine's history
/// with a subscription or a `poll`.
async fn behind_history(broker: Arc<dyn Broker>, to: &str, poll: bool) {
    let before = publish(&*broker, &format!("{to}-other"), "before".into()).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        let body = format!("e{i}");
        sent.push((publish(&*broker, to, body.clone()).await, body));
    }
    let (channels, from) = ([channel(to)], Position::After(before));
    let mut sub = if poll { broker.poll(&channels, from) } else { broker.subscribe(&channels, from) }.unwrap();
    let events = take_through(&mut sub, sent.last().unwrap().0).await;
    let delivered = assert_accounted(&events, &sent);
    assert!(delivered >= 5, "at least the history ring is delivered: {:?}", describe(&events));
    assert_nothing_ready(&mut sub);
}

/// A cursor of 0 (before everything) is a gap up to what the engine still has, or all of it.
fn cursor_zero(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut sent = Vec::new();
        for i in 0..3 {
            let body = format!("z{i}");
            sent.push((publish(&*broker, "/c/zero", body.clone()).await, body));
        }
        let mut sub = broker.subscribe(&[channel("/c/zero")], Position::After(MessageId::ZERO)).unwrap();
        let events = take_through(&mut sub, sent.last().unwrap().0).await;
        assert_eq!(assert_accounted(&events, &sent), 3, "recent messages are all still held");
    })
}

/// A message's event name is kept by every engine: live, and read back from where it is stored.
fn event_names(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let before = broker.last_id();
        let mut live = broker.subscribe(&[channel("/c/named")], Position::Latest).unwrap();
        let mut publication = Publication::new(channel("/c/named"), Bytes::from_static(b"<li>x</li>"), "text/html");
        publication.event = Some("chat".into());
        let named = broker.publish(publication).await.expect("publish").id;
        let plain = publish(&*broker, "/c/named", "plain".into()).await;
        let events = take_through(&mut live, plain).await;
        let names = |events: &[Event]| -> Vec<(MessageId, Option<String>)> {
            events.iter().filter_map(|e| if let Event::Message(m) = e { Some((m.id, m.event.clone())) } else { None }).collect()
        };
        assert_eq!(names(&events), vec![(named, Some("chat".into())), (plain, None)]);
        let mut again = broker.subscribe(&[channel("/c/named")], Position::After(before)).unwrap();
        assert_eq!(names(&take_through(&mut again, plain).await), vec![(named, Some("chat".into())), (plain, None)]);
    })
}

fn tiny_queue(config: &mut Config) {
    config.subscriber_queue = 4;
    config.history_size = 1000;
}

/// A subscriber that does not read while 100 messages arrive (its queue holds 4) re-syncs from
/// history and still gets all of them, in order.
fn slow_subscriber_resyncs(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut sub = broker.subscribe(&[channel("/c/slow")], Position::Latest).unwrap();
        let mut sent = Vec::new();
        for i in 0..100 {
            let body = format!("s{i}");
            sent.push((publish(&*broker, "/c/slow", body.clone()).await, body));
        }
        let events = take(&mut sub, 100).await;
        assert_eq!(assert_accounted(&events, &sent), 100);
        assert_nothing_ready(&mut sub);
    })
}

/// A second publish with the same idempotency key stores nothing and answers the first id.
fn idempotent_publish(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut sub = broker.subscribe(&[channel("/c/idem")], Position::Latest).unwrap();
        let (first, replayed) = publish_keyed(&*broker, "/c/idem", "once".into(), Some("order-17")).await;
        assert!(!replayed);
        let (again, replayed) = publish_keyed(&*broker, "/c/idem", "once".into(), Some("order-17")).await;
        assert_eq!((again, replayed), (first, true));
        let other = publish(&*broker, "/c/idem", "next".into()).await;
        let events = take(&mut sub, 2).await;
        assert_eq!(assert_accounted(&events, &[(first, "once".into()), (other, "next".into())]), 2);
        assert_nothing_ready(&mut sub);
    })
}

fn short_history_age(config: &mut Config) {
    config.history_age = Duration::from_millis(300);
}

/// After messages age out of history, a cursor before them is still accounted for at every
/// moment: delivered (ring or catch-up) or announced as a gap.
fn expiry(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let before = publish(&*broker, "/c/expire-other", "before".into()).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            let body = format!("old{i}");
            sent.push((publish(&*broker, "/c/expire", body.clone()).await, body));
        }
        // Time is what this check is about: look again until history has expired (the sweeper
        // runs every second), checking the contract each time.
        let started = Instant::now();
        let mut saw_expiry = false;
        while started.elapsed() < Duration::from_secs(4) {
            let mut sub = broker.subscribe(&[channel("/c/expire")], Position::After(before)).unwrap();
            let events = take_through(&mut sub, sent.last().unwrap().0).await;
            let delivered = assert_accounted(&events, &sent);
            saw_expiry |= delivered < sent.len();
            if saw_expiry {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The embedded broker without a data dir keeps nothing beyond its rings, so expiry must
        // show as a gap there; RabbitMQ and a data dir serve aged-out ring entries from their log.
        if broker.health().engine == "memory" {
            assert!(saw_expiry, "history did not expire within 4 s");
        }
        // New messages after expiry are live as usual.
        let mut sub = broker.subscribe(&[channel("/c/expire")], Position::Latest).unwrap();
        let id = publish(&*broker, "/c/expire", "new".into()).await;
        assert_eq!(assert_accounted(&take(&mut sub, 1).await, &[(id, "new".into())]), 1);
    })
}

fn tiny_channel_memory(config: &mut Config) {
    config.channel_memory_bytes = 64 * 1024;
}

/// A channel forgotten to keep published channels within --channel-memory-bytes: a returning
/// cursor from before its messages gets them (read back from the log) or an announced gap, a
/// cursor after them gets nothing twice, and new messages are live as usual.
fn forgotten_channel(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let before = publish(&*broker, "/c/forgotten-other", "before".into()).await;
        let mut sent = Vec::new();
        for i in 0..3 {
            let body = format!("f{i}");
            sent.push((publish(&*broker, "/c/forgotten", body.clone()).await, body));
        }
        let filler = "x".repeat(200);
        for i in 0..300 {
            publish(&*broker, &format!("/c/filler/{i}"), filler.clone()).await;
        }
        let stats = broker.memory();
        assert!(stats.channels_shed > 0 && stats.channel_memory_bytes <= 64 * 1024, "nothing was forgotten: {stats:?}");

        let mut sub = broker.subscribe(&[channel("/c/forgotten")], Position::After(before)).unwrap();
        let events = take_through(&mut sub, sent.last().unwrap().0).await;
        let delivered = assert_accounted(&events, &sent);
        // Only the embedded broker without a data dir has no log to read them back from.
        if broker.health().engine != "memory" {
            assert_eq!(delivered, sent.len(), "the log still has them: {:?}", describe(&events));
        }

        let mut sub = broker.subscribe(&[channel("/c/forgotten")], Position::After(sent.last().unwrap().0)).unwrap();
        let id = publish(&*broker, "/c/forgotten", "new".into()).await;
        let events = take_through(&mut sub, id).await;
        assert_eq!(assert_accounted(&events, &[(id, "new".into())]), 1);
        assert_nothing_ready(&mut sub);
    })
}

/// Subscriptions to channels without history do not keep them once dropped.
fn dropped_subscriptions_release_channels(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let at_start = broker.channels();
        let subs: Vec<_> =
            (0..3).map(|i| broker.subscribe(&[channel(&format!("/c/fleeting/{i}"))], Position::Latest).unwrap()).collect();
        assert_eq!(broker.channels(), at_start + 3);
        drop(subs);
        assert_eq!(broker.channels(), at_start);
    })
}

/// A poll (the polling transports' queue-free subscription) reads what is after its cursor,
/// then waits for the next message of its channels and gets it.
fn poll_reads_then_waits(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let mut sent = Vec::new();
        for i in 0..6 {
            let body = format!("p{i}");
            sent.push((publish(&*broker, "/c/poll", body.clone()).await, body));
        }
        let mut poll = broker.poll(&[channel("/c/poll")], Position::After(sent[1].0)).unwrap();
        assert_eq!(poll.start, sent[1].0);
        let backlog = take(&mut poll, 4).await;
        assert_eq!(assert_accounted(&backlog, &sent[2..]), 4);
        assert_nothing_ready(&mut poll);
        let mut both = broker.poll(&[channel("/c/poll"), channel("/c/poll-b")], Position::Latest).unwrap();
        assert_nothing_ready(&mut both);
        let id = publish(&*broker, "/c/poll-b", "live".into()).await;
        assert_eq!(assert_accounted(&take(&mut both, 1).await, &[(id, "live".into())]), 1);
        let id = publish(&*broker, "/c/poll", "live".into()).await;
        assert_eq!(assert_accounted(&take(&mut poll, 1).await, &[(id, "live".into())]), 1);
        assert_nothing_ready(&mut poll);
    })
}

/// A poll from a cursor older than the engine's history is served like a subscription: the
/// rest as messages (a catch-up read) or an announced gap.
fn poll_older_than_history(broker: Arc<dyn Broker>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(behind_history(broker, "/c/poll-evict", true))
}

/// One test per engine and check: `memory::live_in_order`, `rabbitmq::live_in_order`, ...
macro_rules! contract {
    (engines: [$($engine:ident => $kind:expr),* $(,)?], checks: $checks:tt) => {
        $(contract!(@engine $engine, $kind, $checks);)*
    };
    (@engine $engine:ident, $kind:expr, [$($check:ident with $tweak:ident),* $(,)?]) => {
        mod $engine {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    run($kind, stringify!($check), super::$tweak, super::$check).await;
                }
            )*
        }
    };
}

contract! {
    engines: [memory => Engine::Memory, disk => Engine::Disk, rabbitmq => Engine::RabbitMq],
    checks: [
        live_in_order with defaults,
        resume_from_cursor with defaults,
        channels_in_one_order with defaults,
        older_than_history with small_history,
        cursor_zero with defaults,
        event_names with defaults,
        slow_subscriber_resyncs with tiny_queue,
        idempotent_publish with defaults,
        expiry with short_history_age,
        dropped_subscriptions_release_channels with defaults,
        poll_reads_then_waits with defaults,
        poll_older_than_history with small_history,
        forgotten_channel with tiny_channel_memory,
    ]
}
