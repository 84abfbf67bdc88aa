//! Python arguments to sdk-core's inputs: a publish's payload and channels, the server API's
//! queries (`channels`, `history`, `disconnect`). Bad input is refused here with the exception
//! sdk-core's kind maps to (or `TypeError`); ranges are sdk-core's to check.

use std::time::Duration;

use bytes::Bytes;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyMemoryView, PyString, PyTuple};

use push_core::api::{ChannelsQuery, Disconnect, HistoryRange};
use push_core::{ErrorKind, MessageId};

use crate::errors;

/// `str` is sent as UTF-8, `bytes`, `bytearray` and `memoryview` as they are. The payload is
/// copied into Rust memory once: no Python object travels to the runtime's threads, and the
/// caller may change a `bytearray` while the publish runs.
pub fn payload(data: &Bound<'_, PyAny>) -> PyResult<Bytes> {
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
