//! `--auth-url`: ask the web app whether a subscriber may subscribe.
//!
//! For each channel of a new subscription the server sends `GET <auth-url>` with the
//! subscriber's `Cookie` and `Authorization` headers, and `Push-Channel`, `Push-Consumer` and
//! `X-Forwarded-For`. A 2xx allows; 401 or 403 refuse with the app's status; anything else, or no
//! answer within `--auth-timeout`, refuses with 503 (fail closed). Decisions are cached for
//! `--auth-cache-ttl` per (cookie, authorization, consumer, channel), at most
//! `--auth-cache-size` of them.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::{header, request::Parts, StatusCode};
use moka::sync::Cache;
use push_core::{Channel, ErrorKind};

use crate::config::Config;
use crate::error::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Decision {
    Allow,
    Deny(u16),
}

pub struct ProxyAuth {
    url: String,
    client: reqwest::Client,
    cache: Cache<(String, String, String, Channel), Decision>,
}

impl ProxyAuth {
    pub fn new(url: String, config: &Config) -> ProxyAuth {
        let client = reqwest::Client::builder()
            .timeout(config.auth_timeout)
            .connect_timeout(config.auth_timeout)
            .build()
            .expect("a plain HTTP client builds");
        let cache = Cache::builder().max_capacity(config.auth_cache_size).time_to_live(config.auth_cache_ttl).build();
        ProxyAuth { url, client, cache }
    }

    pub async fn authorize(&self, parts: &Parts, channels: &[Channel], consumer: Option<&str>) -> ApiResult<()> {
        let text = |name| parts.headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok()).unwrap_or("").to_owned();
        let (cookie, authorization) = (text(header::COOKIE), text(header::AUTHORIZATION));
        let client_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        for channel in channels {
            let key = (cookie.clone(), authorization.clone(), consumer.unwrap_or("").to_owned(), channel.clone());
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
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Ok(Decision::Deny(status.as_u16())),
            other => Err(unavailable(format!("it answered {other}"))),
        }
    }
}
