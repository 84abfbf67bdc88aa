//! A panic inside push-rs must not unwind into a host language: it would abort the process
//! (Python, Node) or raise an unrelated `fatal` (Ruby). Each binding's boundary catches it with
//! [`guard`] or [`guard_future`] and raises the `INTERNAL` error, with the same text everywhere.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::FutureExt;

use crate::error::{Error, ErrorKind, Result};

/// The message a panic was raised with.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// A caught panic as the `INTERNAL` error every binding raises.
pub fn panic_error(payload: Box<dyn Any + Send>) -> Error {
    Error::new(ErrorKind::Internal, format!("internal error in push-rs (please report it): {}", panic_message(&*payload)))
}

/// Runs `call`; a panic comes back as [`panic_error`] instead of unwinding.
pub fn guard<T>(call: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|panic| Err(panic_error(panic)))
}

/// [`guard`] for a future: a panic while polling it resolves to [`panic_error`].
pub fn guard_future<T>(future: impl Future<Output = Result<T>>) -> impl Future<Output = Result<T>> {
    AssertUnwindSafe(future).catch_unwind().map(|caught| caught.unwrap_or_else(|panic| Err(panic_error(panic))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_an_internal_error_naming_its_message() {
        let e = guard(|| -> Result<()> { panic!("boom {}", 1) }).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert_eq!(e.message(), "internal error in push-rs (please report it): boom 1");
        assert_eq!(guard(|| Ok(2)).unwrap(), 2);
    }

    #[tokio::test]
    async fn a_panicking_future_resolves_to_an_internal_error() {
        let panicking = async {
            if std::hint::black_box(true) {
                panic!("in a future");
            }
            Ok(())
        };
        let e = guard_future(panicking).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.message().ends_with(": in a future"), "{e}");
    }
}
