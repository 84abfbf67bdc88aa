//! Broker engines. Each feeds a [`Hub`](crate::hub::Hub) in id order and implements
//! [`push_core::Broker`].

pub mod catch_up;
pub mod durable;
pub mod logged;
pub mod memory;
pub mod rabbitmq;

use std::sync::Arc;

use push_core::{Broker, Error, ErrorKind, Result};

use crate::config::Config;
use catch_up::CatchUpOptions;
use crate::dedup::WindowLimits;
use crate::hub::HubLimits;

/// Builds the engine named by `--broker`. Async because RabbitMQ is connected to (and the
/// stream's end found) before the server takes requests.
pub async fn from_config(config: &Config) -> Result<Arc<dyn Broker>> {
    let limits = HubLimits {
        history_size: config.history_size,
        history_age: config.history_age.into(),
        queue_size: config.subscriber_queue,
        max_channels: config.max_channels,
        channel_memory: config.channel_memory_bytes,
        forget_after: config.forget_channels_after,
        idempotency: WindowLimits {
            ttl: config.idempotency_window,
            horizon: config.idempotency_horizon,
            max_bytes: config.idempotency_memory_bytes,
        },
    };
    match config.broker.as_str() {
        "memory" => match &config.data_dir {
            None => Ok(Arc::new(memory::MemoryBroker::new(limits))),
            Some(dir) => Ok(Arc::new(
                durable::DurableBroker::start(durable::DurableOptions {
                    dir: dir.clone(),
                    fsync: config.fsync,
                    fsync_interval: config.fsync_interval,
                    retention_age: Some(config.retention_age).filter(|a| !a.is_zero()),
                    retention_bytes: Some(config.retention_bytes).filter(|b| *b > 0),
                    catch_up: CatchUpOptions::from_config(config),
                    limits,
                })
                .await?,
            )),
        },
        other if other.starts_with("amqp://") || other.starts_with("amqps://") => {
            let options = rabbitmq::RabbitOptions::from_config(config, limits)?;
            Ok(Arc::new(rabbitmq::RabbitBroker::start(options).await?))
        }
        other => Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("unknown broker {other:?}; use `memory` or an amqp:// URL"),
        )),
    }
}
