//! Events to the app (`--events-url`, docs/PRESENCE.md): a bounded queue, and one task that
//! POSTs it in signed batches, one at a time so the app gets them in order, and retries a
//! failed batch as it was (same ids) with backoff.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use push_core::message::now_millis;
use push_core::webhook::{self, Batch, Event};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::PresenceMetrics;

/// Most events in one POST.
pub const PER_BATCH: usize = 100;
/// Backoff between attempts at a failed batch: from the first to the last value, doubling.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(30));
/// Drops are logged at most this often.
const LOG_DROPS_EVERY: Duration = Duration::from_secs(60);

pub struct Events {
    queue: Mutex<Queue>,
    wake: Notify,
    max: usize,
    max_age: Duration,
    metrics: PresenceMetrics,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<(Instant, Event)>,
    dropped_since_log: u64,
    logged_at: Option<Instant>,
}

impl Events {
    /// The queue and its sender task, when `--events-url` is set.
    pub fn start(config: &Config, metrics: PresenceMetrics, stop: CancellationToken) -> Option<std::sync::Arc<Events>> {
        let url = config.events_url.clone()?;
        let secret = config.events_secret().expect("checked by Config::validate").as_bytes().to_vec();
        let events = std::sync::Arc::new(Events {
            queue: Mutex::default(),
            wake: Notify::new(),
            max: config.events_queue,
            max_age: config.events_max_age,
            metrics,
        });
        let client = client(config, &url);
        tokio::spawn(send(events.clone(), client, url, secret, stop));
        Some(events)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event with a new id; dropped (counted, logged) when the queue is full.
    pub fn push(&self, name: &'static str, fill: impl FnOnce(&mut Event)) {
        let mut event = Event {
            id: push_core::idempotency::new_key(),
            name: name.to_owned(),
            channel: None,
            consumer: None,
            info: None,
            message_id: None,
            time_ms: now_millis(),
        };
        fill(&mut event);
        let mut queue = self.lock();
        if queue.events.len() >= self.max {
            self.dropped(&mut queue, 1, "the queue is full (--events-queue)");
            return;
        }
        queue.events.push_back((Instant::now(), event));
        self.metrics.events_queued.set(queue.events.len() as i64);
        drop(queue);
        self.wake.notify_one();
    }

    fn dropped(&self, queue: &mut Queue, n: u64, why: &str) {
        self.metrics.events_dropped.inc_by(n);
        queue.dropped_since_log += n;
        if queue.logged_at.is_none_or(|at| at.elapsed() >= LOG_DROPS_EVERY) {
            tracing::warn!(dropped = queue.dropped_since_log, "events to the app dropped: {why}");
            queue.dropped_since_log = 0;
            queue.logged_at = Some(Instant::now());
        }
    }

    /// The next batch: the oldest events, at most [`PER_BATCH`], after dropping those too old.
    fn batch(&self) -> Vec<Event> {
        let mut queue = self.lock();
        let stale = queue.events.iter().take_while(|(at, _)| at.elapsed() > self.max_age).count();
        if stale > 0 {
            queue.events.drain(..stale);
            self.dropped(&mut queue, stale as u64, "not sent within --events-max-age");
        }
        queue.events.iter().take(PER_BATCH).map(|(_, e)| e.clone()).collect()
    }

    /// The first `n` events were sent.
    fn sent(&self, ids: &[String]) {
        let mut queue = self.lock();
        // Only those still at the front: some may have been dropped as too old meanwhile.
        while queue.events.front().is_some_and(|(_, e)| ids.contains(&e.id)) {
            queue.events.pop_front();
        }
        self.metrics.events_queued.set(queue.events.len() as i64);
        self.metrics.events_sent.inc_by(ids.len() as u64);
    }
}

fn client(config: &Config, url: &str) -> reqwest::Client {
    push_core::tls::ensure_provider();
    let mut builder = reqwest::Client::builder()
        .timeout(config.events_timeout)
        .connect_timeout(config.events_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("push-server/", env!("CARGO_PKG_VERSION")));
    if url.starts_with("https://") {
        // Checked by Config::validate; should it fail now, nothing is trusted and every POST
        // fails (and is retried), never sent unchecked.
        let tls = config.auth_tls().unwrap_or_else(|e| {
            tracing::error!("--events-url: {e}; events will not be delivered");
            push_core::tls::client_config_with_roots(rustls::RootCertStore::empty()).expect("a TLS client with no roots builds")
        });
        builder = builder.tls_backend_preconfigured(tls);
    }
    builder.build().expect("an HTTP client builds")
}

async fn send(events: std::sync::Arc<Events>, client: reqwest::Client, url: String, secret: Vec<u8>, stop: CancellationToken) {
    let mut backoff = BACKOFF.0;
    loop {
        let batch = events.batch();
        if batch.is_empty() {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = events.wake.notified() => continue,
            }
        }
        let ids: Vec<String> = batch.iter().map(|e| e.id.clone()).collect();
        let body = serde_json::to_vec(&Batch { events: batch }).expect("events serialize");
        let signature = webhook::sign(&secret, now_millis() / 1000, &body);
        let attempt = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(webhook::SIGNATURE_HEADER, signature)
            .body(body)
            .send();
        let failure = tokio::select! {
            _ = stop.cancelled() => return,
            answer = attempt => match answer {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("it answered {}", r.status())),
                Err(e) if e.is_timeout() => Some("no answer within --events-timeout".to_owned()),
                Err(e) => Some(format!("unreachable: {e}")),
            },
        };
        match failure {
            None => {
                events.sent(&ids);
                backoff = BACKOFF.0;
            }
            Some(why) => {
                events.metrics.events_failed.inc();
                tracing::warn!(url = %url, events = ids.len(), "events not accepted by the app ({why}); retrying in {backoff:?}");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}
