//! The error type of every fallible step: its message is all the command prints.

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
