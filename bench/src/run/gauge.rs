//! `--ready-gauge`: before publishing, proof on the server that it holds every subscriber's poll
//! (a polling subscriber counts as ready when it sends its request, not when the server has it).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Polls `url` until the line starting with `line` carries a value of at least `want`.
pub async fn wait(url: &str, line: &str, want: u64, timeout_secs: u64) -> Value {
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
