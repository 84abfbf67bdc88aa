//! Broker engines. Each feeds a [`Hub`](crate::hub::Hub) in id order and implements
//! [`push_core::Broker`].

pub mod memory;

use std::sync::Arc;

use push_core::{Broker, Error, ErrorKind, Result};

use crate::config::Config;
use crate::hub::HubLimits;

/// Builds the engine named by `--broker`.
pub fn from_config(config: &Config) -> Result<Arc<dyn Broker>> {
    let limits = HubLimits {
        history_size: config.history_size,
        history_age: config.history_age.into(),
        queue_size: config.subscriber_queue,
        ..HubLimits::default()
    };
    match config.broker.as_str() {
        "memory" => Ok(Arc::new(memory::MemoryBroker::new(limits))),
        other if other.starts_with("amqp://") || other.starts_with("amqps://") => Err(Error::new(
            ErrorKind::InvalidConfig,
            "the RabbitMQ broker is not part of this build yet; use --broker memory",
        )),
        other => Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("unknown broker {other:?}; use `memory` or an amqp:// URL"),
        )),
    }
}
