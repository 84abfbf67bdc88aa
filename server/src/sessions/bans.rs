//! Bans: a disconnected consumer refused for a while (the server API's `ban`), on one channel or
//! all. Bounded ([`MAX_BANS`]: the soonest to end goes first when full) and expired lazily. With
//! `--data-dir` they are written to `bans.json` there, so they outlive a restart; on RabbitMQ
//! nodes pass them on to each other (see `crate::cluster`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use push_core::message::now_millis;
use push_core::{Channel, Error, ErrorKind, Result};

/// Most bans a node holds.
pub const MAX_BANS: usize = 100_000;
/// Longest ban, in seconds.
pub const MAX_BAN_SECS: u64 = 86_400;

/// One ban: `consumer` may not subscribe (to `channel`, or at all) before `until`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ban {
    pub consumer: String,
    pub channel: Option<Channel>,
    /// Milliseconds since the Unix epoch.
    pub until: u64,
    pub reason: String,
}

type Key = (Arc<str>, Option<Channel>);

pub struct Bans {
    held: Mutex<HashMap<Key, Ban>>,
    file: Option<PathBuf>,
}

impl Bans {
    /// Bans kept in memory only.
    pub fn in_memory() -> Bans {
        Bans { held: Mutex::new(HashMap::new()), file: None }
    }

    /// Bans kept in `file` too, starting with what it holds (a missing file holds none).
    pub fn in_file(file: PathBuf) -> Result<Bans> {
        let bans = Bans { held: Mutex::new(HashMap::new()), file: Some(file.clone()) };
        match std::fs::read(&file) {
            Ok(bytes) => {
                let list: Vec<Ban> = serde_json::from_slice(&bytes).map_err(|e| {
                    Error::new(ErrorKind::InvalidConfig, format!("{} is not a list of bans ({e}); move it away to start without them", file.display()))
                })?;
                for ban in list {
                    bans.add(ban);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::new(ErrorKind::InvalidConfig, format!("cannot read {}: {e}", file.display())).with_source(e)),
        }
        Ok(bans)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Ban>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a ban (or lengthens one); returns whether anything changed. Past [`MAX_BANS`] the
    /// expired go, then the one that ends soonest.
    pub fn add(&self, ban: Ban) -> bool {
        let now = now_millis();
        if ban.until <= now {
            return false;
        }
        let key: Key = (Arc::from(ban.consumer.as_str()), ban.channel.clone());
        let mut held = self.lock();
        if held.get(&key).is_some_and(|old| old.until >= ban.until) {
            return false;
        }
        if !held.contains_key(&key) && held.len() >= MAX_BANS {
            held.retain(|_, b| b.until > now);
            if held.len() >= MAX_BANS {
                let soonest = held.iter().min_by_key(|(_, b)| b.until).map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    held.remove(&k);
                }
            }
        }
        held.insert(key, ban);
        true
    }

    /// The ban that refuses `consumer` on any of `channels`, if one does now.
    pub fn check(&self, consumer: &str, channels: &[Channel]) -> Option<Ban> {
        let held = self.lock();
        if held.is_empty() {
            return None;
        }
        let now = now_millis();
        let consumer: Arc<str> = Arc::from(consumer);
        std::iter::once(None)
            .chain(channels.iter().cloned().map(Some))
            .filter_map(|channel| held.get(&(consumer.clone(), channel)))
            .find(|b| b.until > now)
            .cloned()
    }

    /// The bans in force.
    pub fn list(&self) -> Vec<Ban> {
        let now = now_millis();
        self.lock().values().filter(|b| b.until > now).cloned().collect()
    }

    /// Writes the bans in force to the file, if there is one (replaced whole, atomically).
    pub async fn save(&self) -> Result<()> {
        let Some(file) = self.file.clone() else { return Ok(()) };
        let list = self.list();
        let write = move || {
            let tmp = file.with_extension("json.tmp");
            std::fs::write(&tmp, serde_json::to_vec(&list).expect("bans serialize"))?;
            std::fs::rename(&tmp, &file)
        };
        tokio::task::spawn_blocking(write)
            .await
            .map_err(|e| Error::new(ErrorKind::ServerError, format!("saving bans failed: {e}")))?
            .map_err(|e| Error::new(ErrorKind::Overloaded, format!("cannot write the bans file: {e}")).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(consumer: &str, channel: Option<&str>, secs: u64) -> Ban {
        Ban { consumer: consumer.into(), channel: channel.map(|c| Channel::parse(c).unwrap()), until: now_millis() + secs * 1000, reason: "r".into() }
    }

    #[test]
    fn a_ban_covers_its_channel_or_all() {
        let bans = Bans::in_memory();
        let a = [Channel::parse("/a").unwrap()];
        let b = [Channel::parse("/b").unwrap()];
        assert!(bans.add(ban("alice", Some("/a"), 60)));
        assert!(bans.check("alice", &a).is_some());
        assert!(bans.check("alice", &b).is_none());
        assert!(bans.check("bob", &a).is_none());
        assert!(bans.add(ban("bob", None, 60)));
        assert!(bans.check("bob", &b).is_some());
        assert!(!bans.add(ban("bob", None, 30)), "a shorter ban changes nothing");
        assert!(!bans.add(Ban { until: 1, ..ban("carol", None, 0) }), "an ended ban is not added");
    }

    #[tokio::test]
    async fn bans_in_a_file_outlive_the_process() {
        let dir = std::env::temp_dir().join(format!("push-bans-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bans.json");
        let bans = Bans::in_file(file.clone()).unwrap();
        bans.add(ban("alice", None, 60));
        bans.save().await.unwrap();
        let again = Bans::in_file(file).unwrap();
        assert!(again.check("alice", &[]).is_some());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
