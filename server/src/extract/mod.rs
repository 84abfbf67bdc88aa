//! What a request says, read once: channels, cursor, consumer id.

pub mod channels;
pub mod consumer;
pub mod cursor;
pub mod params;
