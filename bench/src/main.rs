//! push-bench: one load generator for push-rs and its peers.
//!
//! `push-bench run` drives N subscribers (SSE, WebSocket, socket.io, push-rs long-poll, push-rs
//! JSON batch or Nchan long-poll) on C channels of any server named by URL templates, publishes M
//! messages over HTTP POST, and measures delivery latency (the publish time is in the payload;
//! publisher and subscribers share this process's monotonic clock), deliveries per second, lost
//! and duplicated messages, gaps, connect errors, and the server's memory and CPU time from /proc.
//! `push-bench table` prints the side-by-side table of several result files; `push-bench check`
//! fails when any of them lost, duplicated or missed something. See docs/benchmarks.md.

mod cpu;
mod mem;
mod subscriber;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};

use subscriber::{Shared, SubSpec, Transport};

#[derive(Parser)]
#[command(name = "push-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run one scenario against one server and write a JSON result.
    Run(Box<RunArgs>),
    /// Print the side-by-side table of result files (push-rs first, then peers with ratios).
    Table {
        /// Result files written by `run` (`--out`).
        files: Vec<PathBuf>,
        /// The server the ratios are relative to.
        #[arg(long, default_value = "push-rs")]
        baseline: String,
    },
    /// Exit 1 unless every result file has every message delivered exactly once: no loss, no
    /// duplicate, no gap, no connect or publish error, every subscriber ready (CI smoke test).
    Check {
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Label of the server under test (push-rs, nchan, socket.io, ...).
    #[arg(long, default_value = "push-rs")]
    server: String,
    /// Label of the scenario (used by `table` to group rows).
    #[arg(long, default_value = "custom")]
    scenario: String,
    /// Subscriber URL template; `{channel}` is replaced by the channel name. For socket.io this is
    /// the engine.io URL and the channel is the room.
    #[arg(long, default_value = "http://127.0.0.1:4000/bench/{channel}")]
    sub_url: String,
    /// Publish URL template (HTTP POST, body = payload).
    #[arg(long, default_value = "http://127.0.0.1:4000/bench/{channel}")]
    pub_url: String,
    #[arg(long, value_enum, default_value = "sse")]
    transport: Transport,
    /// WebSocket: a subscriber is ready at its first frame, not at the handshake (push-rs).
    #[arg(long)]
    ws_wait_first_frame: bool,
    /// Subscribers (connections).
    #[arg(long, default_value_t = 1)]
    subscribers: usize,
    /// Channels; subscriber j listens to channel j % channels, message i goes to i % channels.
    #[arg(long, default_value_t = 1)]
    channels: u64,
    /// Messages to publish.
    #[arg(long, default_value_t = 100)]
    messages: u64,
    #[arg(long, default_value_t = 100)]
    payload_bytes: usize,
    /// Publishing connections working at once.
    #[arg(long, default_value_t = 1)]
    pub_concurrency: usize,
    /// Messages per second in total (0: back to back).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Longest wait for all subscribers to connect.
    #[arg(long, default_value_t = 120)]
    connect_timeout_secs: u64,
    /// Wait after the last subscriber connected, before measuring idle memory and publishing.
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,
    /// Keep the subscribers idle this long before publishing (idle-memory scenario).
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
    /// Longest wait for deliveries after the last publish.
    #[arg(long, default_value_t = 30)]
    deliver_timeout_secs: u64,
    /// Longest time for the publishing phase.
    #[arg(long, default_value_t = 300)]
    publish_timeout_secs: u64,
    /// Pid of the server process (its direct children are included: nginx workers).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Before publishing, poll this URL (plain text: Prometheus metrics, `nchan_stub_status`)
    /// until the gauge named by `--ready-gauge` reaches the number of ready subscribers: for
    /// polling transports, proof that the server holds every poll.
    #[arg(long, requires = "ready_gauge")]
    ready_gauge_url: Option<String>,
    /// Start of the gauge's line, the value follows: `push_connections{transport="long-poll"}`,
    /// `subscribers:`.
    #[arg(long)]
    ready_gauge: Option<String>,
    /// Longest wait for `--ready-gauge` (then the run goes on and records that it was not reached).
    #[arg(long, default_value_t = 30)]
    ready_gauge_timeout_secs: u64,
    /// Channel name prefix (default: b<unix time>, so runs never share channels).
    #[arg(long)]
    channel_prefix: Option<String>,
    /// Write the JSON result here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Free-form note stored in the result.
    #[arg(long, default_value = "")]
    note: String,
}

