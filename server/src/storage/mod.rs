//! On-disk storage for the embedded broker (`--data-dir`).

pub mod log;
pub mod record;
