//! The hub: per-channel history rings and live fan-out, fed in id order by one broker engine.
//!
//! Subscribing and ingesting take the same lock, so a subscription is registered for live
//! messages and reads its backlog atomically with respect to new messages: nothing published
//! meanwhile is lost or delivered twice. Each subscription has one bounded queue shared by all
//! its channels, so events reach it in global id order and one cursor covers them all.
//!
//! A subscriber whose queue is full is detached instead of growing memory; once it has drained
//! what it had, it re-reads the ring from its cursor. It loses nothing the ring still holds and
//! gets a gap for the rest.
//!
//! Completeness: every channel has a `floor`, the highest id below which this hub may no longer
//! hold the channel's messages (evicted from the ring, or published before the hub started). A
//! cursor below the floor gets a gap `cursor+1 ..= floor`.
//!
//! Memory: published channels and their history are bounded in bytes ([`budget`]); channels
//! kept only for subscribers are bounded in number (`max_channels`), so neither can crowd out
//! the other. A forgotten channel's floor lives on in [`floors`].

mod awaiting;
mod budget;
mod floors;
mod poll;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::stream;
use push_core::broker::{MemoryStats, Position, Published, Subscription};
use push_core::{Channel, Error, ErrorKind, Event, Gap, Message, MessageId, Result};
use tokio::sync::{mpsc, Notify};

use crate::dedup::{Window, WindowLimits};
pub use awaiting::Awaited;
use awaiting::Awaiting;
use budget::Budget;
use floors::Floors;

/// Bounds of the hub's memory.
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Messages kept per channel.
    pub history_size: usize,
    /// How long a message stays in history.
    pub history_age: Duration,
    /// Messages queued per subscriber before it is detached and re-synced.
    pub queue_size: usize,
    /// How long a published channel's bookkeeping is kept after its history is empty and its
    /// last subscriber left.
    pub forget_after: Duration,
    /// Most channels tracked for subscribers alone (nothing published to them); a subscription
    /// that would add more is refused (`OVERLOADED`).
    pub max_channels: usize,
    /// Bytes for published channels and their history; past it the oldest is let go. Published
    /// messages are always taken: the log, not a subscriber, decides those.
    pub channel_memory: usize,
    /// The idempotency window's bounds.
    pub idempotency: WindowLimits,
}

impl Default for HubLimits {
    fn default() -> Self {
        HubLimits {
            history_size: 100,
            history_age: Duration::from_secs(300),
            queue_size: 1024,
            forget_after: Duration::from_secs(3600),
            max_channels: 100_000,
            channel_memory: 256 << 20,
            idempotency: WindowLimits { ttl: Duration::from_secs(300), horizon: Duration::from_secs(30), max_bytes: 64 << 20 },
        }
    }
}

pub struct Hub {
    state: Mutex<State>,
    last_id: AtomicU64,
    limits: HubLimits,
    /// Whether a cursor ahead of `last_id` is an error (one node) or just not seen yet (a
    /// cluster, where another node may be ahead of this one).
    strict_cursors: bool,
    awaiting: Awaiting,
}

struct State {
    /// Boxed: a map slot is then two words, so the map's spare capacity after it grows costs
    /// little per channel.
    channels: HashMap<Channel, Box<ChannelState>>,
    /// Floors given to channels this hub has no entry for.
    floors: Floors,
    /// Memory of published channels, and their order for letting go.
    budget: Budget,
    /// Entries of channels nothing was published to (bounded by `max_channels`).
    subscribed_only: usize,
    next_serial: u64,
    next_subscriber: u64,
    closed: bool,
    /// Idempotency digests seen lately, and their first copies' ids.
    window: Window,
    channels_shed: u64,
    history_shed: u64,
}

struct ChannelState {
    ring: VecDeque<(Instant, Arc<Message>)>,
    floor: MessageId,
    /// By subscriber id: a long-poll subscribes and leaves once per request, so both are O(1).
    subscribers: HashMap<u64, Arc<Subscriber>>,
    /// Wakes the queue-free subscriptions waiting on this channel ([`poll`]); each holds a
    /// clone, so the entry is not forgotten under them.
    wake: Arc<Notify>,
    idle_since: Instant,
    /// Something was published to it: it counts in the [`Budget`], not in `subscribed_only`.
    published: bool,
    /// Its key in the budget's order, if it is there.
    placed: Option<MessageId>,
    serial: u64,
}


/// A subscription's registration, held by each of its channels. The reading side holds no
/// sender, so the queue closes once every channel has let go of the registration.
struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<Message>>,
    lagged: Arc<AtomicBool>,
    channels: Arc<[Channel]>,
}

