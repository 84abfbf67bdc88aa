//! The server under test's memory and CPU time (`--server-pid`), read from /proc at the phase
//! boundaries, with the memory peak sampled throughout.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::{cpu, mem};

pub struct ServerUsage {
    /// The server and its direct children; empty without `--server-pid`.
    pids: Vec<u32>,
    peak: Arc<Mutex<mem::Peak>>,
    sampler: JoinHandle<()>,
    mem_before: Option<mem::Mem>,
    mem_idle: Option<mem::Mem>,
    mem_end: Option<mem::Mem>,
    cpu_start: Option<cpu::Ticks>,
    cpu_before_publish: Option<cpu::Ticks>,
    cpu_after_delivery: Option<cpu::Ticks>,
    /// This process's own CPU time at the same two moments: on a shared machine a figure can be
    /// bound by the load generator rather than the server.
    own_before_publish: Option<cpu::Ticks>,
    own_after_delivery: Option<cpu::Ticks>,
}

impl ServerUsage {
    /// Before the first subscriber connects.
    pub fn start(server_pid: Option<u32>) -> ServerUsage {
        let pids = server_pid.map(mem::with_children).unwrap_or_default();
        let peak = Arc::new(Mutex::new(mem::Peak::default()));
        let sampler = mem::sample(pids.clone(), peak.clone());
        let mem_before = mem::read(&pids);
        let cpu_start = cpu::ticks(&pids);
        ServerUsage { pids, peak, sampler, mem_before, mem_idle: None, mem_end: None, cpu_start, cpu_before_publish: None, cpu_after_delivery: None, own_before_publish: None, own_after_delivery: None }
    }

    /// Every subscriber connected and settled, nothing published yet.
    pub fn idle(&mut self) {
        self.mem_idle = mem::read(&self.pids);
    }

    pub fn publishing(&mut self) {
        self.cpu_before_publish = cpu::ticks(&self.pids);
        self.own_before_publish = cpu::ticks(&[std::process::id()]);
    }

    pub fn delivered(&mut self) {
        self.cpu_after_delivery = cpu::ticks(&self.pids);
        self.own_after_delivery = cpu::ticks(&[std::process::id()]);
    }

    pub fn end(&mut self) {
        self.mem_end = mem::read(&self.pids);
    }

    pub fn stop_sampling(&self) {
        self.sampler.abort();
    }

    /// The result's `memory`; `connected` subscribers share the growth from start to idle.
    pub fn memory_json(&self, connected: u64) -> Value {
        let peak = {
            let p = self.peak.lock().unwrap();
            json!({ "rss_kb": p.rss_kb, "pss_kb": p.pss_kb })
        };
        // Memory per idle subscriber: PSS growth (RSS growth for a single process is about the same).
        let idle_per_sub = match (self.mem_before, self.mem_idle) {
            (Some(b), Some(i)) if connected > 0 => json!({
                "pss_bytes": (i.pss_kb as f64 - b.pss_kb as f64) * 1024.0 / connected as f64,
                "rss_bytes": (i.rss_kb as f64 - b.rss_kb as f64) * 1024.0 / connected as f64,
            }),
            _ => Value::Null,
        };
        json!({
            "pids": self.pids,
            "before": self.mem_before,
            "idle": self.mem_idle,
            "end": self.mem_end,
            "peak": peak,
            "idle_per_subscriber": idle_per_sub,
        })
    }

    /// The result's `server_cpu`: publishing and delivering, per delivery and per publish, and
    /// per delivery apart for the kernel (`system_`) and user space (`user_`).
    pub fn cpu_json(&self, received: u64, published: u64) -> Value {
        let tck = cpu::clk_tck() as f64;
        let spent = match (self.cpu_before_publish, self.cpu_after_delivery) {
            (Some(b), Some(e)) => Some(e.since(b)),
            _ => None,
        };
        let cpu_ticks = spent.map(cpu::Ticks::total);
        let cpu_secs = cpu_ticks.map(|t| t as f64 / tck);
        // 0 ticks means below the resolution (1 tick per process), not free: no per-delivery figure.
        let per = |ticks: Option<u64>, n: u64| cpu_ticks.filter(|t| *t > 0 && n > 0).and(ticks).map(|t| t as f64 / tck * 1e6 / n as f64);
        json!({
            "clk_tck": tck,
            "connect_secs": match (self.cpu_start, self.cpu_before_publish) {
                (Some(s), Some(b)) => Some(b.since(s).total() as f64 / tck),
                _ => None,
            },
            "ticks": cpu_ticks,
            "user_ticks": spent.map(|t| t.user),
            "system_ticks": spent.map(|t| t.system),
            "secs": cpu_secs,
            "us_per_delivery": per(cpu_ticks, received),
            "user_us_per_delivery": per(spent.map(|t| t.user), received),
            "system_us_per_delivery": per(spent.map(|t| t.system), received),
            "us_per_publish": per(cpu_ticks, published),
            "load_generator_us_per_delivery": match (self.own_before_publish, self.own_after_delivery) {
                (Some(b), Some(e)) if received > 0 => Some(e.since(b).total() as f64 / tck * 1e6 / received as f64),
                _ => None,
            },
        })
    }
}
