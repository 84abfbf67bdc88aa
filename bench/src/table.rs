//! `push-bench table`: the side-by-side table of result files, push-rs first, then each peer with
//! the ratio push-rs/peer.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::BoxError;
use crate::result_file;

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
        m.push(Metric { name: "… of it in the kernel", get: |r| r["server_cpu"]["system_us_per_delivery"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "… of it in user space", get: |r| r["server_cpu"]["user_us_per_delivery"].as_f64(), lower_is_better: true, ratio: true });
        m.push(Metric { name: "load generator CPU µs per delivery", get: |r| r["server_cpu"]["load_generator_us_per_delivery"].as_f64(), lower_is_better: true, ratio: false });
    } else {
        m.push(Metric { name: "server CPU µs per publish", get: |r| r["server_cpu"]["us_per_publish"].as_f64(), lower_is_better: true, ratio: true });
    }
    m
}

/// A figure as the table and the run's summary print it; `–` when there is none.
pub fn fmt_num(name: &str, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x.is_nan() => "–".into(),
        Some(x) if name.starts_with("lost") => format!("{} / {}", (x / 1e6).floor(), x % 1e6),
        Some(x) if x >= 1000.0 => format!("{:.0}", x),
        Some(x) if x >= 10.0 => format!("{:.1}", x),
        Some(x) => format!("{:.2}", x),
    }
}

pub fn table(files: &[PathBuf], baseline: &str) -> Result<(), BoxError> {
    let mut results: Vec<Value> = Vec::new();
    for f in files {
        results.push(result_file::read(f)?);
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
