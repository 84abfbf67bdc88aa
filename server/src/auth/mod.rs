//! Who may subscribe. Off by default; `--auth token` checks signed tokens
//! ([`token`]), `--auth-url` asks the web app ([`proxy`]); with both, both must allow.

pub mod proxy;
pub mod token;

use axum::http::request::Parts;
use push_core::Channel;

use crate::config::{AuthMode, Config};
use crate::error::ApiResult;
use crate::extract::params::Params;

/// What an allowed subscription may do: until when, if the credentials expire.
#[derive(Debug, Default, Clone)]
pub struct Grant {
    /// Unix seconds after which the subscription must end.
    pub expires_at: Option<u64>,
    /// The consumer's public info from its token (shown by presence).
    pub info: Option<String>,
}

pub struct Authorizer {
    token: Option<token::TokenAuth>,
    proxy: Option<proxy::ProxyAuth>,
}

impl Authorizer {
    pub fn new(config: &Config) -> Authorizer {
        let token = match config.auth {
            AuthMode::Token => Some(token::TokenAuth::new(config.secret.clone().unwrap_or_default())),
            AuthMode::None => None,
        };
        let proxy = config.auth_url.as_ref().map(|url| proxy::ProxyAuth::new(url.clone(), config));
        Authorizer { token, proxy }
    }

    /// Whether a check reads the client's address (`ConnectInfo` in the request's extensions):
    /// the auth URL is told it.
    pub fn reads_client_address(&self) -> bool {
        self.proxy.is_some()
    }

    /// Allows or refuses a subscription to `channels` (401/403/503 with the reason).
    pub async fn authorize(&self, parts: &Parts, params: &Params, channels: &[Channel], consumer: Option<&str>) -> ApiResult<Grant> {
        let mut grant = Grant::default();
        if let Some(token) = &self.token {
            grant = token.authorize(parts, params, channels, consumer)?;
        }
        if let Some(proxy) = &self.proxy {
            // Boxed: inline, every waiting subscriber's future would be sized for an HTTP call.
            Box::pin(proxy.authorize(parts, channels, consumer)).await?;
        }
        Ok(grant)
    }
}
