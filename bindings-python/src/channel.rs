//! `push.Channel`: a channel of a producer to ask about (`info`, `presence`, `history`), each a
//! call of sdk-core's ([`calls`]).

use std::sync::Arc;

use pyo3::prelude::*;

use push_core::producer::BlockingProducer;
use push_core::Error;

use crate::arguments::history_range;
use crate::calls::{blocking, spawn};
use crate::errors::IntoPyResult;

/// A channel of a producer: `producer.channel("/rooms/1").info()`, `.history(last=10)`.
#[pyclass(module = "push", frozen)]
pub struct Channel {
    /// The Python producer: what `.producer` gives, and kept alive while an async call runs.
    producer: Py<PyAny>,
    /// Its sdk-core producer, shared: each call checks it as the producer's own calls do.
    inner: Arc<BlockingProducer>,
    name: push_core::Channel,
}

impl Channel {
    /// Checks the name now (`InvalidChannelError`), so a bad one fails where it is written.
    pub fn new(py: Python<'_>, producer: Py<PyAny>, inner: Arc<BlockingProducer>, name: &str) -> PyResult<Channel> {
        let name = push_core::Channel::parse(name).map_err(Error::from).py(py)?;
        Ok(Channel { producer, inner, name })
    }
}

#[pymethods]
impl Channel {
    #[getter]
    fn name(&self) -> &str {
        self.name.as_str()
    }

    #[getter]
    fn producer(&self, py: Python<'_>) -> Py<PyAny> {
        self.producer.clone_ref(py)
    }

    /// Who is connected and what it holds, now (blocking; the GIL is released).
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.name.to_string();
        blocking(py, &self.inner, |p| async move { p.channel_info(&name).await })
    }

    /// `info()` as an asyncio future.
    fn info_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = self.name.to_string();
        spawn(py, &self.inner, self.producer.clone_ref(py), |p| async move { p.channel_info(&name).await })
    }

    /// Who is present on it, a presence channel (`--presence-prefix`), with their tokens' info.
    fn presence(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.name.to_string();
        blocking(py, &self.inner, |p| async move { p.presence(&name).await })
    }

    /// `presence()` as an asyncio future.
    fn presence_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = self.name.to_string();
        spawn(py, &self.inner, self.producer.clone_ref(py), |p| async move { p.presence(&name).await })
    }

    /// Messages of its history, oldest first: `last=N`, or `after=id` (with `limit`), or all held.
    #[pyo3(signature = (*, last=None, after=None, limit=None))]
    fn history(&self, py: Python<'_>, last: Option<i64>, after: Option<&Bound<'_, PyAny>>, limit: Option<i64>) -> PyResult<Py<PyAny>> {
        let (name, range) = (self.name.to_string(), history_range(last, after, limit)?);
        blocking(py, &self.inner, |p| async move { p.history(&name, range).await })
    }

    /// `history(...)` as an asyncio future.
    #[pyo3(signature = (*, last=None, after=None, limit=None))]
    fn history_async<'py>(&self, py: Python<'py>, last: Option<i64>, after: Option<&Bound<'_, PyAny>>, limit: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let (name, range) = (self.name.to_string(), history_range(last, after, limit)?);
        spawn(py, &self.inner, self.producer.clone_ref(py), |p| async move { p.history(&name, range).await })
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Channel>().is_ok_and(|o| o.get().name == self.name && o.get().producer.is(&self.producer))
    }

    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.name.as_str().hash(&mut h);
        h.finish()
    }

    fn __repr__(&self) -> String {
        format!("<push.Channel {}>", self.name)
    }
}
