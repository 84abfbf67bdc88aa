//! Catch-up reads, for every engine that keeps a log longer than the hub's history (RabbitMQ's
//! stream, the embedded broker's data dir): a subscription whose cursor is older than the hub's
//! history (the hub answers with gaps first) is served by reading the log from the cursor.
//! Written once here; an engine only says how to read a range of its log ([`LogRead`]).
//!
//! Reads are shared. After a node restart many clients come back at once with cursors a little
//! behind each other; a read covers every channel of its range, stays in memory for a few seconds
//! ([`SEGMENT_TTL`]), and every subscriber whose range it covers takes its own channels from it,
//! waiting for it if it is still running. So a reconnect storm costs a few log reads, not one
//! per subscriber, and a long-poll client walking through its backlog one request at a time hits
//! the same read. Reads running or waiting for a slot are bounded (`--catch-up-concurrency`,
//! `--catch-up-queue`): over that, `503 OVERLOADED`, never an unbounded queue.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::{stream, FutureExt, StreamExt};
use push_core::broker::{Position, Subscription};
use push_core::{Channel, Error, ErrorKind, Event, Gap, Message, MessageId, Result};
use tokio::sync::{OnceCell, Semaphore};

use crate::hub::order::{self, InOrder};
use crate::hub::Hub;
use crate::metrics::Limit;

/// How long a finished read serves other subscribers.
const SEGMENT_TTL: Duration = Duration::from_secs(10);
/// Most reads kept (each holds at most `--catch-up-limit` messages).
const SEGMENTS_KEPT: usize = 8;

/// How an engine reads a range of its log.
pub trait LogRead: Send + Sync + 'static {
    /// Reads ids `after+1 ..= until` of every channel, at most `limit` of them, leaving out the
    /// later copies of idempotency keys (as the hub did live).
    fn read(&self, hub: Arc<Hub>, after: MessageId, until: MessageId, limit: usize) -> BoxFuture<'_, Result<Read>>;
}

/// What one read of the log found, for every channel.
pub struct Read {
    /// The read covers ids `after+1 ..= until` (or less, see `last`).
    pub after: MessageId,
    /// Messages of every channel, in order, later copies of idempotency keys left out.
    pub messages: Vec<Arc<Message>>,
    /// The first id the log delivered after `after` (earlier ones are gone: retention).
    pub first: Option<MessageId>,
    /// The last id read: everything up to it is in `messages`.
    pub last: Option<MessageId>,
    /// Ranges inside the read that the log itself marks as lost, for every channel (e.g. what a
    /// crash took before it was on disk).
    pub lost: Vec<Gap>,
    /// The read stopped at the limit before `until`: the range goes on after `last`.
    pub cut: bool,
}

/// Settings, from `--catch-up-*`.
#[derive(Debug, Clone, Copy)]
pub struct CatchUpOptions {
    /// Most messages one read returns; `0` disables catch-up reads.
    pub limit: usize,
    pub concurrency: usize,
    pub queue: usize,
}

impl CatchUpOptions {
    pub fn from_config(config: &crate::config::Config) -> CatchUpOptions {
        CatchUpOptions { limit: config.catch_up_limit, concurrency: config.catch_up_concurrency, queue: config.catch_up_queue }
    }
}

/// An engine's catch-up reads: shared segments, bounded slots, and the subscription wrapper.
pub struct CatchUp {
    options: CatchUpOptions,
    reader: Arc<dyn LogRead>,
    segments: Mutex<Vec<Arc<Segment>>>,
    permits: Semaphore,
    /// Reads running or waiting; bounded by concurrency + queue.
    pending: AtomicUsize,
    /// Reads made so far (shown in the health detail).
    reads: AtomicU64,
}

/// A read of `after+1 ..= until`, running or done.
struct Segment {
    after: MessageId,
    until: MessageId,
    born: Instant,
    /// `None` when the read failed.
    read: OnceCell<Option<Arc<Read>>>,
}

impl Segment {
    fn covers(&self, after: MessageId, until: MessageId) -> bool {
        self.after <= after && until <= self.until && self.born.elapsed() < SEGMENT_TTL
    }
}

