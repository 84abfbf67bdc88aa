//! HTTPS: rustls (ring provider) with the certificate of --tls-cert and --tls-key.
//!
//! The certificate is looked up per handshake from a [`Certificates`] store, so a reload (SIGHUP,
//! or the files changing, checked every --tls-reload-interval) applies to new connections while
//! open ones keep the session they negotiated. A reload that fails (a half-written file, a key
//! that does not match) keeps the certificate in use and logs why.
//!
//! ALPN offers `h2` then `http/1.1`; a client that offers neither gets HTTP/1.1.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;

/// Largest certificate or key file read; real ones are a few kilobytes.
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// ALPN protocol ids, most preferred first.
pub const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a file of at most [`MAX_PEM_BYTES`], naming it in the error.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!("{what} {} is larger than {MAX_PEM_BYTES} bytes: not a PEM file", path.display()));
    }
    Ok(bytes)
}

/// Parses a PEM certificate chain and private key into a key rustls can serve, checking that the
/// key belongs to the first certificate. Errors name the file at fault.
pub fn parse(cert_path: &Path, cert_pem: &[u8], key_path: &Path, key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {}: not a PEM certificate file ({e})", cert_path.display()))?;
    if chain.is_empty() {
        return Err(format!("--tls-cert {}: no PEM certificate (`-----BEGIN CERTIFICATE-----`) in it", cert_path.display()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("--tls-key {}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in it", key_path.display())
        }
        e => format!("--tls-key {}: not a PEM private key file ({e})", key_path.display()),
    })?;
    let provider = provider();
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("--tls-key {}: unusable private key ({e})", key_path.display()))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(_)) => Err(format!(
            "--tls-key {} is not the private key of the certificate in --tls-cert {}",
            key_path.display(),
            cert_path.display()
        )),
        Err(e) => Err(format!("--tls-cert {}: unusable certificate ({e})", cert_path.display())),
    }
}

/// Reads and parses --tls-cert and --tls-key.
/// TLS's part of checking the settings: --tls-cert and --tls-key are read now, so a bad file
/// is a settings error before anything listens.
pub fn check(config: &Config) -> Result<(), String> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => load(cert, key).map(drop),
        _ => Ok(()),
    }
}

pub fn load(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, String> {
    let cert = read(cert_path, "--tls-cert")?;
    let key = read(key_path, "--tls-key")?;
    parse(cert_path, &cert, key_path, &key)
}

/// The certificate served to new connections, replaced by [`Certificates::reload`].
pub struct Certificates {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file contents last tried (loaded or refused), so an unchanged bad pair is not
    /// reported every interval.
    seen: Mutex<(Vec<u8>, Vec<u8>)>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").field("cert", &self.cert_path).field("key", &self.key_path).finish()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// Why a reload was tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// SIGHUP: reload even if the files look unchanged (and report a bad pair again).
    Signal,
    /// The periodic check: reload only files whose contents changed.
    Poll,
}

impl Certificates {
    /// Reloads the pair if `trigger` asks for it; returns whether a new certificate is in use.
    pub fn reload(&self, trigger: Trigger) -> bool {
        let read = read(&self.cert_path, "--tls-cert").and_then(|c| Ok((c, read(&self.key_path, "--tls-key")?)));
        let (cert, key) = match read {
            Ok(pair) => pair,
            Err(reason) => {
                // A file being replaced may be missing for a moment; the next check retries.
                if trigger == Trigger::Signal {
                    self.refused(&reason);
                }
                return false;
            }
        };
        {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if trigger == Trigger::Poll && seen.0 == cert && seen.1 == key {
                return false;
            }
            *seen = (cert.clone(), key.clone());
        }
        match parse(&self.cert_path, &cert, &self.key_path, &key) {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
                self.metrics.tls_reloads.with_label_values(&["ok"]).inc();
                tracing::info!(cert = %self.cert_path.display(), ?trigger, "TLS certificate reloaded");
                true
            }
            Err(reason) => {
                self.refused(&reason);
                false
            }
        }
    }

    fn refused(&self, reason: &str) {
        self.metrics.tls_reloads.with_label_values(&["error"]).inc();
        tracing::error!("TLS certificate not reloaded, the previous one stays in use: {reason}");
    }
}

/// Puts the server's SIGHUP handler in place before the port is bound, so a reload signal sent
/// as soon as the server listens (or answers) cannot end the process. Tokio keeps a signal's
/// handler for the life of the process; [`Tls::watch`] receives from it. Needs a runtime.
pub fn take_sighup(config: &Config) {
    if config.tls_cert.is_some() {
        if let Err(e) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            tracing::warn!("no SIGHUP handler, certificates reload on file changes only: {e}");
        }
    }
}

/// The server side of TLS: the acceptor for the listener, and the store it reads.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub certificates: Arc<Certificates>,
}

impl Tls {
    /// The TLS setup of `config`, or `None` without --tls-cert.
    pub fn from_config(config: &Config, metrics: Arc<Metrics>) -> Result<Option<Tls>, String> {
        let (Some(cert_path), Some(key_path)) = (&config.tls_cert, &config.tls_key) else {
            return Ok(None);
        };
        let cert = read(cert_path, "--tls-cert")?;
        let key = read(key_path, "--tls-key")?;
        let certified = parse(cert_path, &cert, key_path, &key)?;
        let certificates = Arc::new(Certificates {
            cert_path: cert_path.clone(),
            key_path: key_path.clone(),
            current: RwLock::new(Arc::new(certified)),
            seen: Mutex::new((cert, key)),
            metrics,
        });
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(certificates.clone());
        server.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
        Ok(Some(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)), certificates }))
    }

    /// Reloads the certificate on SIGHUP and when its files change, until `stop`. The SIGHUP
    /// handler is in place when this returns (a SIGHUP before would end the process).
    pub fn watch(&self, interval: Duration, stop: CancellationToken) {
        let hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("no SIGHUP handler, certificates reload on file changes only: {e}");
                None
            }
        };
        let certificates = self.certificates.clone();
        tokio::spawn(async move {
            let mut hangup = hangup;
            let mut tick = (!interval.is_zero()).then(|| {
                let mut t = tokio::time::interval(interval);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            loop {
                let trigger = tokio::select! {
                    _ = stop.cancelled() => return,
                    Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => Trigger::Signal,
                    _ = async { match tick.as_mut() { Some(t) => t.tick().await, None => std::future::pending().await } } => Trigger::Poll,
                };
                // File reads and key parsing off the runtime's worker threads.
                let certificates = certificates.clone();
                let _ = tokio::task::spawn_blocking(move || certificates.reload(trigger)).await;
            }
        });
    }
}
