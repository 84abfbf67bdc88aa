//! What every handler shares, and the guard that bounds subscriber connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use push_core::{Broker, ErrorKind};
use tokio_util::sync::CancellationToken;

use crate::auth::Authorizer;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Cloned for every request (axum's `State`): one reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub broker: Arc<dyn Broker>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// Cancelled when the server shuts down: open streams end, long-polls answer.
    pub shutdown: CancellationToken,
    pub auth: Arc<Authorizer>,
    connections: Arc<AtomicUsize>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(broker: Arc<dyn Broker>, config: Config, shutdown: CancellationToken) -> AppState {
        AppState(Arc::new(Shared {
            broker,
            auth: Arc::new(Authorizer::new(&config)),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            shutdown,
            connections: Arc::new(AtomicUsize::new(0)),
        }))
    }

    /// Counts one subscriber connection for as long as the guard lives; 503 over the limit.
    pub fn connect(&self, transport: &'static str) -> Result<ConnectionGuard, ApiError> {
        let max = self.config.max_connections;
        let taken = self.connections.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1));
        if taken.is_err() {
            return Err(ApiError(
                push_core::Error::new(
                    ErrorKind::TooManyConnections,
                    format!("the server holds its maximum of {max} subscriber connections; retry later"),
                )
                .with_source(crate::metrics::Limit::Connections),
            ));
        }
        let metrics = self.metrics.transport(transport);
        metrics.open.inc();
        Ok(ConnectionGuard { connections: self.connections.clone(), gaps: self.metrics.gaps.clone(), metrics, transport })
    }
}

pub struct ConnectionGuard {
    connections: Arc<AtomicUsize>,
    metrics: crate::metrics::TransportMetrics,
    gaps: prometheus::IntCounter,
    pub transport: &'static str,
}

impl ConnectionGuard {
    pub fn delivered(&self, n: u64) {
        self.metrics.delivered.inc_by(n);
    }
    pub fn gap(&self) {
        self.gaps.inc();
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
        self.metrics.open.dec();
    }
}
