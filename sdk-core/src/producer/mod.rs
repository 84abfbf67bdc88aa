//! The producer: `Producer::new(None)?.publish("hi there!").to("/greetings").await`, and over a
//! push server's URL the server API's calls ([`crate::api`]): `channel_info`, `channels`,
//! `history`, `disconnect`.
//!
//! The URL's scheme picks the transport (`http(s)://` publishes through a push server,
//! `amqp(s)://` straight to the RabbitMQ stream, see [`crate::amqp::publisher`]); callers never name a transport. Creating a producer only parses its options: it connects on first use,
//! so a producer made before a `fork` works in the child (see [`lazy`]).

pub mod blocking;
mod http;
pub mod lazy;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::api::{Call, ChannelInfo, Presence, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange, Targets};
use crate::{idempotency, Channel, Error, ErrorKind, MessageId, Result, DEFAULT_URL};

pub use blocking::BlockingProducer;
pub use lazy::LazyProducer;

/// Default time limit for one publish, connection included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach the push server or broker.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ProducerOptions {
    /// `http(s)://host:port` of a push server, or `amqp(s)://user:pass@host:5672/%2f?stream=name`
    /// of RabbitMQ. Default: `PUSH_URL`, else `http://127.0.0.1:4000`.
    pub url: Option<String>,
    /// The server's publish key, sent as `Authorization: Bearer`. Default: `PUSH_PUBLISH_KEY`.
    pub publish_key: Option<String>,
    /// Time limit for one publish or server API call, retries included. Default: 10 s.
    pub timeout: Option<Duration>,
    /// A PEM file of CA certificates trusted for `https://` and `amqps://` on top of the system's
    /// roots (e.g. a private CA). Default: `PUSH_CA_FILE`, else the system's roots only.
    pub ca_file: Option<PathBuf>,
}

impl ProducerOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    pub fn publish_key(mut self, key: impl Into<String>) -> Self {
        self.publish_key = Some(key.into());
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Fills what was left unset from the environment and the defaults.
    pub(crate) fn resolve(&self) -> Result<Resolved> {
        let url = match &self.url {
            Some(u) if !u.trim().is_empty() => u.trim().to_owned(),
            _ => std::env::var("PUSH_URL").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_URL.to_owned()),
        };
        let publish_key = self
            .publish_key
            .clone()
            .or_else(|| std::env::var("PUSH_PUBLISH_KEY").ok())
            .filter(|k| !k.is_empty());
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::new(ErrorKind::InvalidConfig, "timeout must be greater than zero"));
        }
        // Read now, so a missing or broken file fails here and not on the first publish.
        let ca_file = self
            .ca_file
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| std::env::var_os(crate::tls::CA_FILE_ENV).filter(|p| !p.is_empty()).map(PathBuf::from));
        let ca = ca_file.as_deref().map(crate::tls::CaFile::load).transpose()?;
        Ok(Resolved { url, publish_key, timeout, ca })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub url: String,
    pub publish_key: Option<String>,
    pub timeout: Duration,
    pub ca: Option<crate::tls::CaFile>,
}

enum Transport {
    Http(http::HttpTransport),
    #[cfg(feature = "amqp")]
    Amqp(crate::amqp::publisher::AmqpPublisher),
}

/// Publishes messages, and over an `http(s)://` URL makes the server API's calls
/// ([`crate::api`]). Cheap to clone; clones share connections. Needs a tokio runtime to run its
/// futures; for plain threads use [`BlockingProducer`].
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    /// Time limit of one call, retries included.
    timeout: Duration,
    transport: Transport,
}

impl Producer {
    /// A producer for `url`, or `PUSH_URL`, or `http://127.0.0.1:4000`.
    pub fn new(url: Option<&str>) -> Result<Producer> {
        let mut options = ProducerOptions::new();
        options.url = url.map(str::to_owned);
        Producer::with_options(options)
    }

