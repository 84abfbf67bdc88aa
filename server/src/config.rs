//! The server's settings: its command-line flags, each one also settable through its `PUSH_*`
//! environment variable. The subcommands and their arguments belong to the command line (`cli`).

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};

/// The server's settings, as plain data. Every flag can also be set through the environment
/// variable shown with it.
// A Parser of its own: the embedded server and the tests parse it without the command line.
#[derive(Parser, Debug, Clone)]
#[command(name = "push-server")]
pub struct Config {
    /// Address to listen on. Binding to a non-loopback address needs --publish-key (or
    /// --allow-open-publish).
    #[arg(long, env = "PUSH_BIND", default_value = "127.0.0.1:4000")]
    pub bind: SocketAddr,

    /// Broker engine: `memory` (embedded, one process), or RabbitMQ for many nodes:
    /// `amqp://user:pass@host:5672/%2f`, or `amqps://...:5671/...` over TLS (see docs/RABBITMQ.md).
    #[arg(long, env = "PUSH_BROKER", default_value = "memory")]
    pub broker: String,

    /// RabbitMQ over `amqps://`: a PEM file of CA certificates trusted besides the system's roots
    /// (e.g. the broker's private CA).
    #[arg(long, env = "PUSH_BROKER_CA_FILE")]
    pub broker_ca_file: Option<std::path::PathBuf>,

    /// Embedded broker: keep the log in this directory, so a restart (or a crash) loses no
    /// answered publish and returning subscribers resume from disk. Without it the log is in
    /// memory only. One process per directory (see docs/STORAGE.md).
    #[arg(long, env = "PUSH_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,

    /// With --data-dir: `always` answers a publish once it is on disk (concurrent publishes
    /// share one fsync); `interval` fsyncs every --fsync-interval (a crash loses at most that
    /// much, as a gap); `never` leaves it to the OS (fsync at least every minute and at shutdown).
    #[arg(long, env = "PUSH_FSYNC", value_enum, default_value_t = FsyncPolicy::Always)]
    pub fsync: FsyncPolicy,

    /// With --fsync interval: how often the log is made durable.
    #[arg(long, env = "PUSH_FSYNC_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub fsync_interval: std::time::Duration,

    /// With --data-dir: remove messages older than this from disk; `0s` keeps them until
    /// --retention-bytes removes them. A cursor before what is left gets a gap.
    #[arg(long, env = "PUSH_RETENTION_AGE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub retention_age: std::time::Duration,

    /// With --data-dir: most bytes of messages kept on disk (oldest removed first); `0` for no
    /// size limit.
    #[arg(long, env = "PUSH_RETENTION_BYTES", default_value_t = 1 << 30)]
    pub retention_bytes: u64,

    /// RabbitMQ: the stream queue every node reads and every producer writes.
    #[arg(long, env = "PUSH_STREAM_NAME", default_value = push_core::amqp::DEFAULT_STREAM)]
    pub stream_name: String,

    /// RabbitMQ: retention by age (`x-max-age`) when this node creates the stream; `0` keeps
    /// messages until --stream-max-bytes removes them. Resuming cursors older than this get a gap.
    #[arg(long, env = "PUSH_STREAM_MAX_AGE", default_value = "24h", value_parser = humantime::parse_duration)]
    pub stream_max_age: std::time::Duration,

    /// RabbitMQ: retention by size (`x-max-length-bytes`) when this node creates the stream;
    /// `0` for no size limit.
    #[arg(long, env = "PUSH_STREAM_MAX_BYTES", default_value_t = 1 << 30)]
    pub stream_max_bytes: u64,

    /// RabbitMQ and --data-dir: most messages one read from the log returns for a subscriber
    /// whose cursor is older than the server's in-memory history (a catch-up read); a longer range
    /// is read in steps of this size as the subscriber takes them. `0` disables catch-up reads
    /// (such a cursor then gets a gap).
    #[arg(long, env = "PUSH_CATCH_UP_LIMIT", default_value_t = 10_000)]
    pub catch_up_limit: usize,