impl Hub {
    /// A hub that has seen everything up to `start` (exclusive of nothing: ids <= start are
    /// history it never held).
    pub fn new(start: MessageId, limits: HubLimits, strict_cursors: bool) -> Arc<Hub> {
        Arc::new(Hub {
            state: Mutex::new(State {
                channels: HashMap::new(),
                floors: Floors::new(start),
                budget: Budget::new(limits.channel_memory),
                subscribed_only: 0,
                next_serial: 0,
                next_subscriber: 1,
                closed: false,
                window: Window::new(limits.idempotency),
                channels_shed: 0,
                history_shed: 0,
            }),
            last_id: AtomicU64::new(start.0),
            limits,
            strict_cursors,
            awaiting: Awaiting::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A std mutex: critical sections are short and never await.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn last_id(&self) -> MessageId {
        MessageId(self.last_id.load(Ordering::Acquire))
    }

    /// Takes the next message of the log. Ids must increase; anything at or below the last id
    /// is ignored (a replay after an engine reconnect).
    pub fn ingest(&self, message: Message) {
        self.ingest_keyed(message, None);
    }

    /// As [`ingest`](Self::ingest), for a message with an idempotency digest: a later copy of a
    /// digest in the window is not stored or delivered (the log moves past it) and the first
    /// copy's id is returned as replayed.
    /// Wakes the publishes [waiting](Self::await_id) for the digest.
    pub fn ingest_keyed(&self, message: Message, digest: Option<&str>) -> Published {
        let published = self.store_keyed(message, digest);
        if let Some(digest) = digest {
            self.awaiting.wake(digest, published);
        }
        published
    }

    fn store_keyed(&self, message: Message, digest: Option<&str>) -> Published {
        let now = Instant::now();
        let mut state = self.lock();
        if message.id <= self.last_id() {
            return Published { id: message.id, replayed: false };
        }
        if let Some(digest) = digest {
            if let Some(first) = state.window.first_copy(digest) {
                self.last_id.store(message.id.0, Ordering::Release);
                return Published { id: first, replayed: true };
            }
            state.window.record(digest, message.id, now);
        }
        let id = message.id;
        self.fan_out(&mut state, Arc::new(message), now);
        Published { id, replayed: false }
    }

    /// Waits for the message with this idempotency digest to be ingested (a publish that learns
    /// its id from the log). Register before sending, so the message cannot come first.
    pub fn await_id(&self, digest: &str) -> Awaited<'_> {
        self.awaiting.register(digest)
    }

    /// Records a digest seen in the log before this hub's start (a node warming its window),
    /// unless an earlier copy is known already.
    pub fn remember(&self, digest: &str, id: MessageId) {
        let mut state = self.lock();
        if state.window.first_copy(digest).is_none() {
            state.window.record(digest, id, Instant::now());
        }
    }

    /// The first copy's id of an idempotency digest still in the window.
    pub fn first_copy(&self, digest: &str) -> Option<MessageId> {
        self.lock().window.first_copy(digest)
    }

    /// Stores `message` in its channel's ring and queues it for the channel's subscribers.
    fn fan_out(&self, state: &mut State, message: Arc<Message>, now: Instant) {
        let channel = &message.channel;
        if !state.channels.contains_key(channel) {
            let entry = state.new_entry(channel, now);
            state.channels.insert(channel.clone(), entry);
        }
        let entry = state.channels.get_mut(channel).expect("inserted above");
        if !entry.published {
            entry.published = true;
            state.subscribed_only -= 1;
            state.budget.used += budget::entry_cost(channel);
        }
        entry.ring.push_back((now, message.clone()));
        state.budget.used += budget::message_cost(&message);
        state.budget.used -= entry.evict(&self.limits, now);
        state.budget.place(channel, entry);
        entry.idle_since = now;
        entry.wake_pollers();
        let mut lagged = Vec::new();
        entry.subscribers.retain(|_, s| match s.tx.try_send(message.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.lagged.store(true, Ordering::Release);
                lagged.push(s.clone());
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        // A lagging subscriber leaves all its channels at once: nothing newer than the message
        // it missed may reach its queue, or its cursor would jump past that message.
        for s in lagged {
            for ch in s.channels.iter().filter(|c| **c != message.channel) {
                if let Some(other) = state.channels.get_mut(ch) {
                    other.subscribers.remove(&s.id);
                }
            }
        }
        if state.budget.over() {
            state.shed();
        }
        // Published after the fan-out: whoever reads `last_id` has the message queued already.
        self.last_id.store(message.id.0, Ordering::Release);
    }

    /// Records that the log moved on without messages for this hub (e.g. an engine skipped
    /// ahead), so cursors up to `id` are valid.
    pub fn advance(&self, id: MessageId) {
        let _state = self.lock();
        if id > self.last_id() {
            self.last_id.store(id.0, Ordering::Release);
        }
    }

    /// Records that the log lost messages up to `to` that this hub never saw (e.g. removed by
    /// retention while the engine was disconnected). It cannot tell which channels they were
    /// on, so every channel's floor rises to `to`, and every live subscriber is detached: it
    /// re-syncs, and its gap says the range is gone. Never a silent jump.
    pub fn lost(&self, to: MessageId) {
        let mut state = self.lock();
        let state = &mut *state;
        state.floors.raise(to);
        for (channel, entry) in state.channels.iter_mut() {
            entry.floor = entry.floor.max(to);
            for (_, s) in entry.subscribers.drain() {
                s.lagged.store(true, Ordering::Release);
            }
            entry.wake_pollers();
            if entry.published {
                state.budget.place(channel, entry);
            }
        }
        if to > self.last_id() {
            self.last_id.store(to.0, Ordering::Release);
        }
    }

    /// Drops expired history and forgets idle channels. Call it periodically.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut guard = self.lock();
        let state = &mut *guard;
        let mut idle = Vec::new();
        for (channel, ch) in state.channels.iter_mut() {
            let freed = ch.evict(&self.limits, now);
            if ch.published {
                state.budget.used -= freed;
                if freed > 0 && ch.placed.is_some() {
                    state.budget.place(channel, ch);
                }
            }
            ch.subscribers.retain(|_, s| !s.tx.is_closed());
            if ch.ring.is_empty() && ch.unwatched() && (!ch.published || now.duration_since(ch.idle_since) >= self.limits.forget_after) {
                idle.push(channel.clone());
            }
        }
        let forgotten = idle.len();
        for channel in idle {
            state.forget(&channel);
        }
        // Give back what a burst of channels grew the map to, and the allocator's freed pages.
        if state.channels.capacity() > 1024 && state.channels.len() < state.channels.capacity() / 4 {
            state.channels.shrink_to(state.channels.len() * 2);
        }
        state.window.expire(now);
        drop(guard);
        if forgotten >= 10_000 {
            give_back_freed_memory();
        }
    }

    /// What the hub holds, for metrics.
    pub fn stats(&self) -> MemoryStats {
        let state = self.lock();
        MemoryStats {
            channels: state.channels.len(),
            channel_memory_bytes: state.budget.used,
            channels_shed: state.channels_shed,
            history_shed: state.history_shed,
            idempotency_keys: state.window.len(),
            idempotency_memory_bytes: state.window.memory_bytes(),
            idempotency_evicted_early: state.window.evicted_early(),
        }
    }

    /// Sweeps this hub every second until it is dropped (every engine runs one).
    pub fn spawn_sweeper(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while let Some(hub) = {
                tick.tick().await;
                weak.upgrade()
            } {
                hub.sweep();
            }
        });
    }

    /// Ends every subscription (server shutdown).
    pub fn close(&self) {
        self.awaiting.close();
        let mut state = self.lock();
        state.closed = true;
        for ch in state.channels.values_mut() {
            ch.subscribers.clear();
            ch.wake_pollers();
        }
    }

    pub fn channel_count(&self) -> usize {
        self.lock().channels.len()
    }

    /// Subscribes to `channels` from `from`; see the module docs for the guarantees.
    pub fn subscribe(self: &Arc<Self>, channels: &[Channel], from: Position) -> Result<Subscription> {
        let (tx, rx) = mpsc::channel(self.limits.queue_size.max(1));
        let mut state = self.lock();
        let after = self.admit(&state, channels, from)?;
        let id = state.next_subscriber;
        state.next_subscriber += 1;
        let lagged = Arc::new(AtomicBool::new(false));
        let channels: Arc<[Channel]> = channels.into();
        let subscriber = Arc::new(Subscriber { id, tx, lagged: lagged.clone(), channels: channels.clone() });
        let backlog = if state.closed { Vec::new() } else { register(&mut state, &subscriber, after) };
        drop(state);

        let sync = SyncState {
            hub: self.clone(),
            channels,
            id,
            lagged,
            rx,
            backlog: backlog.into(),
            cursor: after,
        };
        let events = stream::unfold(sync, |mut s| async move { s.next().await.map(|e| (e, s)) });
        Ok(Subscription { start: after, events: Box::pin(events) })
    }

    /// Where a subscription from `from` starts, unless its cursor is ahead of the log (one
    /// node) or it would track channels past the limit. Runs under the hub lock.
    fn admit(&self, state: &State, channels: &[Channel], from: Position) -> Result<MessageId> {
        let last = self.last_id();
        let after = match from {
            Position::Latest => last,
            Position::After(cursor) if cursor > last && self.strict_cursors => {
                return Err(Error::new(
                    ErrorKind::InvalidCursor,
                    format!("cursor {cursor} is ahead of the newest message ({last})"),
                ))
            }
            Position::After(cursor) => cursor,
        };
        let new_channels = channels.iter().filter(|c| !state.channels.contains_key(*c)).count();
        if new_channels > 0 && state.subscribed_only + new_channels > self.limits.max_channels {
            return Err(Error::new(
                ErrorKind::Overloaded,
                format!(
                    "the server tracks its maximum of {} channels that nothing was published to (--max-channels); retry later",
                    self.limits.max_channels
                ),
            )
            .with_source(crate::metrics::Limit::Channels));
        }
        Ok(after)
    }

    /// Removes a subscription from its channels, then [`release`](Self::release)s them.
    fn unregister(&self, channels: &[Channel], subscriber: u64) {
        let mut state = self.lock();
        for ch in channels {
            if let Some(entry) = state.channels.get_mut(ch) {
                entry.subscribers.remove(&subscriber);
            }
        }
        release(&mut state, channels);
    }

    /// Drops the channels a subscription that ended alone kept: no history, no other
    /// subscriber or poll, and a floor a new entry would get anyway (so forgetting them loses
    /// nothing). Anonymous subscribers cannot grow the hub this way.
    fn release(&self, channels: &[Channel]) {
        release(&mut self.lock(), channels);
    }
}

/// Returns the allocator's free pages to the system. glibc keeps what many small frees left
/// spread over its arenas (a million forgotten channels leave hundreds of MiB of RSS behind);
/// `malloc_trim` hands the whole free pages back. Called after large sweeps only.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is free; it takes the allocator's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Lets go of channels a subscription or poll no longer keeps: one that nothing was published
/// to, or one whose floor a new entry would get anyway, is dropped; another published one goes
/// back into the budget's order, in case it was skipped while watched.
fn release(state: &mut State, channels: &[Channel]) {
    for ch in channels {
        let Some(entry) = state.channels.get_mut(ch) else { continue };
        if !entry.unwatched() || !entry.ring.is_empty() {
            continue;
        }
        if !entry.published || entry.floor <= state.floors.of(ch) {
            state.forget(ch);
        } else if entry.placed.is_none() {
            state.budget.place(ch, entry);
        }
    }
}

impl State {
    /// A new entry for `channel` (not yet in the map), counted as subscribed-only until
    /// something is published to it.
    fn new_entry(&mut self, channel: &Channel, now: Instant) -> Box<ChannelState> {
        self.subscribed_only += 1;
        self.next_serial += 1;
        Box::new(ChannelState {
            ring: VecDeque::new(),
            floor: self.floors.of(channel),
            subscribers: HashMap::new(),
            wake: Arc::new(Notify::new()),
            idle_since: now,
            published: false,
            placed: None,
            serial: self.next_serial,
        })
    }

