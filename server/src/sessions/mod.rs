//! Who is connected now: every subscriber connection registers here while it is open, under
//! its channels and its consumer id. The server API reads the counts (channel info) and ends
//! connections through it (disconnect); [`bans`] refuses a disconnected consumer's return.
//!
//! One lock, held for a few hash-map updates per connection: a long-poll registers once per
//! request, so this stays O(channels of the request).

pub mod bans;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use push_core::Channel;
use tokio::sync::Notify;

pub use bans::{Ban, Bans};

/// Connections and distinct consumer ids on one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Occupancy {
    pub connections: u64,
    pub consumers: u64,
}

impl std::ops::AddAssign for Occupancy {
    fn add_assign(&mut self, other: Occupancy) {
        self.connections += other.connections;
        self.consumers += other.consumers;
    }
}

pub struct Sessions {
    inner: Mutex<Inner>,
    pub bans: Bans,
}

#[derive(Default)]
struct Inner {
    channels: HashMap<Channel, ChannelSessions>,
    /// The connections of each consumer id, to end them on a disconnect.
    consumers: HashMap<Arc<str>, HashMap<u64, Arc<Kick>>>,
    next: u64,
}

#[derive(Default)]
struct ChannelSessions {
    connections: u64,
    consumers: HashMap<Arc<str>, u32>,
}

/// How a connection learns that it was disconnected, and why.
struct Kick {
    channels: Arc<[Channel]>,
    reason: OnceLock<Arc<str>>,
    notify: Notify,
}

impl Sessions {
    pub fn new(bans: Bans) -> Arc<Sessions> {
        Arc::new(Sessions { inner: Mutex::new(Inner::default()), bans })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection for as long as the returned [`Session`] lives.
    pub fn register(self: &Arc<Self>, consumer: Option<&str>, channels: &[Channel]) -> Session {
        let consumer: Option<Arc<str>> = consumer.map(Arc::from);
        let mut inner = self.lock();
        inner.next += 1;
        let id = inner.next;
        for channel in channels {
            let entry = match inner.channels.get_mut(channel) {
                Some(entry) => entry,
                None => inner.channels.entry(channel.clone()).or_default(),
            };
            entry.connections += 1;
            if let Some(c) = &consumer {
                *entry.consumers.entry(c.clone()).or_default() += 1;
            }
        }
        let kick = consumer.as_ref().map(|c| {
            let kick = Arc::new(Kick { channels: channels.into(), reason: OnceLock::new(), notify: Notify::new() });
            inner.consumers.entry(c.clone()).or_default().insert(id, kick.clone());
            kick
        });
        drop(inner);
        Session { sessions: self.clone(), id, consumer, channels: channels.into(), kick }
    }

    fn unregister(&self, session: &Session) {
        let mut inner = self.lock();
        for channel in session.channels.iter() {
            let Some(entry) = inner.channels.get_mut(channel) else { continue };
            entry.connections -= 1;
            if let Some(c) = &session.consumer {
                if let Some(n) = entry.consumers.get_mut(c) {
                    *n -= 1;
                    if *n == 0 {
                        entry.consumers.remove(c);
                    }
                }
            }
            if entry.connections == 0 {
                inner.channels.remove(channel);
            }
        }
        if let Some(c) = &session.consumer {
            if let Some(kicks) = inner.consumers.get_mut(c) {
                kicks.remove(&session.id);
                if kicks.is_empty() {
                    inner.consumers.remove(c);
                }
            }
        }
    }

    /// Ends the connections of `consumer` (those that include `channel`, if given) with
    /// `reason`; returns how many.
    pub fn disconnect(&self, consumer: &str, channel: Option<&Channel>, reason: &str) -> usize {
        let inner = self.lock();
        let Some(kicks) = inner.consumers.get(consumer) else { return 0 };
        let reason: Arc<str> = Arc::from(reason);
        let mut ended = 0;
        for kick in kicks.values() {
            if channel.is_some_and(|c| !kick.channels.contains(c)) {
                continue;
            }
            if kick.reason.set(reason.clone()).is_ok() {
                kick.notify.notify_waiters();
                ended += 1;
            }
        }
        ended
    }

    /// This node's connections on `channel`.
    pub fn occupancy(&self, channel: &Channel) -> Occupancy {
        self.lock().channels.get(channel).map(ChannelSessions::occupancy).unwrap_or_default()
    }

    /// Channels with connections on this node, named with `prefix` and sorting after `after`, in
    /// name order, at most `limit`.
    pub fn occupied(&self, prefix: &str, after: Option<&str>, limit: usize) -> Vec<(Channel, Occupancy)> {
        let inner = self.lock();
        let mut found: Vec<(Channel, Occupancy)> = inner
            .channels
            .iter()
            .filter(|(c, _)| c.as_str().starts_with(prefix) && after.is_none_or(|a| c.as_str() > a))
            .map(|(c, s)| (c.clone(), s.occupancy()))
            .collect();
        drop(inner);
        found.sort_unstable_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        found.truncate(limit);
        found
    }

    /// Every channel with connections on this node (what a node reports to the others).
    pub fn snapshot(&self) -> Vec<(Channel, Occupancy)> {
        self.lock().channels.iter().map(|(c, s)| (c.clone(), s.occupancy())).collect()
    }
}

impl ChannelSessions {
    fn occupancy(&self) -> Occupancy {
        Occupancy { connections: self.connections, consumers: self.consumers.len() as u64 }
    }
}

/// A registered connection; unregistered when dropped.
pub struct Session {
    sessions: Arc<Sessions>,
    id: u64,
    consumer: Option<Arc<str>>,
    channels: Arc<[Channel]>,
    kick: Option<Arc<Kick>>,
}

impl Session {
    /// Completes with the reason once the server API disconnects this connection's consumer
    /// (never for a connection without a consumer id).
    pub fn disconnected(&self) -> impl std::future::Future<Output = Arc<str>> + Send + 'static {
        let kick = self.kick.clone();
        async move {
            let Some(kick) = kick else { return std::future::pending().await };
            kick.wait().await
        }
    }
}

