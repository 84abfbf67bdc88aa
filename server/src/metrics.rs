//! Prometheus metrics, served as text at `/_push/metrics`.
//!
//! Every label comes from a fixed set (transports, route names, error codes, limits), never from
//! a request, so the number of series is bounded whatever clients send.

use push_core::broker::MemoryStats;
use prometheus::{Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// The limits whose hits are counted in `push_limit_rejections_total{limit}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    TcpConnections,
    TcpConnectionsPerIp,
    Connections,
    Channels,
    BatchBytes,
    WsMessage,
    WsPong,
    Origin,
    AuthQueue,
    CatchUpQueue,
}

impl Limit {
    const ALL: [Limit; 10] = [
        Limit::TcpConnections,
        Limit::TcpConnectionsPerIp,
        Limit::Connections,
        Limit::Channels,
        Limit::BatchBytes,
        Limit::WsMessage,
        Limit::WsPong,
        Limit::Origin,
        Limit::AuthQueue,
        Limit::CatchUpQueue,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            Limit::TcpConnections => "tcp_connections",
            Limit::TcpConnectionsPerIp => "tcp_connections_per_ip",
            Limit::Connections => "connections",
            Limit::Channels => "channels",
            Limit::BatchBytes => "batch_bytes",
            Limit::WsMessage => "ws_message_bytes",
            Limit::WsPong => "ws_pong",
            Limit::Origin => "origin",
            Limit::AuthQueue => "auth_queue",
            Limit::CatchUpQueue => "catch_up_queue",
        }
    }

    /// The flag that sets the limit, for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Limit::TcpConnections => "--max-tcp-connections",
            Limit::TcpConnectionsPerIp => "--max-tcp-connections-per-ip",
            Limit::Connections => "--max-connections",
            Limit::Channels => "--max-channels",
            Limit::BatchBytes => "--max-batch-bytes",
            Limit::WsMessage => "--ws-max-message-bytes",
            Limit::WsPong => "--heartbeat",
            Limit::Origin => "--cors-origins",
            Limit::AuthQueue => "--auth-queue",
            Limit::CatchUpQueue => "--catch-up-queue",
        }
    }
}

/// A limit travels as the source of the error it caused, so the answer can be counted.
impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "limit {} ({})", self.name(), self.describe())
    }
}

impl std::error::Error for Limit {}

/// Subscriber transports, the values of the `transport` label.
pub const TRANSPORTS: [&str; 4] = ["long-poll", "json", "sse", "websocket"];

/// One transport's series, looked up once: a delivery only bumps an atomic.
#[derive(Clone)]
pub struct TransportMetrics {
    pub open: IntGauge,
    pub delivered: IntCounter,
}

/// Route names for `push_http_errors_total{route}`.
pub const ROUTES: [&str; 9] = ["publish", "subscribe", "multiplexed", "health", "metrics", "client.js", "demo", "index", "other"];

pub struct Metrics {
    registry: Registry,
    /// Open subscriber connections by transport.
    pub connections: IntGaugeVec,
    /// Open TCP connections of any kind.
    pub tcp_connections: IntGauge,
    /// Channels the hub tracks.
    pub channels: IntGauge,
    pub published: IntCounter,
    /// Messages handed to subscribers, by transport.
    pub delivered: IntCounterVec,
    pub gaps: IntCounter,
    /// Error answers by route and code.
    pub errors: IntCounterVec,
    /// Requests or connections refused (or cut short) by a limit.
    pub limits: IntCounterVec,
    /// Open HTTP connections by protocol (`http1`, `h2`), TLS or not; WebSockets count as `http1`.
    pub http_connections: IntGaugeVec,
    /// Connections on the --tls-cert port whose TLS handshake failed or timed out.
    pub tls_handshake_failures: IntCounter,
    /// Certificate reloads by result (`ok`, `error`: the previous certificate stayed).
    pub tls_reloads: IntCounterVec,
    /// What the engine holds in memory, read at each scrape ([`Metrics::observe_memory`]).
    memory: MemoryMetrics,
    /// Presence members and events to the app.
    pub presence: PresenceMetrics,
    by_transport: Vec<(&'static str, TransportMetrics)>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let connections =
            IntGaugeVec::new(Opts::new("push_connections", "Open subscriber connections"), &["transport"]).unwrap();
        let tcp_connections = IntGauge::new("push_tcp_connections", "Open TCP connections").unwrap();
        let channels = IntGauge::new("push_channels", "Channels tracked by the hub").unwrap();
        let published = IntCounter::new("push_messages_published_total", "Messages accepted for publishing").unwrap();
        let delivered =
            IntCounterVec::new(Opts::new("push_messages_delivered_total", "Messages delivered to subscribers"), &["transport"])
                .unwrap();
        let gaps = IntCounter::new("push_gaps_total", "Gap signals sent to subscribers").unwrap();
        let errors = IntCounterVec::new(Opts::new("push_http_errors_total", "Error answers"), &["route", "code"]).unwrap();
        let limits =
            IntCounterVec::new(Opts::new("push_limit_rejections_total", "Requests refused or cut short by a limit"), &["limit"])
                .unwrap();
        let http_connections =
            IntGaugeVec::new(Opts::new("push_http_connections", "Open HTTP connections by protocol"), &["version"]).unwrap();
        let tls_handshake_failures = IntCounter::new("push_tls_handshake_failures_total", "TLS handshakes that failed or timed out").unwrap();
        let tls_reloads =
            IntCounterVec::new(Opts::new("push_tls_reloads_total", "TLS certificate reloads by result"), &["result"]).unwrap();
        for version in ["http1", "h2"] {
            http_connections.with_label_values(&[version]).set(0);
        }
        for result in ["ok", "error"] {
            tls_reloads.with_label_values(&[result]).inc_by(0);
        }
        registry.register(Box::new(http_connections.clone())).unwrap();
        registry.register(Box::new(tls_handshake_failures.clone())).unwrap();
        registry.register(Box::new(tls_reloads.clone())).unwrap();
        registry.register(Box::new(connections.clone())).unwrap();
        registry.register(Box::new(tcp_connections.clone())).unwrap();
        registry.register(Box::new(channels.clone())).unwrap();
        registry.register(Box::new(published.clone())).unwrap();
        registry.register(Box::new(delivered.clone())).unwrap();
        registry.register(Box::new(gaps.clone())).unwrap();
        registry.register(Box::new(errors.clone())).unwrap();
        registry.register(Box::new(limits.clone())).unwrap();
        let memory = MemoryMetrics::new(&registry);
        let presence = PresenceMetrics::new(&registry);
        let by_transport = TRANSPORTS
            .iter()
            .map(|t| (*t, TransportMetrics { open: connections.with_label_values(&[t]), delivered: delivered.with_label_values(&[t]) }))
            .collect();
        for limit in Limit::ALL {
            limits.with_label_values(&[limit.name()]).inc_by(0);
        }
        Metrics {
            registry,
            connections,
            tcp_connections,
            channels,
            published,
            delivered,
            gaps,
            errors,
            limits,
            http_connections,
            tls_handshake_failures,
            tls_reloads,
            memory,
            presence,
            by_transport,
        }
    }

