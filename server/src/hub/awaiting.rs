//! Publishes waiting for their own message to come back through the log, by idempotency digest.
//!
//! On RabbitMQ a node learns a message's id only when its stream reader hands the message to
//! the hub; the hub wakes the waiting publish right there ([`Hub::ingest_keyed`]), beside the
//! idempotency window that decides first copies. Bounded by the publishes in flight, which the
//! server's connection limit bounds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use push_core::broker::Published;
use tokio::sync::oneshot;

/// One waiting publish: the call's name in the copies it sends, and where its answer goes.
struct Waiter {
    sender: Option<Box<str>>,
    tx: oneshot::Sender<Published>,
}

/// Several publishes may share a key, and so a digest.
#[derive(Default)]
pub(super) struct Awaiting {
    waiters: Mutex<HashMap<Box<str>, Vec<Waiter>>>,
    /// Publishes registered now: ingesting skips the lock when none wait.
    count: AtomicUsize,
}

impl Awaiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Vec<Waiter>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn register(&self, digest: &str, sender: Option<&str>) -> Awaited<'_> {
        let (tx, rx) = oneshot::channel();
        self.lock().entry(digest.into()).or_default().push(Waiter { sender: sender.map(Box::from), tx });
        self.count.fetch_add(1, Ordering::AcqRel);
        Awaited { awaiting: self, digest: digest.into(), rx: Some(rx) }
    }

    /// Hands `published` (a copy sent by `sender`) to every publish waiting on `digest`. A first
    /// copy sent by another named call is a replay for a named waiter: its own copy comes later.
    pub(super) fn wake(&self, digest: &str, sender: Option<&str>, published: Published) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        if let Some(list) = self.lock().remove(digest) {
            for waiter in list {
                let someone_elses = waiter.sender.as_deref().is_some_and(|own| Some(own) != sender);
                let _ = waiter.tx.send(Published { replayed: published.replayed || someone_elses, ..published });
            }
        }
    }

    /// Ends every wait (the hub is closing): the publishes fail instead of timing out.
    pub(super) fn close(&self) {
        self.lock().clear();
    }
}

/// One publish's wait; unregisters however the publish ends.
pub struct Awaited<'a> {
    awaiting: &'a Awaiting,
    digest: Box<str>,
    rx: Option<oneshot::Receiver<Published>>,
}

impl Awaited<'_> {
    /// The id the log gave the message; `None` if the hub closed first.
    pub async fn id(&mut self) -> Option<Published> {
        self.rx.as_mut()?.await.ok()
    }
}

impl Drop for Awaited<'_> {
    fn drop(&mut self) {
        drop(self.rx.take());
        self.awaiting.count.fetch_sub(1, Ordering::AcqRel);
        let mut waiters = self.awaiting.lock();
        if let Some(list) = waiters.get_mut(&self.digest) {
            list.retain(|w| !w.tx.is_closed());
            if list.is_empty() {
                waiters.remove(&self.digest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use push_core::MessageId;

    #[tokio::test]
    async fn wakes_every_publish_of_a_digest_and_forgets_the_rest() {
        let awaiting = Awaiting::default();
        let (mut a, mut b, c) = (awaiting.register("d1", Some("a")), awaiting.register("d1", Some("b")), awaiting.register("d2", None));
        awaiting.wake("d1", Some("a"), Published { id: MessageId(7), replayed: false });
        // The first copy was a's: new for a, a replay for b (whose own copy comes later).
        assert_eq!(a.id().await, Some(Published { id: MessageId(7), replayed: false }));
        assert_eq!(b.id().await, Some(Published { id: MessageId(7), replayed: true }));
        drop(c);
        drop((a, b));
        assert!(awaiting.lock().is_empty());
        assert_eq!(awaiting.count.load(Ordering::Acquire), 0);
    }
}
