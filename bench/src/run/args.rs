//! The flags of `push-bench run`.

use std::path::PathBuf;

use crate::subscriber::Transport;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Label of the server under test (push-rs, nchan, socket.io, ...).
    #[arg(long, default_value = "push-rs")]
    pub server: String,
    /// Label of the scenario (used by `table` to group rows).
    #[arg(long, default_value = "custom")]
    pub scenario: String,
    /// Subscriber URL template; `{channel}` is replaced by the channel name, `{subscriber}` by
    /// the subscriber's number (e.g. a consumer id per subscriber). For socket.io this is
    /// the engine.io URL and the channel is the room.
    #[arg(long, default_value = "http://127.0.0.1:4000/bench/{channel}")]
    pub sub_url: String,
    /// Publish URL template (HTTP POST, body = payload).
    #[arg(long, default_value = "http://127.0.0.1:4000/bench/{channel}")]
    pub pub_url: String,
    #[arg(long, value_enum, default_value = "sse")]
    pub transport: Transport,
    /// WebSocket: a subscriber is ready at its first frame, not at the handshake (push-rs).
    #[arg(long)]
    pub ws_wait_first_frame: bool,
    /// Subscribers (connections).
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// Channels; subscriber j listens to channel j % channels, message i goes to i % channels.
    #[arg(long, default_value_t = 1)]
    pub channels: u64,
    /// Messages to publish.
    #[arg(long, default_value_t = 100)]
    pub messages: u64,
    #[arg(long, default_value_t = 100)]
    pub payload_bytes: usize,
    /// Publishing connections working at once.
    #[arg(long, default_value_t = 1)]
    pub pub_concurrency: usize,
    /// Messages per second in total (0: back to back).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,
    /// Longest wait for all subscribers to connect.
    #[arg(long, default_value_t = 120)]
    pub connect_timeout_secs: u64,
    /// Wait after the last subscriber connected, before measuring idle memory and publishing.
    #[arg(long, default_value_t = 1000)]
    pub settle_ms: u64,
    /// Keep the subscribers idle this long before publishing (idle-memory scenario).
    #[arg(long, default_value_t = 0)]
    pub hold_secs: u64,
    /// Longest wait for deliveries after the last publish.
    #[arg(long, default_value_t = 30)]
    pub deliver_timeout_secs: u64,
    /// Longest time for the publishing phase.
    #[arg(long, default_value_t = 300)]
    pub publish_timeout_secs: u64,
    /// Pid of the server process (its direct children are included: nginx workers).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Before publishing, poll this URL (plain text: Prometheus metrics, `nchan_stub_status`)
    /// until the gauge named by `--ready-gauge` reaches the number of ready subscribers: for
    /// polling transports, proof that the server holds every poll.
    #[arg(long, requires = "ready_gauge")]
    pub ready_gauge_url: Option<String>,
    /// Start of the gauge's line, the value follows: `push_connections{transport="long-poll"}`,
    /// `subscribers:`.
    #[arg(long)]
    pub ready_gauge: Option<String>,
    /// Longest wait for `--ready-gauge` (then the run goes on and records that it was not reached).
    #[arg(long, default_value_t = 30)]
    pub ready_gauge_timeout_secs: u64,
    /// Channel name prefix (default: b<unix time>, so runs never share channels).
    #[arg(long)]
    pub channel_prefix: Option<String>,
    /// Write the JSON result here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Free-form note stored in the result.
    #[arg(long, default_value = "")]
    pub note: String,
}
