//! Subscribers: one task per connection, over SSE, WebSocket, socket.io (engine.io v4 over a raw
//! WebSocket), push-rs long-poll, push-rs JSON batch or Nchan long-poll. Every transport hands the
//! bytes it receives to a [`Scanner`], which finds the benchmark payloads
//! (`PB|<seq>|<publish time µs>|xxx…`) wherever they sit in the stream (an SSE `data:` line, a
//! push-rs JSON frame, a socket.io `42[...]` packet, a long-poll body), so no transport needs a
//! full parser of its peer's framing. The JSON batch is parsed (for its cursor, `more` and gaps).
//!
//! Polling transports count as ready when their first *waiting* request is issued (after the
//! start-cursor request, for push-rs); the run then confirms on the server that the polls are
//! held (`--ready-gauge-url`) before it publishes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::error::BoxError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Server-Sent Events (`Accept: text/event-stream`); push-rs and Nchan.
    Sse,
    /// WebSocket, one channel per connection (URL template names the channel); push-rs and Nchan.
    Ws,
    /// socket.io: engine.io v4 over WebSocket, `join` event with the channel as the room.
    Socketio,
    /// push-rs long-poll: `?timeout=0` for the start cursor, then `?after=<Push-Id>`; one
    /// message per answer; `Push-Gap` headers are counted as gaps.
    Longpoll,
    /// push-rs JSON batch (`Accept: application/json`): `?timeout=0` for the start cursor
    /// (`last_id`), then `?after=<last_id>`; every message after the cursor per answer; `gaps`
    /// are counted; `more: true` is followed at once.
    Batch,
    /// Nchan long-poll: GET, then the answer's `Last-Modified` / `Etag` sent back as
    /// `If-Modified-Since` / `If-None-Match`; `304` / `408` (timeout) ask again. The first request
    /// has no cursor (`nchan_subscriber_first_message newest`: from now). Works for one message per
    /// answer and for `nchan_longpoll_multipart_response raw` (all buffered messages per answer).
    #[serde(rename = "nchan-longpoll")]
    NchanLongpoll,
}

impl Transport {
    /// Each subscriber makes one request after another (a keep-alive connection is reused).
    pub fn is_polling(self) -> bool {
        matches!(self, Transport::Longpoll | Transport::Batch | Transport::NchanLongpoll)
    }

    /// The transport reports gaps (the others cannot tell a gap from a loss).
    pub fn reports_gaps(self) -> bool {
        matches!(self, Transport::Longpoll | Transport::Batch)
    }
}

/// Counters shared by every subscriber task (read by the progress printer).
#[derive(Default)]
pub struct Shared {
    pub connected: AtomicU64,
    pub connect_errors: AtomicU64,
    pub disconnects: AtomicU64,
    pub received: AtomicU64,
    pub duplicates: AtomicU64,
    pub foreign: AtomicU64,
    /// Explicit gaps announced by the server (push-rs `Push-Gap` header, JSON batch `gaps`).
    pub gaps: AtomicU64,
    /// Polling transports: requests answered, and of those the ones without a message
    /// (timeouts: push-rs `204` or an empty batch, Nchan `304` / `408`).
    pub polls: AtomicU64,
    pub empty_polls: AtomicU64,
    /// JSON batch answers with `more: true` (cut by the batch limit).
    pub more: AtomicU64,
    /// Largest receive time seen, µs since the run's clock base.
    pub last_receive_us: AtomicU64,
}

pub struct SubSpec {
    pub index: usize,
    pub url: String,
    /// The channel (or socket.io room) this subscriber listens to.
    pub channel: String,
    pub channel_no: u64,
    pub channels: u64,
    /// How many messages this subscriber must receive.
    pub expected: usize,
    pub transport: Transport,
    /// WebSocket: count the subscriber as ready only after its first frame (push-rs sends
    /// `{"type":"subscribed"}`); otherwise after the handshake.
    pub ws_wait_first_frame: bool,
}

/// What one subscriber hands back when it stops.
pub struct SubResult {
    pub latencies_us: Vec<u32>,
    pub received: usize,
    pub expected: usize,
    /// The subscriber got ready (a failed connect loses nothing: it is a connect error).
    pub ready: bool,
}

pub struct Scanner {
    carry: Vec<u8>,
    seen: Vec<bool>,
    received: usize,
    latencies_us: Vec<u32>,
    channel_no: u64,
    channels: u64,
    base: Instant,
    shared: Arc<Shared>,
}

impl Scanner {
    fn new(spec: &SubSpec, base: Instant, shared: Arc<Shared>) -> Self {
        Scanner {
            carry: Vec::new(),
            seen: vec![false; spec.expected],
            received: 0,
            latencies_us: Vec::with_capacity(spec.expected),
            channel_no: spec.channel_no,
            channels: spec.channels,
            base,
            shared,
        }
    }

