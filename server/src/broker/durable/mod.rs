//! The embedded broker with a data dir (`--data-dir`): the hub in front of a log on disk.
//!
//! - **Publishing** ([`writer`]): one writer thread takes publishes in arrival order, gives them
//!   ids, and writes every publish waiting at that moment in one commit (group commit): with
//!   `--fsync always` a publish is answered only once its commit is on disk, and concurrent
//!   publishes share the fsync. Messages reach subscribers after their commit, so a subscriber
//!   never holds a cursor that a crash could take back.
//! - **Restart**: ids continue from the log. Every cursor older than the hub (which starts
//!   empty) is served from disk by the shared catch-up read ([`read`]), so retention, not the
//!   ring size, decides what a returning subscriber gets. After a crash of a run that did not
//!   fsync every publish (`interval`, `never`), ids it may have handed out are unknown: the log
//!   records them as lost and the next ids start above them, so a cursor in that range gets a
//!   gap, never a silent jump or a reused id.
//! - **Retention** ([`retention`]: `--retention-age`, `--retention-bytes`) removes the oldest
//!   entries in the background, a bounded chunk per commit so publishes interleave; what it
//!   removed is a gap for a cursor before it.

mod read;
mod retention;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use push_core::broker::{Health, Publication, Published};
use push_core::message::now_millis;
use push_core::{Error, ErrorKind, MessageId, Result};
use tokio::sync::{mpsc, oneshot};

use super::catch_up::{CatchUp, CatchUpOptions};
use super::logged::{LogEngine, Logged};
use crate::config::FsyncPolicy;
use crate::hub::{Hub, HubLimits};
use crate::storage::log::DiskLog;
use crate::storage::record;
use read::DiskRead;
use retention::spawn_retention;
use writer::{spawn_ticks, Job, Writer};

/// Publishes waiting for the writer; more wait in `publish` (back-pressure, not memory).
const QUEUE: usize = 4096;

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
        Writer::spawn(hub.clone(), shared.clone(), start, rx)?;
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
