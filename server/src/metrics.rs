//! Prometheus metrics, served as text at `/_push/metrics`.

use prometheus::{Encoder, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    /// Open subscriber connections by transport.
    pub connections: IntGaugeVec,
    pub published: IntCounter,
    /// Messages handed to subscribers, by transport.
    pub delivered: IntCounterVec,
    pub gaps: IntCounter,
    /// Error answers by route and code.
    pub errors: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let connections =
            IntGaugeVec::new(Opts::new("push_connections", "Open subscriber connections"), &["transport"]).unwrap();
        let published = IntCounter::new("push_messages_published_total", "Messages accepted for publishing").unwrap();
        let delivered =
            IntCounterVec::new(Opts::new("push_messages_delivered_total", "Messages delivered to subscribers"), &["transport"])
                .unwrap();
        let gaps = IntCounter::new("push_gaps_total", "Gap signals sent to subscribers").unwrap();
        let errors = IntCounterVec::new(Opts::new("push_http_errors_total", "Error answers"), &["route", "code"]).unwrap();
        registry.register(Box::new(connections.clone())).unwrap();
        registry.register(Box::new(published.clone())).unwrap();
        registry.register(Box::new(delivered.clone())).unwrap();
        registry.register(Box::new(gaps.clone())).unwrap();
        registry.register(Box::new(errors.clone())).unwrap();
        for t in ["long-poll", "json", "sse", "websocket"] {
            connections.with_label_values(&[t]).set(0);
            delivered.with_label_values(&[t]).inc_by(0);
        }
        Metrics { registry, connections, published, delivered, gaps, errors }
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
