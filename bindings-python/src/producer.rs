//! `push.Producer` and `push.Publish`: argument conversion around one sdk-core call each.
//!
//! The producer wraps sdk-core's `BlockingProducer`, which is thread-safe and fork-safe (it
//! makes a new runtime when the process id changed). Blocking calls run detached from the
//! interpreter, so other Python threads run while a publish waits on the network.

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyMemoryView, PyString, PyTuple};

use push_core::binding::{self, guard, DefaultProducer};
use push_core::producer::BlockingProducer;
use push_core::{Error, ErrorKind};

use crate::errors::IntoPyResult;
use crate::future;
use crate::wait;

/// Publishes messages to push-rs channels: `Producer().publish("hi").to("/greetings")`.
#[pyclass(module = "push", frozen, subclass)]
pub struct Producer {
    inner: BlockingProducer,
}

#[pymethods]
impl Producer {
    #[new]
    #[pyo3(signature = (url=None, *, publish_key=None, timeout=None, ca_file=None))]
    fn new(py: Python<'_>, url: Option<String>, publish_key: Option<String>, timeout: Option<f64>, ca_file: Option<std::path::PathBuf>) -> PyResult<Self> {
        let ca_file = ca_file.map(|p| p.to_string_lossy().into_owned());
        let inner = guard(|| BlockingProducer::new(binding::producer_options(url, publish_key, timeout, ca_file)?)).py(py)?;
        Ok(Producer { inner })
    }

    /// The server URL this producer publishes to.
    #[getter]
    fn url(&self) -> &str {
        self.inner.url()
    }

    /// Starts a publish; finish it with `.to(channel)` or `await ....to_async(channel)`.
    #[pyo3(signature = (data, content_type=None, *, idempotency_key=None))]
    fn publish(
        slf: &Bound<'_, Self>,
        data: &Bound<'_, PyAny>,
        content_type: Option<String>,
        idempotency_key: Option<String>,
    ) -> PyResult<Publish> {
        Ok(Publish { producer: slf.clone().unbind(), data: payload(data)?, content_type, idempotency_key })
    }

    /// Closes the connections. The producer stays usable: it reconnects on the next publish.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.inner.close());
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_exc_info))]
    fn __exit__(&self, py: Python<'_>, _exc_info: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("<push.Producer url={:?}>", self.inner.url())
    }
}

/// A publish waiting for its channel: `producer.publish(data).to(channel)`.
#[pyclass(module = "push", frozen)]
pub struct Publish {
    producer: Py<Producer>,
    data: Bytes,
    content_type: Option<String>,
    /// The caller's key; `None`: sdk-core makes a fresh one per `.to()`.
    idempotency_key: Option<String>,
}

#[pymethods]
impl Publish {
    /// Publishes to `channel`, blocking this thread (not the others) until the server has
    /// accepted the message; returns the message id. Ctrl-C interrupts the wait
    /// (`KeyboardInterrupt`), as it does any blocking call.
    fn to(&self, py: Python<'_>, channel: String) -> PyResult<String> {
        let (handle, producer) = guard(|| self.producer.get().inner.async_parts()).py(py)?;
        let (data, content_type, key) = (self.data.clone(), self.content_type.clone(), self.idempotency_key.clone());
        wait::interruptible(py, &handle, async move {
            producer.send_keyed(&channel, data, content_type.as_deref(), key).await.map(|id| id.to_string())
        })
    }

    /// Publishes to `channel` without blocking the running asyncio loop; returns an
    /// `asyncio.Future` of the message id.
    fn to_async<'py>(&self, py: Python<'py>, channel: String) -> PyResult<Bound<'py, PyAny>> {
        let (handle, producer) = guard(|| self.producer.get().inner.async_parts()).py(py)?;
        let (data, content_type, key) = (self.data.clone(), self.content_type.clone(), self.idempotency_key.clone());
        let keepalive = self.producer.clone_ref(py).into_any();
        future::spawn(py, &handle, keepalive, async move {
            producer.send_keyed(&channel, data, content_type.as_deref(), key).await.map(|id| id.to_string())
        })
    }

    fn __repr__(&self) -> String {
        format!("<push.Publish {} bytes>", self.data.len())
    }
}

/// The producer behind `push.publish` and `push.aio.publish`.
static DEFAULT: DefaultProducer<Py<Producer>> = DefaultProducer::new();

/// `push.default_producer()`: sdk-core's rule, as in every SDK: made on first use from `PUSH_URL`
/// and `PUSH_PUBLISH_KEY`, made again when either changed, else the same object.
#[pyfunction]
pub fn default_producer(py: Python<'_>) -> PyResult<Py<Producer>> {
    // Detached while waiting for the slot's lock (another thread may be building the producer);
    // attached again only to make the Python object.
    let shared = py
        .detach(|| {
            guard(|| {
                DEFAULT.get(|options| {
                    let inner = BlockingProducer::new(options)?;
                    Python::attach(|py| Py::new(py, Producer { inner })).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))
                })
            })
        })
        .py(py)?;
    Ok(shared.clone_ref(py))
}

/// `push.close_default()`: closes the default producer's connections and forgets it; the next
/// `push.publish` makes a new one. A producer obtained before stays usable (it reconnects).
#[pyfunction]
pub fn close_default(py: Python<'_>) {
    let forgotten = py.detach(|| {
        let producer = DEFAULT.reset();
        if let Some(producer) = &producer {
            producer.get().inner.close();
        }
        producer
    });
    drop(forgotten); // with the interpreter attached: it may be the last reference
}

/// `str` is sent as UTF-8, `bytes`, `bytearray` and `memoryview` as they are. The payload is
/// copied into Rust memory once: no Python object travels to the runtime's threads, and the
/// caller may change a `bytearray` while the publish runs.
fn payload(data: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(text) = data.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(text.to_cow()?.as_bytes()));
    }
    if let Ok(bytes) = data.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(bytes.as_bytes()));
    }
    if let Ok(array) = data.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    if data.is_instance_of::<PyMemoryView>() {
        let copy = data.py().get_type::<PyBytes>().call1((data,))?;
        return Ok(Bytes::copy_from_slice(copy.cast::<PyBytes>()?.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "data must be str, bytes, bytearray or memoryview, not {}",
        data.get_type().name()?
    )))
}