impl Kick {
    async fn wait(&self) -> Arc<str> {
        let kick = self;
        loop {
            let notified = kick.notify.notified();
            tokio::pin!(notified);
            // Armed before the check: a disconnect between the two still wakes it.
            notified.as_mut().enable();
            if let Some(reason) = kick.reason.get() {
                return reason.clone();
            }
            notified.await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.sessions.unregister(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn ch(name: &str) -> Channel {
        Channel::parse(name).unwrap()
    }

    #[test]
    fn counts_follow_connections() {
        let sessions = Sessions::new(Bans::in_memory());
        let a = sessions.register(Some("alice"), &[ch("/a"), ch("/b")]);
        let a2 = sessions.register(Some("alice"), &[ch("/a")]);
        let anon = sessions.register(None, &[ch("/a")]);
        assert_eq!(sessions.occupancy(&ch("/a")), Occupancy { connections: 3, consumers: 1 });
        assert_eq!(sessions.occupied("/", None, 10).len(), 2);
        assert_eq!(sessions.occupied("/", Some("/a"), 10)[0].0, ch("/b"));
        drop((a, a2, anon));
        assert_eq!(sessions.occupancy(&ch("/a")), Occupancy::default());
        assert!(sessions.snapshot().is_empty());
    }

    #[test]
    fn a_disconnect_ends_the_consumers_connections_on_the_channel() {
        let sessions = Sessions::new(Bans::in_memory());
        let on_a = sessions.register(Some("alice"), &[ch("/a")]);
        let on_b = sessions.register(Some("alice"), &[ch("/b")]);
        let bob = sessions.register(Some("bob"), &[ch("/a")]);
        assert_eq!(sessions.disconnect("alice", Some(&ch("/a")), "bye"), 1);
        assert_eq!(on_a.disconnected().now_or_never().as_deref(), Some("bye"));
        assert!(on_b.disconnected().now_or_never().is_none());
        assert!(bob.disconnected().now_or_never().is_none());
        assert_eq!(sessions.disconnect("alice", None, "all"), 1);
        assert_eq!(on_b.disconnected().now_or_never().as_deref(), Some("all"));
        assert_eq!(sessions.disconnect("nobody", None, "x"), 0);
    }
}
