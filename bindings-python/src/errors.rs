//! sdk-core errors become Python exceptions here, and only here.
//!
//! The classes are written in Python (`python/push/_errors.py`), where multiple inheritance
//! (`InvalidChannel(PushError, ValueError)`, `Timeout(PushError, TimeoutError)`) is plain;
//! this file looks the module up once and picks the class by [`ErrorKind`].

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;

use push_core::{Error, ErrorKind};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The Python class for a kind; kinds added to sdk-core later fall back to the base class.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidChannel => "InvalidChannel",
        ErrorKind::InvalidCursor => "InvalidCursor",
        ErrorKind::InvalidConfig => "InvalidConfig",
        ErrorKind::PayloadTooLarge => "PayloadTooLarge",
        ErrorKind::BadRequest => "BadRequest",
        ErrorKind::Unauthorized => "Unauthorized",
        ErrorKind::Forbidden => "Forbidden",
        ErrorKind::ConnectionFailed => "ConnectionError",
        ErrorKind::Timeout => "Timeout",
        ErrorKind::ServerError => "ServerError",
        ErrorKind::TooManyConnections => "TooManyConnections",
        _ => "PushError",
    }
}

/// The exception for `error`: `push.<Class>(message, code, status)`.
pub fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = ERRORS.get_or_try_init(py, || py.import("push._errors").map(Bound::unbind))?;
        let class = module.bind(py).getattr(class_name(error.kind()))?;
        let exception = class.call1((error.message(), error.code(), error.status()))?;
        Ok(PyErr::from_value(exception))
    };
    // If even the lookup fails (a broken install), raise that failure: it says what is wrong.
    build().unwrap_or_else(|lookup_failed| lookup_failed)
}

/// `result.py(py)?` turns an sdk-core result into a Python one.
pub trait IntoPyResult<T> {
    fn py(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}
