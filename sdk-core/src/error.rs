//! One error type for the whole toolkit.
//!
//! Every failure has an [`ErrorKind`] with a stable code (`INVALID_CHANNEL`, ...). The server sends
//! the code in the `Push-Error` header, the producer reads it back, and each language binding maps
//! kinds to its own exception classes in one place, so callers match kinds, never message text.

use std::fmt;

use crate::channel::ChannelError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure happened. New kinds may be added; match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The channel name is not valid (see [`crate::channel`]).
    InvalidChannel,
    /// A cursor is malformed, or ahead of the newest message.
    InvalidCursor,
    /// The payload is larger than the server or broker accepts.
    PayloadTooLarge,
    /// Missing or wrong publish key or token.
    Unauthorized,
    /// Valid credentials that do not cover the channel.
    Forbidden,
    /// The server or broker could not be reached, or the connection broke.
    ConnectionFailed,
    /// A TLS certificate problem (`https://`, `amqps://`): not signed by a trusted CA, issued
    /// for another host name, expired, or the CA file cannot be read. Not fixed by retrying.
    Tls,
    /// No answer in time.
    Timeout,
    /// The server answered with an error that is not the caller's fault.
    ServerError,
    /// The server refuses more connections.
    TooManyConnections,
    /// The options given (URL, key, limits) are not usable.
    InvalidConfig,
    /// The request is malformed in another way (method, body, parameters).
    BadRequest,
    /// The server is at one of its limits (channels, auth checks, catch-up reads, sockets);
    /// retry after the time its `Retry-After` says.
    Overloaded,
    /// A bug inside push-rs (a panic caught at a language boundary); please report it.
    Internal,
}

/// What every language needs to know of a kind, in one table: docs/ERRORS.md is generated from
/// it (a test keeps them equal), and each binding names its classes and sets `retryable` from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: ErrorKind,
    /// The stable code (`INVALID_CHANNEL`), on the wire (`Push-Error`) and in every language.
    pub code: &'static str,
    /// The class name in Ruby (`Push::…`), Python (`push.…`) and Node: the same stem + `Error`.
    pub class_name: &'static str,
    /// The HTTP status the server answers with for this kind.
    pub http_status: u16,
    /// Whether the same call may succeed if tried again later.
    pub retryable: bool,
    /// Whether a failed publish may still have stored its message (retry with the same
    /// idempotency key, and it is stored once).
    pub maybe_stored: bool,
    /// One line for the docs.
    pub meaning: &'static str,
}

const fn info(kind: ErrorKind, code: &'static str, class_name: &'static str, http_status: u16, retryable: bool, maybe_stored: bool, meaning: &'static str) -> KindInfo {
    KindInfo { kind, code, class_name, http_status, retryable, maybe_stored, meaning }
}

/// Every kind, in the order the docs list them.
pub const KINDS: [KindInfo; 14] = [
    info(ErrorKind::InvalidChannel, "INVALID_CHANNEL", "InvalidChannelError", 400, false, false, "the channel name is not valid (`/greetings`, `/rooms/42`)"),
    info(ErrorKind::InvalidCursor, "INVALID_CURSOR", "InvalidCursorError", 400, false, false, "a cursor is malformed, or ahead of the newest message"),
    info(ErrorKind::PayloadTooLarge, "PAYLOAD_TOO_LARGE", "PayloadTooLargeError", 413, false, false, "the payload is larger than the server accepts (`--max-payload-bytes`)"),
    info(ErrorKind::BadRequest, "BAD_REQUEST", "BadRequestError", 400, false, false, "the request is malformed in another way (method, body, parameters)"),
    info(ErrorKind::InvalidConfig, "INVALID_CONFIG", "InvalidConfigError", 500, false, false, "options are not usable (URL, key, timeout, token, server flags)"),
    info(ErrorKind::Unauthorized, "UNAUTHORIZED", "UnauthorizedError", 401, false, false, "the publish key or token is missing or wrong"),
    info(ErrorKind::Forbidden, "FORBIDDEN", "ForbiddenError", 403, false, false, "valid credentials that do not cover the channel"),
    info(ErrorKind::ConnectionFailed, "CONNECTION_FAILED", "ConnectionFailedError", 503, true, true, "the server or broker could not be reached, or the connection broke"),
    info(ErrorKind::Tls, "TLS_ERROR", "TlsError", 502, false, false, "a TLS certificate problem: not signed by a trusted CA (system roots, `ca_file`, `PUSH_CA_FILE`), issued for another host, expired, or the CA file cannot be read"),
    info(ErrorKind::Timeout, "TIMEOUT", "TimeoutError", 504, true, true, "no answer within the time limit"),
    info(ErrorKind::ServerError, "SERVER_ERROR", "ServerError", 500, true, true, "the server failed in a way that is not the caller's fault"),
    info(ErrorKind::TooManyConnections, "TOO_MANY_CONNECTIONS", "TooManyConnectionsError", 503, true, false, "the server holds its maximum of subscriber connections (`--max-connections`)"),
    info(ErrorKind::Overloaded, "OVERLOADED", "OverloadedError", 503, true, false, "the server is at another of its limits; retry after `Retry-After`"),
    info(ErrorKind::Internal, "INTERNAL", "InternalError", 500, false, true, "a bug inside push-rs (a caught panic); please report it"),
];

