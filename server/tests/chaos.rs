//! Nothing lost, nothing twice across faults: two server processes on one RabbitMQ stream,
//! publishers over HTTP to both nodes and over amqp://, subscribers on SSE, WebSocket and
//! long-poll that switch nodes with their cursors, while RabbitMQ is stopped and started twice
//! and one node is killed with SIGKILL and restarted.
//!
//! The verifier: every publish that returned an id is delivered exactly once, in order, to every
//! subscriber; a publish whose call failed is delivered at most once; nothing else arrives.
//! Needs RabbitMQ at 127.0.0.1:5672 and `rabbitmqctl`; fails, never skips, without them.

mod rabbitmq_support;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use push_core::{Producer, ProducerOptions};
use rabbitmq_support::*;

const CHANNEL: &str = "/chaos";
const END: &str = "END";

/// A push-server process on the RabbitMQ engine, restartable on the same port.
struct Process {
    port: u16,
    stream: String,
    child: Option<Child>,
}

impl Process {
    async fn start(port: u16, stream: &str) -> Process {
        let mut process = Process { port, stream: stream.to_owned(), child: None };
        process.spawn().await;
        process
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_push-server"))
            .args(["--bind", &format!("127.0.0.1:{}", self.port), "--broker", AMQP_URL, "--stream-name", &self.stream])
            .args(["--publish-timeout", "5s", "--long-poll-timeout", "2s", "--shutdown-timeout", "1s", "--heartbeat", "1s"])
            .env("PUSH_LOG", "push_server=error,lapin=off")
            .stdout(Stdio::null())
            .spawn()
            .expect("push-server starts");
        self.child = Some(child);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client().get(format!("{}/_push/health", self.url())).timeout(Duration::from_secs(1)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("node on port {} never became healthy", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL"); // std's kill is SIGKILL
            let _ = child.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What the publishers saw: (id, payload) for each call that returned, payloads of calls that
/// failed.
#[derive(Default)]
struct Ledger {
    confirmed: Vec<(u64, String)>,
    failed: Vec<String>,
}

/// Publishes `{name}-{i}` every 20 ms until `stop`, recording every outcome.
fn publisher(name: &'static str, producer: Producer, ledger: Arc<Mutex<Ledger>>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut i = 0;
        while !stop.load(Ordering::Acquire) {
            let body = format!("{name}-{i}");
            match producer.publish(body.clone()).to(CHANNEL).await {
                Ok(id) => ledger.lock().unwrap().confirmed.push((id.0, body)),
                Err(_) => ledger.lock().unwrap().failed.push(body),
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// What a subscriber received: messages in arrival order and any gap signals.
#[derive(Debug, Default)]
struct Received {
    messages: Vec<(u64, String)>,
    gaps: Vec<(u64, u64)>,
    switches: usize,
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Sse,
    WebSocket,
    LongPoll,
}

/// One read session on one node from `cursor`: appends what arrives, returns when the node
/// fails, after `max` messages (to switch nodes), or at END. Ok(true) means END was seen.
async fn session(transport: Transport, node: &str, cursor: &mut u64, got: &mut Received, max: usize) -> Result<bool, String> {
    let base = got.messages.len();
    let take = |id: u64, data: String, cursor: &mut u64, got: &mut Received| -> bool {
        *cursor = id;
        let end = data == END;
        got.messages.push((id, data));
        end
    };
    match transport {
        Transport::Sse => {
            let response = client()
                .get(format!("{node}{CHANNEL}"))
                .header("Accept", "text/event-stream")
                .header("Last-Event-ID", cursor.to_string())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if response.status() != 200 {
                return Err(format!("SSE answered {}", response.status()));
            }
            let mut response = response;
            let mut buffer = String::new();
            loop {
                let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk()).await.map_err(|_| "SSE silent".to_owned())?;
                let chunk = chunk.map_err(|e| e.to_string())?.ok_or("SSE ended")?;
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let (mut event, mut id, mut data) = (None, None, None);
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event: ") {
                            event = Some(v.to_owned());
                        } else if let Some(v) = line.strip_prefix("id: ") {
                            id = v.parse::<u64>().ok();
                        } else if let Some(v) = line.strip_prefix("data: ") {
                            data = Some(v.to_owned());
                        }
                    }
                    match (event.as_deref(), id, data) {
                        (Some("gap"), Some(to), Some(frame)) => {
                            let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
                            got.gaps.push((id_of(&v["from"]), to));
                            *cursor = to;
                        }
                        (None, Some(id), Some(data)) => {
                            if take(id, data, cursor, got) {
                                return Ok(true);
                            }
                        }
                        _ => {} // the opening id-only event, comments
                    }
                    if got.messages.len() - base >= max {
                        return Ok(false);
                    }
                }
            }
        }
        Transport::WebSocket => {
            let url = format!("{}{CHANNEL}?after={cursor}", node.replacen("http://", "ws://", 1));
            let (mut socket, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(20), socket.next()).await.map_err(|_| "WebSocket silent".to_owned())?;
                let text = match frame.ok_or("WebSocket ended")?.map_err(|e| e.to_string())? {
                    tokio_tungstenite::tungstenite::Message::Text(t) => t.to_string(),
                    tokio_tungstenite::tungstenite::Message::Close(_) => return Err("WebSocket closed".into()),
                    _ => continue,
                };
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                match v["type"].as_str() {
                    Some("message") => {
                        if take(id_of(&v["id"]), v["data"].as_str().unwrap().to_owned(), cursor, got) {
                            return Ok(true);
                        }
                    }
                    Some("gap") => {
                        got.gaps.push((id_of(&v["from"]), id_of(&v["to"])));
                        *cursor = id_of(&v["to"]);
                    }
                    _ => {}
                }
                if got.messages.len() - base >= max {
                    return Ok(false);
                }
            }
        }
        Transport::LongPoll => loop {
            let response = client()
                .get(format!("{node}{CHANNEL}?after={cursor}&timeout=2"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let (id, gap) = (header("push-id"), header("push-gap"));
            if let Some(gap) = gap {
                let (from, to) = gap.split_once('-').unwrap();
                got.gaps.push((from.parse().unwrap(), to.parse().unwrap()));
            }
            match status {
                200 => {
                    let id: u64 = id.ok_or("no Push-Id")?.parse().unwrap();
                    let data = response.text().await.map_err(|e| e.to_string())?;
                    if take(id, data, cursor, got) {
                        return Ok(true);
                    }
                }
                204 => *cursor = id.ok_or("no Push-Id")?.parse().unwrap(),
                other => return Err(format!("long-poll answered {other}")),
            }
            if got.messages.len() - base >= max {
                return Ok(false);
            }
        },
    }
}

fn id_of(v: &serde_json::Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

/// A subscriber that reads from `start`, switching between the nodes every few messages and on
/// every failure, until END.
fn subscriber(transport: Transport, nodes: [String; 2], start: u64, offset: usize) -> tokio::task::JoinHandle<Received> {
    tokio::spawn(async move {
        let mut got = Received::default();
        let mut cursor = start;
        let mut turn = offset;
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            assert!(Instant::now() < deadline, "{transport:?} subscriber did not see END; got {} messages", got.messages.len());
            let node = &nodes[turn % 2];
            match session(transport, node, &mut cursor, &mut got, 37).await {
                Ok(true) => return got,
                Ok(false) => {}
                // The node is down or the broker is away: try the other node a little later.
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            turn += 1;
            got.switches += 1;
        }
    })
}

/// Waits (while RabbitMQ is away) until a publish has failed: the outage outlasted a publish's
/// timeout, so a client had to decide whether to retry.
async fn outage_felt(ledger: &Mutex<Ledger>) {
    let failed = ledger.lock().unwrap().failed.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ledger.lock().unwrap().failed.len() == failed {
        assert!(Instant::now() < deadline, "no publish failed within 60 s of RabbitMQ going away");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_health(url: &str, status: u16) {
    for _ in 0..300 {
        if let Ok(r) = client().get(format!("{url}/_push/health")).timeout(Duration::from_secs(1)).send().await {
            if r.status().as_u16() == status {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} health never answered {status}");
}

async fn broker(command: &'static str) {
    tokio::task::spawn_blocking(move || rabbitmqctl(&[command])).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_lost_nothing_twice_across_broker_restarts_and_a_killed_node() {
    let _turn = serial().await;
    let stream = unique_stream("chaos");
    let mut a = Process::start(free_port(), &stream).await;
    let mut b = Process::start(free_port(), &stream).await;
    let nodes = [a.url(), b.url()];
    let timeout = Duration::from_secs(8);
    let http = |url: String| Producer::with_options(ProducerOptions::new().url(url).timeout(timeout)).unwrap();
    let start: u64 = http(a.url()).publish("start").to(CHANNEL).await.unwrap().0;

    let subscribers: Vec<_> = [Transport::Sse, Transport::WebSocket, Transport::LongPoll]
        .into_iter()
        .enumerate()
        .flat_map(|(i, t)| [subscriber(t, nodes.clone(), start, i), subscriber(t, nodes.clone(), start, i + 1)])
        .collect();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let amqp = Producer::with_options(ProducerOptions::new().url(producer_url(&stream)).timeout(timeout)).unwrap();
    let publishers = [
        publisher("http-a", http(a.url()), ledger.clone(), stop.clone()),
        publisher("http-b", http(b.url()), ledger.clone(), stop.clone()),
        publisher("amqp", amqp, ledger.clone(), stop.clone()),
    ];
    let confirmed = || ledger.lock().unwrap().confirmed.len();
    let wait_for_more = |n: usize| async move {
        let target = confirmed() + n;
        while confirmed() < target {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    // Faults, each once publishing has moved on from the last.
    wait_for_more(60).await;
    broker("stop_app").await;
    wait_health(&a.url(), 503).await;
    outage_felt(&ledger).await;
    broker("start_app").await;
    wait_health(&a.url(), 200).await;
    wait_health(&b.url(), 200).await;
    wait_for_more(150).await;

    b.kill();
    wait_for_more(40).await;
    b.spawn().await;
    wait_for_more(60).await;

    broker("stop_app").await;
    wait_health(&b.url(), 503).await;
    outage_felt(&ledger).await;
    broker("start_app").await;
    wait_health(&a.url(), 200).await;
    wait_health(&b.url(), 200).await;
    wait_for_more(60).await;

    stop.store(true, Ordering::Release);
    for p in publishers {
        p.await.unwrap();
    }
    let end = http(a.url()).publish(END).to(CHANNEL).await.expect("END publishes once the faults are over");

    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let acknowledged: HashMap<u64, &str> = ledger.confirmed.iter().map(|(id, d)| (*id, d.as_str())).collect();
    assert_eq!(acknowledged.len(), ledger.confirmed.len(), "every acknowledged publish has its own id");
    let failed: HashSet<&str> = ledger.failed.iter().map(String::as_str).collect();
    let mut expected: Vec<u64> = acknowledged.keys().copied().collect();
    expected.push(end.0);
    expected.sort_unstable();

    let mut report = Vec::new();
    for (i, handle) in subscribers.into_iter().enumerate() {
        let got = handle.await.unwrap();
        let name = format!("subscriber {i} ({:?})", [Transport::Sse, Transport::Sse, Transport::WebSocket, Transport::WebSocket, Transport::LongPoll, Transport::LongPoll][i]);
        assert!(got.gaps.is_empty(), "{name}: gap signals {:?}", got.gaps);
        let ids: Vec<u64> = got.messages.iter().map(|(id, _)| *id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{name}: ids out of order or repeated");
        let mut payloads = HashSet::new();
        let mut from_failed = 0;
        for (id, data) in &got.messages {
            assert!(payloads.insert(data.as_str()), "{name}: {data:?} delivered twice");
            match acknowledged.get(id) {
                Some(expected) => assert_eq!(expected, data, "{name}: id {id} carries another payload"),
                None if *id == end.0 => assert_eq!(data, END),
                None => {
                    assert!(failed.contains(data.as_str()), "{name}: {data:?} (id {id}) was never published");
                    from_failed += 1;
                }
            }
        }
        let missing: Vec<u64> = expected.iter().filter(|id| !ids.contains(id)).copied().collect();
        assert!(missing.is_empty(), "{name}: acknowledged ids never delivered: {missing:?}");
        report.push(format!("{name}: {} received ({} from failed calls), {} node switches", got.messages.len(), from_failed, got.switches));
    }
    println!(
        "chaos: {} publishes acknowledged, {} failed; 2 broker restarts, 1 node killed; 0 lost, 0 duplicates",
        ledger.confirmed.len(),
        ledger.failed.len()
    );
    for line in report {
        println!("  {line}");
    }
    a.stop();
    b.stop();
    no_leaks_then_delete(&stream).await;
}
