//! `NativeProducer`: options in, one sdk-core call per method, Promises out.
//!
//! Publishing uses the async `push_core::Producer` on napi's tokio runtime (one runtime per
//! process, shared by worker threads). Its connections live on that runtime, not on libuv, so an
//! idle or closed producer never keeps Node's event loop alive; a pending publish does, through
//! the Promise napi holds until it settles.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Either, PromiseRaw, Uint8Array};
use napi::Env;
use napi_derive::napi;
use push_core::{ErrorKind, Producer, ProducerOptions};

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
}

#[napi]
pub struct NativeProducer {
    options: ProducerOptions,
    url: String,
    /// The connected producer; `None` after `close()` until the next publish makes a new one.
    /// A std mutex: it is held only to clone or take an `Arc`, never across an await.
    live: Mutex<Option<Producer>>,
}

fn options_from(config: Option<ProducerConfig>) -> push_core::Result<ProducerOptions> {
    let mut options = ProducerOptions::new();
    let Some(config) = config else {
        return Ok(options);
    };
    if let Some(url) = config.url {
        options = options.url(url);
    }
    if let Some(key) = config.publish_key {
        options = options.publish_key(key);
    }
    if let Some(ms) = config.timeout_ms {
        // sdk-core rejects zero; a negative, NaN or infinite number cannot become a Duration.
        let timeout = Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| {
            push_core::Error::new(
                ErrorKind::InvalidConfig,
                format!("timeoutMs must be a positive number of milliseconds, got {ms}"),
            )
        })?;
        options = options.timeout(timeout);
    }
    Ok(options)
}

#[napi]
impl NativeProducer {
    /// Checks the options; connects on the first publish.
    #[napi(constructor)]
    pub fn new(config: Option<ProducerConfig>) -> Result<Self, napi::Error<&'static str>> {
        let options = options_from(config).map_err(|e| to_napi(&e))?;
        let producer = Producer::with_options(options.clone()).map_err(|e| to_napi(&e))?;
        let url = producer.url().to_owned();
        Ok(NativeProducer {
            options,
            url,
            live: Mutex::new(Some(producer)),
        })
    }

    /// The server URL this producer publishes to (after `PUSH_URL` and the default applied).
    #[napi(getter)]
    pub fn url(&self) -> String {
        self.url.clone()
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
        // Copy the bytes now: the JavaScript buffer may change once this call returns.
        let payload = match data {
            Either::A(text) => Bytes::from(text),
            Either::B(bytes) => Bytes::copy_from_slice(&bytes),
        };
        let producer = self.producer();
        env.spawn_future_with_callback(
            async move {
                let result = match producer {
                    Ok(p) => {
                        p.send_keyed(&channel, payload, content_type.as_deref(), idempotency_key)
                            .await
                    }
                    Err(e) => Err(e),
                };
                Ok(result)
            },
            |env, result| match result {
                Ok(id) => Ok(id.to_string()),
                Err(e) => Err(to_rejection(env, &e)),
            },
        )
    }

    /// Drops the connections. The producer stays usable: the next publish reconnects.
    #[napi]
    pub fn close(&self) {
        let producer = self.live.lock().unwrap_or_else(|p| p.into_inner()).take();
        // Publishes still in flight hold their own clone and finish normally.
        drop(producer);
    }
}

impl NativeProducer {
    fn producer(&self) -> push_core::Result<Producer> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = live.as_ref() {
            return Ok(p.clone());
        }
        let p = Producer::with_options(self.options.clone())?;
        *live = Some(p.clone());
        Ok(p)
    }
}