impl ErrorKind {
    /// This kind's row of [`KINDS`].
    pub fn info(self) -> &'static KindInfo {
        KINDS.iter().find(|i| i.kind == self).expect("every kind has a row in KINDS")
    }

    /// The stable code for this kind, the same in every language and on the wire.
    pub fn code(self) -> &'static str {
        self.info().code
    }

    /// The kind for a code, as read from the `Push-Error` header.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        KINDS.iter().find(|i| i.code == code).map(|i| i.kind)
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(self) -> bool {
        self.info().retryable
    }

    /// The HTTP status the server answers with for this kind.
    pub fn http_status(self) -> u16 {
        self.info().http_status
    }
}

/// The error table as the Markdown docs/ERRORS.md carries it (between its table markers).
pub fn markdown_table() -> String {
    let mut out = String::from("| code | class (Ruby `Push::`, Python `push.`, Node) | HTTP | retryable | may have stored | meaning |\n|---|---|---|---|---|---|\n");
    for i in KINDS {
        let yes = |b: bool| if b { "yes" } else { "no" };
        out.push_str(&format!("| `{}` | `{}` | {} | {} | {} | {} |\n", i.code, i.class_name, i.http_status, yes(i.retryable), yes(i.maybe_stored), i.meaning));
    }
    out
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A push-rs error: a kind, a message for humans, and where known the HTTP status and URL.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// What is known of whether a failed publish stored its message, when the kind's default
    /// ([`KindInfo::maybe_stored`]) is not the answer.
    stored: Option<bool>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), status: None, source: None, stored: None }
    }

    /// Marks an error that happened before anything was sent (the connection was refused): the
    /// message was certainly not stored, whatever its kind usually means.
    pub fn not_sent(mut self) -> Error {
        self.stored = Some(false);
        self
    }

    /// Marks an error after an earlier attempt of the same publish that may have stored it.
    pub fn after_maybe_stored(mut self) -> Error {
        self.stored = Some(true);
        self
    }

    /// Whether a failed publish may still have stored its message: what happened, where known,
    /// else the kind's rule. A caller that gets `false` may publish again without a key.
    pub fn maybe_stored(&self) -> bool {
        self.stored.unwrap_or(self.kind.info().maybe_stored)
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Error {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
    /// The message without the code prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The HTTP status the server answered with, when the error came from one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ChannelError> for Error {
    fn from(e: ChannelError) -> Error {
        Error::new(ErrorKind::InvalidChannel, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in [ErrorKind::InvalidChannel, ErrorKind::PayloadTooLarge, ErrorKind::BadRequest] {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code("NOPE"), None);
    }

    /// A new kind fails to compile here until it is listed, and then fails until it has a row.
    #[test]
    fn every_kind_has_one_row() {
        fn listed(kind: ErrorKind) -> bool {
            match kind {
                ErrorKind::InvalidChannel
                | ErrorKind::InvalidCursor
                | ErrorKind::PayloadTooLarge
                | ErrorKind::Unauthorized
                | ErrorKind::Forbidden
                | ErrorKind::ConnectionFailed
                | ErrorKind::Tls
                | ErrorKind::Timeout
                | ErrorKind::ServerError
                | ErrorKind::TooManyConnections
                | ErrorKind::InvalidConfig
                | ErrorKind::BadRequest
                | ErrorKind::Overloaded
                | ErrorKind::Internal => true,
            }
        }
        for (n, row) in KINDS.iter().enumerate() {
            assert!(listed(row.kind));
            assert_eq!(row.kind.info(), row);
            assert_eq!(ErrorKind::from_code(row.code), Some(row.kind));
            assert!(row.class_name.ends_with("Error"), "{}", row.class_name);
            for other in &KINDS[n + 1..] {
                assert!(other.kind != row.kind && other.code != row.code && other.class_name != row.class_name, "{row:?} repeats");
            }
        }
        assert_eq!(KINDS.len(), 14);
    }

    /// docs/ERRORS.md shows [`KINDS`]; `PUSH_BLESS=1 cargo test -p push-core` rewrites it.
    #[test]
    fn docs_show_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ERRORS.md");
        let Ok(doc) = std::fs::read_to_string(&path) else {
            return; // a packaged copy of the crate, without the repository's docs
        };
        let (begin, end) = ("<!-- table:begin -->\n", "<!-- table:end -->");
        let start = doc.find(begin).expect("docs/ERRORS.md has a table:begin marker") + begin.len();
        let stop = doc.find(end).expect("docs/ERRORS.md has a table:end marker");
        let table = markdown_table();
        if doc[start..stop] != table {
            if std::env::var_os("PUSH_BLESS").is_some() {
                std::fs::write(&path, format!("{}{table}{}", &doc[..start], &doc[stop..])).unwrap();
            } else {
                panic!("docs/ERRORS.md is not the table of sdk-core/src/error.rs; run PUSH_BLESS=1 cargo test -p push-core");
            }
        }
    }
}
