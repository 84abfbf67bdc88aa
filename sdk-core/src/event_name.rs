//! Event names: what a message is called on a Server-Sent Events stream (`event: <name>`), so a
//! page listens for one kind of message (htmx's `sse-swap="chat"`, `addEventListener("chat")`).
//!
//! A message without one is an SSE `message` event, as before. The name travels with the
//! message: the `Push-Event` header of a publish, the `push-event` header on the RabbitMQ stream,
//! the data dir's entry, and `"event"` in JSON frames and history.

use crate::{Error, ErrorKind, Result};

/// The HTTP request header that names a publish's event.
pub const HEADER: &str = "Push-Event";
/// Longest name accepted, in bytes.
pub const MAX_LEN: usize = 64;
/// Names the server itself sends on an SSE stream (and `EventSource`'s own `open` and `error`):
/// a message may not take them, or a page could not tell the two apart.
pub const RESERVED: &[&str] = &["gap", "binary", "disconnect", "expired", "presence", "join", "leave", "open", "error"];

/// Checks a publisher's event name and gives what is stored: `None` for no name or `message`
/// (the default SSE event), else the name. A name is 1 to 64 of `A-Z a-z 0-9 - _ . :` and
/// not one of [`RESERVED`].
pub fn parse(name: Option<&str>) -> Result<Option<String>> {
    match name {
        None | Some("message") => Ok(None),
        Some(name) => {
            let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':');
            if name.is_empty() || name.len() > MAX_LEN || !name.bytes().all(allowed) {
                return Err(Error::new(
                    ErrorKind::BadRequest,
                    format!("{name:?} is not an event name: use 1 to {MAX_LEN} of the characters A-Z a-z 0-9 - _ . :"),
                ));
            }
            if RESERVED.contains(&name) {
                return Err(Error::new(
                    ErrorKind::BadRequest,
                    format!("the event name {name:?} is the server's own (reserved: {}); pick another", RESERVED.join(", ")),
                ));
            }
            Ok(Some(name.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("message")).unwrap(), None);
        assert_eq!(parse(Some("chat:new-message_2.x")).unwrap().as_deref(), Some("chat:new-message_2.x"));
        for bad in ["", "a b", "a\nb", "é", "gap", "error", &"x".repeat(65)] {
            let e = parse(Some(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{bad:?}");
        }
        assert!(parse(Some("gap")).unwrap_err().to_string().contains("reserved"));
    }
}
