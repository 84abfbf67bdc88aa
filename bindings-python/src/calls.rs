//! One call of sdk-core's producer from Python: blocking (the GIL released, Ctrl-C interrupts,
//! [`wait::interruptible`]) or as an asyncio future ([`future::spawn`]), its answer made a
//! Python object ([`ToPython`]).

use std::future::Future;

use pyo3::prelude::*;

use push_core::binding::guard;
use push_core::producer::BlockingProducer;
use push_core::Error;

use crate::answers::ToPython;
use crate::errors::IntoPyResult;
use crate::{future, wait};

/// Runs one call of the producer's, blocking this thread only, and converts its answer.
pub fn blocking<T, Fut>(py: Python<'_>, producer: &BlockingProducer, call: impl FnOnce(push_core::Producer) -> Fut) -> PyResult<Py<PyAny>>
where
    T: ToPython,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (handle, inner) = guard(|| producer.async_parts()).py(py)?;
    wait::interruptible(py, &handle, call(inner))?.to_python(py)
}

/// Runs one call of the producer's on its runtime; returns an asyncio future of its answer.
/// `keepalive` (the Python producer) is held until the answer is on the loop.
pub fn spawn<'py, T, Fut>(py: Python<'py>, producer: &BlockingProducer, keepalive: Py<PyAny>, call: impl FnOnce(push_core::Producer) -> Fut) -> PyResult<Bound<'py, PyAny>>
where
    T: ToPython,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
{
    let (handle, inner) = guard(|| producer.async_parts()).py(py)?;
    future::spawn(py, &handle, keepalive, call(inner))
}
