//! Retention (`--retention-age`, `--retention-bytes`): removes the oldest entries in the
//! background, a bounded chunk per commit so publishes interleave. What it removed reads as a
//! gap for a cursor before it.

use std::sync::Arc;
use std::time::Duration;

use push_core::message::now_millis;

use super::Shared;

/// How often retention runs, and the most entries one of its commits removes.
const RETENTION_EVERY: Duration = Duration::from_secs(1);
const RETENTION_CHUNK: usize = 10_000;

/// Removes what retention no longer keeps, a chunk per commit, every [`RETENTION_EVERY`].
pub(super) fn spawn_retention(shared: &Arc<Shared>) {
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
