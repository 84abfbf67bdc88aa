//! Runs an sdk-core future on the producer's tokio runtime and completes an asyncio future
//! with its result, so `await publish.to_async(channel)` (and the server API's `_async` calls)
//! never blocks the event loop.
//!
//! The asyncio future is made on the running loop; the tokio task resolves it through
//! `loop.call_soon_threadsafe`, the one thread-safe way into a loop. Cancelling the asyncio
//! future aborts the task; a task dropped unfinished (the producer was closed) fails the
//! future instead of leaving it pending forever.
//!
//! Interpreter exit: CPython ends (pthread_exit) any thread that waits for the GIL once
//! finalization has begun, and that forced unwind through Rust frames aborts the process. So an
//! atexit hook ([`before_exit`]) closes the gate into Python for the runtime's threads and waits
//! for those already inside; results that arrive later are dropped with the interpreter.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyCFunction;
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use push_core::binding::guard_future;
use push_core::{Error, ErrorKind};

use crate::answers::ToPython;
use crate::errors;

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static RESOLVE: PyOnceLock<Py<PyCFunction>> = PyOnceLock::new();

/// Spawns `work` on `handle` and returns an asyncio future for its result, made a Python object
/// ([`ToPython`]) with the GIL once it is ready.
///
/// `keepalive` (the Python producer) is held until the result is on the loop, and released
/// there: the last reference to a producer must not drop on its own runtime's threads.
pub fn spawn<'py, T, F>(py: Python<'py>, handle: &Handle, keepalive: Py<PyAny>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    T: ToPython,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    let event_loop = GET_RUNNING_LOOP.import(py, "asyncio", "get_running_loop")?.call0()?;
    let future = event_loop.call_method0("create_future")?;
    let mut completion = Completion::<T> {
        parts: Some(Parts { event_loop: event_loop.unbind(), future: future.clone().unbind(), keepalive }),
        answer: std::marker::PhantomData,
    };
    let work = guard_future(work);
    let task = handle.spawn(async move {
        let result = work.await;
        completion.finish(result);
    });
    future.call_method1("add_done_callback", (Canceller { task: task.abort_handle() },))?;
    Ok(future)
}

struct Parts {
    event_loop: Py<PyAny>,
    future: Py<PyAny>,
    keepalive: Py<PyAny>,
}

/// Owns the way back to the loop; completes the future exactly once, even if dropped.
struct Completion<T: ToPython> {
    parts: Option<Parts>,
    answer: std::marker::PhantomData<fn(T)>,
}

impl<T: ToPython> Completion<T> {
    fn finish(&mut self, result: Result<T, Error>) {
        let Some(parts) = self.parts.take() else { return };
        let Some(_entry) = PythonEntry::enter() else {
            // The interpreter is exiting: touching these objects now could abort the process.
            std::mem::forget(parts);
            return;
        };
        let Parts { event_loop, future, keepalive } = parts;
        Python::attach(|py| {
            let (value, exception) = match result.map_err(|e| errors::to_py(py, &e)).and_then(|answer| answer.to_python(py)) {
                Ok(value) => (Some(value), None),
                Err(e) => (None, Some(e.into_value(py))),
            };
            let scheduled = RESOLVE
                .get_or_try_init(py, || PyCFunction::new_closure(py, None, None, resolve).map(Bound::unbind))
                .and_then(|resolve| {
                    event_loop.call_method1(py, "call_soon_threadsafe", (resolve, future, value, exception, keepalive.clone_ref(py)))
                });
            if scheduled.is_ok() {
                drop(keepalive);
            } else {
                // The loop is closed: nobody awaits the result any more. Dropping the last
                // reference to the producer here would stop its runtime from one of its own
                // threads, so this rare leftover is leaked instead.
                std::mem::forget(keepalive);
            }
        });
    }
}

impl<T: ToPython> Drop for Completion<T> {
    fn drop(&mut self) {
        if self.parts.is_some() {
            self.finish(Err(Error::new(
                ErrorKind::ConnectionFailed,
                "the producer was closed before this call finished",
            )));
        }
    }
}

static EXITING: AtomicBool = AtomicBool::new(false);
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// A runtime thread's pass into Python; refused once the interpreter is exiting.
struct PythonEntry;

impl PythonEntry {
    fn enter() -> Option<PythonEntry> {
        IN_PYTHON.fetch_add(1, SeqCst);
        if EXITING.load(SeqCst) {
            IN_PYTHON.fetch_sub(1, SeqCst);
            return None;
        }
        Some(PythonEntry)
    }
}

impl Drop for PythonEntry {
    fn drop(&mut self) {
        IN_PYTHON.fetch_sub(1, SeqCst);
    }
}

/// Registered with `atexit` by the module: runs before finalization, while threads may still
/// take the GIL. Closes the gate, then lets the threads inside finish (bounded wait).
#[pyfunction]
pub fn before_exit(py: Python<'_>) {
    EXITING.store(true, SeqCst);
    py.detach(|| {
        let deadline = Instant::now() + Duration::from_secs(2);
        while IN_PYTHON.load(SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Runs on the loop: `resolve(future, value, exception, keepalive)`.
fn resolve(args: &Bound<'_, pyo3::types::PyTuple>, _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>) -> PyResult<()> {
    let future = args.get_item(0)?;
    // A cancelled future is already done: its result is dropped.
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    let exception = args.get_item(2)?;
    if exception.is_none() {
        future.call_method1("set_result", (args.get_item(1)?,))?;
    } else {
        future.call_method1("set_exception", (exception,))?;
    }
    Ok(())
}

/// The asyncio future's done-callback: stops the tokio task when the future was cancelled.
#[pyclass(frozen)]
struct Canceller {
    task: AbortHandle,
}

#[pymethods]
impl Canceller {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}
