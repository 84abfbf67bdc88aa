//! `NativeProducer`: options in, one sdk-core call per method, Promises out. Publishes and the
//! server API's calls (channel info, presence, channels, history, disconnect; see [`crate::api`]).
//!
//! A producer made with `new` uses sdk-core's `LazyProducer` (the lazily connecting producer
//! under the Ruby and Python bindings' `BlockingProducer`, without a runtime of its own); the one
//! made with `fromEnvironment` stands for sdk-core's `DefaultProducer`, the producer behind the
//! module's `publish`, `channel`, `channels` and `disconnect`. Their futures run on napi's tokio
//! runtime (one runtime per process, shared by worker threads). Connections live on that
//! runtime, not on libuv, so an idle or closed producer never keeps Node's event loop alive; a
//! pending call does, through the Promise napi holds until it settles.

use std::future::Future;

use bytes::Bytes;
use napi::bindgen_prelude::{Either, PromiseRaw, ToNapiValue, Uint8Array};
use napi::Env;
use napi_derive::napi;
use push_core::binding::{guard, guard_future, producer_options, DefaultProducer};
use push_core::producer::LazyProducer;
use push_core::{Producer, PublishOptions};

use crate::api::{ChannelsRequest, DisconnectRequest, HistoryRequest, NativeChannelInfo, NativeChannelPage, NativeDisconnected, NativeHistory, NativePresence};
use crate::errors::{to_napi, to_rejection};

/// Options of `new Producer(...)`; each falls back to sdk-core's default.
#[napi(object)]
pub struct ProducerConfig {
    /// `http://host:port` of a push server. Default: `PUSH_URL`, else `http://127.0.0.1:4000`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer <key>`. Default: `PUSH_PUBLISH_KEY`.
    pub publish_key: Option<String>,
    /// Time limit for one publish or server API call, connecting included. Default: 10000.
    pub timeout_ms: Option<f64>,
    /// A PEM file of CA certificates trusted for https:// and amqps:// besides the system's
    /// roots. Default: `PUSH_CA_FILE`, else the system's roots only.
    pub ca_file: Option<String>,
}

enum Source {
    Own(LazyProducer),
    /// sdk-core's default producer, looked up on each call so that it follows the environment.
    Environment,
}

#[napi]
pub struct NativeProducer {
    source: Source,
}

/// The default producer: rebuilt when PUSH_URL, PUSH_PUBLISH_KEY or PUSH_CA_FILE change.
static DEFAULT: DefaultProducer<Producer> = DefaultProducer::new();

