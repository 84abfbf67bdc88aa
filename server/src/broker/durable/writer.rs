//! The writer thread: takes publishes in arrival order, gives them ids, and writes every
//! publish waiting at that moment in one commit (group commit); subscribers see them after it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use push_core::broker::{Publication, Published};
use push_core::message::now_millis;
use push_core::{Error, ErrorKind, Message, MessageId, Result};
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::config::FsyncPolicy;
use crate::hub::Hub;
use crate::storage::record;

/// Most publishes, and payload bytes, in one commit.
const BATCH: usize = 1024;
const BATCH_BYTES: usize = 8 << 20;
/// Longest wait for the rest of a group of publishers before a durable commit (see `run`).
const COALESCE: Duration = Duration::from_micros(500);
/// With `--fsync never`, the log is still made durable this often, so a crash loses at most
/// this much and redb can reuse the space of removed entries.
const NEVER_CHECKPOINT: Duration = Duration::from_secs(60);

/// What the writer is asked to do.
pub(super) enum Job {
    Publish(Publication, oneshot::Sender<Result<Published>>),
    /// Time has passed: make the log durable if the policy says so.
    Tick,
}

/// The writer thread: group commits in arrival order.
pub(super) struct Writer {
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
    /// Starts the writer thread on `jobs`; the ids it gives continue after `last`.
    pub(super) fn spawn(hub: Arc<Hub>, shared: Arc<Shared>, last: MessageId, jobs: mpsc::Receiver<Job>) -> Result<()> {
        let writer = Writer { hub, shared, next: last, synced: Instant::now(), dirty: false };
        std::thread::Builder::new()
            .name("push-log-writer".into())
            .spawn(move || writer.run(jobs))
            .map(drop)
            .map_err(|e| Error::new(ErrorKind::ServerError, format!("could not start the log writer: {e}")))
    }

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
            let digest = publication.digest();
            if let Some(first) = digest.as_deref().and_then(|d| keys.get(d).copied().or_else(|| self.hub.first_copy(d))) {
                pending.push(Pending::Repeat { first, reply });
                continue;
            }
            next = next.next();
            let message = publication.into_message(next, now);
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
pub(super) fn spawn_ticks(jobs: &mpsc::Sender<Job>, shared: &Shared) {
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
