//! The in-process server as a language object holds it (`Push::Server`, `push.Server`, Node's
//! `Server`): shared by the host's threads, started and stopped by them, and dropped by a garbage
//! collector. The rules are the same in every language, so they live here and each binding only
//! converts arguments and errors.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, TryLockError};

use push_core::Error;

use super::Server;
use crate::config::Config;

/// A server that can be started, stopped and started again with one configuration.
///
/// The lock on the running server is held for a whole start or stop, so a second caller waits
/// for the first to finish; [`is_running`](Hosted::is_running) never waits (a host thread may
/// hold its GVL or GIL while asking) and says `false` while a start or stop is under way.
pub struct Hosted {
    config: Config,
    running: Mutex<Option<Running>>,
    /// The last address served on, kept after stop (the port stays readable).
    addr: Mutex<Option<SocketAddr>>,
}

struct Running {
    server: Server,
    /// A forked child (Ruby and Python servers fork) inherits this object but not the server's
    /// threads: only the process that started it may stop and join them.
    pid: u32,
}

impl Running {
    fn ours(&self) -> bool {
        self.pid == std::process::id()
    }

    fn stop(self) {
        if self.ours() {
            let mut server = self.server;
            server.stop();
        } else {
            // Joining threads that do not exist in this process would hang forever.
            std::mem::forget(self.server);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hosted {
    /// Not started yet: see [`start`](Hosted::start).
    pub fn new(config: Config) -> Hosted {
        Hosted { config, running: Mutex::new(None), addr: Mutex::new(None) }
    }

    /// Binds and serves; returns once it accepts connections. Does nothing if it already serves
    /// in this process. Blocks: call it off the host's event loop and without its global lock.
    pub fn start(&self) -> Result<(), Error> {
        let mut running = lock(&self.running);
        if running.as_ref().is_some_and(|r| r.ours() && r.server.is_running()) {
            return Ok(());
        }
        if let Some(old) = running.take() {
            old.stop();
        }
        let server = Server::start(self.config.clone())?;
        *lock(&self.addr) = Some(server.local_addr());
        *running = Some(Running { server, pid: std::process::id() });
        Ok(())
    }

    /// Stops gracefully and returns when the server's threads are gone; idempotent. Blocks, as
    /// [`start`](Hosted::start) does.
    pub fn stop(&self) {
        if let Some(running) = lock(&self.running).take() {
            running.stop();
        }
    }

    /// True while it serves in this process; false before start, after stop, while starting or
    /// stopping, and in a forked child.
    pub fn is_running(&self) -> bool {
        let running = match self.running.try_lock() {
            Ok(running) => running,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        running.as_ref().is_some_and(|r| r.ours() && r.server.is_running())
    }

    /// The address it serves (or last served) on; `None` before the first start.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        *lock(&self.addr)
    }

    /// `http://host:port` (`https://` with --tls-cert) of [`local_addr`](Hosted::local_addr).
    pub fn url(&self) -> Option<String> {
        self.local_addr().map(|addr| super::url(self.config.tls_cert.is_some(), addr))
    }
}

impl Drop for Hosted {
    /// Collected while running: stopped on a thread of its own, since a finalizer must not block
    /// the host (Ruby's GC, Python's with the GIL held, Node's JavaScript thread).
    fn drop(&mut self) {
        let Some(running) = self.running.get_mut().unwrap_or_else(|p| p.into_inner()).take() else { return };
        if running.ours() {
            let _ = std::thread::Builder::new().name("push-server-stop".into()).spawn(move || running.stop());
        } else {
            running.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_again_after_stop_and_keeps_the_last_address() {
        let hosted = Hosted::new(super::super::config_from_options(Vec::new()).unwrap());
        assert!(!hosted.is_running());
        assert_eq!(hosted.url(), None);
        hosted.start().unwrap();
        hosted.start().unwrap(); // already serving: nothing to do
        assert!(hosted.is_running());
        let first = hosted.local_addr().unwrap();
        assert_eq!(hosted.url().unwrap(), format!("http://{first}"));
        hosted.stop();
        hosted.stop();
        assert!(!hosted.is_running());
        assert_eq!(hosted.local_addr(), Some(first));
        hosted.start().unwrap();
        assert!(hosted.is_running());
        drop(hosted); // stops on a thread of its own
    }
}
