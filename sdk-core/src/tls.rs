//! TLS for `https://` and `amqps://` connections: which certificates are trusted, and telling a
//! certificate problem apart from a broken connection.
//!
//! Trusted: the system's roots (read once per process with `rustls-native-certs`: the
//! distribution's bundle, `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured), plus the certificates of an
//! optional CA file (`ca_file`, else `PUSH_CA_FILE`). The system store, not a compiled-in list
//! (webpki-roots), so that a CA the operator installed (`update-ca-certificates`) is trusted
//! without a rebuild, the same as curl and the language runtimes on the machine.
//! rustls runs on the `ring` provider (no aws-lc build).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::{Error, ErrorKind, Result};

/// The variable a producer reads for a CA file when it is given none.
pub const CA_FILE_ENV: &str = "PUSH_CA_FILE";

/// A CA file (PEM) read and checked: at least one certificate, each one parseable.
#[derive(Clone, Debug)]
pub struct CaFile {
    pub path: PathBuf,
    /// The file's text, for clients that take PEM (lapin).
    pub pem: String,
    pub certs: Vec<CertificateDer<'static>>,
}

impl CaFile {
    /// Reads `path`; an unreadable file or one without certificates is a [`ErrorKind::Tls`] error.
    pub fn load(path: &Path) -> Result<CaFile> {
        let bad = |what: String| Error::new(ErrorKind::Tls, format!("CA file {}: {what}", path.display()));
        let pem = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot be read: {e}")).with_source(e))?;
        let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(bad("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
        }
        Ok(CaFile { path: path.to_owned(), pem, certs })
    }
}

/// The CA file named by `PUSH_CA_FILE`, read; `None` when the variable is unset or empty.
pub fn ca_file_from_env() -> Result<Option<CaFile>> {
    std::env::var_os(CA_FILE_ENV).filter(|p| !p.is_empty()).map(|p| CaFile::load(Path::new(&p))).transpose()
}

/// The ring provider, shared by every client this crate builds.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes ring the process's default rustls provider if none is installed yet. reqwest is built
/// with `rustls-no-provider` (so no aws-lc), and then panics building any client, even for
/// http://, unless a default exists: call this before `reqwest::Client::builder().build()`.
pub fn ensure_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one in between: either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// The system's roots, read once per process (a few ms for a distribution's ~150 certificates,
/// too much for every producer), and the first error met reading them.
fn system_roots() -> &'static (rustls::RootCertStore, Option<String>) {
    static ROOTS: std::sync::OnceLock<(rustls::RootCertStore, Option<String>)> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let native = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (_added, _skipped) = roots.add_parsable_certificates(native.certs);
        (roots, native.errors.first().map(|e| e.to_string()))
    })
}

/// The system's roots plus `ca`'s certificates. Unparseable system certificates are skipped (as
/// every TLS client does); no usable root at all is an error that names both sources.
pub fn root_store(ca: Option<&CaFile>) -> Result<rustls::RootCertStore> {
    let (system, native_error) = system_roots();
    let mut roots = system.clone();
    if let Some(ca) = ca {
        for cert in &ca.certs {
            roots.add(cert.clone()).map_err(|e| {
                Error::new(ErrorKind::Tls, format!("CA file {}: a certificate is not usable as a root: {e}", ca.path.display())).with_source(e)
            })?;
        }
    }
    if roots.is_empty() {
        let why = native_error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(Error::new(
            ErrorKind::Tls,
            format!("no trusted certificates: the system has no CA bundle{why} and no CA file was given (ca_file, {CA_FILE_ENV})"),
        ));
    }
    Ok(roots)
}

/// A client configuration (ring, TLS 1.2 and 1.3, no client certificate) trusting [`root_store`].
pub fn client_config(ca: Option<&CaFile>) -> Result<rustls::ClientConfig> {
    client_config_with_roots(root_store(ca)?)
}

/// A client configuration like [`client_config`]'s, trusting `roots` only.
pub fn client_config_with_roots(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS set-up failed: {e}")).with_source(e))?;
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// The rustls error somewhere in `e`'s source chain (also inside an `io::Error`, which hides its
/// inner error from `source()`).
pub fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if let Some(tls) = rustls_error(inner) {
                return Some(tls);
            }
        }
        next = e.source();
    }
    None
}

/// Words for a handshake failure, certificate problems named plainly.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the server's certificate is not signed by a trusted CA (give the CA with ca_file / PUSH_CA_FILE)".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => format!("the server's certificate is not valid for this host name ({e})"),
            C::Expired | C::ExpiredContext { .. } => format!("the server's certificate has expired ({e})"),
            C::NotValidYet | C::NotValidYetContext { .. } => format!("the server's certificate is not valid yet ({e})"),
            _ => format!("the server's certificate was refused: {e}"),
        },
        other => format!("TLS handshake failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("push-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = CaFile::load(&dir.join("nope.pem")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::Tls);
        assert!(missing.to_string().contains("nope.pem"), "{missing}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = CaFile::load(&empty).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Tls);
        assert!(e.to_string().contains("no PEM certificate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let wrapped = Error::new(ErrorKind::ConnectionFailed, "x").with_source(io);
        let found = rustls_error(&wrapped).expect("found");
        assert!(describe(found).contains("not signed by a trusted CA"));
        let plain = Error::new(ErrorKind::ConnectionFailed, "x").with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(rustls_error(&plain).is_none());
    }
}
