//! The embedded broker with a data dir (`--data-dir`): the hub in front of a log on disk.
//!
//! - **Publishing**: one writer thread takes publishes in arrival order, gives them ids, and
//!   writes every publish waiting at that moment in one commit (group commit): with
//!   `--fsync always` a publish is answered only once its commit is on disk, and concurrent
//!   publishes share the fsync. Messages reach subscribers after their commit, so a subscriber
//!   never holds a cursor that a crash could take back.
//! - **Restart**: ids continue from the log. Every cursor older than the hub (which starts
//!   empty) is served from disk by the shared catch-up read, so retention, not the ring size,
//!   decides what a returning subscriber gets. After a crash of a run that did not fsync every
//!   publish (`interval`, `never`), ids it may have handed out are unknown: the log records them
//!   as lost and the next ids start above them, so a cursor in that range gets a gap, never a
//!   silent jump or a reused id.
//! - **Retention** (`--retention-age`, `--retention-bytes`) removes the oldest entries in the
//!   background, a bounded chunk per commit so publishes interleave; what it removed is a gap
//!   for a cursor before it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use push_core::broker::{Health, Publication, Published};
use push_core::message::now_millis;
use push_core::{idempotency, Error, ErrorKind, Gap, Message, MessageId, Result};
use tokio::sync::{mpsc, oneshot};

use super::catch_up::{CatchUp, CatchUpOptions, LogRead, Read};
use super::logged::{LogEngine, Logged};
use crate::config::FsyncPolicy;
use crate::hub::{Hub, HubLimits};
use crate::storage::log::DiskLog;
use crate::storage::record::{self, Record};

/// Publishes waiting for the writer; more wait in `publish` (back-pressure, not memory).
const QUEUE: usize = 4096;
/// Most publishes, and payload bytes, in one commit.
const BATCH: usize = 1024;
const BATCH_BYTES: usize = 8 << 20;
/// Longest wait for the rest of a group of publishers before a durable commit (see `run`).
const COALESCE: Duration = Duration::from_micros(500);
/// With `--fsync never`, the log is still made durable this often, so a crash loses at most
/// this much and redb can reuse the space of removed entries.
const NEVER_CHECKPOINT: Duration = Duration::from_secs(60);
/// How often retention runs, and the most entries one of its commits removes.
const RETENTION_EVERY: Duration = Duration::from_secs(1);
const RETENTION_CHUNK: usize = 10_000;

/// Settings, from the server's flags.
#[derive(Debug, Clone)]
pub struct DurableOptions {
    pub dir: PathBuf,
    pub fsync: FsyncPolicy,
    pub fsync_interval: Duration,
    /// `None`: no limit.
    pub retention_age: Option<Duration>,
    pub retention_bytes: Option<u64>,
    pub catch_up: CatchUpOptions,
    pub limits: HubLimits,
}

/// The embedded broker on a data dir.
pub type DurableBroker = Logged<DurableEngine>;

/// The data dir's part of the broker: the writer's queue, and what it shares.
pub struct DurableEngine {
    jobs: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

/// What the writer thread, the retention task and the broker handle share.
struct Shared {
    log: DiskLog,
    options: DurableOptions,
    /// Why the last write failed, until one succeeds (health).
    failing: Mutex<Option<String>>,
    /// Set by `close` under this lock; the writer holds it across each commit, so nothing is
    /// committed after the log is marked clean.
    closed: Mutex<bool>,
}

enum Job {
    Publish(Publication, oneshot::Sender<Result<Published>>),
    /// Time has passed: make the log durable if the policy says so.
    Tick,
}

impl Logged<DurableEngine> {
    /// Opens the data dir (repairing it after a crash), rebuilds ids and the idempotency
    /// window from it, and starts the writer. Fails with a clear error for a data dir in use by
    /// another process, or a file that is not a push-server log.
    pub async fn start(options: DurableOptions) -> Result<DurableBroker> {
        let opening = options.clone();
        let started = Instant::now();
        let (log, start, warm) = tokio::task::spawn_blocking(move || open(&opening))
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("opening the data dir panicked: {e}")))??;
        let hub = Hub::new(start, options.limits.clone(), true);
        for (digest, id) in &warm {
            hub.remember(digest, *id);
        }
        tracing::info!(dir = %options.dir.display(), "data dir opened in {:?}: ids continue after {start}, {} idempotency keys warmed, fsync {:?}", started.elapsed(), warm.len(), options.fsync);
        let shared = Arc::new(Shared { log, options, failing: Mutex::new(None), closed: Mutex::new(false) });
        let (jobs, rx) = mpsc::channel(QUEUE);
        let writer = Writer { hub: hub.clone(), shared: shared.clone(), next: start, synced: Instant::now(), dirty: false };
        std::thread::Builder::new()
            .name("push-log-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| Error::new(ErrorKind::ServerError, format!("could not start the log writer: {e}")))?;
        spawn_ticks(&jobs, &shared);
        spawn_retention(&shared);
        hub.spawn_sweeper();
        let catch_up = CatchUp::new(shared.options.catch_up, Arc::new(DiskRead(shared.clone())));
        Ok(Logged::new(hub, catch_up, DurableEngine { jobs, shared }))
    }
}

