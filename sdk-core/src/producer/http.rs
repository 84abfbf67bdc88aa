//! Publishing through a push server: `POST <url><channel>`, answered with `{"id": "..."}`.

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use super::Resolved;
use crate::{idempotency, Channel, Error, ErrorKind, MessageId, Result, ERROR_HEADER};

pub(super) struct HttpTransport {
    client: reqwest::Client,
    base: url::Url,
    auth: Option<String>,
}

#[derive(serde::Deserialize)]
struct Published {
    id: MessageId,
}

impl HttpTransport {
    pub fn new(options: &Resolved) -> Result<HttpTransport> {
        let base = url::Url::parse(&options.url)
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("invalid URL {:?}: {e}", options.url)))?;
        // Keep-alive connections are pooled by the client and reused across publishes. TLS is
        // our own rustls config (ring, system roots + CA file), for http:// too: reqwest would
        // otherwise set up its platform verifier for every client (ms each), and a redirect to
        // https:// is then checked like an https:// URL.
        crate::tls::ensure_provider();
        let tls = match crate::tls::client_config(options.ca.as_ref()) {
            Ok(tls) => tls,
            // No CA bundle on the machine: http:// still publishes (in the clear).
            Err(_) if base.scheme() != "https" => crate::tls::client_config_with_roots(rustls::RootCertStore::empty())?,
            Err(e) => return Err(e),
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            .user_agent(concat!("push-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::InvalidConfig, format!("cannot build HTTP client: {e}")).with_source(e))?;
        Ok(HttpTransport { client, base, auth: options.publish_key.as_ref().map(|k| format!("Bearer {k}")) })
    }

    fn endpoint(&self, channel: &Channel) -> url::Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{channel}"));
        url.set_query(None);
        url
    }

    pub async fn publish(&self, channel: &Channel, payload: Bytes, content_type: &str, idempotency_key: &str) -> Result<MessageId> {
        let mut request = self
            .client
            .post(self.endpoint(channel))
            .header(CONTENT_TYPE, content_type)
            .header(idempotency::HEADER, idempotency_key)
            .body(payload);
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() {
            let body = response.bytes().await.map_err(|e| self.transport_error(e))?;
            let published: Published = serde_json::from_slice(&body).map_err(|e| {
                Error::new(ErrorKind::ServerError, format!("{} answered {status} with a body that is not a publish receipt: {e}", self.base))
                    .with_status(status.as_u16())
            })?;
            return Ok(published.id);
        }
        let code = response.headers().get(ERROR_HEADER).and_then(|v| v.to_str().ok()).and_then(ErrorKind::from_code);
        let kind = code.unwrap_or(match status.as_u16() {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            413 => ErrorKind::PayloadTooLarge,
            503 => ErrorKind::Overloaded,
            _ => ErrorKind::ServerError,
        });
        let reason = response.text().await.unwrap_or_default();
        let reason = reason.trim();
        let reason = if reason.is_empty() { status.canonical_reason().unwrap_or("error") } else { reason };
        Err(Error::new(kind, format!("{reason} ({status} from {})", self.base)).with_status(status.as_u16()))
    }

    fn transport_error(&self, e: reqwest::Error) -> Error {
        if let Some(tls) = crate::tls::rustls_error(&e) {
            return Error::new(ErrorKind::Tls, format!("TLS with push server at {} failed: {}", self.base, crate::tls::describe(tls))).with_source(e);
        }
        let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::ConnectionFailed };
        let mut cause = String::new();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let what = if e.is_timeout() { "timed out talking to" } else { "could not reach" };
        let detail = if cause.is_empty() { e.to_string() } else { cause };
        Error::new(kind, format!("{what} push server at {}: {detail}", self.base)).with_source(e)
    }
}