    pub fn with_options(options: ProducerOptions) -> Result<Producer> {
        let resolved = options.resolve()?;
        let scheme = resolved.url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let transport = match scheme.as_deref() {
            Some("http") | Some("https") => Transport::Http(http::HttpTransport::new(&resolved)?),
            #[cfg(feature = "amqp")]
            Some("amqp") | Some("amqps") => {
                use crate::amqp::confirm::{SenderOptions, DEFAULT_MAX_PAYLOAD};
                use crate::amqp::publisher::AmqpPublisher;
                let (url, stream) = crate::amqp::parse_url(&resolved.url)?;
                Transport::Amqp(AmqpPublisher::new(SenderOptions {
                    url,
                    stream: crate::amqp::StreamConfig::named(stream.clone()),
                    timeout: resolved.timeout,
                    max_payload: DEFAULT_MAX_PAYLOAD,
                    connection_name: format!("push-rs producer {} ({stream})", env!("CARGO_PKG_VERSION")),
                    ca: resolved.ca.clone(),
                })?)
            }
            #[cfg(not(feature = "amqp"))]
            Some("amqp") | Some("amqps") => {
                return Err(Error::new(ErrorKind::InvalidConfig, "this build of push-core has no amqp:// support (the `amqp` feature)"))
            }
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!("unsupported URL scheme {other:?} in {:?}; use http://, https://, amqp:// or amqps://", resolved.url),
                ))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!("{:?} is not a URL; expected e.g. http://127.0.0.1:4000", resolved.url),
                ))
            }
        };
        Ok(Producer { inner: Arc::new(Inner { url: resolved.url, timeout: resolved.timeout, transport }) })
    }

    /// The URL this producer publishes to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Starts a publish; finish it with [`Publish::to`].
    pub fn publish(&self, data: impl Into<Bytes>) -> Publish<'_> {
        Publish { producer: self, data: data.into(), options: PublishOptions::default() }
    }

    /// Publishes `payload` to `channels` (one name, or a list: see [`Targets`]) and returns its
    /// id. Without a content type, valid UTF-8 is sent as `text/plain; charset=utf-8` and
    /// anything else as `application/octet-stream`.
    pub async fn send(&self, channels: impl Targets, payload: Bytes, content_type: Option<&str>) -> Result<MessageId> {
        self.send_with(channels, payload, PublishOptions { content_type: content_type.map(str::to_owned), ..Default::default() }).await
    }

    /// [`send`](Self::send) with every option: content type, event name, and the caller's
    /// idempotency key (else a fresh one). A failure that leaves it unknown whether the message
    /// was stored (connection broken, timeout, a `503` while the broker reconnects) is retried
    /// with the same key until the producer's timeout, so the call returns one id or fails, and
    /// never stores twice. The key covers the list of channels: a retry names the same channels
    /// in the same order.
    pub async fn send_with(&self, channels: impl Targets, payload: Bytes, options: PublishOptions) -> Result<MessageId> {
        let channels = channels.channels()?;
        let content_type = match options.content_type {
            Some(ct) => ct,
            None => default_content_type(&payload).to_owned(),
        };
        let event = crate::event_name::parse(options.event.as_deref())?;
        let key = match options.idempotency_key {
            Some(key) => {
                idempotency::validate(&key)?;
                key
            }
            None => idempotency::new_key(),
        };
        match &self.inner.transport {
            Transport::Http(t) => {
                let what = || format!("publish to {}", channels.iter().map(Channel::as_str).collect::<Vec<_>>().join(", "));
                self.retrying(what, "no receipt", || t.publish(&channels, payload.clone(), &content_type, event.as_deref(), &key)).await
            }
            #[cfg(feature = "amqp")]
            Transport::Amqp(t) => {
                let mut channels = channels;
                let also = channels.split_off(1);
                let channel = channels.pop().expect("Targets::channels gives at least one");
                let publication = crate::broker::Publication { channel, also, payload, content_type, event, idempotency_key: Some(key) };
                t.publish(publication).await.map(|p| p.id)
            }
        }
    }

    /// What a channel holds and who is connected to it, counted over every node.
    pub async fn channel_info(&self, channel: &str) -> Result<ChannelInfo> {
        self.call(Call::channel_info(channel)?).await
    }

    /// Who is present on a presence channel (`--presence-prefix`), once each across the nodes,
    /// with the public info of their tokens.
    pub async fn presence(&self, channel: &str) -> Result<Presence> {
        self.call(Call::presence(channel)?).await
    }

    /// One page of the channels with a connection or with history, in name order. Ask for the
    /// next with `query.after = page.next` while `page.next` is `Some`.
    pub async fn channels(&self, query: ChannelsQuery) -> Result<ChannelPage> {
        self.call(Call::channels(&query)?).await
    }

    /// Messages of a channel's history, oldest first (see [`HistoryRange`]).
    pub async fn history(&self, channel: &str, range: HistoryRange) -> Result<History> {
        self.call(Call::history(channel, range)?).await
    }

    /// Ends a consumer's subscriptions on every node, and bans it for a while if asked. Safe to
    /// repeat, so a failure that may have reached the server is retried like a publish.
    pub async fn disconnect(&self, request: Disconnect) -> Result<Disconnected> {
        self.call(Call::disconnect(&request)?).await
    }

    /// A server API call, retried as a publish is (each is read-only or idempotent).
    async fn call<T: serde::de::DeserializeOwned>(&self, call: Call) -> Result<T> {
        let t = match &self.inner.transport {
            Transport::Http(t) => t,
            #[cfg(feature = "amqp")]
            Transport::Amqp(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidConfig,
                    format!("{} needs an http(s):// push server URL; this producer publishes to RabbitMQ ({})", call.what, crate::amqp::redact(&self.inner.url)),
                ))
            }
        };
        self.retrying(|| call.what.clone(), "no answer", || t.call(&call)).await
    }

    /// Runs `attempt` until it succeeds, fails in a way a retry cannot fix, or the producer's
    /// timeout (for all attempts together) is up.
    async fn retrying<T, F, Fut>(&self, what: impl Fn() -> String, silence: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.inner.timeout;
        let mut backoff = Duration::from_millis(50);
        // Whether an attempt so far may have stored the message: then the last error says so too.
        let mut maybe_stored = false;
        loop {
            let error = match tokio::time::timeout_at(deadline, attempt()).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(e)) => e,
                Err(_) => Error::new(ErrorKind::Timeout, format!("{silence} from {} within {:?}", self.inner.url, self.inner.timeout)),
            };
            let error = if maybe_stored { error.after_maybe_stored() } else { error };
            maybe_stored = error.maybe_stored();
            if !retry_safe(&error) || tokio::time::Instant::now() + backoff >= deadline {
                return Err(error);
            }
            tracing::debug!("{} failed ({error}); retrying", what());
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("url", &self.inner.url).finish()
    }
}