fn main() {
    raise_nofile();
    // reqwest is built without a rustls provider of its own (push-core picks ring).
    push_core::tls::ensure_provider();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(args) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            let result = rt.block_on(run(*args));
            // Dropping 10k connections at once is fine; don't wait for graceful closes.
            rt.shutdown_timeout(Duration::from_secs(2));
            if let Err(e) = result {
                eprintln!("push-bench: {e}");
                std::process::exit(1);
            }
        }
        Cmd::Table { files, baseline } => {
            if let Err(e) = table(&files, &baseline) {
                eprintln!("push-bench: {e}");
                std::process::exit(1);
            }
        }
        Cmd::Check { files } => match check(&files) {
            Ok(true) => {}
            Ok(false) => std::process::exit(1),
            Err(e) => {
                eprintln!("push-bench: {e}");
                std::process::exit(2);
            }
        },
    }
}

/// Soft RLIMIT_NOFILE up to the hard limit (20,000 here): 10k subscribers need 10k sockets.
fn raise_nofile() {
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn nofile() -> u64 {
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn payload(seq: u64, sent_us: u64, size: usize) -> String {
    let mut p = format!("PB|{seq}|{sent_us}|");
    if p.len() < size {
        p.push_str(&"x".repeat(size - p.len()));
    }
    p
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn latency_json(mut v: Vec<u32>) -> Value {
    v.sort_unstable();
    json!({
        "count": v.len(),
        "p50_ms": percentile(&v, 0.50),
        "p90_ms": percentile(&v, 0.90),
        "p99_ms": percentile(&v, 0.99),
        "max_ms": v.last().map(|x| *x as f64 / 1000.0),
        "mean_ms": if v.is_empty() { f64::NAN } else { v.iter().map(|x| *x as f64).sum::<f64>() / v.len() as f64 / 1000.0 },
    })
}

async fn run(a: RunArgs) -> Result<(), BoxError> {
    if a.channels == 0 {
        return Err("--channels must be at least 1".into());
    }
    let limit = nofile();
    if (a.subscribers + a.pub_concurrency + 64) as u64 > limit {
        return Err(format!("{} subscribers need more open files than the limit {limit}", a.subscribers).into());
    }
    let base = Instant::now();
    let prefix = a.channel_prefix.clone().unwrap_or_else(|| {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        format!("b{secs}")
    });
    let channel_name = |c: u64| format!("{prefix}-{c}");
    let pids = a.server_pid.map(mem::with_children).unwrap_or_default();
    let peak = Arc::new(Mutex::new(mem::Peak::default()));
    let sampler = mem::sample(pids.clone(), peak.clone());
    let mem_before = mem::read(&pids);
    let cpu_start = cpu::ticks(&pids);

    eprintln!(
        "[{}] {} / {}: {} subscribers over {:?} on {} channel(s), {} messages of {} B",
        a.server, a.scenario, prefix, a.subscribers, a.transport, a.channels, a.messages, a.payload_bytes
    );

    // --- connect ---------------------------------------------------------------------------
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
        let channel = channel_name(c);
        let spec = SubSpec {
            index: j,
            url: a.sub_url.replace("{channel}", &channel),
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
            progress_connect(&a, &shared, j + 1, connect_start);
        }
    }
    // wait for every subscriber to be ready or failed
    let deadline = Instant::now() + Duration::from_secs(a.connect_timeout_secs);
    let mut last_print = Instant::now();
    loop {
        let done = shared.connected.load(Ordering::Relaxed) + shared.connect_errors.load(Ordering::Relaxed);
        if done >= a.subscribers as u64 || Instant::now() > deadline {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(1) {
            progress_connect(&a, &shared, a.subscribers, connect_start);
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let connected = shared.connected.load(Ordering::Relaxed);
    let connect_errors = shared.connect_errors.load(Ordering::Relaxed);
    let not_ready = a.subscribers as u64 - connected - connect_errors;
    eprintln!(
        "  connected {connected}/{} in {connect_secs:.2}s ({connect_errors} errors, {not_ready} not ready)",
        a.subscribers
    );
    let ready_gauge = match (&a.ready_gauge_url, &a.ready_gauge) {
        (Some(url), Some(line)) => Some(wait_gauge(url, line, connected, a.ready_gauge_timeout_secs).await),
        _ => None,
    };
    tokio::time::sleep(Duration::from_millis(a.settle_ms)).await;
    if a.hold_secs > 0 {
        eprintln!("  holding {} s idle", a.hold_secs);
        tokio::time::sleep(Duration::from_secs(a.hold_secs)).await;
    }
    let mem_idle = mem::read(&pids);

    // --- publish ---------------------------------------------------------------------------
    let pub_client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let pub_errors = Arc::new(AtomicU64::new(0));
    let published = Arc::new(AtomicU64::new(0));
    let cpu_before_publish = cpu::ticks(&pids);
    let pub_start_us = base.elapsed().as_micros() as u64;
    let pub_start = Instant::now();
    let pub_deadline = pub_start + Duration::from_secs(a.publish_timeout_secs);
    let mut pubs = Vec::new();
    for _ in 0..a.pub_concurrency.max(1) {
        let (client, next, errs, published) = (pub_client.clone(), next.clone(), pub_errors.clone(), published.clone());
        let (url, messages, rate, size) = (a.pub_url.clone(), a.messages, a.rate, a.payload_bytes);
        let channels = a.channels;
        let prefix = prefix.clone();
        pubs.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut logged = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages || Instant::now() > pub_deadline {
                    return lat;
                }
                if rate > 0.0 {
                    tokio::time::sleep_until((pub_start + Duration::from_secs_f64(i as f64 / rate)).into()).await;
                }
                let url = url.replace("{channel}", &format!("{prefix}-{}", i % channels));
                let t0 = base.elapsed().as_micros() as u64;
                let r = client.post(&url).body(payload(i, t0, size)).send().await;
                let ok = match r {
                    Ok(resp) => {
                        let ok = resp.status().is_success();
                        if !ok && logged < 3 {
                            logged += 1;
                            eprintln!("  publish {url}: status {}", resp.status());
                        }
                        let _ = resp.bytes().await;
                        ok
                    }
                    Err(e) => {
                        if logged < 3 {
                            logged += 1;
                            eprintln!("  publish {url}: {e}");
                        }
                        false
                    }
                };
                if ok {
                    published.fetch_add(1, Ordering::Relaxed);
                    lat.push(((base.elapsed().as_micros() as u64) - t0).min(u32::MAX as u64) as u32);
                } else {
                    errs.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let progress = {
        let (shared, published) = (shared.clone(), published.clone());
        let expected_total = expected_total;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "  {:>5.1}s published {} delivered {}/{} dup {} disconnects {}",
                    pub_start.elapsed().as_secs_f64(),
                    published.load(Ordering::Relaxed),
                    shared.received.load(Ordering::Relaxed),
                    expected_total,
                    shared.duplicates.load(Ordering::Relaxed),
                    shared.disconnects.load(Ordering::Relaxed),
                );
            }
        })
    };
    let mut pub_lat = Vec::new();
    for p in pubs {
        pub_lat.extend(p.await?);
    }
    let pub_secs = pub_start.elapsed().as_secs_f64();
    let published_n = published.load(Ordering::Relaxed);
    let deliver_deadline = Instant::now() + Duration::from_secs(a.deliver_timeout_secs);
    // Until everything arrived, the deadline, or 5 s without any delivery (failed subscribers).
    let (mut seen, mut seen_at) = (u64::MAX, Instant::now());
    while connected > 0 && Instant::now() < deliver_deadline {
        let now_received = shared.received.load(Ordering::Relaxed);
        if now_received >= expected_total || seen_at.elapsed() > Duration::from_secs(5) {
            break;
        }
        if now_received != seen {
            (seen, seen_at) = (now_received, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cpu_after_delivery = cpu::ticks(&pids);
    // late duplicates have a moment to show up
    if connected > 0 {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    progress.abort();
    let mem_end = mem::read(&pids);
    let _ = stop_tx.send(true);
    let mut latencies = Vec::with_capacity(expected_total as usize);
    let mut received: u64 = 0;
    let mut lost: u64 = 0;
    for h in handles {
        if let Ok(r) = h.await {
            received += r.received as u64;
            if r.ready {
                lost += (r.expected - r.received) as u64;
            }
            latencies.extend(r.latencies_us);
        }
    }
    sampler.abort();
    let last_rx_us = shared.last_receive_us.load(Ordering::Relaxed);
    let deliver_secs = if received > 0 { (last_rx_us.saturating_sub(pub_start_us)) as f64 / 1e6 } else { f64::NAN };
    let peak = {
        let p = peak.lock().unwrap();
        json!({ "rss_kb": p.rss_kb, "pss_kb": p.pss_kb })
    };
    // Memory per idle subscriber: PSS growth (RSS growth for a single process is about the same).
    let idle_per_sub = match (mem_before, mem_idle) {
        (Some(b), Some(i)) if connected > 0 => json!({
            "pss_bytes": (i.pss_kb as f64 - b.pss_kb as f64) * 1024.0 / connected as f64,
            "rss_bytes": (i.rss_kb as f64 - b.rss_kb as f64) * 1024.0 / connected as f64,
        }),
        _ => Value::Null,
    };
    let tck = cpu::clk_tck() as f64;
    let cpu_ticks = match (cpu_before_publish, cpu_after_delivery) {
        (Some(b), Some(e)) => Some(e.saturating_sub(b)),
        _ => None,
    };
    let cpu_secs = cpu_ticks.map(|t| t as f64 / tck);
    // 0 ticks means below the resolution (1 tick per process), not free: no per-delivery figure.
    let cpu_per = |n: u64| cpu_ticks.filter(|t| *t > 0 && n > 0).map(|t| t as f64 / tck * 1e6 / n as f64);
    let server_cpu = json!({
        "clk_tck": tck,
        "connect_secs": match (cpu_start, cpu_before_publish) {
            (Some(s), Some(b)) => Some(b.saturating_sub(s) as f64 / tck),
            _ => None,
        },
        "ticks": cpu_ticks,
        "secs": cpu_secs,
        "us_per_delivery": cpu_per(received),
        "us_per_publish": cpu_per(published_n),
    });
    let result = json!({
        "server": a.server,
        "scenario": a.scenario,
        "note": a.note,
        "transport": a.transport,
        "subscribers": a.subscribers,
        "channels": a.channels,
        "messages": a.messages,
        "payload_bytes": a.payload_bytes,
        "pub_concurrency": a.pub_concurrency,
        "rate": a.rate,
        "connect": { "connected": connected, "errors": connect_errors, "not_ready": not_ready, "secs": connect_secs },
        "publish": {
            "ok": published_n,
            "errors": pub_errors.load(Ordering::Relaxed),
            "secs": pub_secs,
            "per_sec": published_n as f64 / pub_secs,
            "latency": latency_json(pub_lat),
        },
        "delivery": {
            "expected": expected_total,
            "received": received,
            "lost": lost,
            "duplicates": shared.duplicates.load(Ordering::Relaxed),
            "foreign": shared.foreign.load(Ordering::Relaxed),
            "gaps": if a.transport.reports_gaps() { Some(shared.gaps.load(Ordering::Relaxed)) } else { None },
            "polls": if a.transport.is_polling() { Some(shared.polls.load(Ordering::Relaxed)) } else { None },
            "empty_polls": if a.transport.is_polling() { Some(shared.empty_polls.load(Ordering::Relaxed)) } else { None },
            "batches_with_more": if a.transport == Transport::Batch { Some(shared.more.load(Ordering::Relaxed)) } else { None },
            "disconnects": shared.disconnects.load(Ordering::Relaxed),
            "secs_to_all": deliver_secs,
            "per_sec": if received > 0 { received as f64 / deliver_secs } else { 0.0 },
            "latency": latency_json(latencies),
        },
        "ready_gauge": ready_gauge,
        "server_cpu": server_cpu,
        "memory": {
            "pids": pids,
            "before": mem_before,
            "idle": mem_idle,
            "end": mem_end,
            "peak": peak,
            "idle_per_subscriber": idle_per_sub,
        },
    });
    summary(&result);
    if let Some(path) = &a.out {
        std::fs::write(path, serde_json::to_string_pretty(&result)? + "\n")?;
    }
    Ok(())
}

/// Polls `url` until the line starting with `line` carries a value of at least `want`.
async fn wait_gauge(url: &str, line: &str, want: u64, timeout_secs: u64) -> Value {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("HTTP client");
    let t0 = Instant::now();
    let mut value: Option<f64> = None;
    loop {
        if let Ok(resp) = client.get(url).send().await {
            if let Ok(text) = resp.text().await {
                value = gauge_value(&text, line);
            }
        }
        let reached = value.is_some_and(|v| v >= want as f64);
        if reached || t0.elapsed() > Duration::from_secs(timeout_secs) {
            let secs = t0.elapsed().as_secs_f64();
            if reached {
                eprintln!("  server holds them: {line} {} (after {secs:.2}s)", value.unwrap_or(f64::NAN));
            } else {
                eprintln!("  WARNING: {line} is {value:?} after {secs:.1}s, wanted {want}; publishing anyway");
            }
            return json!({ "url": url, "line": line, "want": want, "value": value, "reached": reached, "secs": secs });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn gauge_value(text: &str, line: &str) -> Option<f64> {
    let l = text.lines().find(|l| l.starts_with(line))?;
    l[line.len()..].trim().parse().ok()
}

fn check(files: &[PathBuf]) -> Result<bool, BoxError> {
    let mut all_ok = true;
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let r: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
        let n = |v: &Value| v.as_u64().unwrap_or(0);
        let d = &r["delivery"];
        let mut problems = Vec::new();
        let counts = [
            ("lost", n(&d["lost"])),
            ("duplicated", n(&d["duplicates"])),
            ("gaps", n(&d["gaps"])),
            ("foreign", n(&d["foreign"])),
            ("disconnects", n(&d["disconnects"])),
            ("connect errors", n(&r["connect"]["errors"])),
            ("not ready", n(&r["connect"]["not_ready"])),
            ("publish errors", n(&r["publish"]["errors"])),
        ];
        for (name, v) in counts {
            if v > 0 {
                problems.push(format!("{name} {v}"));
            }
        }
        if n(&d["received"]) != n(&d["expected"]) {
            problems.push(format!("received {} of {}", n(&d["received"]), n(&d["expected"])));
        }
        if r["ready_gauge"]["reached"] == false {
            problems.push("ready gauge not reached".into());
        }
        let label = format!("{} {} {}", r["server"].as_str().unwrap_or("?"), r["transport"].as_str().unwrap_or("?"), r["scenario"].as_str().unwrap_or("?"));
        if problems.is_empty() {
            println!("ok   {label}: {}/{} delivered", n(&d["received"]), n(&d["expected"]));
        } else {
            all_ok = false;
            println!("FAIL {label}: {} ({})", problems.join(", "), f.display());
        }
    }
    Ok(all_ok)
}

fn progress_connect(a: &RunArgs, shared: &Shared, started: usize, t0: Instant) {
    eprintln!(
        "  {:>5.1}s connecting: started {started}/{} ready {} errors {}",
        t0.elapsed().as_secs_f64(),
        a.subscribers,
        shared.connected.load(Ordering::Relaxed),
        shared.connect_errors.load(Ordering::Relaxed),
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn summary(r: &Value) {
    let d = &r["delivery"];
    let l = &d["latency"];
    eprintln!(
        "  => published {} ({:.0}/s, {} errors); delivered {}/{} in {:.3}s ({:.0}/s); lost {} dup {}; \
         latency p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms; peak server RSS {} kB, PSS {} kB; idle/sub {}; \
         gaps {}; server CPU {} s ({} µs/delivery)",
        r["publish"]["ok"],
        f(&r["publish"]["per_sec"]),
        r["publish"]["errors"],
        d["received"],
        d["expected"],
        f(&d["secs_to_all"]),
        f(&d["per_sec"]),
        d["lost"],
        d["duplicates"],
        f(&l["p50_ms"]),
        f(&l["p90_ms"]),
        f(&l["p99_ms"]),
        f(&l["max_ms"]),
        r["memory"]["peak"]["rss_kb"],
        r["memory"]["peak"]["pss_kb"],
        match r["memory"]["idle_per_subscriber"]["pss_bytes"].as_f64() {
            Some(b) => format!("{b:.0} B"),
            None => "-".into(),
        },
        d["gaps"],
        fmt_num("", r["server_cpu"]["secs"].as_f64()),
        fmt_num("", r["server_cpu"]["us_per_delivery"].as_f64()),
    );
}

// --- table ---------------------------------------------------------------------------------

/// One metric of the table: name, how to read it from a result, and whether lower is better.
struct Metric {
    name: &'static str,
    get: fn(&Value) -> Option<f64>,
    lower_is_better: bool,
    /// Ratios of counts that should be 0 make no sense; print the peer's figure only.
    ratio: bool,
}

fn metrics_for(r: &Value) -> Vec<Metric> {
    let subs = r["subscribers"].as_u64().unwrap_or(0);
    let scenario = r["scenario"].as_str().unwrap_or("");
    let mut m = Vec::new();
    if scenario.starts_with("idle") {
        m.push(Metric { name: "connect errors", get: |r| r["connect"]["errors"].as_f64(), lower_is_better: true, ratio: false });
        m.push(Metric { name: "connect time s", get: |r| r["connect"]["secs"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "memory per idle sub (PSS, B)", get: |r| r["memory"]["idle_per_subscriber"]["pss_bytes"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "server PSS at idle (MB)", get: |r| r["memory"]["idle"]["pss_kb"].as_f64().map(|k| k / 1024.0), lower_is_better: true, ratio: true });
        m.push(Metric { name: "server CPU s to connect all", get: |r| r["server_cpu"]["connect_secs"].as_f64(), lower_is_better: true, ratio: true });
        return m;
    }
    if subs > 0 {
        m.push(Metric { name: "time to deliver all s", get: |r| r["delivery"]["secs_to_all"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "deliveries/s", get: |r| r["delivery"]["per_sec"].as_f64(), lower_is_better: false, ratio: true });
        m.push(Metric { name: "latency p50 ms", get: |r| r["delivery"]["latency"]["p50_ms"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "latency p90 ms", get: |r| r["delivery"]["latency"]["p90_ms"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "latency p99 ms", get: |r| r["delivery"]["latency"]["p99_ms"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "latency max ms", get: |r| r["delivery"]["latency"]["max_ms"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "lost / duplicated", get: |r| Some(r["delivery"]["lost"].as_f64()? * 1e6 + r["delivery"]["duplicates"].as_f64()?), lower_is_better: true, ratio: false });
        if r["delivery"]["gaps"].is_u64() {
            m.push(Metric { name: "gaps announced", get: |r| r["delivery"]["gaps"].as_f64(), lower_is_better: true, ratio: false });
        }
    }
    m.push(Metric { name: "publishes/s", get: |r| r["publish"]["per_sec"].as_f64(), lower_is_better: false, ratio: true });
    m.push(Metric { name: "publish p99 ms", get: |r| r["publish"]["latency"]["p99_ms"].as_f64(), lower_is_better: true, ratio: true });
    if subs > 1 {
        m.push(Metric { name: "connect errors", get: |r| r["connect"]["errors"].as_f64(), lower_is_better: true, ratio: false });
    }
    m.push(Metric { name: "peak server PSS MB", get: |r| r["memory"]["peak"]["pss_kb"].as_f64().map(|k| k / 1024.0), lower_is_better: true, ratio: true });
    m.push(Metric { name: "server CPU s", get: |r| r["server_cpu"]["secs"].as_f64(), lower_is_better: true, ratio: true });
    if subs > 0 {
        m.push(Metric { name: "server CPU µs per delivery", get: |r| r["server_cpu"]["us_per_delivery"].as_f64(), lower_is_better: true, ratio: true });
    } else {
        m.push(Metric { name: "server CPU µs per publish", get: |r| r["server_cpu"]["us_per_publish"].as_f64(), lower_is_better: true, ratio: true });
    }
    m
}

fn fmt_num(name: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x.is_nan() => "–".into(),
        Some(x) if name.starts_with("lost") => format!("{} / {}", (x / 1e6).floor(), x % 1e6),
        Some(x) if x >= 1000.0 => format!("{:.0}", x),
        Some(x) if x >= 10.0 => format!("{:.1}", x),
        Some(x) => format!("{:.2}", x),
    }
}

fn table(files: &[PathBuf], baseline: &str) -> Result<(), BoxError> {
    let mut results: Vec<Value> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        results.push(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    let mut scenarios: Vec<String> = Vec::new();
    let mut servers: Vec<String> = vec![baseline.to_owned()];
    for r in &results {
        let s = r["scenario"].as_str().unwrap_or("?").to_owned();
        if !scenarios.contains(&s) {
            scenarios.push(s);
        }
        let v = r["server"].as_str().unwrap_or("?").to_owned();
        if !servers.contains(&v) {
            servers.push(v);
        }
    }
    let mut header = format!("| scenario | metric | {baseline} |");
    let mut rule = "|---|---|---:|".to_owned();
    for s in servers.iter().skip(1) {
        header += &format!(" {s} | {baseline}/{s} |");
        rule += "---:|---:|";
    }
    println!("{header}\n{rule}");
    for sc in &scenarios {
        let find = |server: &str| results.iter().find(|r| r["scenario"] == sc.as_str() && r["server"] == server);
        let Some(first) = servers.iter().find_map(|s| find(s)) else { continue };
        let label = format!(
            "{sc} ({} subs, {} ch, {} msgs)",
            first["subscribers"], first["channels"], first["messages"]
        );
        for (k, m) in metrics_for(first).iter().enumerate() {
            let base = find(baseline).and_then(|r| (m.get)(r));
            let mut line = format!(
                "| {} | {} | {} |",
                if k == 0 { label.as_str() } else { "" },
                m.name,
                fmt_num(m.name, base)
            );
            for s in servers.iter().skip(1) {
                let v = find(s).and_then(|r| (m.get)(r));
                let ratio = match (base, v) {
                    (Some(b), Some(v)) if m.ratio && b.is_finite() && v.is_finite() && b > 0.0 && v > 0.0 => {
                        let x = b / v;
                        let better = if m.lower_is_better { x < 1.0 } else { x > 1.0 };
                        format!("{x:.2}{}", if better { " ✓" } else { "" })
                    }
                    _ => "".into(),
                };
                line += &format!(" {} | {} |", fmt_num(m.name, v), ratio);
            }
            println!("{line}");
        }
    }
    println!("\n✓: push-rs better. Transports: {}", transports(&results));
    Ok(())
}

fn transports(results: &[Value]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for r in results {
        if r["subscribers"].as_u64().unwrap_or(0) == 0 {
            continue;
        }
        let s = format!("{} {}", r["server"].as_str().unwrap_or("?"), r["transport"].as_str().unwrap_or("?"));
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    seen.join(", ")
}

#[cfg(test)]
mod tests {
    use super::gauge_value;

    #[test]
    fn reads_prometheus_and_nchan_status_gauges() {
        let prom = "# TYPE push_connections gauge\npush_connections{transport=\"json\"} 0\npush_connections{transport=\"long-poll\"} 1000\n";
        assert_eq!(gauge_value(prom, "push_connections{transport=\"long-poll\"}"), Some(1000.0));
        assert_eq!(gauge_value(prom, "push_connections{transport=\"sse\"}"), None);
        let nchan = "channels: 1\nsubscribers: 42\nredis pending commands: 0\n";
        assert_eq!(gauge_value(nchan, "subscribers:"), Some(42.0));
    }
}