    /// RabbitMQ and --data-dir: catch-up reads running at once on this node.
    #[arg(long, env = "PUSH_CATCH_UP_CONCURRENCY", default_value_t = 8)]
    pub catch_up_concurrency: usize,

    /// RabbitMQ and --data-dir: catch-up reads that may wait for a slot; more get `503` +
    /// `Retry-After`.
    #[arg(long, env = "PUSH_CATCH_UP_QUEUE", default_value_t = 256)]
    pub catch_up_queue: usize,

    /// RabbitMQ: how long a publish may take (reconnecting included) before it fails.
    #[arg(long, env = "PUSH_PUBLISH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub publish_timeout: std::time::Duration,

    /// How long a publish's `Idempotency-Key` is remembered: a second publish with the same key
    /// to the same channel within it stores nothing and answers the first one's id. `0s` turns
    /// de-duplication off.
    #[arg(long, env = "PUSH_IDEMPOTENCY_WINDOW", default_value = "5m", value_parser = humantime::parse_duration)]
    pub idempotency_window: std::time::Duration,

    /// Memory for remembered idempotency keys, in bytes (37 bytes a key: the default holds
    /// 1.8 million, 150 s of publishing at 12,000/s); when it is full the oldest key goes first.
    #[arg(long, env = "PUSH_IDEMPOTENCY_MEMORY_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub idempotency_memory_bytes: usize,

    /// How long producers retry a publish with the same key (the SDKs: their 10 s timeout). A key
    /// younger than this that must go to make room (see --idempotency-memory-bytes) is counted in
    /// `push_idempotency_evicted_early_total` and logged once: a retry could then be stored twice.
    #[arg(long, env = "PUSH_IDEMPOTENCY_HORIZON", default_value = "30s", value_parser = humantime::parse_duration)]
    pub idempotency_horizon: std::time::Duration,

    /// Key publishers must send as `Authorization: Bearer <key>`. Without it, anyone who can
    /// reach the server can publish, which is only allowed on a loopback address. Used by the
    /// server, `publish` and the server API's subcommands; `token` and `subscribe` ignore it.
    #[arg(long, env = "PUSH_PUBLISH_KEY", hide_env_values = true, global = true)]
    pub publish_key: Option<String>,

    /// Allow publishing without a key on a non-loopback address (e.g. behind a trusted proxy).
    #[arg(long, env = "PUSH_ALLOW_OPEN_PUBLISH")]
    pub allow_open_publish: bool,

    /// How long a long-poll waits for a message before answering 204.
    #[arg(long, env = "PUSH_LONG_POLL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub long_poll_timeout: std::time::Duration,

    /// Interval of SSE comments and WebSocket pings that keep idle connections open.
    #[arg(long, env = "PUSH_HEARTBEAT", default_value = "15s", value_parser = humantime::parse_duration)]
    pub heartbeat: std::time::Duration,

    /// Messages kept per channel for subscribers that resume with a cursor.
    #[arg(long, env = "PUSH_HISTORY_SIZE", default_value_t = 100)]
    pub history_size: usize,

    /// How long a message stays in history.
    #[arg(long, env = "PUSH_HISTORY_AGE", default_value = "5m", value_parser = humantime::parse_duration)]
    pub history_age: std::time::Duration,

    /// Largest payload accepted, in bytes (413 above it).
    #[arg(long, env = "PUSH_MAX_PAYLOAD_BYTES", default_value_t = 1024 * 1024)]
    pub max_payload_bytes: usize,

    /// Most subscriber connections (long-poll, SSE, WebSocket) at once (503 above it).
    #[arg(long, env = "PUSH_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most open TCP connections of any kind; more are answered `503` and closed at once.
    #[arg(long, env = "PUSH_MAX_TCP_CONNECTIONS", default_value_t = 16_384)]
    pub max_tcp_connections: usize,

    /// Most open TCP connections from one client IP address (`503` and closed above it),
    /// except addresses in --ip-limit-exempt.
    #[arg(long, env = "PUSH_MAX_TCP_CONNECTIONS_PER_IP", default_value_t = 1024)]
    pub max_tcp_connections_per_ip: usize,

