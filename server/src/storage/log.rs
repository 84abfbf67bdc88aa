//! The data dir's log: one redb file (`DIR/push.redb`) holding every message by id, and a few
//! counters. redb commits are atomic and checksummed: a commit torn by a crash is rolled back at
//! the next open (the file is repaired), so the log holds whole commits only. redb also locks the
//! file, so a second process cannot open the same data dir. Why redb: docs/STORAGE.md.

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

use push_core::{Error, ErrorKind, MessageId, Result};
use redb::{Database, DatabaseError, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::record::{self, Record};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// This build's layout of the file; another number stops the start.
const FORMAT: u64 = 1;
pub const FILE_NAME: &str = "push.redb";

/// An open log, and what it said about the last run.
pub struct Opened {
    pub log: DiskLog,
    pub first: Option<MessageId>,
    pub last: Option<MessageId>,
    /// The last run closed the log itself (graceful shutdown).
    pub clean: bool,
    /// The last run answered publishes only once they were on disk (`--fsync always`).
    pub was_durable: bool,
    /// redb found a commit torn by a crash and rolled it back.
    pub repaired: bool,
}

pub struct DiskLog {
    /// `None` once closed: dropping redb's handle is what tells its next open that no repair
    /// is needed.
    db: RwLock<Option<Database>>,
    path: PathBuf,
    /// Bytes the entries take, for --retention-bytes: read from redb at open, then counted here
    /// (a counter in the file would add a page write to every commit).
    bytes: AtomicU64,
    /// Closed by shutdown, for good (not after a write error: then the file is opened again).
    closed: AtomicBool,
}

impl DiskLog {
    /// Opens (or creates) the log in `dir` and reads what the last run left.
    pub fn open(dir: &Path) -> Result<Opened> {
        std::fs::create_dir_all(dir).map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("--data-dir {}: cannot create it: {e}", dir.display())))?;
        let path = dir.join(FILE_NAME);
        let repaired = Arc::new(AtomicBool::new(false));
        let flag = repaired.clone();
        let started = Instant::now();
        let db = Database::builder()
            .set_repair_callback(move |_| flag.store(true, Ordering::Release))
            .create(&path)
            .map_err(|e| open_error(&path, e))?;
        if repaired.load(Ordering::Acquire) {
            tracing::warn!("{}: the last run did not close it (a crash or kill -9); checked and repaired in {:?}, dropping a commit the crash tore, if any", path.display(), started.elapsed());
        }
        let log = DiskLog { db: RwLock::new(Some(db)), path, bytes: AtomicU64::new(0), closed: AtomicBool::new(false) };
        let (format, clean, was_durable, empty, bytes) = {
            let db = log.db()?;
            let tx = db.begin_write().map_err(|e| log.fatal(e))?;
            let meta = {
                let meta = tx.open_table(META).map_err(|e| log.fatal(e))?;
                let get = |k: &str| meta.get(k).map(|v| v.map(|v| v.value())).map_err(|e| log.fatal(e));
                (get("format")?, get("clean")?.unwrap_or(1) == 1, get("durable")?.unwrap_or(1) == 1)
            };
            let table = tx.open_table(LOG).map_err(|e| log.fatal(e))?;
            let empty = table.is_empty().map_err(|e| log.fatal(e))?;
            let bytes = table.stats().map_err(|e| log.fatal(e))?.stored_bytes();
            drop(table);
            tx.abort().map_err(|e| log.fatal(e))?;
            (meta.0, meta.1, meta.2, empty, bytes)
        };
        log.bytes.store(bytes, Ordering::Release);
        match format {
            Some(FORMAT) => {}
            None if empty => {}
            Some(other) => return Err(log.foreign(format!("it is in format {other}; this push-server reads format {FORMAT}"))),
            None => return Err(log.foreign("it holds entries but no format mark".into())),
        }
        if format.is_none() {
            // A new file: create the tables (readers expect them).
            log.write(Durability::Immediate, |_, _| Ok(()))?;
        }
        let (first, last) = log.ends()?;
        Ok(Opened { log, first, last, clean, was_durable, repaired: repaired.load(Ordering::Acquire) })
    }

    /// Marks the log in use by this run until a graceful close, with this run's policy. Called
    /// once the last run's unknown range (if any) is recorded, so a crash in between cannot hide it.
    pub fn begin_run(&self, durable: bool) -> Result<()> {
        self.write(Durability::Immediate, |_, meta| {
            meta.insert("format", FORMAT)?;
            meta.insert("clean", 0)?;
            meta.insert("durable", durable as u64)?;
            Ok(())
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<Handle<'_>> {
        let guard = self.db.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_some() {
            return Ok(Handle(guard));
        }
        drop(guard);
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::ConnectionFailed, "the log is closed (the server is shutting down)"));
        }
        self.reopen()?;
        self.db()
    }

    /// Closes the file (waiting for reads and writes in progress); later calls fail.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.db.write().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Opens the file again after a failed write: redb refuses every transaction after an I/O
    /// error (a full disk) until it is reopened, which rolls back to the last commit.
    fn reopen(&self) -> Result<()> {
        let mut db = self.db.write().unwrap_or_else(|p| p.into_inner());
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorKind::ConnectionFailed, "the log is closed (the server is shutting down)"));
        }
        db.take();
        match Database::create(&self.path) {
            Ok(reopened) => {
                tracing::info!("{}: reopened after a write error", self.path.display());
                *db = Some(reopened);
                Ok(())
            }
            Err(e) => Err(Error::new(ErrorKind::Overloaded, format!("{}: cannot reopen after a write error: {e}", self.path.display()))),
        }
    }

    /// Appends entries (ids increasing) in one commit, durable on return when `durable`.
    pub fn append(&self, entries: &[(MessageId, Vec<u8>)], durable: bool) -> Result<()> {
        self.write(if durable { Durability::Immediate } else { Durability::None }, |log, _| {
            for (id, value) in entries {
                log.insert(id.0, value.as_slice())?;
            }
            Ok(())
        })
        .map(|()| {
            self.bytes.fetch_add(entries.iter().map(|(_, v)| entry_size(v)).sum(), Ordering::AcqRel);
        })
        .map_err(|e| {
            // Start the next write on a fresh handle (this one refuses everything now).
            self.db.write().unwrap_or_else(|p| p.into_inner()).take();
            Error::new(ErrorKind::Overloaded, format!("could not store the message: {}", e.message()))
        })
    }

    /// Makes every earlier commit durable (one fsync).
    pub fn checkpoint(&self) -> Result<()> {
        self.write(Durability::Immediate, |_, _| Ok(()))
    }

    /// Marks the log closed by this run (graceful shutdown), durably.
    pub fn close_clean(&self) -> Result<()> {
        self.write(Durability::Immediate, |_, meta| {
            meta.insert("clean", 1)?;
            Ok(())
        })
    }

    /// Entries with ids in `after+1 ..= until`, at most `limit`, in order.
    pub fn read(&self, after: MessageId, until: MessageId, limit: usize) -> Result<Vec<(MessageId, Record)>> {
        self.scan(after.0.saturating_add(1)..=until.0, limit)
    }

    /// The first and last ids on disk (retention always keeps the last one).
    pub fn ends(&self) -> Result<(Option<MessageId>, Option<MessageId>)> {
        let db = self.db()?;
        let tx = db.begin_read().map_err(|e| self.fatal(e))?;
        let log = tx.open_table(LOG).map_err(|e| self.fatal(e))?;
        let first = log.first().map_err(|e| self.fatal(e))?.map(|(k, _)| MessageId(k.value()));
        let last = log.last().map_err(|e| self.fatal(e))?.map(|(k, _)| MessageId(k.value()));
        Ok((first, last))
    }

    /// Idempotency digests of messages published at or after `since_ms`, oldest first.
    pub fn digests_since(&self, since_ms: u64) -> Result<Vec<(String, MessageId)>> {
        let db = self.db()?;
        let tx = db.begin_read().map_err(|e| self.fatal(e))?;
        let log = tx.open_table(LOG).map_err(|e| self.fatal(e))?;
        let mut found = Vec::new();
        for entry in log.range::<u64>(..).map_err(|e| self.fatal(e))?.rev() {
            let (id, value) = entry.map_err(|e| self.fatal(e))?;
            match record::published_at(value.value()) {
                Some(at) if at < since_ms => break,
                _ => {}
            }
            if let Some(digest) = record::digest(value.value()) {
                found.push((digest, MessageId(id.value())));
            }
        }
        found.reverse();
        Ok(found)
    }

    /// Bytes the entries take (keys and values).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    /// Removes up to `most` of the oldest entries that are older than `cutoff_ms` or beyond
    /// `max_bytes`, never the newest one (where ids continue from); returns the id after which
    /// entries remain (`None`: nothing removed).
    pub fn trim(&self, cutoff_ms: Option<u64>, max_bytes: Option<u64>, most: usize) -> Result<Option<MessageId>> {
        let over = |bytes: u64| max_bytes.map_or(0, |m| bytes.saturating_sub(m));
        let (mut excess, mut upto, mut freed) = (over(self.bytes()), None, 0u64);
        {
            let db = self.db()?;
            let tx = db.begin_read().map_err(|e| self.fatal(e))?;
            let log = tx.open_table(LOG).map_err(|e| self.fatal(e))?;
            let Some(newest) = log.last().map_err(|e| self.fatal(e))?.map(|(k, _)| k.value()) else { return Ok(None) };
            for entry in log.range::<u64>(..newest).map_err(|e| self.fatal(e))?.take(most) {
                let (id, value) = entry.map_err(|e| self.fatal(e))?;
                let expired = matches!((cutoff_ms, record::published_at(value.value())), (Some(c), Some(at)) if at < c);
                if !expired && excess == 0 {
                    break;
                }
                let size = entry_size(value.value());
                excess = excess.saturating_sub(size);
                freed += size;
                upto = Some(id.value());
            }
        }
        let Some(upto) = upto else { return Ok(None) };
        self.write(Durability::None, |log, _| log.retain_in(..=upto, |_, _| false))?;
        self.bytes.fetch_sub(freed.min(self.bytes()), Ordering::AcqRel);
        Ok(Some(MessageId(upto)))
    }

    fn scan(&self, range: impl RangeBounds<u64>, limit: usize) -> Result<Vec<(MessageId, Record)>> {
        let db = self.db()?;
        let tx = db.begin_read().map_err(|e| self.fatal(e))?;
        let log = tx.open_table(LOG).map_err(|e| self.fatal(e))?;
        let mut out = Vec::new();
        for entry in log.range(range).map_err(|e| self.fatal(e))?.take(limit) {
            let (id, value) = entry.map_err(|e| self.fatal(e))?;
            let id = MessageId(id.value());
            let entry = record::decode(id, value.value()).map_err(|why| Error::new(ErrorKind::ServerError, format!("{}: entry {id} is damaged: {why}", self.path.display())))?;
            out.push((id, entry));
        }
        Ok(out)
    }

    /// One write transaction on both tables.
    fn write(&self, durability: Durability, body: impl FnOnce(&mut redb::Table<u64, &[u8]>, &mut redb::Table<&str, u64>) -> std::result::Result<(), redb::StorageError>) -> Result<()> {
        let db = self.db()?;
        let mut tx = db.begin_write().map_err(|e| self.fatal(e))?;
        tx.set_durability(durability).map_err(|e| self.fatal(e))?;
        {
            let mut log = tx.open_table(LOG).map_err(|e| self.fatal(e))?;
            let mut meta = tx.open_table(META).map_err(|e| self.fatal(e))?;
            body(&mut log, &mut meta).map_err(|e| self.fatal(e))?;
        }
        tx.commit().map_err(|e| self.fatal(e))
    }

    fn fatal(&self, e: impl std::fmt::Display) -> Error {
        Error::new(ErrorKind::ServerError, format!("{}: {e}", self.path.display()))
    }

    fn foreign(&self, why: String) -> Error {
        Error::new(ErrorKind::InvalidConfig, format!("{} is not a push-server log: {why}. Move it away to start with an empty data dir", self.path.display()))
    }
}

/// An open handle, valid while held (the log cannot close meanwhile).
struct Handle<'a>(RwLockReadGuard<'a, Option<Database>>);

impl std::ops::Deref for Handle<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        self.0.as_ref().expect("checked when the handle was made")
    }
}

/// What an entry counts toward --retention-bytes: its value and its key.
fn entry_size(value: &[u8]) -> u64 {
    value.len() as u64 + 8
}

fn open_error(path: &Path, e: DatabaseError) -> Error {
    let message = match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => format!(
            "{} is in use by another push-server process (it holds the file's lock); a data dir belongs to one process",
            path.display()
        ),
        DatabaseError::Storage(redb::StorageError::Io(io)) if io.kind() != std::io::ErrorKind::InvalidData => format!("{}: {io}", path.display()),
        other => format!("{} is not a push-server log or is damaged ({other}). Move it away to start with an empty data dir", path.display()),
    };
    Error::new(ErrorKind::InvalidConfig, message)
}
