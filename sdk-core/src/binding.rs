//! What every language binding does the same way, decided once: producer options from plain
//! values, token requests, when the default producer reads the environment, and panics caught at
//! the boundary ([`guard`]). A binding then only converts its language's arguments and errors.

mod panic;

pub use panic::{guard, guard_future, panic_error, panic_message};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::producer::ProducerOptions;
use crate::token::{self, Claims};

/// Seconds a token lives when the caller gives no expiry.
pub const DEFAULT_TOKEN_EXPIRY_SECS: u64 = 3600;
/// The variable a token's secret comes from when none is given (as the server's `--secret`).
pub const SECRET_ENV: &str = "PUSH_SECRET";
/// The variables a producer reads for what it is not given.
pub const URL_ENV: &str = "PUSH_URL";
pub const PUBLISH_KEY_ENV: &str = "PUSH_PUBLISH_KEY";
pub use crate::tls::CA_FILE_ENV;

/// Producer options from a URL, a publish key, a timeout in seconds and a CA file, each optional
/// (then `PUSH_URL`, `PUSH_PUBLISH_KEY`, 10 s and `PUSH_CA_FILE` apply when the producer is built).
pub fn producer_options(url: Option<String>, publish_key: Option<String>, timeout_secs: Option<f64>, ca_file: Option<String>) -> Result<ProducerOptions> {
    let mut options = ProducerOptions::new();
    options.url = url;
    options.publish_key = publish_key;
    options.ca_file = ca_file.map(std::path::PathBuf::from);
    if let Some(seconds) = timeout_secs {
        options.timeout = Some(positive_seconds("timeout", seconds)?);
    }
    Ok(options)
}

/// A duration from a number of seconds that must be finite and above zero.
pub fn positive_seconds(name: &str, seconds: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(Error::new(ErrorKind::InvalidConfig, format!("{name} must be a positive number of seconds, got {seconds}"))),
    }
}

/// A token request as every SDK takes it: `expires_at` (Unix seconds) wins over `expires_in`
/// (seconds from now, default [`DEFAULT_TOKEN_EXPIRY_SECS`]); no `secret` means `PUSH_SECRET`.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub channel: String,
    pub consumer: Option<String>,
    pub expires_in: Option<i64>,
    pub expires_at: Option<i64>,
    pub secret: Option<Vec<u8>>,
    /// The consumer's public info as compact JSON (a binding serializes its language's map).
    pub info: Option<String>,
}

impl TokenRequest {
    pub fn new(channel: impl Into<String>) -> TokenRequest {
        TokenRequest { channel: channel.into(), ..TokenRequest::default() }
    }

    /// The signed token (`push1.…`), the same string in every language.
    pub fn sign(self) -> Result<String> {
        let secret = match self.secret {
            Some(secret) => secret,
            None => match std::env::var(SECRET_ENV) {
                Ok(s) => s.into_bytes(),
                Err(_) => return Err(Error::new(ErrorKind::InvalidConfig, format!("no token secret: pass a secret or set {SECRET_ENV}"))),
            },
        };
        let expires_at = match self.expires_at {
            Some(at) => whole_seconds("expires_at", at)?,
            None => {
                let from_now = match self.expires_in {
                    Some(s) => whole_seconds("expires_in", s)?,
                    None => DEFAULT_TOKEN_EXPIRY_SECS,
                };
                (crate::message::now_millis() / 1000)
                    .checked_add(from_now)
                    .ok_or_else(|| Error::new(ErrorKind::InvalidConfig, format!("expires_in {from_now} is too far in the future")))?
            }
        };
        token::sign(&secret, &Claims { channel: self.channel, consumer: self.consumer, expires_at, info: self.info })
    }
}

fn whole_seconds(name: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::new(ErrorKind::InvalidConfig, format!("{name} must be a number of seconds, 0 or more, not {value}")))
}

