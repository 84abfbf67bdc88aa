//! The cluster's link over RabbitMQ: a fanout exchange `<stream>.nodes` (deleted with its last
//! binding) that every node binds a queue of its own to (exclusive, deleted with the node's
//! connection, at most [`QUEUE_BOUND`] messages). Reports go out every [`REPORT_EVERY`](super::REPORT_EVERY) without
//! waiting for confirms; a disconnect waits for RabbitMQ's confirm, so the server API answers
//! only once every node will get it. A lost connection is made again with backoff; meanwhile
//! the other nodes' counts run out with their lease and disconnects fail (`503`) after being
//! applied here.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use push_core::amqp::lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use push_core::amqp::lapin::types::{AMQPValue, FieldTable};
use push_core::amqp::lapin::{self, BasicProperties, ExchangeKind};
use push_core::amqp;
use push_core::tls::CaFile;
use push_core::{Error, ErrorKind, Result};
use tokio_util::sync::CancellationToken;

use super::{Cluster, Wire, REPORT_EVERY};
use crate::presence::Presence;
use crate::sessions::Sessions;

/// Messages a node's queue holds for it before the oldest are dropped.
const QUEUE_BOUND: i64 = 10_000;
/// How long presence changes gather before they are sent (one message for a burst).
const GATHER: Duration = Duration::from_millis(50);
/// How long after linking a node holds the app's events: the others' answers to its hello.
const WARM_UP: Duration = Duration::from_secs(2);
/// Backoff between attempts to link again: from the first to the last value, doubling.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Where the link goes.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    pub url: String,
    pub ca: Option<CaFile>,
    /// The stream's name: the exchange is `<stream>.nodes`.
    pub stream: String,
    /// Longest wait for a disconnect's confirm.
    pub timeout: Duration,
}

impl LinkOptions {
    /// The link of a node on RabbitMQ (`--broker amqp://...`); `None` for any other engine.
    pub fn from_config(config: &crate::config::Config) -> Result<Option<LinkOptions>> {
        if !(config.broker.starts_with("amqp://") || config.broker.starts_with("amqps://")) {
            return Ok(None);
        }
        let (url, _) = amqp::parse_url(&config.broker)?;
        let ca = config.broker_ca_file.as_deref().filter(|p| !p.as_os_str().is_empty()).map(CaFile::load).transpose()?;
        Ok(Some(LinkOptions { url, ca, stream: config.stream_name.clone(), timeout: config.publish_timeout }))
    }

    fn exchange(&self) -> String {
        format!("{}.nodes", self.stream)
    }
}

/// Sends to the other nodes over the link's channel, while there is one.
#[derive(Clone)]
pub struct Outbox {
    channel: Arc<Mutex<Option<lapin::Channel>>>,
    exchange: String,
    timeout: Duration,
}

impl Outbox {
    fn set(&self, channel: Option<lapin::Channel>) {
        *self.channel.lock().unwrap_or_else(|p| p.into_inner()) = channel;
    }

    /// Publishes `wire` to every node and waits for RabbitMQ's confirm.
    pub async fn send(&self, wire: &Wire) -> Result<()> {
        let confirm = self.publish(wire).await?;
        match tokio::time::timeout(self.timeout, confirm).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(amqp::error("no confirm from", &self.exchange, e)),
            Err(_) => Err(Error::new(ErrorKind::Timeout, format!("no confirm from {} within {:?}", self.exchange, self.timeout))),
        }
    }

    async fn publish(&self, wire: &Wire) -> Result<lapin::PublisherConfirm> {
        let channel = self.channel.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let channel = channel.ok_or_else(|| super::unreachable("the link to RabbitMQ is down, reconnecting"))?;
        channel
            .basic_publish(self.exchange.as_str().into(), "".into(), BasicPublishOptions::default(), &wire.encode(), BasicProperties::default())
            .await
            .map_err(|e| amqp::error("could not publish to", &self.exchange, e))
    }
}

/// A cluster node linked to the others; the link runs until `stop`.
pub fn join(options: LinkOptions, sessions: Arc<Sessions>, presence: Arc<Presence>, stop: CancellationToken) -> Arc<Cluster> {
    let outbox = Outbox { channel: Arc::default(), exchange: options.exchange(), timeout: options.timeout };
    let cluster = Cluster::linked(sessions, presence, outbox.clone());
    tokio::spawn(run(cluster.clone(), options, outbox, stop));
    cluster
}

