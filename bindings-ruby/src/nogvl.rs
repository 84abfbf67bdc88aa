//! Waiting for sdk-core (and the in-process server: [`blocking`]) with the GVL released.
//!
//! The publish (or server API call) runs as a task on the producer's tokio runtime; the calling
//! Ruby thread waits for it inside `rb_thread_call_without_gvl`, so other Ruby threads run
//! meanwhile. Ruby may need the thread back before the task ends (`Thread#raise`, `Thread#kill`,
//! `Timeout.timeout`, Ctrl-C): it then calls the unblocking function, which wakes the wait
//! without touching the task. Back under the GVL, Ruby handles its interrupt: if that raises, the
//! task is aborted and the exception propagates; if it does not (`Thread#wakeup`), the thread
//! waits again for the same task, so a publish is never sent twice.
//!
//! Nothing that runs without the GVL touches Ruby, and panics are caught before they reach Ruby.
//!
//! The unblocking function runs in an ordinary thread (Ruby's timer thread or the interrupting
//! one), never in a signal handler: `RB_NOGVL_UBF_ASYNC_SAFE` is not passed, so it may use a
//! `Notify`, which takes a lock.
//!
//! Signals need one more path. Ruby's signal handler only marks the main thread and writes a
//! pipe; some Ruby thread that sleeps or waits on IO must read that pipe and call the main
//! thread's unblocking function. Ruby 3.1 starts such a thread for a blocking region of a
//! process that has one thread, but when every thread of a multi-threaded process waits in a
//! blocking region like this one, no thread reads the pipe, and Ctrl-C would wait for the
//! publish's whole timeout. So the wait also looks at the thread's interrupt flag (which the
//! signal handler sets) every [`TICK`]: a lock-free read, as Ruby's own blocking regions do.

use std::ffi::c_void;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;
use std::time::Duration;

use magnus::{Error, Ruby};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::{JoinError, JoinHandle};

use push_core::binding::{guard, panic_error};

/// What one wait without the GVL came back with.
enum Outcome<T> {
    /// The task ended (or failed or panicked: see [`JoinError`]).
    Done(Result<T, JoinError>),
    /// Ruby woke the thread to handle an interrupt; the task is still running.
    Woken,
    /// The waiting itself panicked.
    Panicked(push_core::Error),
}

/// How long a pending interrupt that nobody delivers may wait for the waiting thread to see it.
const TICK: Duration = Duration::from_millis(50);

struct Wait<'a, T> {
    handle: &'a Handle,
    task: &'a mut JoinHandle<T>,
    wake: &'a Notify,
    /// The waiting Ruby thread (`Thread.current`), whose interrupt flag is watched.
    thread: rb_sys::VALUE,
    outcome: Option<Outcome<T>>,
}

/// Ends once `thread` has an interrupt pending (a signal for the main thread, `Thread#raise`,
/// ...), looking every [`TICK`].
async fn interrupt_pending(thread: rb_sys::VALUE) {
    loop {
        tokio::time::sleep(TICK).await;
        // SAFETY: `thread` is the calling thread's own Thread, alive while it waits; this reads
        // its interrupt flag, which Ruby's signal handler and other threads set atomically.
        if unsafe { rb_sys::rb_thread_interrupted(thread) } != 0 {
            return;
        }
    }
}

