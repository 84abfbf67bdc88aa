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
}

impl ErrorKind {
    /// The stable code for this kind, the same in every language and on the wire.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidChannel => "INVALID_CHANNEL",
            ErrorKind::InvalidCursor => "INVALID_CURSOR",
            ErrorKind::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorKind::Unauthorized => "UNAUTHORIZED",
            ErrorKind::Forbidden => "FORBIDDEN",
            ErrorKind::ConnectionFailed => "CONNECTION_FAILED",
            ErrorKind::Timeout => "TIMEOUT",
            ErrorKind::ServerError => "SERVER_ERROR",
            ErrorKind::TooManyConnections => "TOO_MANY_CONNECTIONS",
            ErrorKind::InvalidConfig => "INVALID_CONFIG",
            ErrorKind::BadRequest => "BAD_REQUEST",
            ErrorKind::Overloaded => "OVERLOADED",
        }
    }

    /// The kind for a code, as read from the `Push-Error` header.
    pub fn from_code(code: &str) -> Option<ErrorKind> {
        use ErrorKind::*;
        [
            InvalidChannel, InvalidCursor, PayloadTooLarge, Unauthorized, Forbidden,
            ConnectionFailed, Timeout, ServerError, TooManyConnections, InvalidConfig, BadRequest,
            Overloaded,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    /// Whether the same call may succeed if tried again later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::ConnectionFailed | ErrorKind::Timeout | ErrorKind::ServerError | ErrorKind::TooManyConnections | ErrorKind::Overloaded
        )
    }
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
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), status: None, source: None }
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
}
