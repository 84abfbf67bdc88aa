//! The server API beside publishing (docs/PROTOCOL.md, "Server API"): `push.Channel` (`info`,
//! `presence`, `history`), and the producer's `presence`, `channels`, `disconnect` and
//! `publish(...).to(many)` through the helpers here.
//!
//! Each call is sdk-core's (`push_core::Producer::channel_info`, ...), which checks its input
//! before any I/O; this file only turns Python arguments into sdk-core's inputs and its answers
//! into the frozen dataclasses of `python/push/_api.py`. A blocking call waits like a publish
//! ([`wait::interruptible`]: GIL released, Ctrl-C interrupts); an `_async` one returns an
//! asyncio future ([`future::spawn`]).

use std::future::Future;
use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyList, PyModule, PyString, PyTuple};

use push_core::api::{ChannelInfo, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange, Presence};
use push_core::binding::guard;
use push_core::{Error, ErrorKind, MessageId};

use crate::errors::{self, IntoPyResult};
use crate::producer::Producer;
use crate::{future, wait};

static API: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// `push._api`, imported once.
pub fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    Ok(API.get_or_try_init(py, || py.import("push._api").map(Bound::unbind))?.bind(py))
}

/// `push._api.<class>(**fields)`.
fn build<'py>(py: Python<'py>, class: &str, fields: &[(&str, Bound<'py, PyAny>)]) -> PyResult<Py<PyAny>> {
    let kwargs = PyDict::new(py);
    for (name, value) in fields {
        kwargs.set_item(*name, value)?;
    }
    Ok(module(py)?.getattr(class)?.call((), Some(&kwargs))?.unbind())
}

/// A UTC `datetime` from ms since the Unix epoch (exact, see `_api._from_ms`).
fn time(py: Python<'_>, ms: u64) -> PyResult<Bound<'_, PyAny>> {
    module(py)?.getattr("_from_ms")?.call1((ms,))
}

/// JSON text (a member's or an event's info) as `json.loads` gives it: a dict for an object.
pub fn json<'py>(py: Python<'py>, text: Option<String>) -> PyResult<Bound<'py, PyAny>> {
    match text {
        Some(text) => py.import("json")?.call_method1("loads", (text,)),
        None => Ok(py.None().into_bound(py)),
    }
}

fn any<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<Bound<'py, PyAny>> {
    value.into_bound_py_any(py)
}

/// An sdk-core answer as the Python object a call returns. Runs with the GIL (for an async call
/// on the runtime's thread, before the result goes to the loop, see future.rs).
pub trait ToPython: Send + 'static {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>>;
}

impl ToPython for String {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(any(py, self)?.unbind())
    }
}

fn info_fields<'py>(py: Python<'py>, info: ChannelInfo) -> PyResult<Vec<(&'static str, Bound<'py, PyAny>)>> {
    Ok(vec![
        ("channel", any(py, info.channel)?),
        ("connections", any(py, info.connections)?),
        ("consumers", any(py, info.consumers)?),
        ("last_id", any(py, info.last_id.map(|id| id.to_string()))?),
        ("history", any(py, info.history)?),
        ("nodes", any(py, info.nodes)?),
        ("as_of", time(py, info.as_of)?),
    ])
}

impl ToPython for ChannelInfo {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        build(py, "ChannelInfo", &info_fields(py, self)?)
    }
}

impl ToPython for Presence {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let members = self
            .members
            .into_iter()
            .map(|m| build(py, "Member", &[("consumer", any(py, m.consumer)?), ("info", json(py, m.info.map(|i| i.to_string()))?)]))
            .collect::<PyResult<Vec<_>>>()?;
        build(
            py,
            "Presence",
            &[
                ("channel", any(py, self.channel)?),
                ("members", PyList::new(py, members)?.into_any()),
                ("count", any(py, self.count)?),
                ("nodes", any(py, self.nodes)?),
                ("as_of", time(py, self.as_of)?),
            ],
        )
    }
}

impl ToPython for ChannelPage {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let channels = self.channels.into_iter().map(|info| info.to_python(py)).collect::<PyResult<Vec<_>>>()?;
        build(
            py,
            "ChannelPage",
            &[
                ("channels", PyList::new(py, channels)?.into_any()),
                ("next", any(py, self.next)?),
                ("nodes", any(py, self.nodes)?),
                ("as_of", time(py, self.as_of)?),
            ],
        )
    }
}