    /// The entry of `channel`, made if the hub has none.
    fn entry(&mut self, channel: &Channel, now: Instant) -> &mut ChannelState {
        if !self.channels.contains_key(channel) {
            let entry = self.new_entry(channel, now);
            self.channels.insert(channel.clone(), entry);
        }
        self.channels.get_mut(channel).expect("inserted above")
    }

    /// Drops the entry of `channel`, keeping its floor in [`Floors`].
    fn forget(&mut self, channel: &Channel) {
        if let Some(mut entry) = self.channels.remove(channel) {
            self.floors.forget(channel, entry.floor);
            if entry.published {
                self.budget.unplace(&mut entry);
                self.budget.used -= budget::entry_cost(channel) + entry.ring.iter().map(|(_, m)| budget::message_cost(m)).sum::<usize>();
            } else {
                self.subscribed_only -= 1;
            }
        }
    }

    /// Lets go of the oldest history and channels until published channels fit their budget
    /// (see [`budget`]).
    fn shed(&mut self) {
        while self.budget.over() {
            let Some(channel) = self.budget.pop_oldest() else { break };
            let Some(entry) = self.channels.get_mut(&channel) else { continue };
            entry.placed = None;
            if let Some((_, oldest)) = entry.ring.pop_front() {
                entry.floor = entry.floor.max(oldest.id);
                self.budget.used -= budget::message_cost(&oldest);
                self.history_shed += 1;
                self.budget.place(&channel, entry);
            } else if entry.unwatched() {
                self.forget(&channel);
                self.channels_shed += 1;
            }
            // Watched with nothing held: left out of the order until it changes or is let go.
        }
    }
}

impl ChannelState {