/// Opens the log and finds where ids continue, marking a crash's unknown range as lost.
fn open(options: &DurableOptions) -> Result<(DiskLog, MessageId, Vec<(String, MessageId)>)> {
    let opened = DiskLog::open(&options.dir)?;
    let log = opened.log;
    let start = match opened.last {
        None => MessageId(now_millis() * 1000),
        Some(last) if opened.clean || opened.was_durable => last,
        Some(last) => {
            // Publishes the last run answered after `last` may be gone; their ids must not be
            // given again. Above them (ids are start-time microseconds at most a million a second).
            let start = MessageId(last.0.saturating_add(1).max(now_millis() * 1000));
            log.append(&[(start, record::encode_lost(last.next()))], true)?;
            tracing::warn!("{}: the last run stopped without closing the log and did not fsync every publish; ids {}..={start} may have been answered and lost, and read as a gap", log.path().display(), last.next());
            start
        }
    };
    log.begin_run(options.fsync == FsyncPolicy::Always)?;
    if !opened.clean && !opened.repaired {
        tracing::info!("{}: the last run did not close the log; every commit it made is intact", log.path().display());
    }
    let window = options.limits.idempotency.ttl;
    let warm = if window.is_zero() { Vec::new() } else { log.digests_since(now_millis().saturating_sub(window.as_millis() as u64))? };
    Ok((log, start, warm))
}

/// The writer thread: group commits in arrival order.
struct Writer {
    hub: Arc<Hub>,
    shared: Arc<Shared>,
    /// The last id given.
    next: MessageId,
    /// When the log was last made durable, and whether it has commits since.
    synced: Instant,
    dirty: bool,
}

/// A publish of the batch being written, and how it is answered.
enum Pending {
    New { message: Message, digest: Option<String>, reply: oneshot::Sender<Result<Published>> },
    /// A later copy of an idempotency key: answered with the first copy's id.
    Repeat { first: MessageId, reply: oneshot::Sender<Result<Published>> },
}

