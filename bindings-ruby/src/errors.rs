//! sdk-core errors to Ruby exceptions, in one place.
//!
//! Every kind's class name, code, `retryable?` and `maybe_stored?` come from sdk-core's one
//! table (`push_core::KINDS`, also docs/ERRORS.md); `Push.error_table` hands that table to Ruby,
//! where `lib/push/errors.rb` defines one `Push::Error` subclass per row. This file names no kind:
//! it looks the class up by the row's `class_name` when an error is raised (never cached), and a
//! class the Ruby side lacks (a newer native library) raises `Push::Error` with the native code.

use magnus::{function, prelude::*, Error, ExceptionClass, IntoValue, RArray, RModule, RString, Ruby, Value};
use push_core::binding::guard;
use push_core::{ErrorKind, KINDS};

/// `Push::<name>` (Push's own constant, not one of `Object` of that name), falling back to
/// `Push::Error`, then to `RuntimeError` if `lib/push/errors.rb` was not loaded (the extension
/// required on its own).
fn class(ruby: &Ruby, name: &str) -> ExceptionClass {
    let push: Option<RModule> = ruby.class_object().const_get("Push").ok();
    let own = |m: RModule, name: &str| -> Option<ExceptionClass> {
        let defined: bool = m.funcall("const_defined?", (name, false)).ok()?;
        if defined {
            m.const_get::<_, ExceptionClass>(name).ok()
        } else {
            None
        }
    };
    push.and_then(|m| own(m, name).or_else(|| own(m, "Error")))
        .unwrap_or_else(|| ruby.exception_runtime_error())
}

/// A Ruby exception for an sdk-core error: the class of its kind's row, with `#code`, `#status`,
/// `#retryable?` and `#maybe_stored?` set from the error and the row.
pub fn to_ruby(ruby: &Ruby, e: &push_core::Error) -> Error {
    raise(ruby, e.kind(), e.to_string(), e.status(), e.maybe_stored())
}

/// A Ruby exception of `kind` for a failure of this layer itself (an argument that is not
/// UTF-8, a producer used before `initialize`, ...).
pub fn new(ruby: &Ruby, kind: ErrorKind, message: String) -> Error {
    raise(ruby, kind, message, None, kind.info().maybe_stored)
}

/// Calls sdk-core: its error becomes the Ruby exception of its kind, and a panic (instead of
/// reaching magnus, which would raise `fatal` and end the process) a `Push::InternalError`.
pub fn native<T>(ruby: &Ruby, call: impl FnOnce() -> push_core::Result<T>) -> Result<T, Error> {
    guard(call).map_err(|e| to_ruby(ruby, &e))
}

fn raise(ruby: &Ruby, kind: ErrorKind, message: String, status: Option<u16>, maybe_stored: bool) -> Error {
    let info = kind.info();
    let class = class(ruby, info.class_name);
    match class.new_instance((message.as_str(),)) {
        Ok(exception) => {
            for (name, value) in [
                ("@code", info.code.into_value_with(ruby)),
                ("@status", status.into_value_with(ruby)),
                ("@retryable", info.retryable.into_value_with(ruby)),
                ("@maybe_stored", maybe_stored.into_value_with(ruby)),
            ] {
                let _: Result<Value, _> = exception.funcall("instance_variable_set", (name, value));
            }
            Error::from(exception)
        }
        // The class's initialize raised: raise what it raised.
        Err(e) => e,
    }
}

/// `Push.error_table`: sdk-core's table of error kinds, one frozen Hash per kind (in the order of
/// docs/ERRORS.md) with the keys `:code`, `:class_name`, `:http_status`, `:retryable`,
/// `:maybe_stored`.
fn error_table(ruby: &Ruby) -> Result<RArray, Error> {
    let rows = ruby.ary_new_capa(KINDS.len());
    for info in KINDS.iter() {
        let row = ruby.hash_new();
        row.aset(ruby.to_symbol("code"), info.code)?;
        row.aset(ruby.to_symbol("class_name"), info.class_name)?;
        row.aset(ruby.to_symbol("http_status"), info.http_status)?;
        row.aset(ruby.to_symbol("retryable"), info.retryable)?;
        row.aset(ruby.to_symbol("maybe_stored"), info.maybe_stored)?;
        row.freeze();
        rows.push(row)?;
    }
    rows.freeze();
    Ok(rows)
}

pub fn init(_ruby: &Ruby, push: RModule) -> Result<(), Error> {
    push.define_singleton_method("error_table", function!(error_table, 0))?;
    Ok(())
}

/// A Ruby String's bytes as UTF-8 text; anything else raises the class of `kind`.
pub fn text(ruby: &Ruby, s: RString, what: &str, kind: ErrorKind) -> Result<String, Error> {
    // SAFETY: the slice is copied before any Ruby code can run.
    match std::str::from_utf8(unsafe { s.as_slice() }) {
        Ok(t) => Ok(t.to_owned()),
        Err(_) => Err(new(
            ruby,
            kind,
            format!("{what} {} is not valid UTF-8", s.inspect()),
        )),
    }
}