    /// Networks the per-IP limit does not apply to, comma-separated (a reverse proxy on the same
    /// machine connects from loopback and sets its own limits). Empty to exempt none.
    #[arg(long, env = "PUSH_IP_LIMIT_EXEMPT", default_value = "127.0.0.0/8,::1", value_delimiter = ',')]
    pub ip_limit_exempt: Vec<String>,

    /// Largest request head (request line and headers) in bytes; `431` above it. At least 8192.
    #[arg(long, env = "PUSH_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// Time a client has to send a request's head, counted from when the connection opens or
    /// goes idle after an answer: it closes slow (slowloris) and idle keep-alive connections.
    #[arg(long, env = "PUSH_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,

    /// Most channels tracked for subscribers alone (names nothing was published to, about 400
    /// bytes each); a subscription that would add one more gets `503 OVERLOADED`. Such a channel
    /// is dropped when its last subscriber leaves. Published channels never count here: they are
    /// bounded by --channel-memory-bytes.
    #[arg(long, env = "PUSH_MAX_CHANNELS", default_value_t = 100_000)]
    pub max_channels: usize,

    /// Memory for published channels and their history, in bytes (an estimate: about 500 bytes a
    /// channel, and 300 plus three times its payload for each message held). Past it, the oldest is let
    /// go first: the history of quiet channels, then quiet channels themselves. Publishes are
    /// never refused for it.
    #[arg(long, env = "PUSH_CHANNEL_MEMORY_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub channel_memory_bytes: usize,

    /// How long a published channel with no history left and no subscriber keeps its exact
    /// bookkeeping before it is forgotten (then a returning cursor may get a wider gap, or a
    /// read from the log with --data-dir or RabbitMQ).
    #[arg(long, env = "PUSH_FORGET_CHANNELS_AFTER", default_value = "1h", value_parser = humantime::parse_duration)]
    pub forget_channels_after: std::time::Duration,

    /// Largest client WebSocket message (and frame) in bytes; clients only need control frames.
    /// A larger one closes the socket (1009).
    #[arg(long, env = "PUSH_WS_MAX_MESSAGE_BYTES", default_value_t = 4096)]
    pub ws_max_message_bytes: usize,

    /// Most channels one multiplexed connection may subscribe to.
    #[arg(long, env = "PUSH_MAX_CHANNELS_PER_CONNECTION", default_value_t = 100)]
    pub max_channels_per_connection: usize,

    /// Most channels one publish to many (`POST /_push/api/publish`) may name.
    #[arg(long, env = "PUSH_MAX_PUBLISH_CHANNELS", default_value_t = 100)]
    pub max_publish_channels: usize,

    /// Most messages in one JSON batch answer.
    #[arg(long, env = "PUSH_MAX_BATCH", default_value_t = 1000)]
    pub max_batch: usize,

    /// Most payload bytes in one JSON batch answer (it always carries at least one message);
    /// `"more": true` says the rest waits for the next request.
    #[arg(long, env = "PUSH_MAX_BATCH_BYTES", default_value_t = 1024 * 1024)]
    pub max_batch_bytes: usize,

    /// Messages queued per streaming subscriber (SSE, WebSocket); one that falls further behind
    /// is re-synced from history (and gets a gap for what history no longer holds). Long-polls
    /// read history directly and queue nothing.
    #[arg(long, env = "PUSH_SUBSCRIBER_QUEUE", default_value_t = 1024)]
    pub subscriber_queue: usize,

    /// Request header that names the consumer (for logs and metrics).
    #[arg(long, env = "PUSH_CONSUMER_HEADER", default_value = "Consumer-Id")]
    pub consumer_header: String,

    /// Query parameter that names the consumer, checked when the header is absent.
    #[arg(long, env = "PUSH_CONSUMER_PARAM", default_value = "consumer")]
    pub consumer_param: String,

    /// Origins allowed to use the server from browsers, comma-separated: CORS answers and
    /// WebSocket `Origin` checks. Listed origins may send cookies (credentials); `*` allows any
    /// origin without credentials and is refused together with --auth-url.
    #[arg(long, env = "PUSH_CORS_ORIGINS", default_value = "*", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// How long shutdown waits for open requests before closing them.
    #[arg(long, env = "PUSH_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: std::time::Duration,