/// The content type used when the caller names none.
pub fn default_content_type(payload: &[u8]) -> &'static str {
    if std::str::from_utf8(payload).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// Whether a failed publish is sent again with the same key: it may or may not have been stored
/// (the key makes a second copy harmless), or the server asked to retry. A server that cannot
/// be reached at all fails at once: nothing was sent, and the caller learns it is down.
fn retry_safe(error: &Error) -> bool {
    let not_connected = std::error::Error::source(error)
        .and_then(|s| s.downcast_ref::<reqwest::Error>())
        .is_some_and(|e| e.is_connect());
    match error.kind() {
        ErrorKind::ConnectionFailed => !not_connected,
        ErrorKind::Timeout | ErrorKind::TooManyConnections | ErrorKind::Overloaded => true,
        ErrorKind::ServerError => matches!(error.status(), Some(502..=504)),
        _ => false,
    }
}

/// How a message is published besides its payload and channels; `Default` is none of them.
#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    /// Default: `text/plain; charset=utf-8` for UTF-8, else `application/octet-stream`.
    pub content_type: Option<String>,
    /// Default: a fresh key per call (see [`Publish::idempotency_key`]).
    pub idempotency_key: Option<String>,
    /// The SSE event name; default: none (`message`).
    pub event: Option<String>,
}

/// A publish waiting for its channels: `producer.publish(data).to("/greetings")`.
#[must_use = "a publish does nothing until .to(channel) is awaited"]
pub struct Publish<'a> {
    producer: &'a Producer,
    data: Bytes,
    options: PublishOptions,
}