impl Writer {
    fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut last_batch = 0;
        while let Some(job) = jobs.blocking_recv() {
            let mut batch = Vec::new();
            let mut bytes = 0;
            let mut take = |job: Job, batch: &mut Vec<_>| {
                if let Job::Publish(publication, reply) = job {
                    bytes += publication.payload.len();
                    batch.push((publication, reply));
                }
                batch.len() < BATCH && bytes < BATCH_BYTES
            };
            let mut room = take(job, &mut batch);
            while room {
                match jobs.try_recv() {
                    Ok(job) => room = take(job, &mut batch),
                    Err(_) => break,
                }
            }
            // Group commit: when the last commit answered many publishers, their next publishes
            // are on their way. Committing the first one alone would cost a whole fsync and
            // split them in two commits; wait a moment for the others instead.
            if room && batch.len() < last_batch / 2 && self.policy_wants_sync() {
                let deadline = Instant::now() + COALESCE;
                while room && batch.len() < last_batch && Instant::now() < deadline {
                    match jobs.try_recv() {
                        Ok(job) => room = take(job, &mut batch),
                        Err(mpsc::error::TryRecvError::Empty) => std::thread::sleep(Duration::from_micros(20)),
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                    }
                }
            }
            last_batch = batch.len();
            if batch.is_empty() {
                self.tick();
            } else {
                self.write(batch);
            }
        }
    }

    fn policy_wants_sync(&self) -> bool {
        match self.shared.options.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::Interval => self.synced.elapsed() >= self.shared.options.fsync_interval,
            FsyncPolicy::Never => self.synced.elapsed() >= NEVER_CHECKPOINT,
        }
    }

    fn tick(&mut self) {
        if !self.dirty || !self.policy_wants_sync() {
            return;
        }
        let closed = self.shared.closed.lock().unwrap_or_else(|p| p.into_inner());
        if *closed {
            return;
        }
        match self.shared.log.checkpoint() {
            Ok(()) => {
                self.synced = Instant::now();
                self.dirty = false;
            }
            Err(e) => tracing::warn!("could not make the log durable: {e}"),
        }
        drop(closed);
    }

    fn write(&mut self, batch: Vec<(Publication, oneshot::Sender<Result<Published>>)>) {
        let mut pending = Vec::with_capacity(batch.len());
        let mut entries = Vec::with_capacity(batch.len());
        let mut keys: HashMap<String, MessageId> = HashMap::new();
        let mut next = self.next;
        let now = now_millis();
        for (publication, reply) in batch {
            let digest = publication.idempotency_key.as_deref().map(|key| idempotency::digest(&publication.channel, key));
            if let Some(first) = digest.as_deref().and_then(|d| keys.get(d).copied().or_else(|| self.hub.first_copy(d))) {
                pending.push(Pending::Repeat { first, reply });
                continue;
            }
            next = next.next();
            let message = Message { id: next, channel: publication.channel, payload: publication.payload, content_type: publication.content_type, published_at: now, encoded: Default::default() };
            entries.push((next, record::encode_message(&message, digest.as_deref())));
            if let Some(d) = &digest {
                keys.insert(d.clone(), next);
            }
            pending.push(Pending::New { message, digest, reply });
        }
        let durable = self.policy_wants_sync();
        let closed = self.shared.closed.lock().unwrap_or_else(|p| p.into_inner());
        let written = if *closed {
            Err(Error::new(ErrorKind::ConnectionFailed, "the server is shutting down"))
        } else if entries.is_empty() {
            Ok(())
        } else {
            let t = Instant::now();
            let r = self.shared.log.append(&entries, durable);
            tracing::trace!(entries = entries.len(), durable, "commit in {:?}", t.elapsed());
            r
        };
        drop(closed);
        *self.shared.failing.lock().unwrap_or_else(|p| p.into_inner()) = written.as_ref().err().map(|e| e.message().to_owned());
        match written {
            Ok(()) => {
                self.next = next;
                if !entries.is_empty() {
                    if durable {
                        self.synced = Instant::now();
                        self.dirty = false;
                    } else {
                        self.dirty = true;
                    }
                }
                // On disk (or as durable as the policy asks): now subscribers may see them.
                for p in pending {
                    match p {
                        Pending::New { message, digest, reply } => {
                            let published = self.hub.ingest_keyed(message, digest.as_deref());
                            let _ = reply.send(Ok(published));
                        }
                        Pending::Repeat { first, reply } => {
                            let _ = reply.send(Ok(Published { id: first, replayed: true }));
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!("{e}");
                for p in pending {
                    let (Pending::New { reply, .. } | Pending::Repeat { reply, .. }) = p;
                    let _ = reply.send(Err(Error::new(e.kind(), e.message().to_owned())));
                }
            }
        }
    }
}

/// Wakes the writer so `--fsync interval|never` commits become durable while idle.
fn spawn_ticks(jobs: &mpsc::Sender<Job>, shared: &Shared) {
    let every = match shared.options.fsync {
        FsyncPolicy::Always => return,
        FsyncPolicy::Interval => shared.options.fsync_interval,
        FsyncPolicy::Never => NEVER_CHECKPOINT,
    };
    let jobs = jobs.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Some(jobs) = jobs.upgrade() else { break };
            if jobs.send(Job::Tick).await.is_err() {
                break;
            }
        }
    });
}