    /// Log format.
    #[arg(long, env = "PUSH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `push_server=debug` (RUST_LOG syntax).
    #[arg(long, env = "PUSH_LOG", default_value = "info")]
    pub log: String,

    /// Subscriber authorization: `none`, or `token` (every subscription needs a token signed
    /// with --secret; see docs/AUTH.md).
    #[arg(long, env = "PUSH_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,

    /// Secret that signs subscriber tokens: used by the server with --auth token and by
    /// `push-server token`; the other subcommands ignore it.
    #[arg(long, env = "PUSH_SECRET", hide_env_values = true, global = true)]
    pub secret: Option<String>,

    /// Ask the web app at this URL whether each new subscription is allowed (proxy auth).
    #[arg(long, env = "PUSH_AUTH_URL")]
    pub auth_url: Option<String>,

    /// A PEM file of CA certificates trusted for an https:// --auth-url, besides the system's roots.
    #[arg(long, env = "PUSH_AUTH_CA_FILE")]
    pub auth_ca_file: Option<std::path::PathBuf>,

    /// How long the auth URL has to answer before the subscription is refused (503).
    #[arg(long, env = "PUSH_AUTH_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub auth_timeout: std::time::Duration,

    /// How long an auth URL decision is reused for the same cookie, consumer and channel.
    #[arg(long, env = "PUSH_AUTH_CACHE_TTL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub auth_cache_ttl: std::time::Duration,

    /// Memory the auth URL decision cache may use, in bytes (keys are cookies and headers).
    #[arg(long, env = "PUSH_AUTH_CACHE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub auth_cache_bytes: u64,

    /// Auth URL requests in flight at once.
    #[arg(long, env = "PUSH_AUTH_CONCURRENCY", default_value_t = 64)]
    pub auth_concurrency: usize,

    /// Subscriptions that may wait for an auth URL request slot; more get `503` + `Retry-After`.
    #[arg(long, env = "PUSH_AUTH_QUEUE", default_value_t = 1024)]
    pub auth_queue: usize,

    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key. Reloaded on SIGHUP and when the file changes, without dropping connections.
    #[arg(long, env = "PUSH_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,

    /// Private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "PUSH_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,

    /// How often --tls-cert and --tls-key are checked for changes; `0s` reloads on SIGHUP only.
    #[arg(long, env = "PUSH_TLS_RELOAD_INTERVAL", default_value = "2s", value_parser = humantime::parse_duration)]
    pub tls_reload_interval: std::time::Duration,

    /// HTTP/2: most streams (requests, SSE streams included) open at once on one connection.
    #[arg(long, env = "PUSH_HTTP2_MAX_CONCURRENT_STREAMS", default_value_t = 100)]
    pub http2_max_concurrent_streams: u32,

    /// HTTP/2: interval of PING frames on a connection, to find dead peers; `0s` sends none.
    #[arg(long, env = "PUSH_HTTP2_KEEP_ALIVE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub http2_keep_alive: std::time::Duration,

    /// HTTP/2: a connection whose PING is not answered within this time is closed.
    #[arg(long, env = "PUSH_HTTP2_KEEP_ALIVE_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub http2_keep_alive_timeout: std::time::Duration,

    /// Channels whose names start with one of these are presence channels: their members are
    /// listed and their joins and leaves announced (docs/PRESENCE.md). Comma-separated or
    /// repeated; `''` turns presence off.
    #[arg(long, env = "PUSH_PRESENCE_PREFIX", value_delimiter = ',', default_value = "/presence-")]
    pub presence_prefix: Vec<String>,

    /// A member leaves this long after its last connection closed, unless it is back by then
    /// (reloads, long-poll requests and short blips make no leave and join).
    #[arg(long, env = "PUSH_PRESENCE_GRACE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub presence_grace: std::time::Duration,

    /// Most members of one presence channel; a new consumer past it is refused (503).
    #[arg(long, env = "PUSH_MAX_PRESENCE_MEMBERS", default_value_t = 100_000)]
    pub max_presence_members: usize,

