//! The open-files limit: 10k subscribers need 10k sockets.

/// Soft RLIMIT_NOFILE up to the hard limit (20,000 here).
pub fn raise() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

/// The soft limit in force.
pub fn current() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft)
}
