//! First phase: connect the subscribers, `--connect-concurrency` attempts at a time, and wait
//! until each one is ready or failed (or `--connect-timeout-secs` passed).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::args::RunArgs;
use super::progress;
use crate::error::BoxError;
use crate::subscriber::{self, Shared, SubResult, SubSpec};

/// The subscriber tasks, and how their connecting went.
pub struct Subscribers {
    pub shared: Arc<Shared>,
    /// Flipped to true to end every subscriber.
    pub(super) stop: watch::Sender<bool>,
    pub(super) handles: Vec<JoinHandle<SubResult>>,
    /// Messages all subscribers together should receive.
    pub expected_total: u64,
    pub connected: u64,
    pub connect_errors: u64,
    pub not_ready: u64,
    pub connect_secs: f64,
}

/// Subscriber j listens to channel j % channels, named `<prefix>-<number>`, at the URL with
/// `{channel}` and `{subscriber}` (j) filled in; `base` is the run's clock.
pub async fn connect(a: &RunArgs, prefix: &str, base: Instant) -> Result<Subscribers, BoxError> {
    // Streams hold one connection each. Polling subscribers reuse keep-alive connections from the
    // pool, as browsers do (one new TCP connection per poll would measure connection setup).
    let sub_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(if a.transport.is_polling() { usize::MAX } else { 0 })
        .tcp_nodelay(true)
        .build()?;
    let shared = Arc::new(Shared::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let gate = Arc::new(Semaphore::new(a.connect_concurrency.max(1)));
    let mut expected_total: u64 = 0;
    let mut handles = Vec::with_capacity(a.subscribers);
    let connect_start = Instant::now();
    for j in 0..a.subscribers {
        let c = j as u64 % a.channels;
        let expected = (a.messages / a.channels + u64::from(c < a.messages % a.channels)) as usize;
        expected_total += expected as u64;
        let channel = format!("{prefix}-{c}");
        let spec = SubSpec {
            index: j,
            url: a.sub_url.replace("{channel}", &channel).replace("{subscriber}", &j.to_string()),
            channel,
            channel_no: c,
            channels: a.channels,
            expected,
            transport: a.transport,
            ws_wait_first_frame: a.ws_wait_first_frame,
        };
        // A connect permit is held until this subscriber is ready or failed.
        let permit = gate.clone().acquire_owned().await?;
        let (client, shared2, stop) = (sub_client.clone(), shared.clone(), stop_rx.clone());
        handles.push(tokio::spawn(subscriber::run(spec, client, base, shared2, stop, permit)));
        if j % 1000 == 999 {
            progress::connecting(a.subscribers, &shared, j + 1, connect_start);
        }
    }
    wait_until_settled(a, &shared, connect_start).await;
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let connected = shared.connected.load(Ordering::Relaxed);
    let connect_errors = shared.connect_errors.load(Ordering::Relaxed);
    let not_ready = a.subscribers as u64 - connected - connect_errors;
    eprintln!(
        "  connected {connected}/{} in {connect_secs:.2}s ({connect_errors} errors, {not_ready} not ready)",
        a.subscribers
    );
    Ok(Subscribers { shared, stop: stop_tx, handles, expected_total, connected, connect_errors, not_ready, connect_secs })
}

/// Until every subscriber is ready or failed, or the connect timeout.
async fn wait_until_settled(a: &RunArgs, shared: &Shared, connect_start: Instant) {
    let deadline = Instant::now() + Duration::from_secs(a.connect_timeout_secs);
    let mut last_print = Instant::now();
    loop {
        let done = shared.connected.load(Ordering::Relaxed) + shared.connect_errors.load(Ordering::Relaxed);
        if done >= a.subscribers as u64 || Instant::now() > deadline {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(1) {
            progress::connecting(a.subscribers, shared, a.subscribers, connect_start);
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