/// Runs without the GVL: waits for the task or for a wake-up from [`unblock`].
unsafe extern "C" fn wait_for_task<T>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Wait` that `run` passes in and keeps alive during this call.
    let wait = unsafe { &mut *(data as *mut Wait<'_, T>) };
    let (handle, task, wake, thread) = (wait.handle, &mut *wait.task, wait.wake, wait.thread);
    let result = catch_unwind(AssertUnwindSafe(|| {
        handle.block_on(async {
            tokio::select! {
                biased;
                done = task => Outcome::Done(done),
                _ = wake.notified() => Outcome::Woken,
                _ = interrupt_pending(thread) => Outcome::Woken,
            }
        })
    }));
    wait.outcome = Some(result.unwrap_or_else(|panic| Outcome::Panicked(panic_error(panic))));
    null_mut()
}

/// Ruby's unblocking function: called by the thread that interrupts ours (or, for a signal,
/// by the thread that handles it).
unsafe extern "C" fn unblock(data: *mut c_void) {
    // SAFETY: `data` is the `Notify` that `run` keeps alive during the blocking region.
    let wake = unsafe { &*(data as *const Notify) };
    // Stores a permit if the waiter has not started waiting yet, so no wake-up is lost.
    wake.notify_one();
}

/// Runs `future` on `handle`'s runtime and waits for its output with the GVL released.
///
/// Returns the Ruby exception of an interrupt (after aborting the task), or a
/// `Push::InternalError` if the task panicked or its runtime was shut down under it.
pub fn run<T, F>(ruby: &Ruby, handle: &Handle, future: F) -> Result<T, Error>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let mut task = handle.spawn(future);
    let wake = Notify::new();
    // SAFETY: called with the GVL held, as every method body is.
    let thread = unsafe { rb_sys::rb_thread_current() };
    loop {
        let mut wait = Wait {
            handle,
            task: &mut task,
            wake: &wake,
            thread,
            outcome: None,
        };
        let wait_ptr = &mut wait as *mut Wait<'_, T> as *mut c_void;
        let wake_ptr = &wake as *const Notify as *mut c_void;
        // After the blocking region Ruby checks for interrupts and may raise (longjmp) right out
        // of rb_thread_call_without_gvl; `protect` turns that into an `Err` here, so no Rust
        // frame is skipped. The closure owns nothing that needs dropping.
        let interrupted = magnus::rb_sys::protect(|| unsafe {
            rb_sys::rb_thread_call_without_gvl(
                Some(wait_for_task::<T>),
                wait_ptr,
                Some(unblock),
                wake_ptr,
            );
            rb_sys::Qnil as rb_sys::VALUE
        })
        .err();
        let outcome = wait.outcome.take();
        if let Some(exception) = interrupted {
            task.abort();
            return Err(exception);
        }
        match outcome {
            Some(Outcome::Done(Ok(value))) => return Ok(value),
            Some(Outcome::Done(Err(e))) if e.is_panic() => {
                return Err(crate::errors::to_ruby(ruby, &panic_error(e.into_panic())))
            }
            Some(Outcome::Done(Err(_))) => {
                return Err(crate::errors::new(
                    ruby,
                    push_core::ErrorKind::ConnectionFailed,
                    "the producer was closed while this call was in flight".to_owned(),
                ))
            }
            Some(Outcome::Panicked(e)) => {
                task.abort();
                return Err(crate::errors::to_ruby(ruby, &e));
            }
            // Woken without an exception to raise (Thread#wakeup, a trap handler that
            // returned): the publish goes on; wait for it again.
            Some(Outcome::Woken) | None => continue,
        }
    }
}

struct Call<F, T> {
    f: Option<F>,
    out: Option<push_core::Result<T>>,
}

/// Runs without the GVL: calls the closure once, catching a panic.
unsafe extern "C" fn call_once<F: FnOnce() -> push_core::Result<T>, T>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `blocking` passes in and keeps alive during this call.
    let call = unsafe { &mut *(data as *mut Call<F, T>) };
    if let Some(f) = call.f.take() {
        call.out = Some(guard(f));
    }
    null_mut()
}

/// Runs a blocking call that is not a future (starting or stopping the in-process server, the
/// command line) with the GVL released, so other Ruby threads run meanwhile. `f` must not touch
/// Ruby.
///
/// There is no unblocking function: these calls end on their own (start and stop take
/// milliseconds), so an interrupt (`Thread#raise`, Ctrl-C) is handled once `f` returns. If Ruby
/// raises then, `f`'s result is dropped (a started server is stopped by its `Drop`) and the
/// exception propagates. `f`'s error becomes the Ruby exception of its kind, and a panic in `f`
/// a `Push::InternalError`.
pub fn blocking<T, F: FnOnce() -> push_core::Result<T>>(ruby: &Ruby, what: &str, f: F) -> Result<T, Error> {
    let mut call = Call { f: Some(f), out: None };
    let data = &mut call as *mut Call<F, T> as *mut c_void;
    // Ruby may raise (longjmp) before or after the call when an interrupt is pending:
    // `protect` turns that into an `Err` here, so no Rust frame is skipped.
    let interrupted = magnus::rb_sys::protect(|| unsafe {
        rb_sys::rb_thread_call_without_gvl(Some(call_once::<F, T>), data, None, null_mut());
        rb_sys::Qnil as rb_sys::VALUE
    })
    .err();
    let out = call.out.take();
    if let Some(exception) = interrupted {
        drop(out);
        return Err(exception);
    }
    match out {
        Some(result) => result.map_err(|e| crate::errors::to_ruby(ruby, &e)),
        None => Err(crate::errors::new(
            ruby,
            push_core::ErrorKind::Internal,
            format!("{what} did not run"),
        )),
    }
}
