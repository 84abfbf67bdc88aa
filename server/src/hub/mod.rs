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
//!
//! Files: [`channels`] (the table of entries), [`subscribe`] (queued subscriptions), [`poll`]
//! (queue-free ones), [`budget`] and [`floors`] (memory), [`awaiting`] (publishes waiting for
//! their message to come back through the log).

mod awaiting;
mod budget;
mod channels;
mod floors;
mod info;
pub mod order;
mod poll;
mod subscribe;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use push_core::broker::{MemoryStats, Published};
use push_core::{Channel, Message, MessageId};
use tokio::sync::{mpsc, Notify};

use crate::dedup::{Window, WindowLimits};
pub use awaiting::Awaited;
use awaiting::Awaiting;
use budget::Budget;
use channels::release;
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
        self.ingest_sent(message, digest, None)
    }

    /// As [`ingest_keyed`](Self::ingest_keyed), for a copy that names the publish call that sent
    /// it: a publish waiting on the digest learns whether the first copy was its own.
    pub fn ingest_sent(&self, message: Message, digest: Option<&str>, sender: Option<&str>) -> Published {
        let published = self.store_keyed(message, digest);
        if let Some(digest) = digest {
            self.awaiting.wake(digest, sender, published);
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
    /// `sender` names the publish call in the copies it sends: a first copy sent by another
    /// call (another node's retry of the same key, read here first) is a replay for this one.
    pub fn await_id(&self, digest: &str, sender: Option<&str>) -> Awaited<'_> {
        self.awaiting.register(digest, sender)
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

    /// Stores `message` in its channels' rings and queues it for their subscribers, once for a
    /// subscriber of several of them.
    fn fan_out(&self, state: &mut State, message: Arc<Message>, now: Instant) {
        let mut lagged = Vec::new();
        // Only a message to several channels needs to know whom it reached already.
        let mut reached = (!message.also.is_empty()).then(std::collections::HashSet::new);
        for channel in message.channels() {
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
            entry.subscribers.retain(|id, s| {
                if let Some(reached) = &mut reached {
                    if !reached.insert(*id) {
                        return true;
                    }
                }
                match s.tx.try_send(message.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        s.lagged.store(true, Ordering::Release);
                        lagged.push(s.clone());
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
        }
        // A lagging subscriber leaves all its channels at once: nothing newer than the message
        // it missed may reach its queue, or its cursor would jump past that message.
        for s in lagged {
            for ch in s.channels.iter() {
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

#[cfg(test)]
mod tests;
