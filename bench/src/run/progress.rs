//! Progress lines on stderr while a run connects, publishes and waits for deliveries.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::publisher::Counters;
use crate::subscriber::Shared;

/// `started` of `total` subscribers started connecting at `t0`.
pub fn connecting(total: usize, shared: &Shared, started: usize, t0: Instant) {
    eprintln!(
        "  {:>5.1}s connecting: started {started}/{total} ready {} errors {}",
        t0.elapsed().as_secs_f64(),
        shared.connected.load(Ordering::Relaxed),
        shared.connect_errors.load(Ordering::Relaxed),
    );
}

/// A line a second from `start` of publishing until the handle is aborted.
pub fn delivering(shared: Arc<Shared>, publishing: Arc<Counters>, expected_total: u64, start: Instant) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "  {:>5.1}s published {} delivered {}/{} dup {} disconnects {}",
                start.elapsed().as_secs_f64(),
                publishing.published.load(Ordering::Relaxed),
                shared.received.load(Ordering::Relaxed),
                expected_total,
                shared.duplicates.load(Ordering::Relaxed),
                shared.disconnects.load(Ordering::Relaxed),
            );
        }
    })
}
