//! A blocking call that Ctrl-C can interrupt.
//!
//! CPython's C signal handler only sets a flag; the `KeyboardInterrupt` is raised when the main
//! thread next runs Python code or calls `PyErr_CheckSignals`. A thread detached from the
//! interpreter and parked in tokio never does, so a publish waiting on a silent server would
//! hold Ctrl-C back for its whole timeout. Here the work runs as a task on the producer's
//! runtime, and the caller waits for it in slices of [`TICK`], checking for signals between
//! two slices (on threads other than the main one, that check does nothing). A publish that
//! answers within a slice never wakes the caller early: the common case costs nothing.

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Handle;

use push_core::binding::guard_future;
use push_core::{Error, ErrorKind};

use crate::errors::IntoPyResult;

/// How long a signal may wait for a blocked caller to notice it.
const TICK: Duration = Duration::from_millis(50);

/// Runs `work` on `handle`'s runtime and waits for it detached from the interpreter. A signal
/// handler that raises (Ctrl-C: `KeyboardInterrupt`) aborts the task and propagates.
pub fn interruptible<T, F>(py: Python<'_>, handle: &Handle, work: F) -> PyResult<T>
where
    F: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let mut task = handle.spawn(guard_future(work));
    loop {
        let slice = py.detach(|| handle.block_on(async { tokio::time::timeout(TICK, &mut task).await }));
        match slice {
            Ok(Ok(result)) => return result.py(py),
            // Cancelled: the runtime was shut down under it (`close()` from another thread).
            Ok(Err(_)) => {
                return Err(Error::new(ErrorKind::ConnectionFailed, "the producer was closed while this call was in flight")).py(py)
            }
            Err(_elapsed) => {
                if let Err(interrupt) = py.check_signals() {
                    task.abort();
                    return Err(interrupt);
                }
            }
        }
    }
}