impl CatchUp {
    pub fn new(options: CatchUpOptions, reader: Arc<dyn LogRead>) -> Arc<CatchUp> {
        Arc::new(CatchUp {
            permits: Semaphore::new(options.concurrency.max(1)),
            options,
            reader,
            segments: Mutex::new(Vec::new()),
            pending: AtomicUsize::new(0),
            reads: AtomicU64::new(0),
        })
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Acquire)
    }

    /// Ends waiting and future reads (shutdown).
    pub fn close(&self) {
        self.permits.close();
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Segment>>> {
        self.segments.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a read that serves `after ..= until` is running or fresh.
    fn covered(&self, after: MessageId, until: MessageId) -> bool {
        self.kept().iter().any(|s| s.covers(after, until) && !matches!(s.read.get(), Some(None)))
    }

    /// The segment that serves the range, or a new one (started by the first who awaits it);
    /// `fresh` skips the ones kept.
    fn segment(&self, after: MessageId, until: MessageId, fresh: bool) -> Arc<Segment> {
        let mut kept = self.kept();
        kept.retain(|s| s.born.elapsed() < SEGMENT_TTL && !matches!(s.read.get(), Some(None)));
        if let Some(s) = kept.iter().find(|s| s.covers(after, until)).filter(|_| !fresh) {
            return s.clone();
        }
        if kept.len() >= SEGMENTS_KEPT {
            kept.remove(0);
        }
        let segment = Arc::new(Segment { after, until, born: Instant::now(), read: OnceCell::new() });
        kept.push(segment.clone());
        segment
    }

    /// Subscribes through the hub, and serves the hub's gaps (a cursor older than its history)
    /// from the log; only what the log no longer holds, or what the limit cut, stays a gap.
    pub fn subscribe(self: &Arc<Self>, hub: &Arc<Hub>, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.wrap(hub, channels, hub.subscribe(channels, from)?)
    }

    /// As [`subscribe`](Self::subscribe), on the hub's queue-free subscription (polling transports).
    pub fn poll(self: &Arc<Self>, hub: &Arc<Hub>, channels: &[Channel], from: Position) -> Result<Subscription> {
        self.wrap(hub, channels, hub.poll(channels, from)?)
    }

    fn wrap(self: &Arc<Self>, hub: &Arc<Hub>, channels: &[Channel], mut subscription: Subscription) -> Result<Subscription> {
        // The hub's backlog is ready at once: gaps (cursor older than this node's history) come
        // first for each channel, then ring messages.
        let mut backlog = Vec::new();
        let mut ended = false;
        while let Some(next) = subscription.events.next().now_or_never() {
            match next {
                Some(event) => backlog.push(event),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let after = subscription.start;
        let gap_end = range_end(&backlog);
        // Items are `None` when the catch-up read failed: the subscription then ends where it
        // stands (the client resumes with its cursor later) instead of reporting a false gap.
        type Items = std::pin::Pin<Box<dyn futures_util::Stream<Item = Option<Event>> + Send>>;
        let log_until = gap_end.filter(|_| self.options.limit > 0);
        let head: Items = if let Some(until) = gap_end.filter(|_| self.options.limit > 0) {
            // Only a read of its own takes a place among the bounded reads; joining one that
            // runs or has just run is free.
            let ticket = if self.covered(after, until) { None } else { Some(Ticket::take(self)?) };
            let (gaps, ring): (Vec<Event>, Vec<Event>) = backlog.into_iter().partition(|e| matches!(e, Event::Gap(..)));
            let gaps: Vec<(Channel, Gap)> = gaps.into_iter().filter_map(|e| if let Event::Gap(c, g) = e { Some((c, g)) } else { None }).collect();
            let walk = Walk {
                catch_up: self.clone(),
                hub: hub.clone(),
                channels: channels.iter().cloned().collect(),
                gaps,
                ring,
                cursor: Some(after),
                until,
                ticket,
            };
            // One read of at most `--catch-up-limit` at a time, the next one once the subscriber
            // has taken the previous one's events: memory stays bounded however long the range.
            Box::pin(
                stream::unfold(walk, |mut walk| async move {
                    let cursor = walk.cursor?;
                    match walk.catch_up.fill(&walk.hub, &walk.channels, cursor, walk.until, &walk.gaps).await {
                        Some((mut events, next)) => {
                            walk.cursor = next;
                            if next.is_none() {
                                events.append(&mut walk.ring);
                                order::sort(&mut events);
                                walk.ticket.take();
                            }
                            Some((events.into_iter().map(Some).collect::<Vec<_>>(), walk))
                        }
                        None => {
                            walk.cursor = None;
                            Some((vec![None], walk))
                        }
                    }
                })
                .flat_map(stream::iter),
            )
        } else {
            Box::pin(stream::iter(backlog.into_iter().map(Some)))
        };
        let tail: Items = if ended { Box::pin(stream::empty()) } else { Box::pin(subscription.events.map(Some)) };
        let events = head.chain(tail).take_while(|e| futures_util::future::ready(e.is_some())).filter_map(futures_util::future::ready);
        let events = events.scan(InOrder::new(after), |order, event| {
            // De-duplicate by id: a message at or below the cursor was delivered already.
            let keep = order.admit(&event);
            futures_util::future::ready(Some(keep.then_some(event)))
        });
        Ok(Subscription { start: after, events: Box::pin(events.filter_map(futures_util::future::ready)), log_until })
    }

    /// One read of the log for a backlog that starts with `gaps` (`None` if the read fails): ids
    /// `after+1 ..= until`, at most `--catch-up-limit` of them. Returns the subscribed channels'
    /// messages and gaps for what the log no longer holds, in order, and where the next read
    /// starts (`None`: the range is done).
    async fn fill(&self, hub: &Arc<Hub>, channels: &HashSet<Channel>, after: MessageId, until: MessageId, gaps: &[(Channel, Gap)]) -> Option<(Vec<Event>, Option<MessageId>)> {
        let mut fresh = false;
        let read = loop {
            let segment = self.segment(after, until, fresh);
            let read = segment
                .read
                .get_or_init(|| async {
                    let read = async {
                        let _permit = self.permits.acquire().await.map_err(|_| Error::new(ErrorKind::ConnectionFailed, "closing"))?;
                        self.reads.fetch_add(1, Ordering::AcqRel);
                        self.reader.read(hub.clone(), segment.after, segment.until, self.options.limit).await
                    };
                    match read.await {
                        Ok(read) => Some(Arc::new(read)),
                        Err(e) => {
                            tracing::warn!("catch-up read from {} failed; its subscriptions end for clients to resume later: {e}", segment.after);
                            None
                        }
                    }
                })
                .await
                .clone()?;
            // A shared read that the limit cut before this cursor says nothing past it: read anew.
            if read.cut && read.last.map_or(true, |l| l <= after) && !fresh {
                fresh = true;
                continue;
            }
            break read;
        };
        debug_assert!(read.after <= after);
        let mut events: Vec<Event> =
            read.messages.iter().filter(|m| m.id > after && m.id <= until && m.channels().any(|c| channels.contains(c))).map(|m| Event::Message(m.clone())).collect();
        // What this subscriber's part of the read saw: from its cursor on.
        let first = read.first.map(|f| f.max(after.next()));
        let last = read.last.filter(|l| *l > after);
        let next = last.filter(|l| read.cut && *l < until);
        for (channel, gap) in gaps {
            // The part of the channel's gap this read is about.
            let gap = Gap { from: gap.from.max(after.next()), to: gap.to };
            if gap.from > gap.to {
                continue;
            }
            match (first, last) {
                (Some(first), Some(last)) => {
                    // Removed by retention: before the first id the log still had.
                    if first > gap.from {
                        events.push(Event::Gap(channel.clone(), Gap { from: gap.from, to: MessageId(first.0 - 1).min(gap.to) }));
                    }
                    // Marked lost inside the range by the log itself.
                    for lost in &read.lost {
                        let (from, to) = (lost.from.max(gap.from), lost.to.min(gap.to));
                        if from <= to {
                            events.push(Event::Gap(channel.clone(), Gap { from, to }));
                        }
                    }
                    // Not in the log: it ended before the range did.
                    if next.is_none() && last < gap.to {
                        events.push(Event::Gap(channel.clone(), Gap { from: last.next().max(gap.from), to: gap.to }));
                    }
                }
                _ => events.push(Event::Gap(channel.clone(), gap)),
            }
        }
        order::sort(&mut events);
        Some((events, next))
    }
}

/// A subscription's walk through the log, one bounded read at a time.
struct Walk {
    catch_up: Arc<CatchUp>,
    hub: Arc<Hub>,
    channels: HashSet<Channel>,
    /// The hub's gaps, one per channel: what the walk fills from the log.
    gaps: Vec<(Channel, Gap)>,
    /// The hub's ring messages, merged in after the last read.
    ring: Vec<Event>,
    /// Where the next read starts; `None` once done.
    cursor: Option<MessageId>,
    until: MessageId,
    ticket: Option<Ticket>,
}

/// A place among the catch-up reads running or waiting on this node; over the bound a
/// subscription is refused (503 `OVERLOADED`) instead of queueing without limit.
struct Ticket(Arc<CatchUp>);

impl Ticket {
    fn take(catch_up: &Arc<CatchUp>) -> Result<Ticket> {
        let bound = catch_up.options.concurrency.max(1) + catch_up.options.queue;
        if catch_up.pending.fetch_add(1, Ordering::AcqRel) >= bound {
            catch_up.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(ErrorKind::Overloaded, "too many subscribers are catching up from the log; retry later").with_source(Limit::CatchUpQueue));
        }
        Ok(Ticket(catch_up.clone()))
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The end of the range a backlog's gaps ask to read (`None`: no gap, nothing to read).
fn range_end(backlog: &[Event]) -> Option<MessageId> {
    backlog
        .iter()
        .filter_map(|e| match e {
            Event::Gap(_, g) => Some(g.to),
            _ => None,
        })
        .max()
}
