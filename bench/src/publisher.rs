//! The publisher: `concurrency` connections POST the messages, round-robin over the channels, at
//! a pace (`rate`) or back to back. Each payload carries its publish time on the run's clock, so
//! the subscribers measure delivery latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::error::BoxError;

pub struct PubSpec {
    /// URL template; `{channel}` becomes `<prefix>-<channel number>`.
    pub url: String,
    pub prefix: String,
    pub channels: u64,
    pub messages: u64,
    pub payload_bytes: usize,
    /// Messages per second in total (0: back to back).
    pub rate: f64,
    pub concurrency: usize,
    /// Longest time for the whole publishing phase.
    pub timeout: Duration,
}

/// Shared by the publishing connections (and read by the progress printer).
#[derive(Default)]
pub struct Counters {
    /// The next message number to take.
    next: AtomicU64,
    pub published: AtomicU64,
    errors: AtomicU64,
}

/// Publishing connections at work.
pub struct Publishing {
    pub start: Instant,
    /// `start` on the run's clock, µs.
    pub start_us: u64,
    pub counters: Arc<Counters>,
    workers: Vec<JoinHandle<Vec<u32>>>,
}

pub struct Published {
    pub ok: u64,
    pub errors: u64,
    pub secs: f64,
    pub latencies_us: Vec<u32>,
    pub start_us: u64,
}

/// `PB|<seq>|<publish time µs>|`, padded with `x` to `size` bytes (what the subscribers scan for).
pub fn payload(seq: u64, sent_us: u64, size: usize) -> String {
    let mut p = format!("PB|{seq}|{sent_us}|");
    if p.len() < size {
        p.push_str(&"x".repeat(size - p.len()));
    }
    p
}

/// Starts the publishing connections; `base` is the run's clock.
pub fn start(spec: PubSpec, base: Instant) -> Result<Publishing, BoxError> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?;
    let counters = Arc::new(Counters::default());
    let start_us = base.elapsed().as_micros() as u64;
    let start = Instant::now();
    let spec = Arc::new(spec);
    let workers = (0..spec.concurrency.max(1))
        .map(|_| tokio::spawn(worker(spec.clone(), client.clone(), counters.clone(), base, start)))
        .collect();
    Ok(Publishing { start, start_us, counters, workers })
}

impl Publishing {
    /// Waits until every message is published (or failed) or the phase timed out.
    pub async fn finish(self) -> Result<Published, BoxError> {
        let mut latencies_us = Vec::new();
        for w in self.workers {
            latencies_us.extend(w.await?);
        }
        Ok(Published {
            ok: self.counters.published.load(Ordering::Relaxed),
            errors: self.counters.errors.load(Ordering::Relaxed),
            secs: self.start.elapsed().as_secs_f64(),
            latencies_us,
            start_us: self.start_us,
        })
    }
}

/// One connection: takes the next message number until none is left; returns the latencies of
/// its successful publishes, µs.
async fn worker(spec: Arc<PubSpec>, client: reqwest::Client, counters: Arc<Counters>, base: Instant, start: Instant) -> Vec<u32> {
    let deadline = start + spec.timeout;
    let mut lat = Vec::new();
    let mut logged = 0;
    loop {
        let i = counters.next.fetch_add(1, Ordering::Relaxed);
        if i >= spec.messages || Instant::now() > deadline {
            return lat;
        }
        if spec.rate > 0.0 {
            tokio::time::sleep_until((start + Duration::from_secs_f64(i as f64 / spec.rate)).into()).await;
        }
        let url = spec.url.replace("{channel}", &format!("{}-{}", spec.prefix, i % spec.channels));
        let t0 = base.elapsed().as_micros() as u64;
        if post(&client, &url, payload(i, t0, spec.payload_bytes), &mut logged).await {
            counters.published.fetch_add(1, Ordering::Relaxed);
            lat.push(((base.elapsed().as_micros() as u64) - t0).min(u32::MAX as u64) as u32);
        } else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One publish; true on a 2xx. The first 3 failures of a connection are logged.
async fn post(client: &reqwest::Client, url: &str, body: String, logged: &mut u32) -> bool {
    match client.post(url).body(body).send().await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            if !ok && *logged < 3 {
                *logged += 1;
                eprintln!("  publish {url}: status {}", resp.status());
            }
            let _ = resp.bytes().await;
            ok
        }
        Err(e) => {
            if *logged < 3 {
                *logged += 1;
                eprintln!("  publish {url}: {e}");
            }
            false
        }
    }
}
