//! `push.Token`: subscriber tokens minted by sdk-core (`push_core::token`).
//!
//! This file only converts arguments: the format, the HMAC and the checks of the channel,
//! consumer id and secret are sdk-core's, so a token minted in Python is the same string as one
//! from any other push-rs SDK or `push-server token`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use push_core::token::{self, Claims};
use push_core::{Error, ErrorKind};

use crate::errors::IntoPyResult;

/// The environment variable read when no `secret` is given (as the server's `--secret`).
const SECRET_ENV: &str = "PUSH_SECRET";

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
    /// from now (default 3600); `expires_at`: absolute Unix seconds, used instead when given.
    /// `secret`: the server's `--secret` (a str is signed as UTF-8), default `PUSH_SECRET`.
    /// Raises `InvalidConfig` (missing or empty secret, bad consumer id, negative expiry) or
    /// `InvalidChannel`.
    #[staticmethod]
    #[pyo3(signature = (channel, *, consumer=None, expires_in=3600, expires_at=None, secret=None))]
    fn sign(
        py: Python<'_>,
        channel: String,
        consumer: Option<String>,
        expires_in: i64,
        expires_at: Option<i64>,
        secret: Option<Secret>,
    ) -> PyResult<String> {
        let secret = match secret {
            Some(secret) => secret,
            None => secret_from_env(py)?,
        };
        let result = match expires_at {
            Some(at) => seconds("expires_at", at).and_then(|expires_at| {
                token::sign(secret.as_bytes(), &Claims { channel, consumer, expires_at })
            }),
            None => seconds("expires_in", expires_in)
                .and_then(|expires_in| token::sign_for(secret.as_bytes(), &channel, consumer.as_deref(), expires_in)),
        };
        result.py(py)
    }
}

/// The secret as given: text (signed with its UTF-8 bytes) or bytes.
pub enum Secret {
    Text(String),
    Bytes(Vec<u8>),
}

impl Secret {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Secret::Text(text) => text.as_bytes(),
            Secret::Bytes(bytes) => bytes,
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Secret {
    type Error = PyErr;

    fn extract(object: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(text) = object.cast::<PyString>() {
            return Ok(Secret::Text(text.to_cow()?.into_owned()));
        }
        if let Ok(bytes) = object.cast::<PyBytes>() {
            return Ok(Secret::Bytes(bytes.as_bytes().to_vec()));
        }
        let type_name = object.get_type().name()?;
        Err(pyo3::exceptions::PyTypeError::new_err(format!("secret must be str or bytes, not {type_name}")))
    }
}

/// `os.environ["PUSH_SECRET"]`, read through `os.environ` so that changes made from Python are
/// seen. Missing is an InvalidConfig error; empty is refused by sdk-core (InvalidConfig too).
fn secret_from_env(py: Python<'_>) -> PyResult<Secret> {
    let environ = py.import("os")?.getattr("environ")?;
    let value = environ.call_method1("get", (SECRET_ENV,))?;
    if value.is_none() {
        let message = format!("no token secret: pass secret=... or set {SECRET_ENV}");
        return Err(Error::new(ErrorKind::InvalidConfig, message)).py(py);
    }
    Ok(Secret::Text(value.extract()?))
}

/// Whole seconds, 0 or more.
fn seconds(name: &str, value: i64) -> push_core::Result<u64> {
    u64::try_from(value).map_err(|_| {
        Error::new(ErrorKind::InvalidConfig, format!("{name} must be a number of seconds, 0 or more, not {value}"))
    })
}
