//! sdk-core errors as JavaScript errors, and the error table they are classed by.
//!
//! Every error crosses napi as a plain `Error` whose `code` property is the sdk-core code
//! (`INVALID_CHANNEL`, `TIMEOUT`, ...) and whose `message` is sdk-core's message. A rejection
//! also carries `status` (the HTTP status, when the server answered), `retryable` and
//! `maybeStored` (from sdk-core's table). `index.js` builds one `PushError` subclass per row of
//! [`error_table`] and picks it by `code`, so a kind this addon knows and `index.js` does not
//! still arrives as the base `PushError` with its code.
//!
//! A panic never crosses into JavaScript: sdk-core's `binding::guard` and `binding::guard_future`
//! turn it into an `INTERNAL` error.

use napi::bindgen_prelude::{JsError, JsValue, Object, PromiseRaw};
use napi::{Env, Error};
use napi_derive::napi;
use push_core::binding::{guard, guard_future};

/// One row of sdk-core's error table (`push_core::KINDS`, the table of docs/ERRORS.md).
#[napi(object)]
pub struct ErrorRow {
    pub code: String,
    /// The class name, the same in Ruby, Python and Node (`InvalidChannelError`).
    pub class_name: String,
    pub http_status: u32,
    pub retryable: bool,
    pub maybe_stored: bool,
}

/// sdk-core's error table, one row per kind, in the order of docs/ERRORS.md.
#[napi]
pub fn error_table() -> Vec<ErrorRow> {
    push_core::KINDS
        .iter()
        .map(|i| ErrorRow {
            code: i.code.to_owned(),
            class_name: i.class_name.to_owned(),
            http_status: u32::from(i.http_status),
            retryable: i.retryable,
            maybe_stored: i.maybe_stored,
        })
        .collect()
}

/// The error for a synchronous throw (constructor, argument checks): `code` is the sdk-core
/// code. Sync functions may return `Error<&str>`; napi sets the status string as `code`.
pub fn to_napi(e: &push_core::Error) -> Error<&'static str> {
    Error::new(e.code(), e.message().to_owned())
}

/// The error a Promise rejects with: built here, on the JavaScript thread, so it can carry
/// `status`, `retryable` and `maybeStored` besides `code`. Returned as a napi error that
/// references the JS object, which napi then rejects with unchanged.
pub fn to_rejection(env: &Env, e: &push_core::Error) -> Error {
    // SAFETY: `env` is the live environment of the JavaScript thread running this settle callback.
    let raw = unsafe { JsError::from(to_napi(e)).into_value(env.raw()) };
    if raw.is_null() {
        // The environment is shutting down and cannot build objects: keep the code in the text.
        return Error::from_reason(format!("{}: {}", e.code(), e.message()));
    }
    let mut object = Object::from_raw(env.raw(), raw);
    // Best effort: an error without these is still a correct error (index.js has the table).
    if let Some(status) = e.status() {
        let _ = object.set("status", u32::from(status));
    }
    let info = e.kind().info();
    let _ = object.set("retryable", info.retryable);
    let _ = object.set("maybeStored", e.maybe_stored());
    Error::from(object.to_unknown())
}

/// Panics inside the addon: the tests check that it throws `InternalError`. Not part of the
/// package's API.
#[napi]
pub fn test_panic() -> Result<(), Error<&'static str>> {
    guard(|| -> push_core::Result<()> { panic!("test panic") }).map_err(|e| to_napi(&e))
}

/// Panics in a Promise's future: the tests check that it rejects with `InternalError`.
#[napi(ts_return_type = "Promise<void>")]
pub fn test_panic_async(env: &Env) -> napi::Result<PromiseRaw<'_, ()>> {
    let failing = async {
        if std::hint::black_box(true) {
            panic!("test panic in a future");
        }
        Ok::<(), push_core::Error>(())
    };
    env.spawn_future_with_callback(async move { Ok(guard_future(failing).await) }, |env, result| {
        result.map_err(|e| to_rejection(env, &e))
    })
}
