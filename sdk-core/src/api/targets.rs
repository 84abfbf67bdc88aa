//! What a publish goes to: one channel (`.to("/a")`) or several (`.to(["/a", "/b"])`), which
//! stores one message with one id on all of them.

use std::collections::HashSet;

use super::MAX_PUBLISH_CHANNELS;
use crate::{Channel, Error, ErrorKind, Result};

/// The channels of a publish: a name (`&str`, `String`, [`Channel`]) or a list of names (arrays,
/// slices and `Vec`s of them). See [`Publish::to`](crate::producer::Publish::to).
pub trait Targets {
    /// The names as given, in order (not yet checked).
    fn names(&self) -> Vec<&str>;

    /// The channels, checked: 1 to [`MAX_PUBLISH_CHANNELS`] after duplicates are dropped (the
    /// first of each kept, in order), each a valid name.
    fn channels(&self) -> Result<Vec<Channel>> {
        parse(self.names())
    }
}

fn parse(names: Vec<&str>) -> Result<Vec<Channel>> {
    if names.is_empty() {
        return Err(Error::new(ErrorKind::BadRequest, "a publish needs at least one channel"));
    }
    if let [one] = names[..] {
        return Ok(vec![Channel::parse(one)?]);
    }
    let mut seen = HashSet::with_capacity(names.len());
    let mut channels = Vec::with_capacity(names.len().min(MAX_PUBLISH_CHANNELS));
    for name in names {
        if seen.insert(name) {
            if channels.len() == MAX_PUBLISH_CHANNELS {
                return Err(Error::new(ErrorKind::BadRequest, format!("a publish goes to at most {MAX_PUBLISH_CHANNELS} channels")));
            }
            channels.push(Channel::parse(name)?);
        }
    }
    Ok(channels)
}

impl Targets for str {
    fn names(&self) -> Vec<&str> {
        vec![self]
    }
}

impl Targets for String {
    fn names(&self) -> Vec<&str> {
        vec![self.as_str()]
    }
}

impl Targets for Channel {
    fn names(&self) -> Vec<&str> {
        vec![self.as_str()]
    }
    fn channels(&self) -> Result<Vec<Channel>> {
        Ok(vec![self.clone()])
    }
}

impl<S: AsRef<str>> Targets for [S] {
    fn names(&self) -> Vec<&str> {
        self.iter().map(AsRef::as_ref).collect()
    }
}

impl<S: AsRef<str>, const N: usize> Targets for [S; N] {
    fn names(&self) -> Vec<&str> {
        self.iter().map(AsRef::as_ref).collect()
    }
}

impl<S: AsRef<str>> Targets for Vec<S> {
    fn names(&self) -> Vec<&str> {
        self.iter().map(AsRef::as_ref).collect()
    }
}

impl<T: Targets + ?Sized> Targets for &T {
    fn names(&self) -> Vec<&str> {
        (**self).names()
    }
    fn channels(&self) -> Result<Vec<Channel>> {
        (**self).channels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<T: Targets>(t: T) -> Vec<String> {
        t.channels().unwrap().iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn every_form_names_its_channels() {
        let owned = String::from("/s");
        let list = vec![String::from("/a"), String::from("/b")];
        assert_eq!(names("/a"), ["/a"]);
        assert_eq!(names(owned.clone()), ["/s"]);
        assert_eq!(names(&owned), ["/s"]);
        assert_eq!(names(["/a", "/b"]), ["/a", "/b"]);
        assert_eq!(names(&["/a", "/b"][..]), ["/a", "/b"]);
        assert_eq!(names(vec!["/a", "/b"]), ["/a", "/b"]);
        assert_eq!(names(&list[..]), ["/a", "/b"]);
        assert_eq!(names(&list), ["/a", "/b"]);
        assert_eq!(names(list), ["/a", "/b"]);
        assert_eq!(names(Channel::parse("/c").unwrap()), ["/c"]);
        assert_eq!(names(vec![Channel::parse("/c").unwrap()]), ["/c"]);
    }

    #[test]
    fn duplicates_go_and_order_stays() {
        assert_eq!(names(["/b", "/a", "/b", "/c", "/a"]), ["/b", "/a", "/c"]);
    }

    #[test]
    fn counts_and_names_are_checked() {
        let kind = |t: &dyn Fn() -> Result<Vec<Channel>>| t().unwrap_err().kind();
        assert_eq!(kind(&|| Vec::<&str>::new().channels()), ErrorKind::BadRequest);
        assert_eq!(kind(&|| ["/a", "bad"].channels()), ErrorKind::InvalidChannel);
        assert_eq!(kind(&|| "bad".channels()), ErrorKind::InvalidChannel);
        let many: Vec<String> = (0..=MAX_PUBLISH_CHANNELS).map(|i| format!("/c{i}")).collect();
        assert_eq!(kind(&|| many.channels()), ErrorKind::BadRequest);
        assert_eq!(many[..MAX_PUBLISH_CHANNELS].channels().unwrap().len(), MAX_PUBLISH_CHANNELS);
        // 101 names, 100 channels once duplicates are gone.
        let mut repeated = many[..MAX_PUBLISH_CHANNELS].to_vec();
        repeated.push("/c0".into());
        assert_eq!(repeated.channels().unwrap().len(), MAX_PUBLISH_CHANNELS);
    }
}
