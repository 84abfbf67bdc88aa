//! The embedded broker with a data dir, as a process: publishes answered `200` survive SIGTERM
//! and SIGKILL, ids continue, idempotency keys are remembered, retention and crashes without
//! fsync read as gaps, and the data dir refuses a second process or a foreign file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn client() -> reqwest::Client {
    push_core::tls::ensure_provider();
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh data dir, removed when the test ends.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("push-durable-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A push-server process on a data dir.
struct Node {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Node {
    async fn start(dir: &Path, args: &[&str]) -> Node {
        let mut node = Node { port: free_port(), dir: dir.to_owned(), args: args.iter().map(|a| a.to_string()).collect(), child: None };
        node.spawn().await;
        node
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_push-server"));
        command
            .args(["--bind", &format!("127.0.0.1:{}", self.port), "--data-dir"])
            .arg(&self.dir)
            .args(["--shutdown-timeout", "2s", "--long-poll-timeout", "2s"])
            .args(&self.args)
            .env("PUSH_LOG", "push_server=warn");
        command
    }

    async fn spawn(&mut self) {
        self.child = Some(self.command().stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("push-server starts"));
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = client().get(format!("{}/_push/health", self.url())).timeout(Duration::from_secs(1)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("push-server on {} never became healthy", self.port);
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn kill_9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL"); // std's kill is SIGKILL
        child.wait().unwrap();
    }

    fn terminate(&mut self) {
        let mut child = self.child.take().expect("running");
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert!(status.success(), "SIGTERM ends push-server with 0, got {status}");
    }

    async fn restart(&mut self) {
        self.spawn().await;
    }

    async fn publish(&self, channel: &str, body: &str, key: Option<&str>) -> (u64, bool) {
        let mut request = client().post(format!("{}{channel}", self.url())).body(body.to_owned());
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "publish answered {}", response.status());
        let replayed = response.headers().contains_key("Idempotent-Replayed");
        let json: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        (json["id"].as_str().unwrap().parse().unwrap(), replayed)
    }

    /// Every message and gap of `channel` after `after`, through the JSON batch, up to `last`.
    async fn read_all(&self, channel: &str, after: u64, last: u64) -> (Vec<(u64, String)>, Vec<(u64, u64)>) {
        let (mut messages, mut gaps, mut cursor) = (Vec::new(), Vec::new(), after);
        while cursor < last {
            let response = client().get(format!("{}{channel}?after={cursor}", self.url())).header("Accept", "application/json").send().await.unwrap();
            assert_eq!(response.status(), 200);
            let batch: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            for m in batch["messages"].as_array().unwrap() {
                messages.push((m["id"].as_str().unwrap().parse().unwrap(), m["data"].as_str().unwrap().to_owned()));
            }
            for g in batch["gaps"].as_array().unwrap() {
                gaps.push((g["from"].as_str().unwrap().parse().unwrap(), g["to"].as_str().unwrap().parse().unwrap()));
            }
            let next: u64 = batch["last_id"].as_str().unwrap().parse().unwrap();
            assert!(next > cursor, "the batch moved the cursor ({cursor} -> {next})");
            // Cut by --max-batch or by a catch-up step alike, a batch before the end says so.
            assert!(next >= last || batch["more"] == true, "a batch that ends at {next}, before {last}, says more: true");
            cursor = next;
        }
        (messages, gaps)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The acceptance: 1,000 publishes, kill -9, restart: all 1,000 from the first id, in
/// order, no gap. Catch-up reads of 64 here: the range is read in 16 steps, none of them a gap.
#[tokio::test]
async fn a_thousand_publishes_survive_kill_9() {
    let dir = Dir::new("kill9");
    let mut node = Node::start(&dir.0, &["--catch-up-limit", "64"]).await;
    let mut sent = Vec::new();
    for i in 0..1000 {
        let body = format!("m{i}");
        sent.push((node.publish("/durable/acceptance", &body, None).await.0, body));
    }
    node.kill_9();
    node.restart().await;
    let (messages, gaps) = node.read_all("/durable/acceptance", sent[0].0 - 1, sent[999].0).await;
    assert_eq!(gaps, vec![], "no gap after a restart with --fsync always");
    assert_eq!(messages, sent);
    // Ids continue after the log's last one.
    let (next, _) = node.publish("/durable/acceptance", "after", None).await;
    assert_eq!(next, sent[999].0 + 1);
}

/// Eight publishers at full speed while the server is stopped: every publish answered 200
/// before the stop is read back after the restart, in order, with no gap.
async fn steady_publishing_survives(stop: fn(&mut Node), name: &str) {
    let dir = Dir::new(name);
    let mut node = Node::start(&dir.0, &[]).await;
    let answered: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let url = node.url();
    let publishers: Vec<_> = (0..8)
        .map(|p| {
            let (answered, url) = (answered.clone(), url.clone());
            tokio::spawn(async move {
                let client = client();
                for i in 0.. {
                    let body = format!("p{p}-{i}");
                    let Ok(response) = client.post(format!("{url}/durable/steady")).body(body.clone()).send().await else { break };
                    if response.status() != 200 {
                        break;
                    }
                    let Ok(json) = response.bytes().await.map(|b| serde_json::from_slice::<Value>(&b).unwrap()) else { break };
                    answered.lock().unwrap().push((json["id"].as_str().unwrap().parse().unwrap(), body));
                }
            })
        })
        .collect();
    // Stop once enough publishes have been answered (what the test is about, not a time).
    while answered.lock().unwrap().len() < 2000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop(&mut node);
    for p in publishers {
        p.await.unwrap();
    }
    let mut answered = answered.lock().unwrap().clone();
    answered.sort();
    node.restart().await;
    let (first, last) = (answered[0].0, answered[answered.len() - 1].0);
    let (messages, gaps) = node.read_all("/durable/steady", first - 1, last).await;
    assert_eq!(gaps, vec![], "no gap: every answered publish was on disk");
    assert!(messages.windows(2).all(|w| w[0].0 < w[1].0), "in id order");
    let read: std::collections::HashMap<u64, String> = messages.iter().cloned().collect();
    for (id, body) in &answered {
        assert_eq!(read.get(id), Some(body), "answered publish {id} is delivered after the restart");
    }
    // What was read but never answered can only be publishes in flight at the stop (at most
    // one per publisher).
    assert!(messages.len() - answered.len() <= 8, "{} read, {} answered", messages.len(), answered.len());
}

#[tokio::test]
async fn steady_publishing_survives_sigkill() {
    steady_publishing_survives(Node::kill_9, "steady-kill").await;
}

#[tokio::test]
async fn steady_publishing_survives_sigterm() {
    steady_publishing_survives(Node::terminate, "steady-term").await;
}

#[tokio::test]
async fn idempotency_keys_survive_a_restart() {
    let dir = Dir::new("idempotency");
    let mut node = Node::start(&dir.0, &[]).await;
    let (first, replayed) = node.publish("/durable/idem", "once", Some("order-42")).await;
    assert!(!replayed);
    node.kill_9();
    node.restart().await;
    let (again, replayed) = node.publish("/durable/idem", "once", Some("order-42")).await;
    assert_eq!((again, replayed), (first, true), "the retry after the restart answers the first id");
    let (messages, gaps) = node.read_all("/durable/idem", first - 1, first).await;
    assert_eq!((messages, gaps), (vec![(first, "once".to_owned())], vec![]));
}

/// Retention by bytes removes the oldest entries in the background; a cursor before them reads
/// a gap, then every message still kept.
#[tokio::test]
async fn retention_removes_the_oldest_as_a_gap() {
    let dir = Dir::new("retention");
    let node = Node::start(&dir.0, &["--retention-bytes", "20000", "--history-size", "10"]).await;
    let mut sent = Vec::new();
    for i in 0..400 {
        let body = format!("{i:0>100}");
        sent.push((node.publish("/durable/retained", &body, None).await.0, body));
    }
    let (first, last) = (sent[0].0, sent[399].0);
    // Retention runs every second: look until it has removed something (the observable state).
    let started = Instant::now();
    let (messages, gaps) = loop {
        let (messages, gaps) = node.read_all("/durable/retained", first - 1, last).await;
        // An entry takes more than its 100-byte payload and less than 200 bytes.
        if (!gaps.is_empty() && messages.len() * 100 <= 20_000) || started.elapsed() > Duration::from_secs(10) {
            break (messages, gaps);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(gaps.len(), 1, "one gap for what retention removed: {gaps:?}");
    let (gap_from, gap_to) = gaps[0];
    assert_eq!(gap_from, first);
    assert_eq!(messages.first().map(|m| m.0), Some(gap_to + 1), "every message after the gap is kept");
    assert_eq!(messages, sent[(gap_to + 1 - first) as usize..].to_vec());
    assert!(messages.len() * 100 <= 20_000 && messages.len() * 200 >= 20_000 - 200, "about --retention-bytes kept: {} messages", messages.len());
}

/// With `--fsync never`, a crash may lose answered publishes; a returning subscriber then reads
/// a gap for them, never a silent jump, and new ids do not reuse theirs.
#[tokio::test]
async fn a_crash_without_fsync_reads_as_a_gap() {
    let dir = Dir::new("never");
    let mut node = Node::start(&dir.0, &[]).await;
    let mut durable = Vec::new();
    for i in 0..50 {
        durable.push((node.publish("/durable/never", &format!("d{i}"), None).await.0, format!("d{i}")));
    }
    node.terminate();
    node.args = vec!["--fsync".into(), "never".into()];
    node.restart().await;
    let mut risky = Vec::new();
    for i in 0..50 {
        risky.push(node.publish("/durable/never", &format!("r{i}"), None).await.0);
    }
    node.kill_9();
    node.restart().await;
    let (after, _) = node.publish("/durable/never", "after", None).await;
    assert!(after > risky[49], "new ids ({after}) are above every id the crashed run gave ({})", risky[49]);
    let (messages, gaps) = node.read_all("/durable/never", durable[0].0 - 1, after).await;
    assert_eq!(messages[..50], durable[..], "what was fsynced is kept");
    assert_eq!(messages.last(), Some(&(after, "after".to_owned())));
    // Every risky id is either read back or inside a gap.
    for id in &risky {
        let read = messages.iter().any(|m| m.0 == *id);
        let in_gap = gaps.iter().any(|(from, to)| from <= id && id <= to);
        assert!(read || in_gap, "id {id} is accounted for: {gaps:?}");
    }
    assert!(!gaps.is_empty(), "the unknown range after the crash is announced");
}

fn start_error(dir: &Path, extra: &[&str]) -> (i32, String) {
    let node = Node { port: free_port(), dir: dir.to_owned(), args: extra.iter().map(|a| a.to_string()).collect(), child: None };
    let output = node.command().output().expect("push-server runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn a_second_process_on_the_same_data_dir_is_refused() {
    let dir = Dir::new("lock");
    let node = Node::start(&dir.0, &[]).await;
    let (code, stderr) = start_error(&dir.0, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("in use by another push-server process"), "{stderr}");
    assert!(stderr.contains("push.redb"), "the error names the file: {stderr}");
    // The first one is unaffected.
    node.publish("/durable/lock", "still here", None).await;
}

#[tokio::test]
async fn a_foreign_file_stops_the_start_with_its_name() {
    let dir = Dir::new("foreign");
    std::fs::create_dir_all(&dir.0).unwrap();
    std::fs::write(dir.0.join("push.redb"), vec![b'x'; 10_000]).unwrap();
    let (code, stderr) = start_error(&dir.0, &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&dir.0.join("push.redb").display().to_string()), "the error names the file: {stderr}");
    assert!(stderr.contains("not a push-server log"), "{stderr}");
    assert_eq!(std::fs::read(dir.0.join("push.redb")).unwrap(), vec![b'x'; 10_000], "the file is left as it was");
}

#[tokio::test]
async fn data_dir_needs_the_embedded_broker() {
    let dir = Dir::new("rabbit");
    let (code, stderr) = start_error(&dir.0, &["--broker", "amqp://guest:guest@127.0.0.1:5672/%2f"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--data-dir is for the embedded broker"), "{stderr}");
}

/// A 1 MiB tmpfs, unmounted when dropped (mounting needs root, as the test machines run).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(name: &str) -> SmallDisk {
        let dir = std::env::temp_dir().join(format!("push-durable-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&dir).status().expect("mount runs");
        assert!(status.success(), "this test mounts a 1 MiB tmpfs to fill a disk, which needs root ({status})");
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A full disk: publishes answer 503 OVERLOADED (nothing stored, no id used), subscribers still
/// read everything stored, and once there is room again publishing goes on where it stopped.
#[tokio::test]
async fn a_full_disk_refuses_publishes_and_keeps_subscribers_working() {
    let disk = SmallDisk::mount("full");
    let filler = disk.0.join("filler");
    std::fs::write(&filler, vec![0u8; 400 * 1024]).unwrap();
    let node = Node::start(&disk.0.join("data"), &[]).await;
    let payload = "x".repeat(20_000);
    let mut stored = Vec::new();
    let refusal = loop {
        assert!(stored.len() < 100, "the 1 MiB disk never filled up");
        let response = client().post(format!("{}/durable/full", node.url())).body(payload.clone()).send().await.unwrap();
        if response.status() != 200 {
            break response;
        }
        let json: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        stored.push((json["id"].as_str().unwrap().parse::<u64>().unwrap(), payload.clone()));
    };
    assert_eq!(refusal.status(), 503);
    assert_eq!(refusal.headers()["push-error"], "OVERLOADED");
    let why = refusal.text().await.unwrap();
    assert!(why.contains("No space left on device"), "{why}");
    let health = client().get(format!("{}/_push/health", node.url())).send().await.unwrap();
    assert_eq!(health.status(), 503, "health says the data dir cannot be written");
    // Subscribers keep working: everything stored reads back.
    let (first, last) = (stored[0].0, stored[stored.len() - 1].0);
    assert_eq!(node.read_all("/durable/full", first - 1, last).await, (stored.clone(), vec![]));
    // Room again: the next publish takes the next id (the refused ones took none).
    std::fs::remove_file(&filler).unwrap();
    let (next, _) = node.publish("/durable/full", "room again", None).await;
    assert_eq!(next, last + 1);
    let health = client().get(format!("{}/_push/health", node.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(node);
}
