//! `NativeProducer` and `publishDefault`: options in, one sdk-core call per method, Promises out.
//!
//! Publishing uses sdk-core's `LazyProducer` (the lazily connecting producer under the Ruby and
//! Python bindings' `BlockingProducer`, without a runtime of its own): its futures run on napi's
//! tokio runtime (one runtime per process, shared by worker threads). Its connections live on
//! that runtime, not on libuv, so an idle or closed producer never keeps Node's event loop alive;
//! a pending publish does, through the Promise napi holds until it settles.

use bytes::Bytes;
use napi::bindgen_prelude::{Either, PromiseRaw, Uint8Array};
use napi::Env;
use napi_derive::napi;
use push_core::binding::{guard, guard_future, producer_options, DefaultProducer};
use push_core::producer::LazyProducer;
use push_core::Producer;

use crate::errors::{to_napi, to_rejection};

/// Options of `new Producer(...)`; each falls back to sdk-core's default.
#[napi(object)]
pub struct ProducerConfig {
    /// `http://host:port` of a push server. Default: `PUSH_URL`, else `http://127.0.0.1:4000`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer <key>`. Default: `PUSH_PUBLISH_KEY`.
    pub publish_key: Option<String>,
    /// Time limit for one publish, connecting included. Default: 10000.
    pub timeout_ms: Option<f64>,
    /// A PEM file of CA certificates trusted for https:// and amqps:// besides the system's
    /// roots. Default: `PUSH_CA_FILE`, else the system's roots only.
    pub ca_file: Option<String>,
}

#[napi]
pub struct NativeProducer {
    producer: LazyProducer,
}

/// The producer behind `publish(data, { to })`: rebuilt when PUSH_URL or PUSH_PUBLISH_KEY change.
static DEFAULT: DefaultProducer<Producer> = DefaultProducer::new();

#[napi]
impl NativeProducer {
    /// Checks the options; connects on the first publish.
    #[napi(constructor)]
    pub fn new(config: Option<ProducerConfig>) -> Result<Self, napi::Error<&'static str>> {
        guard(|| {
            let config = config.unwrap_or(ProducerConfig { url: None, publish_key: None, timeout_ms: None, ca_file: None });
            let options = producer_options(config.url, config.publish_key, config.timeout_ms.map(|ms| ms / 1000.0), config.ca_file)?;
            Ok(NativeProducer { producer: LazyProducer::new(options)? })
        })
        .map_err(|e| to_napi(&e))
    }

    /// The server URL this producer publishes to (after `PUSH_URL` and the default applied).
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.producer.url().to_owned()
    }

    /// Publishes `data` to `channel`; resolves to the message id as a decimal string. Rejects
    /// with an `Error` whose `code` is the sdk-core code. Without `idempotencyKey` sdk-core
    /// makes a fresh one per call.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        channel: String,
        data: Either<String, Uint8Array>,
        content_type: Option<String>,
        idempotency_key: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        spawn_send(env, guard(|| self.producer.get()), channel, data, content_type, idempotency_key)
    }

    /// Drops the connections. The producer stays usable: the next publish reconnects.
    #[napi]
    pub fn close(&self) {
        // Publishes still in flight hold their own clone and finish normally.
        self.producer.close();
    }
}

/// `publish(data, { to })`: publishes with sdk-core's default producer (built from PUSH_URL and
/// PUSH_PUBLISH_KEY on first use and again whenever either has changed). Rejects like `send`.
#[napi(ts_return_type = "Promise<string>")]
pub fn publish_default<'env>(
    env: &'env Env,
    channel: String,
    data: Either<String, Uint8Array>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
) -> napi::Result<PromiseRaw<'env, String>> {
    let producer = guard(|| DEFAULT.get(Producer::with_options).map(|p| Producer::clone(&p)));
    spawn_send(env, producer, channel, data, content_type, idempotency_key)
}

/// One publish on napi's runtime, settling a Promise with the id or the error.
fn spawn_send<'env>(
    env: &'env Env,
    producer: push_core::Result<Producer>,
    channel: String,
    data: Either<String, Uint8Array>,
    content_type: Option<String>,
    idempotency_key: Option<String>,
) -> napi::Result<PromiseRaw<'env, String>> {
    // Copy the bytes now: the JavaScript buffer may change once this call returns.
    let payload = match data {
        Either::A(text) => Bytes::from(text),
        Either::B(bytes) => Bytes::copy_from_slice(&bytes),
    };
    let publish = async move {
        let producer = producer?;
        producer.send_keyed(&channel, payload, content_type.as_deref(), idempotency_key).await
    };
    env.spawn_future_with_callback(async move { Ok(guard_future(publish).await) }, |env, result| match result {
        Ok(id) => Ok(id.to_string()),
        Err(e) => Err(to_rejection(env, &e)),
    })
}

