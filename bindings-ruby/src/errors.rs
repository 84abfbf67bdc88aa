//! sdk-core errors to Ruby exceptions, in one place.
//!
//! The classes live in Ruby (`lib/push/errors.rb`) where they are documented; this file only
//! names them. A kind this table does not know (sdk-core may add kinds) raises `Push::Error`,
//! which still carries the kind's code.

use magnus::{prelude::*, Error, ExceptionClass, RModule, Ruby, Value};
use push_core::ErrorKind;

/// The `Push::` class name for an error kind.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidChannel => "InvalidChannel",
        ErrorKind::InvalidCursor => "InvalidCursor",
        ErrorKind::PayloadTooLarge => "PayloadTooLarge",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::ConnectionFailed => "ConnectionError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::ServerError => "ServerError",
        ErrorKind::TooManyConnections => "TooManyConnections",
        ErrorKind::InvalidConfig => "InvalidConfig",
        ErrorKind::BadRequest => "BadRequest",
        _ => "Error",
    }
}

/// `Push::<name>`, falling back to `Push::Error`, then to `RuntimeError` if `lib/push/errors.rb`
/// was not loaded (the extension required on its own).
fn class(ruby: &Ruby, name: &str) -> ExceptionClass {
    let push: Option<RModule> = ruby.class_object().const_get("Push").ok();
    push.and_then(|m| {
        m.const_get::<_, ExceptionClass>(name)
            .or_else(|_| m.const_get("Error"))
            .ok()
    })
    .unwrap_or_else(|| ruby.exception_runtime_error())
}

/// A Ruby exception for an sdk-core error: the mapped class, with `#code` and `#status` set.
pub fn to_ruby(ruby: &Ruby, e: &push_core::Error) -> Error {
    build(
        ruby,
        class_name(e.kind()),
        e.to_string(),
        e.code(),
        e.status(),
    )
}

/// A `Push::Error` (or subclass) with an explicit code, for failures of this layer itself.
pub fn build(
    ruby: &Ruby,
    class_name: &str,
    message: String,
    code: &str,
    status: Option<u16>,
) -> Error {
    let class = class(ruby, class_name);
    match class.new_instance((message.as_str(),)) {
        Ok(exception) => {
            let _: Result<Value, _> = exception.funcall("instance_variable_set", ("@code", code));
            let _: Result<Value, _> =
                exception.funcall("instance_variable_set", ("@status", status));
            Error::from(exception)
        }
        // The class's initialize raised: raise what it raised.
        Err(e) => e,
    }
}

/// An error for a failure inside the extension (a panic); it should never be seen.
pub fn internal(ruby: &Ruby, what: String) -> Error {
    build(
        ruby,
        "Error",
        format!("push-rs internal error: {what}"),
        "INTERNAL",
        None,
    )
}