#[napi]
impl NativeProducer {
    /// Checks the options; connects on the first call.
    #[napi(constructor)]
    pub fn new(config: Option<ProducerConfig>) -> Result<Self, napi::Error<&'static str>> {
        guard(|| {
            let config = config.unwrap_or(ProducerConfig { url: None, publish_key: None, timeout_ms: None, ca_file: None });
            let options = producer_options(config.url, config.publish_key, config.timeout_ms.map(|ms| ms / 1000.0), config.ca_file)?;
            Ok(NativeProducer { source: Source::Own(LazyProducer::new(options)?) })
        })
        .map_err(|e| to_napi(&e))
    }

    /// The default producer (built from the environment on first use, again when it changed).
    #[napi(factory)]
    pub fn from_environment() -> Self {
        NativeProducer { source: Source::Environment }
    }

    /// The server URL this producer publishes to (after `PUSH_URL` and the default applied).
    #[napi(getter)]
    pub fn url(&self) -> String {
        match &self.source {
            Source::Own(producer) => producer.url().to_owned(),
            Source::Environment => self.producer().map(|p| p.url().to_owned()).unwrap_or_default(),
        }
    }

    /// Publishes `data` to `channels` (one message, one id, on all of them); resolves to the id
    /// as a decimal string. Rejects with an `Error` whose `code` is the sdk-core code. Without
    /// `idempotencyKey` sdk-core makes a fresh one per call.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        channels: Vec<String>,
        data: Either<String, Uint8Array>,
        content_type: Option<String>,
        idempotency_key: Option<String>,
        event: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, String>> {
        // Copy the bytes now: the JavaScript buffer may change once this call returns.
        let payload = match data {
            Either::A(text) => Bytes::from(text),
            Either::B(bytes) => Bytes::copy_from_slice(&bytes),
        };
        let options = PublishOptions { content_type, idempotency_key, event };
        spawn(env, self.producer(), move |p| async move { p.send_with(channels, payload, options).await.map(|id| id.to_string()) })
    }

    /// What a channel holds and who is connected to it.
    #[napi(ts_return_type = "Promise<NativeChannelInfo>")]
    pub fn channel_info<'env>(&self, env: &'env Env, channel: String) -> napi::Result<PromiseRaw<'env, NativeChannelInfo>> {
        spawn(env, self.producer(), move |p| async move { p.channel_info(&channel).await.map(NativeChannelInfo::from) })
    }

    /// Who is present on a presence channel.
    #[napi(ts_return_type = "Promise<NativePresence>")]
    pub fn presence<'env>(&self, env: &'env Env, channel: String) -> napi::Result<PromiseRaw<'env, NativePresence>> {
        spawn(env, self.producer(), move |p| async move { p.presence(&channel).await.map(NativePresence::from) })
    }

    /// One page of the active channels.
    #[napi(ts_return_type = "Promise<NativeChannelPage>")]
    pub fn channels<'env>(&self, env: &'env Env, request: ChannelsRequest) -> napi::Result<PromiseRaw<'env, NativeChannelPage>> {
        let query = guard(|| request.query());
        spawn(env, self.producer(), move |p| async move { p.channels(query?).await.map(NativeChannelPage::from) })
    }

    /// Messages of a channel's history.
    #[napi(ts_return_type = "Promise<NativeHistory>")]
    pub fn history<'env>(&self, env: &'env Env, channel: String, range: Option<HistoryRequest>) -> napi::Result<PromiseRaw<'env, NativeHistory>> {
        let range = guard(|| HistoryRequest::range(range));
        spawn(env, self.producer(), move |p| async move { p.history(&channel, range?).await.map(NativeHistory::from) })
    }

    /// Ends a consumer's subscriptions on every node, and bans it if asked.
    #[napi(ts_return_type = "Promise<NativeDisconnected>")]
    pub fn disconnect<'env>(&self, env: &'env Env, request: DisconnectRequest) -> napi::Result<PromiseRaw<'env, NativeDisconnected>> {
        let request = guard(|| request.disconnect());
        spawn(env, self.producer(), move |p| async move { p.disconnect(request?).await.map(NativeDisconnected::from) })
    }

    /// Drops the connections. The producer stays usable: the next call reconnects.
    #[napi]
    pub fn close(&self) {
        // Calls still in flight hold their own clone and finish normally. The default producer
        // is shared by the whole process and stays as it is.
        if let Source::Own(producer) = &self.source {
            producer.close();
        }
    }
}

impl NativeProducer {
    fn producer(&self) -> push_core::Result<Producer> {
        guard(|| match &self.source {
            Source::Own(producer) => producer.get(),
            Source::Environment => DEFAULT.get(Producer::with_options).map(|p| Producer::clone(&p)),
        })
    }
}

/// One sdk-core call on napi's runtime, settling a Promise with its answer or its error. A
/// producer or request that could not be made rejects the same way, before any I/O.
fn spawn<'env, T, F, Fut>(env: &'env Env, producer: push_core::Result<Producer>, call: F) -> napi::Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce(Producer) -> Fut + Send + 'static,
    Fut: Future<Output = push_core::Result<T>> + Send + 'static,
{
    let work = async move { call(producer?).await };
    env.spawn_future_with_callback(async move { Ok(guard_future(work).await) }, |env, result| result.map_err(|e| to_rejection(env, &e)))
}
