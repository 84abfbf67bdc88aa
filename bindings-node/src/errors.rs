//! sdk-core errors as JavaScript errors.
//!
//! Every error crosses napi as a plain `Error` whose `code` property is the sdk-core code
//! (`INVALID_CHANNEL`, `TIMEOUT`, ...) and whose `message` is sdk-core's message. A rejected
//! publish also carries `status` (the HTTP status, when the server answered) and `retryable`.
//! `index.js` maps the code to its `PushError` subclass in one table, so a new sdk-core kind
//! arrives in JavaScript as the base `PushError` with its new code until a subclass is added.

use napi::bindgen_prelude::{JsError, JsValue, Object};
use napi::{Env, Error};

/// The error for a synchronous throw (constructor, argument checks): `code` is the sdk-core
/// code. Sync functions may return `Error<&str>`; napi sets the status string as `code`.
pub fn to_napi(e: &push_core::Error) -> Error<&'static str> {
    Error::new(e.code(), e.message().to_owned())
}

/// The error a publish Promise rejects with: built here, on the JavaScript thread, so it can
/// carry `status` and `retryable` besides `code`. Returned as a napi error that references the
/// JS object, which napi then rejects with unchanged.
pub fn to_rejection(env: &Env, e: &push_core::Error) -> Error {
    // SAFETY: `env` is the live environment of the JavaScript thread running this settle callback.
    let raw = unsafe { JsError::from(to_napi(e)).into_value(env.raw()) };
    if raw.is_null() {
        // The environment is shutting down and cannot build objects: keep the code in the text.
        return Error::from_reason(format!("{}: {}", e.code(), e.message()));
    }
    let mut object = Object::from_raw(env.raw(), raw);
    // Best effort: an error without these is still a correct error.
    if let Some(status) = e.status() {
        let _ = object.set("status", u32::from(status));
    }
    let _ = object.set("retryable", e.is_retryable());
    Error::from(object.to_unknown())
}
