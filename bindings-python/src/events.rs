//! `push.verify_events`: the server's events (`--events-url`, docs/PRESENCE.md) verified by
//! sdk-core (`push_core::webhook::verify`), returned as `push._api.Event` dataclasses.
//!
//! The signature check, the timestamp tolerance and the body's shape are sdk-core's, the same in
//! every SDK; this file only converts arguments and picks the secret.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use push_core::binding::guard;
use push_core::webhook::{self, SIGNATURE_HEADER};
use push_core::ErrorKind;

use crate::answers::{self, module};
use crate::arguments::payload;
use crate::errors::{self, IntoPyResult};
use crate::token::Secret;

/// Checks that an events request comes from the push server and returns its events in order.
///
/// `body`: the raw request body (bytes, or str sent as UTF-8); `signature`: its `Push-Signature`
/// header (`None`, no header, is refused); `secret`: default `PUSH_EVENTS_SECRET`, then
/// `PUSH_SECRET`; `tolerance`: seconds the signature's time may be from now.
#[pyfunction]
// 300: sdk-core's DEFAULT_TOLERANCE_SECS, written as a literal so the stub's default matches.
#[pyo3(signature = (body, signature, *, secret=None, tolerance=300))]
pub fn verify_events<'py>(
    py: Python<'py>,
    body: &Bound<'py, PyAny>,
    signature: Option<String>,
    secret: Option<Secret>,
    tolerance: i64,
) -> PyResult<Bound<'py, PyList>> {
    let body = payload(body).map_err(|e| {
        if e.is_instance_of::<PyTypeError>(py) {
            PyTypeError::new_err(format!("body must be bytes or str (the raw request body), not {}", body.get_type().name().map(|n| n.to_string()).unwrap_or_default()))
        } else {
            e
        }
    })?;
    // A request without the header is as unsigned as one with a wrong signature.
    let Some(signature) = signature else {
        return Err(errors::new(ErrorKind::Unauthorized, format!("the events request has no {SIGNATURE_HEADER} header: it is not from the server")));
    };
    let tolerance = u64::try_from(tolerance)
        .map_err(|_| errors::new(ErrorKind::InvalidConfig, format!("tolerance must be a number of seconds, 0 or more, not {tolerance}")))?;
    let secret = match secret {
        Some(secret) => secret.0,
        None => webhook::secret_from_env().py(py)?,
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let batch = guard(|| webhook::verify(&secret, &body, &signature, now, tolerance)).py(py)?;
    let class = module(py)?.getattr("Event")?;
    let from_ms = module(py)?.getattr("_from_ms")?;
    let events = batch
        .events
        .into_iter()
        .map(|e| {
            let info = answers::json(py, e.info.map(|i| i.to_string()))?;
            let message_id = e.message_id.map(|id| id.to_string());
            class.call1((e.id, e.name, e.channel, e.consumer, info, message_id, from_ms.call1((e.time_ms,))?))
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, events)
}