/// Removes what retention no longer keeps, a chunk per commit, and tells the hub.
fn spawn_retention(shared: &Arc<Shared>) {
    let (age, bytes) = (shared.options.retention_age, shared.options.retention_bytes);
    if age.is_none() && bytes.is_none() {
        return;
    }
    let weak = Arc::downgrade(shared);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            let Some(shared) = weak.upgrade() else { break };
            let removed = tokio::task::spawn_blocking(move || {
                let cutoff = age.map(|a| now_millis().saturating_sub(a.as_millis() as u64));
                let mut upto = None;
                // Bounded per tick; the next tick goes on.
                for _ in 0..10 {
                    if *shared.closed.lock().unwrap_or_else(|p| p.into_inner()) {
                        break;
                    }
                    match shared.log.trim(cutoff, bytes, RETENTION_CHUNK) {
                        Ok(Some(id)) => upto = Some(id),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!("retention could not remove old entries: {e}");
                            break;
                        }
                    }
                }
                upto
            })
            .await;
            // The hub needs no word: a cursor before what is left reads the gap from the log.
            if let Ok(Some(upto)) = removed {
                tracing::debug!("retention removed entries up to {upto}");
            }
        }
    });
}

/// Catch-up reads from the data dir.
struct DiskRead(Arc<Shared>);

impl LogRead for DiskRead {
    fn read(&self, _hub: Arc<Hub>, after: MessageId, until: MessageId, limit: usize) -> BoxFuture<'_, Result<Read>> {
        let shared = self.0.clone();
        Box::pin(async move {
            let entries = tokio::task::spawn_blocking(move || shared.log.read(after, until, limit.max(1)))
                .await
                .map_err(|e| Error::new(ErrorKind::Internal, format!("a log read panicked: {e}")))??;
            let cut = entries.len() >= limit.max(1) && entries.last().is_some_and(|(id, _)| *id < until);
            let mut read = Read { after, messages: Vec::with_capacity(entries.len()), first: None, last: None, lost: Vec::new(), cut };
            for (id, entry) in entries {
                read.first.get_or_insert(id);
                read.last = Some(id);
                match entry {
                    // Later copies of idempotency keys were never written.
                    Record::Message { message, .. } => read.messages.push(Arc::new(message)),
                    Record::Lost { from } => read.lost.push(Gap { from, to: id }),
                }
            }
            Ok(read)
        })
    }
}

impl LogEngine for DurableEngine {
    fn publish(&self, publication: Publication) -> BoxFuture<'_, Result<Published>> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.jobs.send(Job::Publish(publication, reply)).await.map_err(|_| Error::new(ErrorKind::ConnectionFailed, "the server is shutting down"))?;
            answer.await.map_err(|_| Error::new(ErrorKind::ConnectionFailed, "the server is shutting down"))?
        })
    }

    fn health(&self, hub: &Hub, _: &CatchUp) -> Health {
        let dir = self.shared.options.dir.display();
        match self.shared.failing.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            None => Health { ok: true, engine: "disk", detail: format!("{} channels, data dir {dir}, fsync {:?}", hub.channel_count(), self.shared.options.fsync) },
            Some(why) => Health { ok: false, engine: "disk", detail: format!("data dir {dir}: {why}") },
        }
    }

    /// Marks the log closed once everything committed is durable.
    fn close(&self) {
        let mut closed = self.shared.closed.lock().unwrap_or_else(|p| p.into_inner());
        if !*closed {
            *closed = true;
            if let Err(e) = self.shared.log.close_clean() {
                tracing::warn!("could not mark the log closed: {e}; the next start treats this run as a crash");
            }
            self.shared.log.close();
        }
    }
}

impl Drop for DurableEngine {
    fn drop(&mut self) {
        LogEngine::close(self);
    }
}