impl ToPython for History {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let messages = self
            .messages
            .into_iter()
            .map(|m| {
                build(
                    py,
                    "HistoryMessage",
                    &[
                        ("id", any(py, m.id.to_string())?),
                        ("channel", any(py, m.channel)?),
                        ("channels", PyList::new(py, m.channels)?.into_any()),
                        ("data", PyBytes::new(py, &m.data).into_any()),
                        ("content_type", any(py, m.content_type)?),
                        ("event", any(py, m.event)?),
                        ("time", time(py, m.time)?),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        let gaps = self
            .gaps
            .into_iter()
            .map(|g| build(py, "Gap", &[("channel", any(py, g.channel)?), ("from_", any(py, g.from.to_string())?), ("to", any(py, g.to.to_string())?)]))
            .collect::<PyResult<Vec<_>>>()?;
        // sdk-core's 0 means the server named no cursor (nothing held).
        let last_id = (self.last_id != MessageId::ZERO).then(|| self.last_id.to_string());
        build(
            py,
            "History",
            &[
                ("messages", PyList::new(py, messages)?.into_any()),
                ("gaps", PyList::new(py, gaps)?.into_any()),
                ("last_id", any(py, last_id)?),
                ("more", any(py, self.more)?),
            ],
        )
    }
}

impl ToPython for Disconnected {
    fn to_python(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let ban_until = match self.ban_until {
            Some(ms) => time(py, ms)?,
            None => py.None().into_bound(py),
        };
        build(
            py,
            "Disconnected",
            &[
                ("consumer", any(py, self.consumer)?),
                ("channel", any(py, self.channel)?),
                ("disconnected", any(py, self.disconnected)?),
                ("ban_until", ban_until),
            ],
        )
    }
}

/// Runs one call of the producer's, blocking this thread only, and converts its answer.
pub fn blocking<T, Fut>(py: Python<'_>, producer: &Producer, call: impl FnOnce(push_core::Producer) -> Fut) -> PyResult<Py<PyAny>>
where
    T: ToPython,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (handle, inner) = guard(|| producer.inner.async_parts()).py(py)?;
    wait::interruptible(py, &handle, call(inner))?.to_python(py)
}

/// Runs one call of the producer's on its runtime; returns an asyncio future of its answer.
pub fn spawn<'py, T, Fut>(py: Python<'py>, producer: &Py<Producer>, call: impl FnOnce(push_core::Producer) -> Fut) -> PyResult<Bound<'py, PyAny>>
where
    T: ToPython,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (handle, inner) = guard(|| producer.get().inner.async_parts()).py(py)?;
    future::spawn(py, &handle, producer.clone_ref(py).into_any(), call(inner))
}

fn bad(message: String) -> PyErr {
    errors::new(ErrorKind::BadRequest, message)
}

/// A count the caller gave (`last`, `limit`): negative or beyond u32 is refused here; the range
/// (`last=0`, `limit=1001`) is sdk-core's to check.
fn count(name: &str, value: Option<i64>) -> PyResult<Option<u32>> {
    value.map(|n| u32::try_from(n).map_err(|_| bad(format!("{name} is a number of 1 or more, not {n}")))).transpose()
}

/// The channels of a publish: `to("/a", "/b")`, `to(["/a", "/b"])`, or a mix.
pub fn targets(channels: &Bound<'_, PyTuple>) -> PyResult<Vec<String>> {
    let name = |item: &Bound<'_, PyAny>| -> PyResult<String> {
        match item.cast::<PyString>() {
            Ok(text) => Ok(text.to_cow()?.into_owned()),
            Err(_) => Err(PyTypeError::new_err(format!("a channel is a str, not {}", item.get_type().name()?))),
        }
    };
    let mut names = Vec::with_capacity(channels.len());
    for item in channels.iter() {
        // bytes iterate as ints: refuse them as a whole rather than item by item.
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyBytes>() || item.is_instance_of::<PyByteArray>() {
            names.push(name(&item)?);
        } else if let Ok(list) = item.try_iter() {
            for each in list {
                names.push(name(&each?)?);
            }
        } else {
            names.push(name(&item)?);
        }
    }
    Ok(names)
}

/// `push.channels(...)`'s query.
pub fn channels_query(prefix: Option<String>, after: Option<String>, limit: Option<i64>) -> PyResult<ChannelsQuery> {
    let mut query = ChannelsQuery::new();
    if let Some(prefix) = prefix {
        query = query.prefix(prefix);
    }
    if let Some(after) = after {
        query = query.after(after);
    }
    if let Some(limit) = count("limit", limit)? {
        query = query.limit(limit);
    }
    Ok(query)
}

