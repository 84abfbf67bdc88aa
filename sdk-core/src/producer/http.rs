//! Talking to a push server: publishing (`POST <url><channel>`, or `POST /_push/api/publish` for
//! several channels) and the server API (`/_push/api/...`). One client, one base URL, one
//! publish key, and one reading of a non-2xx answer for all of them.

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;

use super::Resolved;
use crate::api::Call;
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

    /// `path` (a channel, or `/_push/api/...`) under the base URL, which may have a path of its own.
    fn endpoint<'a>(&self, path: &str, query: impl IntoIterator<Item = (&'a str, &'a str)>) -> url::Url {
        let mut url = self.base.clone();
        let prefix = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        let mut query = query.into_iter().peekable();
        if query.peek().is_some() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Publishes to one channel (`POST /<channel>`) or to several at once (one message, one id).
    pub async fn publish(&self, channels: &[Channel], payload: Bytes, content_type: &str, event: Option<&str>, idempotency_key: &str) -> Result<MessageId> {
        let url = match channels {
            [one] => self.endpoint(one.as_str(), []),
            many => self.endpoint("/_push/api/publish", many.iter().map(|c| ("channel", c.as_str()))),
        };
        let mut request = self.client.post(url).header(CONTENT_TYPE, content_type).header(idempotency::HEADER, idempotency_key);
        if let Some(event) = event {
            request = request.header(crate::event_name::HEADER, event);
        }
        let request = request.body(payload);
        let published: Published = self.send(request, "a publish receipt").await?;
        Ok(published.id)
    }

    /// One server API request, its JSON answer read as `T`.
    pub async fn call<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let url = self.endpoint(&call.path, call.query.iter().map(|(k, v)| (*k, v.as_str())));
        let request = match &call.body {
            Some(body) => self.client.post(url).header(CONTENT_TYPE, "application/json").body(body.to_string()),
            None => self.client.get(url),
        };
        self.send(request.header(reqwest::header::ACCEPT, "application/json"), &call.what).await
    }

    /// Sends with the publish key; a 2xx answer is read as JSON `T`, anything else becomes the
    /// error its `Push-Error` code (else its status) names.
    async fn send<T: DeserializeOwned>(&self, mut request: reqwest::RequestBuilder, what: &str) -> Result<T> {
        if let Some(auth) = &self.auth {
            request = request.header(AUTHORIZATION, auth);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.answer_error(response).await);
        }
        let body = response.bytes().await.map_err(|e| self.transport_error(e))?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::new(ErrorKind::ServerError, format!("{} answered {status} with a body that is not {what}: {e}", self.base)).with_status(status.as_u16())
        })
    }

    async fn answer_error(&self, response: reqwest::Response) -> Error {
        let status = response.status();
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
        Error::new(kind, format!("{reason} ({status} from {})", self.base)).with_status(status.as_u16())
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
        let refused = e.is_connect();
        let error = Error::new(kind, format!("{what} push server at {}: {detail}", self.base)).with_source(e);
        // No connection: the request never left this process.
        if refused { error.not_sent() } else { error }
    }
}
