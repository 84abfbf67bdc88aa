//! Catch-up reads: a subscription whose cursor is older than the node's history (the hub answers
//! with gaps first) is served by reading the stream from the cursor.
//!
//! Reads are shared. After a node restart many clients come back at once with cursors a little
//! behind each other; a read covers every channel of its range, stays in memory for a few seconds
//! ([`SEGMENT_TTL`]), and every subscriber whose range it covers takes its own channels from it,
//! waiting for it if it is still running. So a reconnect storm costs a few stream reads, not one
//! per subscriber, and a long-poll client walking through its backlog one request at a time hits
//! the same read. Reads running or waiting for a slot are bounded (`--catch-up-concurrency`,
//! `--catch-up-queue`): over that, `503 OVERLOADED`, never an unbounded queue.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use push_core::amqp::{self, DecodedKind, StartAt, StreamReader};
use push_core::{Channel, Error, ErrorKind, Event, Gap, Message, MessageId, Result};
use tokio::sync::OnceCell;

use super::{digest_of, Shared, CATCH_UP_IDLE, PREFETCH};
use crate::hub::Hub;
use crate::metrics::Limit;

/// How long a finished read serves other subscribers.
const SEGMENT_TTL: Duration = Duration::from_secs(10);
/// Most reads kept (each holds at most `--catch-up-limit` messages).
const SEGMENTS_KEPT: usize = 8;

/// What one read of the stream found, for every channel.
pub(super) struct Read {
    /// The read covers ids `after+1 ..= until` (or less, see `last`).
    after: MessageId,
    /// Messages of every channel, in order, later copies of idempotency keys left out.
    messages: Vec<Arc<Message>>,
    /// The first id the stream delivered after `after` (earlier ones are gone: retention).
    first: Option<MessageId>,
    /// The last id read: everything up to it is in `messages`.
    last: Option<MessageId>,
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

/// The reads a node shares between subscribers.
#[derive(Default)]
pub(super) struct Segments {
    kept: Mutex<Vec<Arc<Segment>>>,
}

impl Segments {
    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Segment>>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a read that serves `after ..= until` is running or fresh.
    pub(super) fn covered(&self, after: MessageId, until: MessageId) -> bool {
        self.kept().iter().any(|s| s.covers(after, until) && !matches!(s.read.get(), Some(None)))
    }

    /// The segment that serves the range, or a new one (started by the first who awaits it).
    fn segment(&self, after: MessageId, until: MessageId) -> Arc<Segment> {
        let mut kept = self.kept();
        kept.retain(|s| s.born.elapsed() < SEGMENT_TTL && !matches!(s.read.get(), Some(None)));
        if let Some(s) = kept.iter().find(|s| s.covers(after, until)) {
            return s.clone();
        }
        if kept.len() >= SEGMENTS_KEPT {
            kept.remove(0);
        }
        let segment = Arc::new(Segment { after, until, born: Instant::now(), read: OnceCell::new() });
        kept.push(segment.clone());
        segment
    }
}

/// A place among the catch-up reads running or waiting on this node; over the bound a
/// subscription is refused (503 `OVERLOADED`) instead of queueing without limit.
pub(super) struct CatchUpTicket(Arc<Shared>);

impl CatchUpTicket {
    pub(super) fn take(shared: &Arc<Shared>) -> Result<CatchUpTicket> {
        let bound = shared.options.catch_up_concurrency.max(1) + shared.options.catch_up_queue;
        if shared.catch_ups_pending.fetch_add(1, Ordering::AcqRel) >= bound {
            shared.catch_ups_pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::new(ErrorKind::Overloaded, "too many subscribers are catching up from the stream; retry later")
                .with_source(Limit::CatchUpQueue));
        }
        Ok(CatchUpTicket(shared.clone()))
    }
}

