//! A real server on an ephemeral port, and small clients for each transport.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use push_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TestServer {
    pub url: String,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::with(|_| {}).await
    }

    /// Starts a server whose config `tweak` adjusts from the defaults.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let mut config = Config::defaults();
        config.long_poll_timeout = Duration::from_secs(5);
        tweak(&mut config);
        push_server::check_config(&config).expect("test config is valid");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(push_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { url: format!("http://{addr}"), addr, stop: Some(stop), task: Some(task) }
    }

    /// Stops the server and waits until it has.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
    }

    pub async fn publish(&self, channel: &str, body: impl Into<reqwest::Body>) -> String {
        let response = client().post(format!("{}{channel}", self.url)).body(body).send().await.unwrap();
        assert_eq!(response.status(), 200, "publish failed: {:?}", response.text().await);
        let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        json["id"].as_str().unwrap().to_owned()
    }

    /// The value of one metric line, e.g. `push_connections{transport="sse"}`.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = client().get(format!("{}/_push/metrics", self.url)).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or(0.0)
    }

    /// Waits until a metric reaches `value` (subscriptions are registered asynchronously).
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
    reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap()
}

/// One JSON batch read: (messages as (id, channel, data), gaps as (from, to), last_id).
pub async fn batch(url: &str) -> (Vec<(u64, String, String)>, Vec<(u64, u64)>, String) {
    let response = client().get(url).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let json: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let messages = json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (id(&m["id"]), m["channel"].as_str().unwrap().to_owned(), m["data"].as_str().unwrap().to_owned()))
        .collect();
    let gaps = json["gaps"].as_array().unwrap().iter().map(|g| (id(&g["from"]), id(&g["to"]))).collect();
    (messages, gaps, json["last_id"].as_str().unwrap().to_owned())
}

pub fn id(v: &serde_json::Value) -> u64 {
    v.as_str().unwrap().parse().unwrap()
}

/// A parsed Server-Sent Event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: Option<String>,
}

/// Reads an SSE response event by event.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub async fn open(url: &str, last_event_id: Option<&str>) -> SseReader {
        let mut request = client().get(url).header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        SseReader { response, buffer: String::new() }
    }

    /// The next event with fields (comments are skipped); None when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                for line in block.lines() {
                    let (field, value) = line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    match field {
                        "event" => event.event = Some(value.to_owned()),
                        "id" => event.id = Some(value.to_owned()),
                        "data" => {
                            event.data = Some(match event.data.take() {
                                Some(prev) => format!("{prev}\n{value}"),
                                None => value.to_owned(),
                            })
                        }
                        _ => {}
                    }
                }
                if event != SseEvent::default() {
                    return Some(event);
                }
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(10), self.response.chunk()).await.expect("SSE read timed out") {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}

/// A WebSocket subscriber yielding JSON frames.
pub struct WsReader {
    socket: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl WsReader {
    pub async fn open(url: &str) -> WsReader {
        let url = url.replacen("http://", "ws://", 1);
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        WsReader { socket }
    }

    pub async fn next(&mut self) -> Option<serde_json::Value> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.expect("WebSocket read timed out");
            match frame {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// Raises the soft open-files limit to the hard one (many sockets in one test process; a
/// child server inherits it).
pub fn raise_fd_limit() {
    push_server::raise_open_files_limit();
}