    /// Feeds bytes of a stream; payloads split across calls are reassembled.
    fn feed(&mut self, bytes: &[u8]) {
        if self.carry.is_empty() {
            let used = self.scan(bytes);
            if used < bytes.len() {
                self.carry.extend_from_slice(&bytes[used..]);
            }
        } else {
            self.carry.extend_from_slice(bytes);
            let buf = std::mem::take(&mut self.carry);
            let used = self.scan(&buf);
            self.carry = buf[used..].to_vec();
        }
    }

    /// Feeds one complete frame (nothing carried over).
    fn feed_frame(&mut self, bytes: &[u8]) {
        self.scan(bytes);
    }

    /// Records every complete payload header in `buf`; returns how many bytes are done with.
    fn scan(&mut self, buf: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let Some(off) = find(&buf[pos..], b"PB|") else {
                // keep a possible partial marker at the end
                return buf.len().saturating_sub(2).max(pos);
            };
            let start = pos + off;
            let mut i = start + 3;
            let Some((seq, next)) = number(buf, i) else { return start };
            i = next;
            let Some((t, next)) = number(buf, i) else { return start };
            self.record(seq, t);
            pos = next;
        }
    }

    fn record(&mut self, seq: u64, sent_us: u64) {
        let now = self.base.elapsed().as_micros() as u64;
        if seq % self.channels != self.channel_no {
            self.shared.foreign.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let idx = (seq / self.channels) as usize;
        if idx >= self.seen.len() {
            self.shared.foreign.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.seen[idx] {
            self.shared.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.seen[idx] = true;
        self.received += 1;
        self.latencies_us.push(now.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
        self.shared.received.fetch_add(1, Ordering::Relaxed);
        self.shared.last_receive_us.fetch_max(now, Ordering::Relaxed);
    }

    fn into_result(self, expected: usize, ready: bool) -> SubResult {
        SubResult { latencies_us: self.latencies_us, received: self.received, expected, ready }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses `<digits>|` at `buf[i..]`; None when incomplete or malformed.
fn number(buf: &[u8], mut i: usize) -> Option<(u64, usize)> {
    let mut n: u64 = 0;
    let start = i;
    while i < buf.len() && buf[i].is_ascii_digit() && i - start < 20 {
        n = n.wrapping_mul(10).wrapping_add((buf[i] - b'0') as u64);
        i += 1;
    }
    if i == start || i >= buf.len() || buf[i] != b'|' {
        return None;
    }
    Some((n, i + 1))
}

/// Runs one subscriber until `stop` flips to true. Connect failures count as connect errors;
/// a stream that ends early counts as a disconnect.
pub async fn run(
    spec: SubSpec,
    client: reqwest::Client,
    base: Instant,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> SubResult {
    let mut scanner = Scanner::new(&spec, base, shared.clone());
    let expected = spec.expected;
    // `ready` holds the connect permit until the subscriber is ready (then it is released).
    let mut ready = Ready { permit: Some(permit), ready: false };
    let outcome = tokio::select! {
        r = session(&spec, &client, &mut scanner, &shared, &mut ready) => r,
        _ = stop.wait_for(|s| *s) => Ok(()),
    };
    ready.permit = None;
    if let Err(e) = outcome {
        if ready.ready {
            shared.disconnects.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.connect_errors.fetch_add(1, Ordering::Relaxed);
        }
        if spec.index < 3 || !ready.ready {
            log_error(&spec, &e);
        }
        // stay quiet until the run stops, keeping what was received
        let _ = stop.wait_for(|s| *s).await;
    }
    scanner.into_result(expected, ready.ready)
}

static ERRORS_LOGGED: AtomicU64 = AtomicU64::new(0);

fn log_error(spec: &SubSpec, e: &BoxError) {
    if ERRORS_LOGGED.fetch_add(1, Ordering::Relaxed) < 5 {
        eprintln!("subscriber {} ({}): {e}", spec.index, spec.url);
    }
}

struct Ready {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ready: bool,
}

fn mark_ready(shared: &Shared, ready: &mut Ready) {
    if !ready.ready {
        ready.ready = true;
        ready.permit = None;
        shared.connected.fetch_add(1, Ordering::Relaxed);
    }
}

async fn session(
    spec: &SubSpec,
    client: &reqwest::Client,
    scanner: &mut Scanner,
    shared: &Shared,
    ready: &mut Ready,
) -> Result<(), BoxError> {
    match spec.transport {
        Transport::Sse => {
            let mut resp = client
                .get(&spec.url)
                .header("Accept", "text/event-stream")
                .send()
                .await?;
            if !resp.status().is_success() {
                return Err(format!("status {}", resp.status()).into());
            }
            mark_ready(shared, ready);
            while let Some(chunk) = resp.chunk().await? {
                scanner.feed(&chunk);
            }
            Err("stream ended".into())
        }
        Transport::Longpoll => {
            let sep = if spec.url.contains('?') { '&' } else { '?' };
            // The start cursor: answered at once with the newest id.
            let resp = client.get(format!("{}{sep}timeout=0", spec.url)).send().await?;
            let status = resp.status();
            if !status.is_success() {
                return Err(format!("status {status}").into());
            }
            let mut cursor = push_id(&resp).ok_or("no Push-Id header (long-poll speaks push-rs only)")?;
            count_push_gap(&resp, shared);
            let body = resp.bytes().await?;
            if status == reqwest::StatusCode::OK {
                scanner.feed_frame(&body);
            }
            loop {
                let req = client.get(format!("{}{sep}after={cursor}", spec.url)).send();
                // Ready once the first waiting request is issued (the run confirms on the
                // server's gauge that it is held before publishing).
                mark_ready(shared, ready);
                let resp = req.await?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(format!("status {status}").into());
                }
                if let Some(id) = push_id(&resp) {
                    cursor = id;
                }
                count_push_gap(&resp, shared);
                let body = resp.bytes().await?;
                shared.polls.fetch_add(1, Ordering::Relaxed);
                if status == reqwest::StatusCode::OK {
                    scanner.feed_frame(&body);
                } else {
                    shared.empty_polls.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Transport::Batch => {
            let sep = if spec.url.contains('?') { '&' } else { '?' };
            let get = |url: String| client.get(url).header("Accept", "application/json").send();
            let resp = get(format!("{}{sep}timeout=0", spec.url)).await?;
            let mut cursor = read_batch(resp, scanner, shared).await?.0;
            loop {
                let req = get(format!("{}{sep}after={cursor}", spec.url));
                mark_ready(shared, ready);
                let (last_id, messages) = read_batch(req.await?, scanner, shared).await?;
                cursor = last_id;
                shared.polls.fetch_add(1, Ordering::Relaxed);
                if messages == 0 {
                    shared.empty_polls.fetch_add(1, Ordering::Relaxed);
                }
                // `more: true` needs nothing special: the next request goes out at once anyway.
            }
        }
        Transport::NchanLongpoll => {
            let (mut last_modified, mut etag): (Option<String>, Option<String>) = (None, None);
            loop {
                let mut req = client.get(&spec.url);
                if let Some(lm) = &last_modified {
                    req = req.header("If-Modified-Since", lm);
                }
                if let Some(tag) = &etag {
                    req = req.header("If-None-Match", tag);
                }
                let fut = req.send();
                // The first request has no cursor: it waits for the next message (from now).
                mark_ready(shared, ready);
                let resp = fut.await?;
                let status = resp.status().as_u16();
                let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let (lm, tag) = (header("last-modified"), header("etag"));
                let body = resp.bytes().await?;
                shared.polls.fetch_add(1, Ordering::Relaxed);
                match status {
                    200 => {
                        scanner.feed_frame(&body);
                        if lm.is_none() && tag.is_none() {
                            return Err("200 without Last-Modified / Etag (not Nchan long-poll?)".into());
                        }
                    }
                    304 | 408 => {
                        shared.empty_polls.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => return Err(format!("status {status}").into()),
                }
                // A timeout answer may carry the cursor too; otherwise keep the one we have.
                if lm.is_some() {
                    last_modified = lm;
                }
                if tag.is_some() {
                    etag = tag;
                }
            }
        }
        Transport::Ws => {
            let (mut ws, _) = tokio_tungstenite::connect_async(spec.url.as_str()).await?;
            if !spec.ws_wait_first_frame {
                mark_ready(shared, ready);
            }
            while let Some(msg) = ws.next().await {
                match msg? {
                    Message::Text(t) => {
                        mark_ready(shared, ready);
                        scanner.feed_frame(t.as_bytes());
                    }
                    Message::Binary(b) => {
                        mark_ready(shared, ready);
                        scanner.feed_frame(&b);
                    }
                    Message::Close(_) => return Err("closed by server".into()),
                    _ => {}
                }
            }
            Err("stream ended".into())
        }
        Transport::Socketio => {
            let (mut ws, _) = tokio_tungstenite::connect_async(spec.url.as_str()).await?;
            // engine.io OPEN ('0{"sid":..}'), then socket.io CONNECT to the main namespace.
            let open = next_text(&mut ws).await?;
            if !open.starts_with('0') {
                return Err(format!("expected engine.io open, got {open:.40}").into());
            }
            ws.send(Message::text("40")).await?;
            loop {
                let t = next_text(&mut ws).await?;
                if t.starts_with("40") {
                    break;
                }
                if t == "2" {
                    ws.send(Message::text("3")).await?;
                } else if t.starts_with("44") {
                    return Err(format!("connect refused: {t:.80}").into());
                }
            }
            let room = serde_json::to_string(&spec.channel)?;
            ws.send(Message::text(format!("42[\"join\",{room}]"))).await?;
            while let Some(msg) = ws.next().await {
                let t = match msg? {
                    Message::Text(t) => t,
                    Message::Close(_) => return Err("closed by server".into()),
                    _ => continue,
                };
                let s = t.as_str();
                if s == "2" {
                    ws.send(Message::text("3")).await?; // engine.io ping -> pong
                } else if s.starts_with("42[\"joined\"") {
                    mark_ready(shared, ready);
                } else if s.starts_with("42") {
                    scanner.feed_frame(s.as_bytes());
                } else if s.starts_with('1') || s.starts_with("41") {
                    return Err("closed by server (engine.io close / socket.io disconnect)".into());
                }
            }
            Err("stream ended".into())
        }
    }
}

fn count_push_gap(resp: &reqwest::Response, shared: &Shared) {
    if resp.headers().contains_key("push-gap") {
        shared.gaps.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(serde::Deserialize)]
struct Batch {
    messages: Vec<BatchMessage>,
    #[serde(default)]
    gaps: Vec<serde_json::Value>,
    last_id: String,
    #[serde(default)]
    more: bool,
}

#[derive(serde::Deserialize)]
struct BatchMessage {
    #[serde(default)]
    data: String,
}

/// Reads one JSON batch answer: feeds every message's data to the scanner, counts gaps; returns
/// the next cursor and how many messages the answer held.
async fn read_batch(resp: reqwest::Response, scanner: &mut Scanner, shared: &Shared) -> Result<(String, usize), BoxError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("status {status}").into());
    }
    let body = resp.bytes().await?;
    let batch: Batch = serde_json::from_slice(&body).map_err(|e| format!("JSON batch: {e}"))?;
    for m in &batch.messages {
        scanner.feed_frame(m.data.as_bytes());
    }
    if !batch.gaps.is_empty() {
        shared.gaps.fetch_add(batch.gaps.len() as u64, Ordering::Relaxed);
    }
    if batch.more {
        shared.more.fetch_add(1, Ordering::Relaxed);
    }
    Ok((batch.last_id, batch.messages.len()))
}

fn push_id(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get("push-id")?.to_str().ok().map(str::to_owned)
}

async fn next_text<S>(ws: &mut S) -> Result<String, BoxError>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = Duration::from_secs(30);
    loop {
        match tokio::time::timeout(deadline, ws.next()).await {
            Err(_) => return Err("timed out waiting for a frame".into()),
            Ok(None) => return Err("stream ended".into()),
            Ok(Some(m)) => match m? {
                Message::Text(t) => return Ok(t.as_str().to_owned()),
                Message::Close(_) => return Err("closed by server".into()),
                _ => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(expected: usize, channels: u64, channel_no: u64) -> SubSpec {
        SubSpec {
            index: 0,
            url: String::new(),
            channel: String::new(),
            channel_no,
            channels,
            expected,
            transport: Transport::Sse,
            ws_wait_first_frame: false,
        }
    }

    #[test]
    fn scanner_reassembles_split_payloads_and_counts_duplicates() {
        let shared = Arc::new(Shared::default());
        let mut s = Scanner::new(&spec(3, 1, 0), Instant::now(), shared.clone());
        s.feed(b"id: 1\ndata: PB|0|0|xxxx\n\nid: 2\ndata: PB|1");
        s.feed(b"|0|xx\n\n: hi\n\ndata: P");
        s.feed(b"B|1|0|x\n\ndata: PB|2|0|x\n\n");
        assert_eq!(s.received, 3);
        assert_eq!(shared.duplicates.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn scanner_maps_sequence_numbers_to_channels() {
        let shared = Arc::new(Shared::default());
        let mut s = Scanner::new(&spec(2, 4, 3), Instant::now(), shared.clone());
        s.feed_frame(br#"{"type":"message","data":"PB|3|0|x"}"#);
        s.feed_frame(br#"42["msg","PB|7|0|x"]"#);
        s.feed_frame(br#"42["msg","PB|6|0|x"]"#);
        assert_eq!(s.received, 2);
        assert_eq!(shared.foreign.load(Ordering::Relaxed), 1);
    }
}