impl Publish<'_> {
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.options.content_type = Some(content_type.into());
        self
    }

    /// The key that makes retries of this publish store once (default: a fresh one per call).
    /// Pass your own to make retries across calls or processes safe too (e.g. an order id).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key = Some(key.into());
        self
    }

    /// The message's SSE event name (`event: chat`), what htmx's `sse-swap` and
    /// `addEventListener` select by; see [`crate::event_name`].
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.options.event = Some(name.into());
        self
    }

    /// Publishes to one channel (`.to("/a")`) or to several (`.to(["/a", "/b"])`: one message
    /// with one id on all of them, delivered once to a subscriber of more than one), and returns
    /// its id.
    pub async fn to(self, channels: impl Targets) -> Result<MessageId> {
        self.producer.send_with(channels, self.data, self.options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_config_errors() {
        let e = Producer::new(Some("ftp://x")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        let e = Producer::new(Some("localhost:4000")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        // TLS URLs are accepted; certificates are checked on connect.
        Producer::new(Some("https://127.0.0.1:9")).unwrap();
        #[cfg(feature = "amqp")]
        Producer::new(Some("amqps://rabbit.example/%2f")).unwrap();
    }

    #[test]
    fn an_unreadable_ca_file_is_a_tls_error() {
        let e = Producer::with_options(ProducerOptions::new().url("https://127.0.0.1:9").ca_file("/nonexistent/ca.pem")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[tokio::test]
    async fn invalid_channel_fails_before_any_io() {
        let p = Producer::new(Some("http://127.0.0.1:9")).unwrap();
        let e = p.publish("x").to("no-slash").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidChannel);
    }

    #[tokio::test]
    async fn api_calls_check_their_inputs_before_any_io() {
        let p = Producer::new(Some("http://127.0.0.1:9")).unwrap();
        assert_eq!(p.channel_info("nope").await.unwrap_err().kind(), ErrorKind::InvalidChannel);
        assert_eq!(p.history("/a", HistoryRange::Last(0)).await.unwrap_err().kind(), ErrorKind::BadRequest);
        assert_eq!(p.channels(ChannelsQuery::new().limit(0)).await.unwrap_err().kind(), ErrorKind::BadRequest);
        assert_eq!(p.disconnect(Disconnect::new("")).await.unwrap_err().kind(), ErrorKind::BadRequest);
        assert_eq!(p.publish("x").to(Vec::<String>::new()).await.unwrap_err().kind(), ErrorKind::BadRequest);
        assert_eq!(p.publish("x").to(["/a", "/a/"]).await.unwrap_err().kind(), ErrorKind::InvalidChannel);
        // Valid inputs reach the (absent) server.
        assert_eq!(p.channel_info("/a").await.unwrap_err().kind(), ErrorKind::ConnectionFailed);
        assert_eq!(p.publish("x").to(["/a", "/b"]).await.unwrap_err().kind(), ErrorKind::ConnectionFailed);
    }

    #[cfg(feature = "amqp")]
    #[tokio::test]
    async fn api_calls_need_a_push_server() {
        let p = Producer::new(Some("amqp://guest:secret@127.0.0.1:9/%2f")).unwrap();
        let e = p.channel_info("/a").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.to_string().contains("http(s)://") && !e.to_string().contains("secret"), "{e}");
        assert_eq!(p.channels(ChannelsQuery::new()).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
        assert_eq!(p.history("/a", HistoryRange::All).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
        assert_eq!(p.disconnect(Disconnect::new("a")).await.unwrap_err().kind(), ErrorKind::InvalidConfig);
        // Bad inputs are still told as such.
        assert_eq!(p.channel_info("nope").await.unwrap_err().kind(), ErrorKind::InvalidChannel);
    }

    #[tokio::test]
    async fn unreachable_server_names_the_url() {
        let p = Producer::new(Some("http://127.0.0.1:9")).unwrap();
        let e = p.publish("x").to("/a").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionFailed);
        assert!(e.to_string().contains("http://127.0.0.1:9"), "{e}");
    }
}
