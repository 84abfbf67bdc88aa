//! `--auth-url`: ask the web app whether a subscriber may subscribe.
//!
//! For each channel of a new subscription the server sends `GET <auth-url>` with the
//! subscriber's `Cookie` and `Authorization` headers, and `Push-Channel`, `Push-Consumer` and
//! `X-Forwarded-For`. Only a 2xx from the auth URL itself allows: redirects are not followed
//! (an app sends anonymous users to its login page with a 302, which must not read as "allowed");
//! 403 refuses with 403, any other 3xx or 4xx with 401; a 5xx, or no answer within
//! `--auth-timeout`, refuses with 503 (fail closed, not cached). Decisions are cached for
//! `--auth-cache-ttl` per (cookie, authorization, consumer, channel), in at most
//! `--auth-cache-bytes`. At most `--auth-concurrency` requests run at once and `--auth-queue`
//! wait; more subscriptions are refused with 503 `OVERLOADED`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ConnectInfo;
use axum::http::{header, request::Parts, StatusCode};
use moka::sync::Cache;
use push_core::{Channel, ErrorKind};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Limit;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny(u16),
}

type Key = (String, String, String, Channel);

pub struct ProxyAuth {
    url: String,
    client: reqwest::Client,
    cache: Cache<Key, Decision>,
    slots: Semaphore,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Bytes a cache entry costs beyond its strings (hash table slot, timestamps, decision).
const ENTRY_OVERHEAD: usize = 96;

impl ProxyAuth {
    pub fn new(url: String, config: &Config) -> ProxyAuth {
        push_core::tls::ensure_provider();
        let mut builder = reqwest::Client::builder().timeout(config.auth_timeout).connect_timeout(config.auth_timeout).redirect(reqwest::redirect::Policy::none());
        if url.starts_with("https://") {
            // Checked by Config::validate; should it fail now, no root is trusted and every
            // check fails: closed, never open.
            let tls = config.auth_tls().unwrap_or_else(|e| {
                tracing::error!("--auth-url: {e}; every subscription will be refused");
                push_core::tls::client_config_with_roots(rustls::RootCertStore::empty()).expect("a TLS client with no roots builds")
            });
            builder = builder.tls_backend_preconfigured(tls);
        }
        let client = builder.build().expect("an HTTP client builds");
        let weigh = |k: &Key, _: &Decision| {
            let bytes = k.0.len() + k.1.len() + k.2.len() + k.3.as_str().len() + ENTRY_OVERHEAD;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        };
        let cache = Cache::builder().max_capacity(config.auth_cache_bytes).weigher(weigh).time_to_live(config.auth_cache_ttl).build();
        ProxyAuth {
            url,
            client,
            cache,
            slots: Semaphore::new(config.auth_concurrency),
            waiting: AtomicUsize::new(0),
            max_waiting: config.auth_queue,
        }
    }

    pub async fn authorize(&self, parts: &Parts, channels: &[Channel], consumer: Option<&str>) -> ApiResult<()> {
        let text = |name| parts.headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok()).unwrap_or("").to_owned();
        let (cookie, authorization) = (text(header::COOKIE), text(header::AUTHORIZATION));
        let client_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        for channel in channels {
            let key = (cookie.clone(), authorization.clone(), consumer.unwrap_or("").to_owned(), channel.clone());
            // Only definite answers are cached; a failure to decide is asked again next time.
            let decision = match self.cache.get(&key) {
                Some(d) => d,
                None => {
                    let d = self.ask(&cookie, &authorization, consumer, channel, client_ip.as_deref()).await?;
                    self.cache.insert(key, d);
                    d
                }
            };
            if let Decision::Deny(status) = decision {
                let kind = if status == 403 { ErrorKind::Forbidden } else { ErrorKind::Unauthorized };
                return Err(ApiError::new(kind, format!("the application refused the subscription to {channel} ({status})")));
            }
        }
        Ok(())
    }

    async fn ask(&self, cookie: &str, authorization: &str, consumer: Option<&str>, channel: &Channel, ip: Option<&str>) -> ApiResult<Decision> {
        let _slot = self.slot().await?;
        let mut request = self.client.get(&self.url).header("Push-Channel", channel.as_str());
        if !cookie.is_empty() {
            request = request.header(header::COOKIE, cookie);
        }
        if !authorization.is_empty() {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        if let Some(c) = consumer {
            request = request.header("Push-Consumer", c);
        }
        if let Some(ip) = ip {
            request = request.header("X-Forwarded-For", ip);
        }
        let unavailable = |why: String| {
            tracing::warn!(url = %self.url, "auth request failed: {why}");
            ApiError::new(ErrorKind::ConnectionFailed, format!("the authorization service did not decide: {why}"))
        };
        let response = request.send().await.map_err(|e| unavailable(if e.is_timeout() { "timed out".into() } else { "unreachable".into() }))?;
        let status = response.status();
        match status {
            s if s.is_success() => Ok(Decision::Allow),
            StatusCode::FORBIDDEN => Ok(Decision::Deny(403)),
            s if s.is_redirection() || s.is_client_error() => Ok(Decision::Deny(401)),
            other => Err(unavailable(format!("it answered {other}"))),
        }
    }

    /// A place among the requests in flight; waits behind at most `--auth-queue` others.
    async fn slot(&self) -> ApiResult<tokio::sync::SemaphorePermit<'_>> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError(
                push_core::Error::new(ErrorKind::Overloaded, "too many subscriptions are waiting for the authorization service; retry later")
                    .with_source(Limit::AuthQueue),
            ));
        }
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| ApiError::new(ErrorKind::ConnectionFailed, "the server is shutting down"))
    }
}
