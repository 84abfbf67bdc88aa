//! What every handler shares, and the guard that bounds subscriber connections.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use push_core::{Broker, ErrorKind};
use tokio_util::sync::CancellationToken;

use crate::auth::Authorizer;
use crate::cluster::{link, Cluster};
use crate::config::Config;
use crate::error::ApiError;
use crate::events::Events;
use crate::presence::undelivered::Undelivered;
use crate::presence::{Presence, Ticket};
use crate::metrics::Metrics;
use crate::sessions::{Bans, Session, Sessions};

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
    /// This node's connections, and (on RabbitMQ) the other nodes' counts.
    pub cluster: Arc<Cluster>,
    connections: Arc<AtomicUsize>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Fails when the bans file of `--data-dir` cannot be read. On RabbitMQ it starts the link
    /// to the other nodes (in the background: it connects and reconnects by itself).
    pub fn new(broker: Arc<dyn Broker>, config: Config, shutdown: CancellationToken) -> push_core::Result<AppState> {
        let bans = match &config.data_dir {
            Some(dir) => Bans::in_file(dir.join("bans.json"))?,
            None => Bans::in_memory(),
        };
        let sessions = Sessions::new(bans);
        let metrics = Arc::new(Metrics::new());
        let link = link::LinkOptions::from_config(&config)?;
        let events = Events::start(&config, metrics.presence.clone(), shutdown.clone());
        let undelivered = (events.is_some() && !config.undelivered_after.is_zero())
            .then(|| Undelivered::new(broker.clone(), config.undelivered_after, link.is_some(), shutdown.clone()));
        let presence = Presence::new(&config, &crate::cluster::new_node_name(), link.is_some().then_some(crate::cluster::LEASE), events, undelivered, metrics.presence.clone());
        let cluster = match link {
            Some(options) => link::join(options, sessions, presence, shutdown.clone()),
            None => Cluster::alone(sessions, presence),
        };
        tokio::spawn(crate::cluster::sweep_until(cluster.clone(), shutdown.clone()));
        Ok(AppState(Arc::new(Shared {
            broker,
            auth: Arc::new(Authorizer::new(&config)),
            config: Arc::new(config),
            metrics,
            shutdown,
            cluster,
            connections: Arc::new(AtomicUsize::new(0)),
        })))
    }

    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.cluster.sessions
    }

    pub fn presence(&self) -> &Arc<Presence> {
        &self.cluster.presence
    }

    /// Counts one subscriber connection for as long as the guard lives; 503 over the limit.
    /// The connection is registered under its channels and consumer id (channel info,
    /// disconnects), and enters the presence channels among them with `info`.
    pub fn connect(&self, transport: &'static str, consumer: Option<&str>, info: Option<&str>, channels: &[push_core::Channel]) -> Result<ConnectionGuard, ApiError> {
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
        // After the slot: a connection refused for the limit never joins (nor leaves).
        let ticket = match self.presence().enter(consumer, info, channels) {
            Ok(ticket) => ticket.map(Box::new),
            Err(e) => {
                self.connections.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
        };
        let metrics = self.metrics.transport(transport);
        metrics.open.inc();
        let session = self.sessions().register(consumer, channels);
        Ok(ConnectionGuard { connections: self.connections.clone(), gaps: self.metrics.gaps.clone(), metrics, transport, session, ticket })
    }
}

pub struct ConnectionGuard {
    connections: Arc<AtomicUsize>,
    metrics: crate::metrics::TransportMetrics,
    gaps: prometheus::IntCounter,
    pub transport: &'static str,
    session: Session,
    /// Its place in presence, if it subscribed to presence channels (boxed: one word on the
    /// plain connections).
    ticket: Option<Box<Ticket>>,
}

impl ConnectionGuard {
    /// `n` messages were written, the newest `last` (every earlier one is passed too).
    pub fn delivered(&self, n: u64, last: push_core::MessageId) {
        self.metrics.delivered.inc_by(n);
        if let Some(ticket) = &self.ticket {
            ticket.delivered(last.0);
        }
    }
    pub fn gap(&self) {
        self.gaps.inc();
    }
    /// Completes with the reason when the server API disconnects this subscriber.
    pub fn disconnected(&self) -> impl std::future::Future<Output = Arc<str>> + Send + 'static {
        self.session.disconnected()
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.connections.fetch_sub(1, Ordering::AcqRel);
        self.metrics.open.dec();
    }
}
