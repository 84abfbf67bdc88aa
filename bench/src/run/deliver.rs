//! Last phase: wait for the deliveries after the last publish, then stop the subscribers and
//! gather what each one received.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::connect::Subscribers;

/// What the subscribers received, summed.
pub struct Delivered {
    pub received: u64,
    /// Messages a ready subscriber expected and never got.
    pub lost: u64,
    pub latencies_us: Vec<u32>,
}

/// Until everything arrived, `timeout_secs`, or 5 s without any delivery (failed subscribers).
pub async fn wait(subs: &Subscribers, timeout_secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let (mut seen, mut seen_at) = (u64::MAX, Instant::now());
    while subs.connected > 0 && Instant::now() < deadline {
        let now_received = subs.shared.received.load(Ordering::Relaxed);
        if now_received >= subs.expected_total || seen_at.elapsed() > Duration::from_secs(5) {
            break;
        }
        if now_received != seen {
            (seen, seen_at) = (now_received, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Late duplicates have a moment to show up.
pub async fn linger(subs: &Subscribers) {
    if subs.connected > 0 {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

impl Subscribers {
    /// Ends every subscriber and sums what they received.
    pub async fn stop(&mut self) -> Delivered {
        let _ = self.stop.send(true);
        let mut delivered = Delivered { received: 0, lost: 0, latencies_us: Vec::with_capacity(self.expected_total as usize) };
        for h in std::mem::take(&mut self.handles) {
            if let Ok(r) = h.await {
                delivered.received += r.received as u64;
                if r.ready {
                    delivered.lost += (r.expected - r.received) as u64;
                }
                delivered.latencies_us.extend(r.latencies_us);
            }
        }
        delivered
    }
}
