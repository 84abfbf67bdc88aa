//! `push.Server` (the server in this process) and `server_main` (the `push-server` console
//! script and `python -m push`). Both run sdk-core's server library on its own threads; every
//! call that blocks on it is detached from the interpreter, so other Python threads keep running.

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use push_core::binding::guard;
use push_server::embedded::{self, Hosted, OptionValue};

use crate::errors::IntoPyResult;

/// A push-server running inside this process: `with push.Server(history_size=100) as server:`.
/// `Hosted` decides what start, stop, `running`, a fork and garbage collection do.
#[pyclass(module = "push", frozen)]
pub struct Server {
    hosted: Hosted,
}

/// One keyword argument as a flag value: bool → switch, list/tuple → comma list, else text.
fn option_value(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<OptionValue>> {
    let text = |v: &Bound<'_, PyAny>| -> PyResult<String> {
        if v.is_instance_of::<PyBool>() {
            Err(PyTypeError::new_err(format!("server option {name}: a list takes str, int or float items, not bool")))
        } else if v.is_instance_of::<PyString>() || v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
            Ok(v.str()?.to_string())
        } else if v.hasattr("__fspath__")? {
            Ok(v.call_method0("__fspath__")?.str()?.to_string())
        } else {
            Err(PyTypeError::new_err(format!(
                "server option {name} takes str, int, float, bool, a path or a list, not {}",
                v.get_type().name()?
            )))
        }
    };
    if value.is_none() {
        Ok(None)
    } else if value.is_instance_of::<PyBool>() {
        Ok(Some(OptionValue::Flag(value.is_truthy()?)))
    } else if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let items = value.try_iter()?.map(|item| text(&item?)).collect::<PyResult<Vec<_>>>()?;
        Ok(Some(OptionValue::List(items)))
    } else {
        Ok(Some(OptionValue::Text(text(value)?)))
    }
}

impl Server {
    fn started<T>(value: Option<T>) -> PyResult<T> {
        value.ok_or_else(|| PyRuntimeError::new_err("the server has not been started"))
    }
}

#[pymethods]
impl Server {
    /// Checks the options (the server's flags by name) at once; `start()` serves.
    #[new]
    #[pyo3(signature = (**options))]
    fn new(py: Python<'_>, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut pairs = Vec::new();
        if let Some(options) = options {
            for (name, value) in options.iter() {
                let name: String = name.extract()?;
                if let Some(value) = option_value(&name, &value)? {
                    pairs.push((name, value));
                }
            }
        }
        let config = guard(|| embedded::config_from_options(pairs)).py(py)?;
        Ok(Server { hosted: Hosted::new(config) })
    }

    /// Binds and serves; returns once it accepts connections. Does nothing if already running.
    fn start(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let hosted = &slf.get().hosted;
        py.detach(|| guard(|| hosted.start())).py(py)?;
        Ok(slf)
    }

    /// Stops gracefully (open streams are ended first); returns when it is gone. Idempotent.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.hosted.stop());
    }

    /// `http://127.0.0.1:PORT` (`https://` with `tls_cert`).
    #[getter]
    fn url(&self) -> PyResult<String> {
        Server::started(self.hosted.url())
    }

    /// The port it listens on (the real one when started on port 0).
    #[getter]
    fn port(&self) -> PyResult<u16> {
        Ok(Server::started(self.hosted.local_addr())?.port())
    }

    /// True while it serves; False before start, after stop, and while starting or stopping.
    #[getter]
    fn running(&self) -> bool {
        self.hosted.is_running()
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        Server::start(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> bool {
        self.stop(py);
        false
    }

    /// `async with`: start and stop run in a worker thread (`asyncio.to_thread`), so the event
    /// loop keeps running while they wait.
    fn __aenter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let asyncio = slf.py().import("asyncio")?;
        Ok(asyncio.call_method1("to_thread", (slf.getattr("start")?,))?.unbind())
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__(slf: &Bound<'_, Self>, _exc: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
        let asyncio = slf.py().import("asyncio")?;
        Ok(asyncio.call_method1("to_thread", (slf.getattr("stop")?,))?.unbind())
    }

    fn __repr__(&self) -> String {
        match (self.hosted.url(), self.running()) {
            (Some(url), true) => format!("<push.Server {url} running>"),
            (Some(url), false) => format!("<push.Server {url} stopped>"),
            (None, _) => "<push.Server not started>".to_owned(),
        }
    }
}

/// The `push-server` command: `server_main(["--bind", ...])` (the arguments without the program
/// name, like `sys.argv[1:]` and Ruby's `Push::Server.cli(ARGV)`); returns the exit code. Blocks
/// until the server ends (SIGINT/SIGTERM), without holding the GIL.
#[pyfunction]
pub fn server_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    let argv: Vec<String> = std::iter::once("push-server".to_owned()).chain(argv).collect();
    py.detach(|| push_server::cli::main(argv))
}