impl Drop for CatchUpTicket {
    fn drop(&mut self) {
        self.0.catch_ups_pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The end of the range a backlog's gaps ask to read (`None`: no gap, nothing to read).
pub(super) fn range_end(backlog: &[Event]) -> Option<MessageId> {
    backlog
        .iter()
        .filter_map(|e| match e {
            Event::Gap(_, g) => Some(g.to),
            _ => None,
        })
        .max()
}

/// Serves a backlog that starts with gaps from the stream (`None` if the read fails): ids
/// `after+1 ..= until` (at most `--catch-up-limit` messages), the subscribed channels'
/// messages, and gaps only for what the stream no longer holds or the limit cut. Returns the
/// backlog in order, with the hub's ring messages merged in.
pub(super) async fn catch_up(shared: &Shared, hub: &Hub, channels: &HashSet<Channel>, after: MessageId, until: MessageId, backlog: Vec<Event>) -> Option<Vec<Event>> {
    let segment = shared.segments.segment(after, until);
    let read = segment
        .read
        .get_or_init(|| async {
            match read_range(shared, hub, segment.after, segment.until).await {
                Ok(read) => Some(Arc::new(read)),
                Err(e) => {
                    tracing::warn!("catch-up read from {} failed; its subscriptions end for clients to resume later: {e}", segment.after);
                    None
                }
            }
        })
        .await
        .clone()?;
    debug_assert!(read.after <= after);
    let mut events: Vec<Event> =
        read.messages.iter().filter(|m| m.id > after && m.id <= until && channels.contains(&m.channel)).map(|m| Event::Message(m.clone())).collect();
    // What this subscriber's part of the read saw: from its cursor on.
    let first = read.first.map(|f| f.max(after.next()));
    let last = read.last.filter(|l| *l > after);
    for event in &backlog {
        let Event::Gap(channel, gap) = event else { continue };
        match (first, last) {
            (Some(first), Some(last)) => {
                // Removed by retention: before the first offset the stream still had.
                if first > gap.from {
                    events.push(Event::Gap(channel.clone(), Gap { from: gap.from, to: MessageId(first.0 - 1).min(gap.to) }));
                }
                // Not read: the limit cut the read, or the stream ended early.
                if last < gap.to {
                    events.push(Event::Gap(channel.clone(), Gap { from: last.next().max(gap.from), to: gap.to }));
                }
            }
            _ => events.push(Event::Gap(channel.clone(), *gap)),
        }
    }
    events.extend(backlog.into_iter().filter(|e| matches!(e, Event::Message(_))));
    // Stable: a gap sorts before a message with the same cursor only if it came first.
    events.sort_by_key(Event::cursor);
    Some(events)
}

/// Reads ids `after+1 ..= until` of every channel, at most `--catch-up-limit` of them.
async fn read_range(shared: &Shared, hub: &Hub, after: MessageId, until: MessageId) -> Result<Read> {
    let _permit = shared.catch_ups.acquire().await.map_err(|_| Error::new(ErrorKind::ConnectionFailed, "closing"))?;
    shared.catch_up_reads.fetch_add(1, Ordering::AcqRel);
    let connection = shared.connection().ok_or_else(|| Error::new(ErrorKind::ConnectionFailed, "not connected to RabbitMQ"))?;
    let stream = &shared.options.stream.name;
    let limit = shared.options.catch_up_limit;
    let prefetch = limit.clamp(1, PREFETCH as usize) as u16;
    let mut reader = StreamReader::open(&connection, stream, StartAt::Offset(amqp::offset_after(after)), prefetch).await?;
    let mut read = Read { after, messages: Vec::new(), first: None, last: None };
    let mut read_digests = HashSet::new();
    let mut count = 0usize;
    loop {
        let next = tokio::select! {
            _ = shared.stop.cancelled() => break,
            next = reader.next_within(CATCH_UP_IDLE) => next,
        };
        let delivery = match next {
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                reader.close().await;
                return Err(amqp::error("catch-up read of", stream, e));
            }
            None => break,
        };
        let decoded = amqp::decode(&delivery.properties, &delivery.data)?;
        if decoded.id <= after {
            continue; // the head of the chunk holding the start offset
        }
        if decoded.id > until {
            break;
        }
        read.first.get_or_insert(decoded.id);
        read.last = Some(decoded.id);
        if let DecodedKind::Message(m) = decoded.kind {
            // A later copy of an idempotency key is skipped here as the feeder skipped it live:
            // its first copy came earlier in this read, or before it (still in the window).
            let digest = digest_of(&decoded.message_id);
            let repeat = digest.is_some_and(|d| !read_digests.insert(d.to_owned()) || hub.first_copy(d).is_some_and(|first| first < m.id));
            if !repeat {
                read.messages.push(Arc::new(m));
            }
        }
        count += 1;
        if decoded.id >= until || count >= limit {
            break;
        }
    }
    reader.close().await;
    Ok(read)
}
