//! Server nodes on a real RabbitMQ, one stream per test, and the tools the tests inspect it with.
#![allow(dead_code)]

use std::time::Duration;

use push_core::amqp::lapin::options::QueueDeleteOptions;
use push_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The tests of this file share one RabbitMQ and one of them restarts it: they run one at a time.
/// An async mutex: a test holds it across awaits, and it works across the tests' runtimes.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the test's turn; fails with a clear message when RabbitMQ is not reachable.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().await;
    if std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().unwrap(), Duration::from_secs(2)).is_err() {
        panic!(
            "RabbitMQ is not reachable at 127.0.0.1:5672: these tests need a real broker \
             (start it with `rabbitmq-server -detached`, or scripts/services)"
        );
    }
    guard
}

/// A stream name no other test (or earlier run) uses.
pub fn unique_stream(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("push.test.{test}.{}.{nanos}", std::process::id())
}

/// A producer URL for `stream`.
pub fn producer_url(stream: &str) -> String {
    format!("{AMQP_URL}?stream={stream}")
}

/// A node in a process of its own, to be killed (`kill -9`) by the test: the child and its URL,
/// once it answers health. `extra`: more flags.
pub async fn spawn_process_node(stream: &str, extra: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_push-server"))
        .args(["--bind", &format!("127.0.0.1:{port}"), "--broker", AMQP_URL, "--stream-name", stream])
        .args(extra)
        .env("PUSH_LOG", "push_server=warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !client().get(format!("{url}/_push/health")).send().await.is_ok_and(|r| r.status() == 200) {
        assert!(std::time::Instant::now() < deadline, "the node at {url} never became healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, url)
}

/// A push server node on the RabbitMQ engine, on an ephemeral port.
pub struct Node {
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Node {
    pub async fn start(stream: &str, tweak: impl FnOnce(&mut Config)) -> Node {
        let mut config = Config::defaults();
        config.broker = AMQP_URL.to_owned();
        config.stream_name = stream.to_owned();
        config.long_poll_timeout = Duration::from_secs(5);
        config.publish_timeout = Duration::from_secs(5);
        config.shutdown_timeout = Duration::from_secs(2);
        tweak(&mut config);
        config.validate().expect("test config is valid");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(push_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        let node = Node { url, stop: Some(stop), task: Some(task) };
        node.wait_healthy(Duration::from_secs(20)).await;
        node
    }

    /// Stops the node and waits until it has (its AMQP connections close right after).
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    pub async fn health(&self) -> (u16, serde_json::Value) {
        match client().get(format!("{}/_push/health", self.url)).timeout(Duration::from_secs(2)).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(serde_json::Value::Null))
            }
            Err(e) => panic!("health request failed: {e}"),
        }
    }

    pub async fn wait_healthy(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(task) = &self.task {
                assert!(!task.is_finished(), "the node stopped while starting");
            }
            let ok = client().get(format!("{}/_push/health", self.url)).timeout(Duration::from_secs(2)).send().await.map(|r| r.status() == 200);
            if *ok.as_ref().unwrap_or(&false) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "node {} not healthy within {limit:?}: {:?}", self.url, ok);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Publishes over HTTP: the id, or the error status and `Push-Error` code.
    pub async fn try_publish(&self, channel: &str, body: String) -> Result<u64, String> {
        let response = client()
            .post(format!("{}{channel}", self.url))
            .body(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let code = response.headers().get("push-error").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!("{status} {code}: {text}"));
        }
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        Ok(json["id"].as_str().unwrap().parse().unwrap())
    }

    pub async fn publish(&self, channel: &str, body: impl Into<String>) -> u64 {
        self.try_publish(channel, body.into()).await.expect("publish")
    }

    /// The value of one metric line, e.g. `push_connections{transport="sse"}`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = client().get(format!("{}/_push/metrics", self.url)).send().await.unwrap().text().await.unwrap();
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
    }

    pub async fn wait_metric(&self, name: &str, value: f64) {
        for _ in 0..500 {
            if self.metric(name).await == value {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{name} never reached {value} (now {})", self.metric(name).await);
    }
}

pub fn client() -> reqwest::Client {
    push_core::tls::ensure_provider();
    reqwest::Client::builder().pool_max_idle_per_host(16).build().unwrap()
}

/// One JSON batch: messages as (id, channel, data), gaps as (channel, from, to), last_id.
pub struct Batch {
    pub messages: Vec<(u64, String, String)>,
    pub gaps: Vec<(String, u64, u64)>,
    pub last_id: u64,
}

pub async fn batch(url: &str) -> Batch {
    let response = client().get(url).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let id = |v: &serde_json::Value| -> u64 { v.as_str().unwrap().parse().unwrap() };
    Batch {
        messages: json["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (id(&m["id"]), m["channel"].as_str().unwrap().to_owned(), m["data"].as_str().unwrap().to_owned()))
            .collect(),
        gaps: json["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["channel"].as_str().unwrap().to_owned(), id(&g["from"]), id(&g["to"])))
            .collect(),
        last_id: id(&json["last_id"]),
    }
}

/// An SSE subscriber that records (id, data) of every message and fails on a gap.
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    Message(u64, String),
    Gap(String),
}

impl Sse {
    pub async fn open(url: &str) -> Sse {
        let response = client().get(url).header("Accept", "text/event-stream").send().await.unwrap();
        assert_eq!(response.status(), 200);
        Sse { response, buffer: String::new() }
    }

    /// The next message or gap (the opening event and comments are skipped); None at the end.
    pub async fn next(&mut self, limit: Duration) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (None, None, None::<String>);
                for line in block.lines() {
                    let (field, value) = line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    match field {
                        "event" => event = Some(value.to_owned()),
                        "id" => id = Some(value.to_owned()),
                        "data" => data = Some(data.map(|d| format!("{d}\n{value}")).unwrap_or_else(|| value.to_owned())),
                        _ => {}
                    }
                }
                match (event.as_deref(), data) {
                    (Some("gap"), Some(d)) => return Some(SseEvent::Gap(d)),
                    (_, Some(d)) => return Some(SseEvent::Message(id.unwrap().parse().unwrap(), d)),
                    _ => continue,
                }
            }
            match tokio::time::timeout(limit, self.response.chunk()).await.expect("SSE read timed out") {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

/// Runs `rabbitmqctl` with `args`; its stdout.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = std::process::Command::new("rabbitmqctl").args(args).output().expect("rabbitmqctl runs");
    assert!(out.status.success(), "rabbitmqctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Connections whose name mentions `stream` (the nodes and producers name theirs after it).
pub fn connections_of(stream: &str) -> Vec<String> {
    rabbitmqctl(&["list_connections", "-q", "--no-table-headers", "name", "client_properties"])
        .lines()
        .filter(|l| l.contains(&format!("({stream})")))
        .map(str::to_owned)
        .collect()
}

/// Consumers on `stream`.
pub fn consumers_of(stream: &str) -> Vec<String> {
    rabbitmqctl(&["list_consumers", "-q", "--no-table-headers", "queue_name", "consumer_tag"])
        .lines()
        .filter(|l| l.split('\t').next() == Some(stream))
        .map(str::to_owned)
        .collect()
}

/// Waits until no connection or consumer of `stream` remains, then deletes the stream.
pub async fn no_leaks_then_delete(stream: &str) {
    let mut left = (Vec::new(), Vec::new());
    for _ in 0..100 {
        left = (connections_of(stream), consumers_of(stream));
        if left.0.is_empty() && left.1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(left.0.is_empty() && left.1.is_empty(), "left behind on RabbitMQ: connections {:?}, consumers {:?}", left.0, left.1);
    delete_stream(stream).await;
}

pub async fn delete_stream(stream: &str) {
    let connection = push_core::amqp::connect(AMQP_URL, "push-rs tests", None).await.expect("connect to delete the stream");
    let channel = connection.create_channel().await.unwrap();
    channel.queue_delete(stream.into(), QueueDeleteOptions::default()).await.expect("delete the test stream");
    connection.close(200, "OK".into()).await.unwrap();
}