/// A message id given as str or int.
fn cursor(value: &Bound<'_, PyAny>) -> PyResult<MessageId> {
    let invalid = |shown: String| errors::new(ErrorKind::InvalidCursor, format!("{shown} is not a message id (a decimal integer such as 42)"));
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_cow()?;
        return text.parse().map_err(|_| invalid(format!("{text:?}")));
    }
    if value.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err("after is a message id (str or int), not bool"));
    }
    match value.extract::<i128>() {
        Ok(n) => u64::try_from(n).map(MessageId).map_err(|_| invalid(n.to_string())),
        Err(_) => Err(PyTypeError::new_err(format!("after is a message id (str or int), not {}", value.get_type().name()?))),
    }
}

/// `history(last=N)`, `history(after=id, limit=N)`, or `history()`.
pub fn history_range(last: Option<i64>, after: Option<&Bound<'_, PyAny>>, limit: Option<i64>) -> PyResult<HistoryRange> {
    let after = after.filter(|a| !a.is_none()).map(cursor).transpose()?;
    HistoryRange::from_options(count("last", last)?, after, count("limit", limit)?).map_err(|e| errors::new(e.kind(), e.message()))
}

/// `disconnect(consumer, channel=, reason=, ban=)`; `ban` is seconds (int, float) or a timedelta.
pub fn disconnect_request(consumer: String, channel: Option<String>, reason: Option<String>, ban: Option<&Bound<'_, PyAny>>) -> PyResult<Disconnect> {
    let mut request = Disconnect::new(consumer);
    if let Some(channel) = channel {
        request = request.channel(channel);
    }
    if let Some(reason) = reason {
        request = request.reason(reason);
    }
    if let Some(ban) = ban.filter(|b| !b.is_none()) {
        let seconds: f64 = if ban.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("ban is seconds (int, float) or a datetime.timedelta, not bool"));
        } else if ban.is_instance(&ban.py().import("datetime")?.getattr("timedelta")?)? {
            ban.call_method0("total_seconds")?.extract()?
        } else {
            ban.extract().map_err(|_| PyTypeError::new_err(format!("ban is seconds (int, float) or a datetime.timedelta, not {}", ban.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?
        };
        // sdk-core checks the upper bound (a day) once rounded up to whole seconds.
        let ban = Duration::try_from_secs_f64(seconds).map_err(|_| bad(format!("a ban is 0 to 86400 seconds, not {seconds}")))?;
        request = request.ban(ban);
    }
    Ok(request)
}

/// A channel of a producer: `producer.channel("/rooms/1").info()`, `.history(last=10)`.
#[pyclass(module = "push", frozen)]
pub struct Channel {
    producer: Py<Producer>,
    name: push_core::Channel,
}

impl Channel {
    /// Checks the name now (`InvalidChannelError`), so a bad one fails where it is written.
    pub fn new(py: Python<'_>, producer: Py<Producer>, name: &str) -> PyResult<Channel> {
        let name = push_core::Channel::parse(name).map_err(Error::from).py(py)?;
        Ok(Channel { producer, name })
    }
}

#[pymethods]
impl Channel {
    #[getter]
    fn name(&self) -> &str {
        self.name.as_str()
    }

    #[getter]
    fn producer(&self, py: Python<'_>) -> Py<Producer> {
        self.producer.clone_ref(py)
    }

    /// Who is connected and what it holds, now (blocking; the GIL is released).
    fn info(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.name.to_string();
        blocking(py, self.producer.get(), |p| async move { p.channel_info(&name).await })
    }

    /// `info()` as an asyncio future.
    fn info_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = self.name.to_string();
        spawn(py, &self.producer, |p| async move { p.channel_info(&name).await })
    }

    /// Who is present on it, a presence channel (`--presence-prefix`), with their tokens' info.
    fn presence(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let name = self.name.to_string();
        blocking(py, self.producer.get(), |p| async move { p.presence(&name).await })
    }

    /// `presence()` as an asyncio future.
    fn presence_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let name = self.name.to_string();
        spawn(py, &self.producer, |p| async move { p.presence(&name).await })
    }

    /// Messages of its history, oldest first: `last=N`, or `after=id` (with `limit`), or all held.
    #[pyo3(signature = (*, last=None, after=None, limit=None))]
    fn history(&self, py: Python<'_>, last: Option<i64>, after: Option<&Bound<'_, PyAny>>, limit: Option<i64>) -> PyResult<Py<PyAny>> {
        let (name, range) = (self.name.to_string(), history_range(last, after, limit)?);
        blocking(py, self.producer.get(), |p| async move { p.history(&name, range).await })
    }

    /// `history(...)` as an asyncio future.
    #[pyo3(signature = (*, last=None, after=None, limit=None))]
    fn history_async<'py>(&self, py: Python<'py>, last: Option<i64>, after: Option<&Bound<'_, PyAny>>, limit: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        let (name, range) = (self.name.to_string(), history_range(last, after, limit)?);
        spawn(py, &self.producer, |p| async move { p.history(&name, range).await })
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