    /// Sets the memory series from the engine's figures.
    pub fn observe_memory(&self, stats: MemoryStats) {
        let m = &self.memory;
        self.channels.set(stats.channels as i64);
        m.channel_memory.set(stats.channel_memory_bytes as i64);
        m.idempotency_keys.set(stats.idempotency_keys as i64);
        m.idempotency_memory.set(stats.idempotency_memory_bytes as i64);
        // The engine counts; the counters catch up with it.
        for (counter, total) in [
            (&m.channels_shed, stats.channels_shed),
            (&m.history_shed, stats.history_shed),
            (&m.idempotency_evicted_early, stats.idempotency_evicted_early),
        ] {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// The series of `transport` (one of [`TRANSPORTS`]).
    pub fn transport(&self, transport: &'static str) -> TransportMetrics {
        match self.by_transport.iter().find(|(t, _)| *t == transport) {
            Some((_, m)) => m.clone(),
            None => TransportMetrics { open: self.connections.with_label_values(&[transport]), delivered: self.delivered.with_label_values(&[transport]) },
        }
    }

    pub fn limit_hit(&self, limit: Limit) {
        self.limits.with_label_values(&[limit.name()]).inc();
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let g = IntGauge::new(name, help).unwrap();
    registry.register(Box::new(g.clone())).unwrap();
    g
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap();
    registry.register(Box::new(c.clone())).unwrap();
    c
}

/// Presence (docs/PRESENCE.md) and the events sent to `--events-url`.
#[derive(Clone)]
pub struct PresenceMetrics {
    pub members: IntGauge,
    pub events_sent: IntCounter,
    pub events_failed: IntCounter,
    pub events_dropped: IntCounter,
    pub events_queued: IntGauge,
}

impl PresenceMetrics {
    /// Series that no scrape shows (unit tests).
    pub fn unregistered() -> PresenceMetrics {
        PresenceMetrics::new(&Registry::new())
    }

    fn new(registry: &Registry) -> PresenceMetrics {
        let gauge = |name, help| gauge(registry, name, help);
        let counter = |name, help| counter(registry, name, help);
        PresenceMetrics {
            members: gauge("push_presence_members", "Members of presence channels, across the nodes this node hears from"),
            events_sent: counter("push_events_sent_total", "Events the app accepted (--events-url)"),
            events_failed: counter("push_events_failed_total", "POSTs of events that failed and will be retried"),
            events_dropped: counter("push_events_dropped_total", "Events dropped: the queue was full (--events-queue) or they were too old (--events-max-age)"),
            events_queued: gauge("push_events_queued", "Events waiting to be sent"),
        }
    }
}

/// The series of [`MemoryStats`].
struct MemoryMetrics {
    channel_memory: IntGauge,
    channels_shed: IntCounter,
    history_shed: IntCounter,
    idempotency_keys: IntGauge,
    idempotency_memory: IntGauge,
    idempotency_evicted_early: IntCounter,
}

impl MemoryMetrics {
    fn new(registry: &Registry) -> MemoryMetrics {
        let gauge = |name, help| gauge(registry, name, help);
        let counter = |name, help| counter(registry, name, help);
        MemoryMetrics {
            channel_memory: gauge("push_channel_memory_bytes", "Estimated bytes of published channels and their history (--channel-memory-bytes)"),
            channels_shed: counter("push_channels_shed_total", "Published channels forgotten to stay within --channel-memory-bytes"),
            history_shed: counter("push_history_shed_total", "Messages dropped from history to stay within --channel-memory-bytes"),
            idempotency_keys: gauge("push_idempotency_keys", "Idempotency keys remembered"),
            idempotency_memory: gauge("push_idempotency_memory_bytes", "Bytes of remembered idempotency keys (--idempotency-memory-bytes)"),
            idempotency_evicted_early: counter(
                "push_idempotency_evicted_early_total",
                "Idempotency keys younger than --idempotency-horizon forgotten for room: a retry of one could be stored twice",
            ),
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
