//! The result of a run: the JSON that `--out` stores (and `table` and `check` read), and the
//! one-line summary on stderr.

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use super::args::RunArgs;
use super::connect::Subscribers;
use super::deliver::Delivered;
use super::server_usage::ServerUsage;
use crate::publisher::Published;
use crate::subscriber::Transport;
use crate::table::fmt_num;

pub fn result(a: &RunArgs, subs: &Subscribers, published: Published, delivered: Delivered, ready_gauge: Option<Value>, usage: &ServerUsage) -> Value {
    let shared = &subs.shared;
    let received = delivered.received;
    let last_rx_us = shared.last_receive_us.load(Ordering::Relaxed);
    let deliver_secs = if received > 0 { (last_rx_us.saturating_sub(published.start_us)) as f64 / 1e6 } else { f64::NAN };
    json!({
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
        "connect": { "connected": subs.connected, "errors": subs.connect_errors, "not_ready": subs.not_ready, "secs": subs.connect_secs },
        "publish": {
            "ok": published.ok,
            "errors": published.errors,
            "secs": published.secs,
            "per_sec": published.ok as f64 / published.secs,
            "latency": latency_json(published.latencies_us),
        },
        "delivery": {
            "expected": subs.expected_total,
            "received": received,
            "lost": delivered.lost,
            "duplicates": shared.duplicates.load(Ordering::Relaxed),
            "foreign": shared.foreign.load(Ordering::Relaxed),
            "gaps": if a.transport.reports_gaps() { Some(shared.gaps.load(Ordering::Relaxed)) } else { None },
            "polls": if a.transport.is_polling() { Some(shared.polls.load(Ordering::Relaxed)) } else { None },
            "empty_polls": if a.transport.is_polling() { Some(shared.empty_polls.load(Ordering::Relaxed)) } else { None },
            "batches_with_more": if a.transport == Transport::Batch { Some(shared.more.load(Ordering::Relaxed)) } else { None },
            "disconnects": shared.disconnects.load(Ordering::Relaxed),
            "secs_to_all": deliver_secs,
            "per_sec": if received > 0 { received as f64 / deliver_secs } else { 0.0 },
            "latency": latency_json(delivered.latencies_us),
        },
        "ready_gauge": ready_gauge,
        "server_cpu": usage.cpu_json(received, published.ok),
        "memory": usage.memory_json(subs.connected),
    })
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

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

pub fn summary(r: &Value) {
    let d = &r["delivery"];
    let l = &d["latency"];
    eprintln!(
        "  => published {} ({:.0}/s, {} errors); delivered {}/{} in {:.3}s ({:.0}/s); lost {} dup {}; \
         latency p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms; peak server RSS {} kB, PSS {} kB; idle/sub {}; \
         gaps {}; server CPU {} s ({} µs/delivery: kernel {}, user {})",
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
        fmt_num("", r["server_cpu"]["system_us_per_delivery"].as_f64()),
        fmt_num("", r["server_cpu"]["user_us_per_delivery"].as_f64()),
    );
}
