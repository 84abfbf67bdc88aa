//! Memory of the server under test, read from /proc: VmRSS and VmHWM from `status`, Pss from
//! `smaps_rollup`. A server may be several processes (nginx: master + workers); the figures are
//! summed over the pids given. RSS counts shared pages (Nchan's shared memory zone) once per
//! process that touched them; PSS splits them, so PSS sums are the fair total for multi-process
//! servers and about the same as RSS for a single process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Mem {
    pub rss_kb: u64,
    pub pss_kb: u64,
    pub hwm_kb: u64,
}

pub fn read(pids: &[u32]) -> Option<Mem> {
    if pids.is_empty() {
        return None;
    }
    let mut m = Mem::default();
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        m.rss_kb += field(&status, "VmRSS:").unwrap_or(0);
        m.hwm_kb += field(&status, "VmHWM:").unwrap_or(0);
        m.pss_kb += std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|s| field(&s, "Pss:"))
            .unwrap_or(0);
    }
    Some(m)
}

fn field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// The largest sums seen by [`sample`].
#[derive(Default)]
pub struct Peak {
    pub rss_kb: u64,
    pub pss_kb: u64,
}

/// Samples every 200 ms until the returned handle is aborted.
pub fn sample(pids: Vec<u32>, peak: Arc<Mutex<Peak>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if let Some(m) = read(&pids) {
                let mut p = peak.lock().unwrap();
                p.rss_kb = p.rss_kb.max(m.rss_kb);
                p.pss_kb = p.pss_kb.max(m.pss_kb);
            }
        }
    })
}

/// Pids of `pid` and its direct children (nginx master -> workers).
pub fn with_children(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
        pids.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    pids
}
