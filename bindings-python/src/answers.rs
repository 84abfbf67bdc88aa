//! sdk-core's answers to the server API's calls as Python objects: the frozen dataclasses of
//! `python/push/_api.py` ([`ToPython`]), made with the GIL held.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::IntoPyObjectExt;
use pyo3::types::{PyBytes, PyDict, PyList, PyModule};

use push_core::api::{ChannelInfo, ChannelPage, Disconnected, History, Presence};
use push_core::MessageId;

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
