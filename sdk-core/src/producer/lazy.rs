//! The producer a language binding's object holds: its options are checked when it is made, it
//! connects on the first publish and again after [`close`](LazyProducer::close), and its
//! connections belong to one process. A runtime's worker threads and a connection's socket do not
//! survive `fork` (Puma, Unicorn and Gunicorn fork after loading the app), so a forked child
//! makes its own and leaves the parent's untouched.
//!
//! [`LazyProducer::new`]'s futures run on the caller's runtime (Node's, through napi);
//! [`BlockingProducer`](super::BlockingProducer) makes one with a runtime of its own per process.

use std::sync::{Arc, Mutex};

use tokio::runtime::Runtime;

use super::{Producer, ProducerOptions};
use crate::{Error, ErrorKind, Result};

pub struct LazyProducer {
    options: ProducerOptions,
    url: String,
    /// Whether each process's connections come with a runtime of their own.
    own_runtime: bool,
    local: Mutex<Option<Arc<ProcessLocal>>>,
}

/// The connections of one process, and the runtime they run on when the producer has its own.
pub(crate) struct ProcessLocal {
    pid: u32,
    pub(crate) producer: Producer,
    runtime: Option<Runtime>,
}

impl ProcessLocal {
    /// The runtime of a producer made [`with_own_runtime`](LazyProducer::with_own_runtime).
    pub(crate) fn runtime(&self) -> &Runtime {
        self.runtime.as_ref().expect("a producer with its own runtime")
    }
}

impl LazyProducer {
    /// Checks the options now; the producer's futures run on the caller's tokio runtime.
    pub fn new(options: ProducerOptions) -> Result<LazyProducer> {
        let producer = Producer::with_options(options.clone())?;
        let url = producer.url().to_owned();
        // Checking the options built the connections' client: keep it for the first publish.
        let local = Arc::new(ProcessLocal { pid: std::process::id(), producer, runtime: None });
        Ok(LazyProducer { options, url, own_runtime: false, local: Mutex::new(Some(local)) })
    }

    /// Checks the options now; each process makes a runtime for the producer on first use.
    pub(crate) fn with_own_runtime(options: ProducerOptions) -> Result<LazyProducer> {
        let url = Producer::with_options(options.clone())?.url().to_owned();
        Ok(LazyProducer { options, url, own_runtime: true, local: Mutex::new(None) })
    }

    /// The URL it publishes to (after `PUSH_URL` and the default applied).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// This process's producer, connected now if it is not (first use, after `close`, after
    /// `fork`). Clones share its connections.
    pub fn get(&self) -> Result<Producer> {
        Ok(self.local()?.producer.clone())
    }

    pub(crate) fn local(&self) -> Result<Arc<ProcessLocal>> {
        let pid = std::process::id();
        let mut slot = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(local) = slot.as_ref() {
            if local.pid == pid {
                return Ok(local.clone());
            }
            // Made before a fork: its threads exist only in the parent. Dropping it here would
            // wait for them forever, so the child lets it go without cleanup.
            std::mem::forget(slot.take());
        }
        let runtime = self.own_runtime.then(start_runtime).transpose()?;
        let producer = Producer::with_options(self.options.clone())?;
        let local = Arc::new(ProcessLocal { pid, producer, runtime });
        *slot = Some(local.clone());
        Ok(local)
    }

    /// Drops the connections (and stops its own runtime). Publishes in flight finish with the
    /// clone they hold; the producer stays usable and reconnects on the next publish.
    pub fn close(&self) {
        let taken = self.local.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(local) = taken {
            if local.pid != std::process::id() {
                std::mem::forget(local);
            } else if let Ok(ProcessLocal { runtime: Some(runtime), .. }) = Arc::try_unwrap(local) {
                runtime.shutdown_background();
            }
            // Still in use by another thread: the last user drops it.
        }
    }
}

impl Drop for LazyProducer {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for LazyProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyProducer").field("url", &self.url).finish()
    }
}

fn start_runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("push-producer")
        .on_thread_start(leave_signals_to_the_host)
        .enable_all()
        .build()
        .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("cannot start the producer's runtime: {e}")).with_source(e))
}

/// Blocks asynchronous signals (SIGINT, SIGTERM, ...) in the producer's own threads, so the
/// kernel delivers them to the host's threads: Ruby and Python handle a signal promptly only
/// when one of their threads receives it (Ctrl-C must interrupt a waiting publish).
fn leave_signals_to_the_host() {
    // SAFETY: builds a signal set on the stack and changes only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        // Faults must stay deliverable: blocking them is undefined behaviour.
        for fault in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL, libc::SIGTRAP, libc::SIGABRT] {
            libc::sigdelset(&mut set, fault);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reconnects_after_close() {
        let lazy = LazyProducer::new(ProducerOptions::new().url("http://127.0.0.1:9")).unwrap();
        assert_eq!(lazy.url(), "http://127.0.0.1:9");
        let first = lazy.get().unwrap();
        lazy.close();
        // The clone held across close still works (and fails only because nothing listens).
        assert_eq!(first.publish("x").to("/a").await.unwrap_err().kind(), ErrorKind::ConnectionFailed);
        assert_eq!(lazy.get().unwrap().publish("x").to("/a").await.unwrap_err().kind(), ErrorKind::ConnectionFailed);
        assert!(LazyProducer::new(ProducerOptions::new().url("ftp://x")).is_err());
    }
}
