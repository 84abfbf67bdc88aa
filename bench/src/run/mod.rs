//! `push-bench run`: one scenario against one server, phase by phase: connect the subscribers
//! and wait until they are ready, publish, wait for the deliveries, report.

pub mod args;
mod connect;
mod deliver;
mod gauge;
mod progress;
mod report;
mod server_usage;

use std::time::{Duration, Instant};

use args::RunArgs;
use server_usage::ServerUsage;

use crate::error::BoxError;
use crate::publisher::{self, PubSpec};
use crate::{fd_limit, result_file};

pub async fn run(a: RunArgs) -> Result<(), BoxError> {
    if a.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    let limit = fd_limit::current();
    if (a.subscribers + a.pub_concurrency + 64) as u64 > limit {
        return Err(format!("{} subscribers need more open files than the limit {limit}", a.subscribers).into());
    }
    // The run's clock: payloads carry publish times on it, subscribers compare their receive times.
    let base = Instant::now();
    let prefix = a.channel_prefix.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        format!("b{secs}")
    });
    let mut usage = ServerUsage::start(a.server_pid);
    eprintln!(
        "[{}] {} / {}: {} subscribers over {:?} on {} channel(s), {} messages of {} B",
        a.server, a.scenario, prefix, a.subscribers, a.transport, a.channels, a.messages, a.payload_bytes
    );

    let mut subs = connect::connect(&a, &prefix, base).await?;
    let ready_gauge = match (&a.ready_gauge_url, &a.ready_gauge) {
        (Some(url), Some(line)) => Some(gauge::wait(url, line, subs.connected, a.ready_gauge_timeout_secs).await),
        _ => None,
    };
    tokio::time::sleep(Duration::from_millis(a.settle_ms)).await;
    if a.hold_secs > 0 {
        eprintln!("  holding {} s idle", a.hold_secs);
        tokio::time::sleep(Duration::from_secs(a.hold_secs)).await;
    }
    usage.idle();

    usage.publishing();
    let spec = PubSpec {
        url: a.pub_url.clone(),
        prefix,
        channels: a.channels,
        messages: a.messages,
        payload_bytes: a.payload_bytes,
        rate: a.rate,
        concurrency: a.pub_concurrency,
        timeout: Duration::from_secs(a.publish_timeout_secs),
    };
    let publishing = publisher::start(spec, base)?;
    let progress = progress::delivering(subs.shared.clone(), publishing.counters.clone(), subs.expected_total, publishing.start);
    let published = publishing.finish().await?;

    deliver::wait(&subs, a.deliver_timeout_secs).await;
    usage.delivered();
    deliver::linger(&subs).await;
    progress.abort();
    usage.end();
    let delivered = subs.stop().await;
    usage.stop_sampling();

    let result = report::result(&a, &subs, published, delivered, ready_gauge, &usage);
    report::summary(&result);
    if let Some(path) = &a.out {
        result_file::write(path, &result)?;
    }
    Ok(())
}