async fn run(cluster: Arc<Cluster>, options: LinkOptions, outbox: Outbox, stop: CancellationToken) {
    let mut backoff = BACKOFF.0;
    let mut seq = 0u64;
    loop {
        let linked = serve(&cluster, &options, &outbox, &stop, &mut seq).await;
        outbox.set(None);
        match linked {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(exchange = %options.exchange(), "cluster link lost, linking again in {backoff:?}: {e}");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// One linked session: until `stop` (`Ok`) or a failure (`Err`). The connection is closed
/// however it ends, so none is left on the broker.
async fn serve(cluster: &Arc<Cluster>, options: &LinkOptions, outbox: &Outbox, stop: &CancellationToken, seq: &mut u64) -> Result<()> {
    let name = format!("push-server cluster ({})", options.stream);
    let connection = tokio::select! {
        _ = stop.cancelled() => return Ok(()),
        connection = amqp::connect(&options.url, &name, options.ca.as_ref()) => connection?,
    };
    let ended = tokio::select! {
        _ = stop.cancelled() => Ok(()),
        ended = linked(cluster, options, outbox, &connection, seq) => ended,
    };
    outbox.set(None);
    let _ = connection.close(200, "OK".into()).await;
    ended
}

/// Sets up this node's queue on the exchange, then reads the others and reports, until a failure.
async fn linked(cluster: &Arc<Cluster>, options: &LinkOptions, outbox: &Outbox, connection: &lapin::Connection, seq: &mut u64) -> Result<()> {
    let exchange = options.exchange();
    let channel = connection.create_channel().await.map_err(|e| amqp::error("could not open a channel to", &exchange, e))?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| amqp::error("could not enable confirms on", &exchange, e))?;
    channel
        .exchange_declare(exchange.as_str().into(), ExchangeKind::Fanout, ExchangeDeclareOptions { auto_delete: true, ..Default::default() }, FieldTable::default())
        .await
        .map_err(|e| amqp::error("could not declare the exchange", &exchange, e))?;
    let mut bound = FieldTable::default();
    bound.insert("x-max-length".into(), AMQPValue::LongLongInt(QUEUE_BOUND));
    let queue = channel
        .queue_declare("".into(), QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() }, bound)
        .await
        .map_err(|e| amqp::error("could not declare this node's queue on", &exchange, e))?;
    channel
        .queue_bind(queue.name().clone(), exchange.as_str().into(), "".into(), QueueBindOptions::default(), FieldTable::default())
        .await
        .map_err(|e| amqp::error("could not bind this node's queue to", &exchange, e))?;
    let mut consumer = channel
        .basic_consume(queue.name().clone(), "".into(), BasicConsumeOptions { no_ack: true, ..Default::default() }, FieldTable::default())
        .await
        .map_err(|e| amqp::error("could not consume this node's queue on", &exchange, e))?;
    outbox.set(Some(channel));
    tracing::info!(exchange = %exchange, node = %cluster.node, "linked to the other nodes");
    outbox.publish(&Wire::Hello { node: cluster.node.clone() }).await?;
    // Every live node reports on the hello; which node sends the app's events is decided once
    // they all have.
    cluster.presence.warm_in(WARM_UP);
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        let report_now = tokio::select! {
            () = cluster.presence.changed.notified() => {
                tokio::time::sleep(GATHER).await;
                send_changes(cluster, outbox).await?;
                false
            }
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => match Wire::decode(&delivery.data) {
                    Ok(wire) => cluster.receive(wire),
                    Err(e) => {
                        tracing::warn!(exchange = %exchange, "a message on the cluster exchange is not a node's ({e}); skipped");
                        false
                    }
                },
                Some(Err(e)) => return Err(amqp::error("lost the cluster queue on", &exchange, e)),
                None => return Err(super::unreachable("RabbitMQ cancelled this node's cluster queue")),
            },
            _ = tick.tick() => true,
        };
        if report_now {
            // Changes first: the report that follows includes them anyway.
            send_changes(cluster, outbox).await?;
            *seq += 1;
            for part in cluster.report(*seq) {
                outbox.publish(&part).await?;
            }
        }
    }
}

/// Sends this node's presence changes and undelivered answers, if it has any.
async fn send_changes(cluster: &Cluster, outbox: &Outbox) -> Result<()> {
    let changes = cluster.presence.take_changes();
    let got = cluster.presence.undelivered.as_ref().map(|u| std::mem::take(&mut *u.outbox.lock().unwrap_or_else(|p| p.into_inner()))).unwrap_or_default();
    if changes.is_empty() && got.is_empty() {
        return Ok(());
    }
    for part in changes.chunks(super::wire::PER_PART) {
        outbox.publish(&Wire::Presence { node: cluster.node.clone(), changes: part.to_vec(), got: Vec::new() }).await?;
    }
    if !got.is_empty() {
        outbox.publish(&Wire::Presence { node: cluster.node.clone(), changes: Vec::new(), got }).await?;
    }
    Ok(())
}
