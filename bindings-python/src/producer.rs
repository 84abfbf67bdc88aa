//! `push.Producer` and `push.Publish`: argument conversion around one sdk-core call each (the
//! conversions are in arguments.rs and answers.rs, the calls in calls.rs).
//!
//! The producer wraps sdk-core's `BlockingProducer`, which is thread-safe and fork-safe (it
//! makes a new runtime when the process id changed). Blocking calls run detached from the
//! interpreter, so other Python threads run while a publish waits on the network.

use std::sync::Arc;

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use push_core::binding::{self, guard, DefaultProducer};
use push_core::producer::{BlockingProducer, PublishOptions};
use push_core::{Error, ErrorKind};

use crate::arguments::{self, payload};
use crate::channel::Channel;
use crate::errors::IntoPyResult;
use crate::{answers, calls, future, wait};

/// Publishes messages to push-rs channels: `Producer().publish("hi").to("/greetings")`.
#[pyclass(module = "push", frozen, subclass)]
pub struct Producer {
    /// Shared with its `Channel`s.
    inner: Arc<BlockingProducer>,
}

#[pymethods]
impl Producer {
    #[new]
    #[pyo3(signature = (url=None, *, publish_key=None, timeout=None, ca_file=None))]
    fn new(py: Python<'_>, url: Option<String>, publish_key: Option<String>, timeout: Option<f64>, ca_file: Option<std::path::PathBuf>) -> PyResult<Self> {
        let ca_file = ca_file.map(|p| p.to_string_lossy().into_owned());
        let inner = guard(|| BlockingProducer::new(binding::producer_options(url, publish_key, timeout, ca_file)?)).py(py)?;
        Ok(Producer { inner: Arc::new(inner) })
    }

    /// The server URL this producer publishes to.
    #[getter]
    fn url(&self) -> &str {
        self.inner.url()
    }

    /// Starts a publish; finish it with `.to(channel)` or `await ....to_async(channel)`.
    #[pyo3(signature = (data, content_type=None, *, idempotency_key=None, event=None))]
    fn publish(
        slf: &Bound<'_, Self>,
        data: &Bound<'_, PyAny>,
        content_type: Option<String>,
        idempotency_key: Option<String>,
        event: Option<String>,
    ) -> PyResult<Publish> {
        let options = PublishOptions { content_type, idempotency_key, event };
        Ok(Publish { producer: slf.clone().unbind(), data: payload(data)?, options })
    }

    /// A channel to ask about: `producer.channel("/rooms/1").info()`. The name is checked now.
    fn channel(slf: &Bound<'_, Self>, name: &str) -> PyResult<Channel> {
        Channel::new(slf.py(), slf.clone().into_any().unbind(), slf.get().inner.clone(), name)
    }

    /// Who is present on a presence channel: `producer.channel(name).presence()`.
    fn presence(slf: &Bound<'_, Self>, channel: String) -> PyResult<Py<PyAny>> {
        calls::blocking(slf.py(), &slf.get().inner, |p| async move { p.presence(&channel).await })
    }

    /// `presence(channel)` as an asyncio future.
    fn presence_async<'py>(slf: &Bound<'py, Self>, channel: String) -> PyResult<Bound<'py, PyAny>> {
        calls::spawn(slf.py(), &slf.get().inner, slf.clone().into_any().unbind(), |p| async move { p.presence(&channel).await })
    }

    /// One page of the channels with a connection or with history, in name order.
    #[pyo3(signature = (prefix=None, *, after=None, limit=None))]
    fn channels(slf: &Bound<'_, Self>, prefix: Option<String>, after: Option<String>, limit: Option<i64>) -> PyResult<Py<PyAny>> {
        let query = arguments::channels_query(prefix, after, limit)?;
        calls::blocking(slf.py(), &slf.get().inner, |p| async move { p.channels(query).await })
    }

    /// `channels(...)` as an asyncio future.
    #[pyo3(signature = (prefix=None, *, after=None, limit=None))]
    fn channels_async<'py>(slf: &Bound<'py, Self>, prefix: Option<String>, after: Option<String>, limit: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let query = arguments::channels_query(prefix, after, limit)?;
        calls::spawn(slf.py(), &slf.get().inner, slf.clone().into_any().unbind(), |p| async move { p.channels(query).await })
    }

    /// Every active channel (`prefix`: only those names), page by page as iterated.
    #[pyo3(signature = (prefix=None, *, limit=None))]
    fn iter_channels<'py>(slf: &Bound<'py, Self>, prefix: Option<String>, limit: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        // A generator in Python (push._api) over `channels(after=page.next)`.
        answers::module(slf.py())?.getattr("_iter_channels")?.call1((slf, prefix, limit))
    }

    /// Ends the consumer's subscriptions on every node; `ban` (seconds or a timedelta) also
    /// refuses its new ones for that long.
    #[pyo3(signature = (consumer, *, channel=None, reason=None, ban=None))]
    fn disconnect(
        slf: &Bound<'_, Self>,
        consumer: String,
        channel: Option<String>,
        reason: Option<String>,
        ban: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let request = arguments::disconnect_request(consumer, channel, reason, ban)?;
        calls::blocking(slf.py(), &slf.get().inner, |p| async move { p.disconnect(request).await })
    }

    /// `disconnect(...)` as an asyncio future.
    #[pyo3(signature = (consumer, *, channel=None, reason=None, ban=None))]
    fn disconnect_async<'py>(
        slf: &Bound<'py, Self>,
        consumer: String,
        channel: Option<String>,
        reason: Option<String>,
        ban: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = arguments::disconnect_request(consumer, channel, reason, ban)?;
        calls::spawn(slf.py(), &slf.get().inner, slf.clone().into_any().unbind(), |p| async move { p.disconnect(request).await })
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

/// A publish waiting for its channels: `producer.publish(data).to("/a")` or `.to("/a", "/b")`.
#[pyclass(module = "push", frozen)]
pub struct Publish {
    producer: Py<Producer>,
    data: Bytes,
    /// Content type, event name, and the caller's key (`None`: sdk-core makes a fresh one per
    /// `.to()`).
    options: PublishOptions,
}

#[pymethods]
impl Publish {
    /// Publishes to the channels (names, or lists of names: one message with one id on all of
    /// them), blocking this thread (not the others) until the server has accepted the message;
    /// returns the message id. Ctrl-C interrupts the wait (`KeyboardInterrupt`), as it does any
    /// blocking call.
    #[pyo3(signature = (*channels))]
    fn to(&self, py: Python<'_>, channels: &Bound<'_, PyTuple>) -> PyResult<String> {
        let channels = arguments::targets(channels)?;
        let (handle, producer) = guard(|| self.producer.get().inner.async_parts()).py(py)?;
        let (data, options) = (self.data.clone(), self.options.clone());
        wait::interruptible(py, &handle, async move {
            producer.send_with(channels, data, options).await.map(|id| id.to_string())
        })
    }

    /// `to(...)` without blocking the running asyncio loop; returns an `asyncio.Future` of the
    /// message id.
    #[pyo3(signature = (*channels))]
    fn to_async<'py>(&self, py: Python<'py>, channels: &Bound<'_, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        let channels = arguments::targets(channels)?;
        let (handle, producer) = guard(|| self.producer.get().inner.async_parts()).py(py)?;
        let (data, options) = (self.data.clone(), self.options.clone());
        let keepalive = self.producer.clone_ref(py).into_any();
        future::spawn(py, &handle, keepalive, async move {
            producer.send_with(channels, data, options).await.map(|id| id.to_string())
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
                    Python::attach(|py| Py::new(py, Producer { inner: Arc::new(inner) })).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))
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
