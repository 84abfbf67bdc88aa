//! sdk-core errors become Python exceptions here, and only here.
//!
//! The classes are written in Python (`python/push/_errors.py`), where multiple inheritance
//! (`InvalidChannelError(PushError, ValueError)`) is plain. The class is picked by the name in
//! sdk-core's table (`e.kind().info().class_name`), and the exception gets its `code`, `status`,
//! `retryable` and `maybe_stored` from the same row: no table of kinds in this binding. A class
//! the Python layer lacks (a kind newer than it) raises `push.PushError` with the native code.
//!
//! Panics are caught by sdk-core's `binding::guard` and `binding::guard_future` and arrive here
//! as `INTERNAL` errors, raised as `push.InternalError`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule};

use push_core::binding::guard;
use push_core::{Error, ErrorKind, KINDS};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception for `error`: `push.<class_name>(message, code, status, retryable, maybe_stored)`.
pub fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    let info = error.kind().info();
    let build = || -> PyResult<PyErr> {
        let module = ERRORS.get_or_try_init(py, || py.import("push._errors").map(Bound::unbind))?.bind(py);
        let class = match module.getattr(info.class_name) {
            Ok(class) => class,
            Err(_) => module.getattr("PushError")?,
        };
        let exception = class.call1((error.message(), info.code, error.status(), info.retryable, error.maybe_stored()))?;
        Ok(PyErr::from_value(exception))
    };
    // If even the lookup fails (a broken install), raise that failure: it says what is wrong.
    build().unwrap_or_else(|lookup_failed| lookup_failed)
}

/// The exception of an sdk-core error this binding finds itself (a bad argument of the kind
/// sdk-core would name, e.g. `BadRequest` for `last=` with `after=`).
pub fn new(kind: ErrorKind, message: impl Into<String>) -> PyErr {
    Python::attach(|py| to_py(py, &Error::new(kind, message)))
}

/// sdk-core's error table, one dict per kind: `code`, `class_name`, `http_status`, `retryable`,
/// `maybe_stored` (`push._push.error_table()`; `push._errors` names its classes from it).
#[pyfunction]
pub fn error_table(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = KINDS.iter().map(|info| {
        let row = PyDict::new(py);
        row.set_item("code", info.code)?;
        row.set_item("class_name", info.class_name)?;
        row.set_item("http_status", info.http_status)?;
        row.set_item("retryable", info.retryable)?;
        row.set_item("maybe_stored", info.maybe_stored)?;
        Ok(row)
    });
    PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
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

/// `push._push._raise_internal(message)`: panics inside [`guard`], so tests can see a caught
/// panic arrive as `push.InternalError`. Not part of the API.
#[pyfunction]
#[pyo3(name = "_raise_internal")]
pub fn raise_internal(py: Python<'_>, message: String) -> PyResult<()> {
    guard(|| -> Result<(), Error> { panic!("{message}") }).py(py)
}
