//! The real `push-server` binary as a child process, and a raw HTTP/1.1 + WebSocket client on
//! plain TCP, so that malformed bytes really reach the server (no client library tidies them).
#![allow(dead_code)]

use std::fs::File;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long any single read may wait unless a case says otherwise.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A `push-server` child on a free loopback port.
pub struct Server {
    pub addr: SocketAddr,
    pub pid: u32,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts the binary with `args` (besides `--bind`) and waits until `/_push/health` is 200.
    pub async fn spawn(args: &[&str]) -> Server {
        Server::try_spawn(args).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`Server::spawn`], with the reason when the server does not come up.
    pub async fn try_spawn(args: &[&str]) -> Result<Server, String> {
        raise_fd_limit();
        let addr = free_port();
        let log = std::env::temp_dir().join(format!("push-server-test-{}-{}.log", std::process::id(), addr.port()));
        let child = Command::new(env!("CARGO_BIN_EXE_push-server"))
            .arg("--bind")
            .arg(addr.to_string())
            .args(args)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // A file, not a pipe: an undrained pipe would block the server once it filled.
            .stderr(File::create(&log).map_err(|e| format!("log file: {e}"))?)
            .spawn()
            .map_err(|e| format!("spawn push-server: {e}"))?;
        let pid = child.id();
        let mut server = Server { addr, pid, child, log };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("push-server exited at start with {status}:\n{}", self.log_tail()));
            }
            if let Ok(r) = get(self.addr, "/_push/health", Duration::from_secs(2)).await {
                if r.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!("push-server never answered /_push/health:\n{}", self.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Still the same child and still running.
    pub fn alive(&mut self) -> Result<(), String> {
        if self.child.id() != self.pid {
            return Err(format!("the server's pid changed from {} to {}", self.pid, self.child.id()));
        }
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server exited ({status}):\n{}", self.log_tail())),
            Err(e) => Err(format!("cannot check the server: {e}")),
        }
    }

    /// Everything the server logged (stderr) so far.
    pub fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Resident memory of the server, in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid)
    }

    /// Publishes `body` to `channel` and returns its id.
    pub async fn publish(&self, channel: &str, body: &[u8]) -> Result<u64, String> {
        let mut request = format!("POST {channel} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        request.extend_from_slice(body);
        let r = one_shot(self.addr, &request, READ_TIMEOUT).await.map_err(|e| format!("publish: {e}"))?;
        if r.status != 200 {
            return Err(format!("publish answered {}: {}", r.status, r.text()));
        }
        let json: serde_json::Value = serde_json::from_slice(&r.body).map_err(|e| format!("publish answer: {e}"))?;
        json["id"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| format!("publish answer without id: {json}"))
    }

    /// A normal publish and a long-poll that receives it, and the same live child: what every
    /// group of hostile cases must leave working.
    pub async fn still_serves(&mut self, tag: &str) -> Result<(), String> {
        self.alive()?;
        let channel = format!("/check/{tag}");
        let body = format!("still here after {tag}");
        let id = self.publish(&channel, body.as_bytes()).await?;
        let r = get(self.addr, &format!("{channel}?after={}&timeout=2", id - 1), READ_TIMEOUT).await.map_err(|e| format!("subscribe: {e}"))?;
        if r.status != 200 || r.body != body.as_bytes() || r.header("push-id") != Some(&id.to_string()) {
            return Err(format!("subscribe after {tag}: {} {:?} {:?}", r.status, r.header("push-id"), r.text()));
        }
        self.alive()
    }

    /// `/_push/metrics` as text.
    pub async fn metrics(&self) -> Result<String, String> {
        let r = get(self.addr, "/_push/metrics", READ_TIMEOUT).await.map_err(|e| format!("metrics: {e}"))?;
        if r.status != 200 {
            return Err(format!("metrics answered {}", r.status));
        }
        Ok(r.text())
    }

    /// Polls a metric (the sum of the lines starting with `prefix`) until `ok` holds; returns
    /// the last value either way.
    pub async fn wait_metric(&self, prefix: &str, within: Duration, ok: impl Fn(f64) -> bool) -> Result<f64, f64> {
        let deadline = Instant::now() + within;
        let mut last = f64::NAN;
        loop {
            if let Ok(text) = self.metrics().await {
                last = metric(&text, prefix).unwrap_or(f64::NAN);
                if ok(last) {
                    return Ok(last);
                }
            }
            if Instant::now() >= deadline {
                return Err(last);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The sum of the samples whose line starts with `prefix` (a name, or a name and labels).
pub fn metric(text: &str, prefix: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(prefix)?;
            // `push_channels` must not match `push_channels_total`.
            if !prefix.contains('{') && !(rest.starts_with(' ') || rest.starts_with('{')) {
                return None;
            }
            rest.rsplit(' ').next()?.parse().ok()
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap()
}

/// Raises the soft open-files limit to the hard one (many sockets in one test process; a
/// child server inherits it).
pub fn raise_fd_limit() {
    push_server::raise_open_files_limit();
}

/// Why no answer was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAnswer {
    /// The server closed (FIN) before a whole answer; `got` bytes had arrived.
    Closed { got: usize },
    /// The connection was reset.
    Reset { got: usize },
    /// Nothing complete within the time allowed.
    Hang { got: usize },
    /// Bytes that are not an HTTP/1.1 answer.
    Garbled(String),
    /// A body over the reader's cap (memory guard).
    TooLarge(usize),
    Io(String),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::Closed { got } => write!(f, "closed without a (whole) answer after {got} bytes"),
            NoAnswer::Reset { got } => write!(f, "connection reset after {got} bytes, without a (whole) answer"),
            NoAnswer::Hang { got } => write!(f, "no answer in time ({got} bytes read)"),
            NoAnswer::Garbled(s) => write!(f, "not an HTTP answer: {s:?}"),
            NoAnswer::TooLarge(n) => write!(f, "answer body larger than {n} bytes"),
            NoAnswer::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `404 [NOT_FOUND] reason`, for failure messages.
    pub fn summary(&self) -> String {
        let reason: String = self.text().chars().take(120).collect();
        format!("{} [{}] {:?}", self.status, self.header("push-error").unwrap_or("-"), reason.trim_end())
    }
}

/// A raw TCP connection that reads HTTP answers (and WebSocket frames after an upgrade).
pub struct Conn {
    reader: OwnedReadHalf,
    /// None while a spawned sender holds it.
    writer: Option<OwnedWriteHalf>,
    buf: Vec<u8>,
    /// Bytes read over the connection's life.
    pub read_total: usize,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
        let stream = tokio::time::timeout(READ_TIMEOUT, TcpStream::connect(addr)).await.map_err(|_| std::io::Error::other("connect timed out"))??;
        stream.set_nodelay(true)?;
        let (reader, writer) = stream.into_split();
        Ok(Conn { reader, writer: Some(writer), buf: Vec::new(), read_total: 0 })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.write_all(bytes).await,
            None => Err(std::io::Error::other("a spawned sender holds the writer")),
        }
    }

    /// Sends the FIN (the server sees the request end).
    pub async fn shutdown_write(&mut self) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.shutdown().await,
            None => Ok(()),
        }
    }

    /// Writes `bytes` from a task, so that reading goes on while a server that answers early
    /// stops reading a large request. The task hands the writer back instead of dropping it:
    /// dropping it would send a FIN, which would end the request early (no half-close).
    pub fn spawn_send(&mut self, bytes: Vec<u8>, half_close: bool) -> JoinHandle<Option<OwnedWriteHalf>> {
        let writer = self.writer.take();
        tokio::spawn(async move {
            let mut writer = writer?;
            if writer.write_all(&bytes).await.is_ok() && half_close {
                let _ = writer.shutdown().await;
            }
            Some(writer)
        })
    }

    /// Makes the next close a reset (RST) instead of a FIN.
    pub fn reset_on_close(&self) {
        let _ = self.reader.as_ref().set_zero_linger();
    }

    /// Reads more bytes into the buffer until `deadline`; Ok(0) is EOF.
    async fn fill(&mut self, deadline: tokio::time::Instant) -> Result<usize, NoAnswer> {
        let mut chunk = [0u8; 16384];
        match tokio::time::timeout_at(deadline, self.reader.read(&mut chunk)).await {
            Err(_) => Err(NoAnswer::Hang { got: self.read_total }),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                self.read_total += n;
                Ok(n)
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Err(NoAnswer::Reset { got: self.read_total }),
            Ok(Err(e)) => Err(NoAnswer::Io(e.to_string())),
        }
    }

    fn eof(&self) -> NoAnswer {
        NoAnswer::Closed { got: self.read_total }
    }

    /// Reads one final answer (1xx interim answers other than 101 are skipped) with its body.
    /// `no_body`: the request was HEAD.
    pub async fn response(&mut self, timeout: Duration, no_body: bool) -> Result<Response, NoAnswer> {
        self.response_capped(timeout, no_body, 64 << 20).await
    }

    pub async fn response_capped(&mut self, timeout: Duration, no_body: bool, cap: usize) -> Result<Response, NoAnswer> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut r = self.head_until(deadline).await?;
            if (100..200).contains(&r.status) && r.status != 101 {
                continue;
            }
            if no_body || r.status == 204 || r.status == 304 || (100..200).contains(&r.status) {
                return Ok(r);
            }
            r.body = self.body(&r, deadline, cap).await?;
            return Ok(r);
        }
    }

    /// Reads only the status line and headers (streams: SSE, 101).
    pub async fn head(&mut self, timeout: Duration) -> Result<Response, NoAnswer> {
        self.head_until(tokio::time::Instant::now() + timeout).await
    }

    async fn head_until(&mut self, deadline: tokio::time::Instant) -> Result<Response, NoAnswer> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head);
            }
            if self.buf.len() > 1 << 20 {
                return Err(NoAnswer::Garbled("a head over 1 MiB".into()));
            }
            if self.fill(deadline).await? == 0 {
                return Err(self.eof());
            }
        }
    }

    async fn body(&mut self, r: &Response, deadline: tokio::time::Instant, cap: usize) -> Result<Vec<u8>, NoAnswer> {
        let chunked = r.header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            let mut body = Vec::new();
            loop {
                let line = self.line(deadline).await?;
                let size_text = line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_text, 16).map_err(|_| NoAnswer::Garbled(format!("chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.line(deadline).await?.is_empty() {}
                    return Ok(body);
                }
                if body.len() + size > cap {
                    return Err(NoAnswer::TooLarge(cap));
                }
                let data = self.exact(size + 2, deadline).await?;
                body.extend_from_slice(&data[..size]);
            }
        }
        if let Some(len) = r.header("content-length") {
            let len: usize = len.trim().parse().map_err(|_| NoAnswer::Garbled(format!("content-length {len:?}")))?;
            if len > cap {
                return Err(NoAnswer::TooLarge(cap));
            }
            return self.exact(len, deadline).await;
        }
        // Close-delimited.
        loop {
            if self.buf.len() > cap {
                return Err(NoAnswer::TooLarge(cap));
            }
            if self.fill(deadline).await? == 0 {
                return Ok(std::mem::take(&mut self.buf));
            }
        }
    }

    async fn line(&mut self, deadline: tokio::time::Instant) -> Result<String, NoAnswer> {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Ok(String::from_utf8_lossy(&line[..end]).into_owned());
            }
            if self.fill(deadline).await? == 0 {
                return Err(self.eof());
            }
        }
    }

    /// Exactly `n` bytes.
    pub async fn exact(&mut self, n: usize, deadline: tokio::time::Instant) -> Result<Vec<u8>, NoAnswer> {
        while self.buf.len() < n {
            if self.fill(deadline).await? == 0 {
                return Err(self.eof());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Waits for the server to close the connection, skipping whatever it still sends.
    /// Ok(first bytes seen) on FIN or reset; Err on timeout.
    pub async fn closed_within(&mut self, timeout: Duration) -> Result<Vec<u8>, NoAnswer> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.fill(deadline).await {
                Ok(0) | Err(NoAnswer::Reset { .. }) | Err(NoAnswer::Io(_)) => return Ok(std::mem::take(&mut self.buf)),
                Ok(_) => {
                    if self.buf.len() > 1 << 20 {
                        self.buf.drain(..);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next WebSocket frame from the server.
    pub async fn ws_frame(&mut self, timeout: Duration) -> Result<WsFrame, NoAnswer> {
        let deadline = tokio::time::Instant::now() + timeout;
        let head = self.exact(2, deadline).await?;
        let fin = head[0] & 0x80 != 0;
        let opcode = head[0] & 0x0f;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7f {
            126 => u16::from_be_bytes(self.exact(2, deadline).await?.try_into().unwrap()) as u64,
            127 => u64::from_be_bytes(self.exact(8, deadline).await?.try_into().unwrap()),
            n => n as u64,
        };
        if len > 16 << 20 {
            return Err(NoAnswer::TooLarge(16 << 20));
        }
        let mask = if masked { Some(self.exact(4, deadline).await?) } else { None };
        let mut payload = self.exact(len as usize, deadline).await?;
        if let Some(mask) = mask {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok(WsFrame { fin, opcode, payload })
    }
}

/// A WebSocket frame as read from the server.
#[derive(Debug, Clone)]
pub struct WsFrame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl WsFrame {
    pub const TEXT: u8 = 1;
    pub const BINARY: u8 = 2;
    pub const CLOSE: u8 = 8;
    pub const PING: u8 = 9;
    pub const PONG: u8 = 10;

    /// The close code of a close frame (1005 when it carries none).
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == Self::CLOSE).then(|| if self.payload.len() >= 2 { u16::from_be_bytes([self.payload[0], self.payload[1]]) } else { 1005 })
    }
    pub fn json(&self) -> Option<serde_json::Value> {
        (self.opcode == Self::TEXT).then(|| serde_json::from_slice(&self.payload).ok()).flatten()
    }
}

/// A client frame: `first` is the first byte (FIN, RSV bits, opcode); masked as clients must
/// unless `mask` is false. `declared` overrides the payload length written in the header.
pub fn ws_client_frame(first: u8, payload: &[u8], mask: bool, declared: Option<u64>) -> Vec<u8> {
    let len = declared.unwrap_or(payload.len() as u64);
    let mut out = vec![first];
    let m = if mask { 0x80 } else { 0 };
    if len < 126 {
        out.push(m | len as u8);
    } else if len <= u16::MAX as u64 {
        out.push(m | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    let key = [0x37u8, 0xfa, 0x21, 0x3d];
    if mask {
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A WebSocket upgrade request for `path` with extra header lines.
pub fn ws_upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Opens a WebSocket on `path` and reads the `subscribed` frame.
pub async fn ws_open(addr: SocketAddr, path: &str, extra: &str) -> Result<Conn, String> {
    let mut conn = Conn::connect(addr).await.map_err(|e| e.to_string())?;
    conn.send(ws_upgrade(path, extra).as_bytes()).await.map_err(|e| e.to_string())?;
    let head = conn.head(READ_TIMEOUT).await.map_err(|e| e.to_string())?;
    if head.status != 101 {
        return Err(format!("upgrade answered {}", head.status));
    }
    let hello = conn.ws_frame(READ_TIMEOUT).await.map_err(|e| format!("no subscribed frame: {e}"))?;
    match hello.json() {
        Some(v) if v["type"] == "subscribed" => Ok(conn),
        _ => Err(format!("first frame is not `subscribed`: {hello:?}")),
    }
}

fn parse_head(head: &[u8]) -> Result<Response, NoAnswer> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(NoAnswer::Garbled(status_line.chars().take(80).collect()));
    };
    let status = match (version.starts_with("HTTP/1."), code.parse::<u16>()) {
        (true, Ok(s)) if (100..600).contains(&s) => s,
        _ => return Err(NoAnswer::Garbled(status_line.chars().take(80).collect())),
    };
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect();
    Ok(Response { status, headers, body: Vec::new() })
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends `request` on a fresh connection and reads one answer.
pub async fn one_shot(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<Response, NoAnswer> {
    let mut conn = Conn::connect(addr).await.map_err(|e| NoAnswer::Io(e.to_string()))?;
    conn.send(request).await.map_err(|e| NoAnswer::Io(e.to_string()))?;
    let head_request = request.starts_with(b"HEAD ");
    conn.response(timeout, head_request).await
}

/// `GET path` on a fresh connection.
pub async fn get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Response, NoAnswer> {
    one_shot(addr, format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(), timeout).await
}
