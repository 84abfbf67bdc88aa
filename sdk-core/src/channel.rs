//! Channel names: the only place they are parsed and validated.
//!
//! A channel is a URL path: `/` followed by one or more segments separated by `/`. A segment is
//! made of `A-Z a-z 0-9 . _ ~ - : @`, is never empty and never `.` or `..`. The whole name is at
//! most [`MAX_LEN`] bytes. Names under `/_push` are reserved for the server's own endpoints.

use std::fmt;
use std::str::FromStr;

/// Longest channel name accepted, in bytes.
pub const MAX_LEN: usize = 256;
/// Prefix reserved for the server's endpoints.
pub const RESERVED_PREFIX: &str = "/_push";

/// A validated channel name such as `/greetings` or `/rooms/42`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Channel(Box<str>);

/// What is wrong with a channel name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error("channel name is empty; use a path such as /greetings")]
    Empty,
    #[error("channel name {0:?} must start with '/'")]
    MissingSlash(String),
    #[error("channel name is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("channel name {0:?} has an empty segment (a '//' or a trailing '/')")]
    EmptySegment(String),
    #[error("channel name {0:?} has a '.' or '..' segment")]
    DotSegment(String),
    #[error("channel name {name:?} has the character {ch:?} at byte {at}; allowed are A-Z a-z 0-9 . _ ~ - : @ and '/' between segments")]
    InvalidChar { name: String, ch: char, at: usize },
    #[error("channel name {0:?} is reserved: names under /_push belong to the server")]
    Reserved(String),
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-' | b':' | b'@')
}

impl Channel {
    /// Parses and validates a channel name.
    pub fn parse(name: &str) -> Result<Channel, ChannelError> {
        if name.is_empty() {
            return Err(ChannelError::Empty);
        }
        if name.len() > MAX_LEN {
            return Err(ChannelError::TooLong { len: name.len(), max: MAX_LEN });
        }
        let Some(rest) = name.strip_prefix('/') else {
            return Err(ChannelError::MissingSlash(name.to_owned()));
        };
        let mut at = 1;
        for segment in rest.split('/') {
            if segment.is_empty() {
                return Err(ChannelError::EmptySegment(name.to_owned()));
            }
            if segment == "." || segment == ".." {
                return Err(ChannelError::DotSegment(name.to_owned()));
            }
            if let Some(i) = segment.bytes().position(|b| !allowed(b)) {
                let ch = name[at + i..].chars().next().unwrap_or('?');
                return Err(ChannelError::InvalidChar { name: name.to_owned(), ch, at: at + i });
            }
            at += segment.len() + 1;
        }
        if name == RESERVED_PREFIX || name.starts_with("/_push/") {
            return Err(ChannelError::Reserved(name.to_owned()));
        }
        Ok(Channel(name.into()))
    }

    /// Channels written as one text, separated by commas (a name never holds one), as the logs
    /// store a message's channels.
    pub fn join<'a>(channels: impl IntoIterator<Item = &'a Channel>) -> String {
        channels.into_iter().map(Channel::as_str).collect::<Vec<_>>().join(",")
    }

    /// The channels of a [`join`](Self::join)ed text: at least one, each valid.
    pub fn parse_list(text: &str) -> Result<Vec<Channel>, ChannelError> {
        text.split(',').map(Channel::parse).collect()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Channel {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::parse(s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Channel({})", self.0)
    }
}

impl AsRef<str> for Channel {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Channel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Channel {
    // Checked like any name: a document cannot smuggle in an invalid one.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Channel::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_names() {
        for name in ["/greetings", "/rooms/42", "/a.b_c~d-e:f@g", "/x/y/z", "/_pushy", "/..."] {
            assert_eq!(Channel::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(Channel::parse(""), Err(ChannelError::Empty));
        assert!(matches!(Channel::parse("greetings"), Err(ChannelError::MissingSlash(_))));
        assert!(matches!(Channel::parse("/"), Err(ChannelError::EmptySegment(_))));
        assert!(matches!(Channel::parse("/a//b"), Err(ChannelError::EmptySegment(_))));
        assert!(matches!(Channel::parse("/a/"), Err(ChannelError::EmptySegment(_))));
        assert!(matches!(Channel::parse("/a/../b"), Err(ChannelError::DotSegment(_))));
        assert!(matches!(Channel::parse("/."), Err(ChannelError::DotSegment(_))));
        assert!(matches!(Channel::parse("/_push"), Err(ChannelError::Reserved(_))));
        assert!(matches!(Channel::parse("/_push/health"), Err(ChannelError::Reserved(_))));
        assert_eq!(
            Channel::parse("/a b"),
            Err(ChannelError::InvalidChar { name: "/a b".into(), ch: ' ', at: 2 })
        );
        assert_eq!(
            Channel::parse("/ok/é"),
            Err(ChannelError::InvalidChar { name: "/ok/é".into(), ch: 'é', at: 4 })
        );
        let long = format!("/{}", "a".repeat(MAX_LEN));
        assert!(matches!(Channel::parse(&long), Err(ChannelError::TooLong { .. })));
    }

    proptest! {
        #[test]
        fn valid_names_round_trip(segments in prop::collection::vec("[A-Za-z0-9._~:@-]{1,12}", 1..8)) {
            let name = format!("/{}", segments.join("/"));
            let dots = segments.iter().any(|s| s == "." || s == "..");
            let reserved = segments[0] == "_push";
            match Channel::parse(&name) {
                Ok(c) => { prop_assert!(!dots && !reserved); prop_assert_eq!(c.as_str(), name.as_str()); }
                Err(ChannelError::DotSegment(_)) => prop_assert!(dots),
                Err(ChannelError::Reserved(_)) => prop_assert!(reserved),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }

        #[test]
        fn never_panics_and_accepted_names_are_clean(name in "\\PC{0,300}") {
            if let Ok(c) = Channel::parse(&name) {
                prop_assert!(c.as_str().starts_with('/'));
                prop_assert!(c.as_str().len() <= MAX_LEN);
                prop_assert!(!c.as_str().contains("//"));
                prop_assert!(c.as_str().bytes().all(|b| b == b'/' || allowed(b)));
            }
        }
    }
}