    /// No queued subscriber and no poll waiting on the channel.
    fn unwatched(&self) -> bool {
        self.subscribers.is_empty() && Arc::strong_count(&self.wake) == 1
    }

    fn wake_pollers(&self) {
        if Arc::strong_count(&self.wake) > 1 {
            self.wake.notify_waiters();
        }
    }

    /// Adds the channel's events after `after` to `out`: a gap up to the floor when the cursor
    /// is below it, then the ring's newer messages.
    fn read_after(&self, channel: &Channel, after: MessageId, out: &mut impl Extend<Event>) {
        if self.floor > after {
            out.extend(Some(Event::Gap(channel.clone(), Gap { from: after.next(), to: self.floor })));
        }
        let start = self.ring.partition_point(|(_, m)| m.id <= after);
        out.extend(self.ring.range(start..).map(|(_, m)| Event::Message(m.clone())));
    }

    /// Drops history past its size or age; returns the bytes it cost.
    fn evict(&mut self, limits: &HubLimits, now: Instant) -> usize {
        let mut freed = 0;
        while let Some((at, msg)) = self.ring.front() {
            if self.ring.len() > limits.history_size || now.duration_since(*at) > limits.history_age {
                self.floor = self.floor.max(msg.id);
                freed += budget::message_cost(msg);
                self.ring.pop_front();
                self.idle_since = now;
            } else {
                break;
            }
        }
        freed
    }
}

/// Registers `subscriber` on every channel and returns the backlog after `after`, in id order.
/// Runs under the hub lock.
fn register(state: &mut State, subscriber: &Arc<Subscriber>, after: MessageId) -> Vec<Event> {
    let channels = &subscriber.channels[..];
    let now = Instant::now();
    let mut backlog = Vec::new();
    for channel in channels {
        let entry = state.entry(channel, now);
        entry.subscribers.insert(subscriber.id, subscriber.clone());
        entry.read_after(channel, after, &mut backlog);
    }
    if channels.len() > 1 {
        backlog.sort_by_key(Event::cursor);
    }
    backlog
}

/// One subscription's reading side: backlog first, then the live queue; re-syncs after a lag.
struct SyncState {
    hub: Arc<Hub>,
    channels: Arc<[Channel]>,
    id: u64,
    lagged: Arc<AtomicBool>,
    rx: mpsc::Receiver<Arc<Message>>,
    backlog: VecDeque<Event>,
    cursor: MessageId,
}

impl SyncState {
    async fn next(&mut self) -> Option<Event> {
        loop {
            let event = match self.backlog.pop_front() {
                Some(e) => e,
                None => match self.rx.recv().await {
                    Some(m) => Event::Message(m),
                    None if self.lagged.load(Ordering::Acquire) => {
                        self.resync();
                        continue;
                    }
                    None => return None,
                },
            };
            // De-duplicate: the backlog and the queue can overlap after a re-sync.
            if event.cursor() <= self.cursor {
                continue;
            }
            self.cursor = event.cursor();
            return Some(event);
        }
    }

    /// The queue overflowed and the hub detached us: register again and re-read the rings.
    fn resync(&mut self) {
        let (tx, rx) = mpsc::channel(self.hub.limits.queue_size.max(1));
        self.lagged.store(false, Ordering::Release);
        let subscriber = Arc::new(Subscriber { id: self.id, tx, lagged: self.lagged.clone(), channels: self.channels.clone() });
        let mut state = self.hub.lock();
        let backlog = if state.closed { Vec::new() } else { register(&mut state, &subscriber, self.cursor) };
        drop(state);
        self.rx = rx;
        self.backlog = backlog.into();
    }
}

impl Drop for SyncState {
    fn drop(&mut self) {
        self.hub.unregister(&self.channels, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::{FutureExt, StreamExt};

    fn msg(id: u64, channel: &str) -> Message {
        Message {
            id: MessageId(id),
            channel: Channel::parse(channel).unwrap(),
            payload: Bytes::from(format!("m{id}")),
            content_type: "text/plain".into(),
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
}