    /// POST events (members joining and leaving, channels occupied and vacated, undelivered
    /// messages) to the app at this URL, signed (docs/PRESENCE.md).
    #[arg(long, env = "PUSH_EVENTS_URL")]
    pub events_url: Option<String>,

    /// Secret that signs the events (default: --secret).
    #[arg(long, env = "PUSH_EVENTS_SECRET", hide_env_values = true)]
    pub events_secret: Option<String>,

    /// How long the events URL has to answer a POST before it is retried.
    #[arg(long, env = "PUSH_EVENTS_TIMEOUT", default_value = "5s", value_parser = humantime::parse_duration)]
    pub events_timeout: std::time::Duration,

    /// Most events waiting to be sent; more are dropped (`push_events_dropped_total`).
    #[arg(long, env = "PUSH_EVENTS_QUEUE", default_value_t = 10_000)]
    pub events_queue: usize,

    /// An event not sent within this time (the app kept failing) is dropped.
    #[arg(long, env = "PUSH_EVENTS_MAX_AGE", default_value = "1h", value_parser = humantime::parse_duration)]
    pub events_max_age: std::time::Duration,

    /// With --events-url: a message on a presence channel that a member present when it was
    /// published has not received within this time makes an `undelivered` event; `0s` (the
    /// default) checks nothing.
    #[arg(long, env = "PUSH_UNDELIVERED_AFTER", default_value = "0s", value_parser = humantime::parse_duration)]
    pub undelivered_after: std::time::Duration,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    Interval,
    Never,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    None,
    Token,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// The --cors-origins entries, trimmed, without empty ones.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.cors_origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty())
    }

    /// Whether --cors-origins allows any origin (`*`).
    pub fn any_origin(&self) -> bool {
        self.origins().any(|o| o == "*")
    }


    /// The TLS client settings for an https:// --auth-url: the system's roots plus --auth-ca-file.
    pub fn auth_tls(&self) -> push_core::Result<rustls::ClientConfig> {
        let ca = self.auth_ca_file.as_deref().map(push_core::tls::CaFile::load).transpose()?;
        push_core::tls::client_config(ca.as_ref())
    }

    /// The --presence-prefix entries that are not empty.
    pub fn presence_prefixes(&self) -> Vec<String> {
        self.presence_prefix.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).map(str::to_owned).collect()
    }

    /// The secret that signs events: --events-secret, else --secret.
    pub fn events_secret(&self) -> Option<&str> {
        self.events_secret.as_deref().or(self.secret.as_deref()).filter(|s| !s.is_empty())
    }

    /// Defaults for tests and embedding, as if no flag was given.
    pub fn defaults() -> Config {
        Config::parse_from(["push-server"])
    }

    /// Refuses settings that would be unsafe or unusable, with the reason.
    pub fn validate(&self) -> Result<(), String> {
        if !self.bind.ip().is_loopback() && self.publish_key.is_none() && !self.allow_open_publish {
            return Err(format!(
                "refusing to listen on {} without a publish key: anyone could publish. \
                 Set --publish-key (PUSH_PUBLISH_KEY), or --allow-open-publish if a proxy guards publishing",
                self.bind
            ));
        }
        if matches!(&self.publish_key, Some(k) if k.is_empty()) {
            return Err("--publish-key must not be empty".into());
        }
        for (name, value) in [
            ("--history-size", self.history_size),
            ("--max-connections", self.max_connections),
            ("--max-channels-per-connection", self.max_channels_per_connection),
            ("--max-batch", self.max_batch),
            ("--subscriber-queue", self.subscriber_queue),
            ("--max-payload-bytes", self.max_payload_bytes),
            ("--max-tcp-connections", self.max_tcp_connections),
            ("--max-tcp-connections-per-ip", self.max_tcp_connections_per_ip),
            ("--max-channels", self.max_channels),
            ("--max-batch-bytes", self.max_batch_bytes),
            ("--ws-max-message-bytes", self.ws_max_message_bytes),
            ("--auth-concurrency", self.auth_concurrency),
            ("--catch-up-concurrency", self.catch_up_concurrency),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.auth == AuthMode::Token && self.secret.as_deref().unwrap_or("").is_empty() {
            return Err("--auth token needs --secret (PUSH_SECRET) to check tokens with".into());
        }
        if let Some(url) = &self.auth_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.parse::<axum::http::Uri>().is_err() {
                return Err(format!("--auth-url {url:?} must be an http:// or https:// URL"));
            }
            if url.starts_with("https://") {
                self.auth_tls().map_err(|e| format!("--auth-url {url:?}: {}", e.message()))?;
            }
            if self.any_origin() {
                return Err("--auth-url forwards cookies, so --cors-origins must list the origins of your pages \
                     (not `*`): any other site could otherwise subscribe with a visitor's cookies"
                    .into());
            }
        }
        for prefix in self.presence_prefixes() {
            if !prefix.starts_with('/') || prefix.starts_with("/_push") {
                return Err(format!("--presence-prefix {prefix:?} must start a channel name (a '/', and not /_push)"));
            }
        }
        if let Some(url) = &self.events_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.parse::<axum::http::Uri>().is_err() {
                return Err(format!("--events-url {url:?} must be an http:// or https:// URL"));
            }
            if self.events_secret().is_none() {
                return Err("--events-url needs --events-secret (PUSH_EVENTS_SECRET) or --secret to sign the events with".into());
            }
            if url.starts_with("https://") {
                self.auth_tls().map_err(|e| format!("--events-url {url:?}: {}", e.message()))?;
            }
            if self.events_queue == 0 || self.events_timeout.is_zero() {
                return Err("--events-queue and --events-timeout must be greater than zero".into());
            }
        } else if !self.undelivered_after.is_zero() {
            return Err("--undelivered-after makes events: it needs --events-url".into());
        }
        // Read now, like --auth-ca-file and --tls-cert: a missing file is a settings error (exit 2).
        if let Some(path) = self.broker_ca_file.as_deref().filter(|p| !p.as_os_str().is_empty()) {
            push_core::tls::CaFile::load(path).map_err(|e| format!("--broker-ca-file: {}", e.message()))?;
        }
        for origin in self.origins() {
            if origin != "*" && origin.parse::<axum::http::HeaderValue>().is_err() {
                return Err(format!("--cors-origins: {origin:?} is not a valid origin"));
            }
        }
        if self.channel_memory_bytes < 2 * self.max_payload_bytes.max(1 << 20) {
            return Err(format!(
                "--channel-memory-bytes ({}) must be at least twice --max-payload-bytes, and at least 2 MiB",
                self.channel_memory_bytes
            ));
        }
        if !self.idempotency_window.is_zero() && self.idempotency_memory_bytes < 64 << 10 {
            return Err("--idempotency-memory-bytes must be at least 64 KiB (65536) while --idempotency-window is on".into());
        }
        if self.max_header_bytes < 8192 {
            return Err("--max-header-bytes must be at least 8192".into());
        }
        if self.header_timeout.is_zero() {
            return Err("--header-timeout must be greater than zero".into());
        }
        if self.data_dir.is_some() && self.broker != "memory" {
            return Err(format!("--data-dir is for the embedded broker; with --broker {} the log is RabbitMQ's stream", push_core::amqp::redact(&self.broker)));
        }
        if matches!(&self.data_dir, Some(d) if d.as_os_str().is_empty()) {
            return Err("--data-dir must not be empty".into());
        }
        if self.fsync_interval.is_zero() {
            return Err("--fsync-interval must be greater than zero".into());
        }
        if self.publish_timeout.is_zero() {
            return Err("--publish-timeout must be greater than zero".into());
        }
        if self.long_poll_timeout.is_zero() || self.heartbeat.is_zero() {
            return Err("--long-poll-timeout and --heartbeat must be greater than zero".into());
        }
        if self.http2_max_concurrent_streams == 0 {
            return Err("--http2-max-concurrent-streams must be at least 1".into());
        }
        if self.http2_keep_alive_timeout.is_zero() {
            return Err("--http2-keep-alive-timeout must be greater than zero".into());
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => return Err("--tls-cert needs --tls-key (PUSH_TLS_KEY): the certificate's private key".into()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert (PUSH_TLS_CERT): the certificate chain".into()),
            _ => {}
        }
        Ok(())
    }
}