/// The producer behind a language's module-level `publish` (`Push.publish`, `push.publish`,
/// `publish()`): built on first use from `PUSH_URL`, `PUSH_PUBLISH_KEY` and `PUSH_CA_FILE`, and
/// built again when any has changed since (a test or a forked worker may set them), else reused. `T` is the
/// binding's own producer type.
pub struct DefaultProducer<T> {
    slot: Mutex<Option<(EnvKey, Arc<T>)>>,
}

type EnvKey = (Option<String>, Option<String>, Option<String>);

impl<T> DefaultProducer<T> {
    pub const fn new() -> DefaultProducer<T> {
        DefaultProducer { slot: Mutex::new(None) }
    }

    /// The current default producer, built with `build` (from options that leave everything to
    /// the environment) when there is none yet or the environment changed.
    pub fn get(&self, build: impl FnOnce(ProducerOptions) -> Result<T>) -> Result<Arc<T>> {
        let key: EnvKey = (std::env::var(URL_ENV).ok(), std::env::var(PUBLISH_KEY_ENV).ok(), std::env::var(CA_FILE_ENV).ok());
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((built_for, producer)) = slot.as_ref() {
            if *built_for == key {
                return Ok(producer.clone());
            }
        }
        let producer = Arc::new(build(ProducerOptions::new())?);
        *slot = Some((key, producer.clone()));
        Ok(producer)
    }

    /// Forgets the producer (after `fork`, or on close); the next [`get`](Self::get) builds one.
    pub fn reset(&self) -> Option<Arc<T>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take().map(|(_, p)| p)
    }
}

impl<T> Default for DefaultProducer<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_must_be_positive_and_finite() {
        assert_eq!(producer_options(None, None, Some(1.5), None).unwrap().timeout, Some(Duration::from_millis(1500)));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e30] {
            let e = producer_options(None, None, Some(bad), None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{bad}");
            assert!(e.to_string().contains("positive number of seconds"), "{e}");
        }
        assert_eq!(producer_options(None, None, None, None).unwrap().timeout, None);
    }

    #[test]
    fn tokens_default_to_an_hour_and_prefer_expires_at() {
        let mut request = TokenRequest::new("/rooms/*");
        request.consumer = Some("alice".into());
        request.expires_at = Some(2_000_000_000);
        request.expires_in = Some(5);
        request.secret = Some(b"s3cret".to_vec());
        // The shared vector of docs/AUTH.md.
        assert_eq!(request.sign().unwrap(), "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY");

        let mut request = TokenRequest::new("/a");
        request.secret = Some(b"k".to_vec());
        let token = request.sign().unwrap();
        let claims = token::verify(b"k", &token, 0).unwrap();
        let now = crate::message::now_millis() / 1000;
        assert!((now + DEFAULT_TOKEN_EXPIRY_SECS - 5..=now + DEFAULT_TOKEN_EXPIRY_SECS + 5).contains(&claims.expires_at));

        let mut request = TokenRequest::new("/a");
        request.secret = Some(b"k".to_vec());
        request.expires_in = Some(-1);
        assert_eq!(request.sign().unwrap_err().kind(), ErrorKind::InvalidConfig);
    }

    #[test]
    fn the_default_producer_is_rebuilt_when_the_environment_changes() {
        // The only test of this crate that touches PUSH_URL.
        let slot: DefaultProducer<usize> = DefaultProducer::new();
        let mut builds = 0;
        std::env::set_var(URL_ENV, "http://127.0.0.1:1");
        let first = slot.get(|_| { builds += 1; Ok(builds) }).unwrap();
        let again = slot.get(|_| unreachable!("reused while the environment is the same")).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        std::env::set_var(URL_ENV, "http://127.0.0.1:2");
        let rebuilt = slot.get(|_| Ok(7)).unwrap();
        assert_eq!(*rebuilt, 7);
        std::env::remove_var(URL_ENV);
        assert!(slot.reset().is_some());
    }
}
