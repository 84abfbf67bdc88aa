//! A blocking producer for plain threads and for the language bindings.
//!
//! It owns a small tokio runtime, made on first use. A runtime's worker threads do not survive
//! `fork`, so the runtime and its connections belong to the process that made them: when the
//! process id changes (Puma, Unicorn and Gunicorn fork after loading the app), the child makes its
//! own and leaves the parent's untouched.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::runtime::{Handle, Runtime};

use super::{Producer, ProducerOptions};
use crate::{Error, ErrorKind, MessageId, Result};

/// Runtime and async producer of one process.
struct ProcessLocal {
    pid: u32,
    runtime: Runtime,
    producer: Producer,
}

/// A thread-safe, fork-safe producer whose calls block the calling thread.
pub struct BlockingProducer {
    options: ProducerOptions,
    url: String,
    local: Mutex<Option<Arc<ProcessLocal>>>,
}

impl BlockingProducer {
    /// Checks the options now; connects on the first publish.
    pub fn new(options: ProducerOptions) -> Result<BlockingProducer> {
        let url = Producer::with_options(options.clone())?.url().to_owned();
        Ok(BlockingProducer { options, url, local: Mutex::new(None) })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn local(&self) -> Result<Arc<ProcessLocal>> {
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("push-producer")
            .on_thread_start(leave_signals_to_the_host)
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("cannot start the producer's runtime: {e}")).with_source(e))?;
        let producer = Producer::with_options(self.options.clone())?;
        let local = Arc::new(ProcessLocal { pid, runtime, producer });
        *slot = Some(local.clone());
        Ok(local)
    }

    /// Publishes and blocks until the server (or broker) has accepted the message.
    /// Must not be called from inside an async runtime.
    pub fn send(&self, channel: &str, payload: Bytes, content_type: Option<&str>) -> Result<MessageId> {
        self.send_keyed(channel, payload, content_type, None)
    }

    /// [`send`](Self::send) with the caller's idempotency key (see [`Producer::send_keyed`]).
    pub fn send_keyed(&self, channel: &str, payload: Bytes, content_type: Option<&str>, idempotency_key: Option<String>) -> Result<MessageId> {
        let local = self.local()?;
        local.runtime.block_on(local.producer.send_keyed(channel, payload, content_type, idempotency_key))
    }

    /// `producer.publish(data).to(channel)`, blocking.
    pub fn publish(&self, data: impl Into<Bytes>) -> BlockingPublish<'_> {
        BlockingPublish { producer: self, data: data.into(), content_type: None, idempotency_key: None }
    }

    /// The runtime handle and async producer of this process, for bindings that bridge to their
    /// language's event loop (asyncio, ...). Spawn the producer's futures on the handle.
    pub fn async_parts(&self) -> Result<(Handle, Producer)> {
        let local = self.local()?;
        Ok((local.runtime.handle().clone(), local.producer.clone()))
    }

    /// Closes connections and stops the runtime. The producer can still be used afterwards: it
    /// reconnects on the next publish.
    pub fn close(&self) {
        let taken = self.local.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(local) = taken {
            if local.pid != std::process::id() {
                std::mem::forget(local);
            } else if let Ok(local) = Arc::try_unwrap(local) {
                local.runtime.shutdown_background();
            }
            // Still in use by another thread: the last user drops it.
        }
    }
}

impl Drop for BlockingProducer {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for BlockingProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingProducer").field("url", &self.url).finish()
    }
}

/// A blocking publish waiting for its channel.
#[must_use = "a publish does nothing until .to(channel) is called"]
pub struct BlockingPublish<'a> {
    producer: &'a BlockingProducer,
    data: Bytes,
    content_type: Option<String>,
    idempotency_key: Option<String>,
}

impl BlockingPublish<'_> {
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// See [`Publish::idempotency_key`](super::Publish::idempotency_key).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn to(self, channel: &str) -> Result<MessageId> {
        self.producer.send_keyed(channel, self.data, self.content_type.as_deref(), self.idempotency_key)
    }
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

    #[test]
    fn blocking_errors_are_typed() {
        let p = BlockingProducer::new(ProducerOptions::new().url("http://127.0.0.1:9")).unwrap();
        assert_eq!(p.publish("x").to("bad").unwrap_err().kind(), ErrorKind::InvalidChannel);
        assert_eq!(p.publish("x").to("/a").unwrap_err().kind(), ErrorKind::ConnectionFailed);
        p.close();
        assert_eq!(p.publish("x").to("/a").unwrap_err().kind(), ErrorKind::ConnectionFailed);
    }
}
