//! `push.Token`: subscriber tokens signed by sdk-core (`push_core::binding::TokenRequest`).
//!
//! This file only converts arguments: the format, the HMAC, the checks of the channel, consumer
//! id and secret, the `PUSH_SECRET` fallback and the default expiry are sdk-core's, so a token
//! minted in Python is the same string as one from any other push-rs SDK or `push-server token`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use push_core::binding::{guard, TokenRequest};

use crate::errors::IntoPyResult;

/// Subscriber tokens for a server started with `--auth token --secret <secret>`.
///
/// Not instantiable: use `Token.sign(...)`.
#[pyclass(module = "push", frozen)]
pub struct Token;

#[pymethods]
impl Token {
    /// Signs a token for `channel` (or a pattern like `/rooms/*`); returns it as a URL-safe str.
    ///
    /// `consumer`: only a subscriber with this consumer id may use it. `expires_in`: seconds
    /// from now (default: an hour, sdk-core's); `expires_at`: absolute Unix seconds, used instead
    /// when given. `secret`: the server's `--secret` (a str is signed as UTF-8), default
    /// `PUSH_SECRET`. `info`: the consumer's public info (a dict, e.g. `{"name": "Alice"}`),
    /// what the members of a presence channel see; signed, not secret; at most 1024 bytes of
    /// compact JSON; needs `consumer`. Raises `InvalidConfigError` (missing or empty secret, bad
    /// consumer id, negative expiry, bad info) or `InvalidChannelError`.
    #[staticmethod]
    #[pyo3(signature = (channel, *, consumer=None, expires_in=None, expires_at=None, secret=None, info=None))]
    fn sign(
        py: Python<'_>,
        channel: String,
        consumer: Option<String>,
        expires_in: Option<i64>,
        expires_at: Option<i64>,
        secret: Option<Secret>,
        info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let info = info.filter(|i| !i.is_none()).map(compact_json).transpose()?;
        let request = TokenRequest { channel, consumer, expires_in, expires_at, secret: secret.map(|s| s.0), info };
        guard(|| request.sign()).py(py)
    }
}

/// A dict as compact JSON: the same text as Ruby's JSON.generate and JavaScript's JSON.stringify
/// give for the same object (no spaces, non-ASCII as is), so a token is the same in every SDK.
fn compact_json(info: &Bound<'_, PyAny>) -> PyResult<String> {
    if !info.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(format!("info must be a dict, not {}", info.get_type().name()?)));
    }
    let kwargs = PyDict::new(info.py());
    kwargs.set_item("separators", (",", ":"))?;
    kwargs.set_item("ensure_ascii", false)?;
    info.py().import("json")?.call_method("dumps", (info,), Some(&kwargs))?.extract()
}

/// The secret as given: text (signed with its UTF-8 bytes) or bytes.
pub struct Secret(pub Vec<u8>);

impl<'a, 'py> FromPyObject<'a, 'py> for Secret {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = object.cast::<PyString>() {
            return Ok(Secret(text.to_cow()?.as_bytes().to_vec()));
        }
        if let Ok(bytes) = object.cast::<PyBytes>() {
            return Ok(Secret(bytes.as_bytes().to_vec()));
        }
        let type_name = object.get_type().name()?;
        Err(pyo3::exceptions::PyTypeError::new_err(format!("secret must be str or bytes, not {type_name}")))
    }
}
