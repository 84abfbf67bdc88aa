//! The server API's inputs, and the HTTP request each becomes. Everything the server would refuse
//! with a `400` that can be told without asking it is refused here, before any I/O.

use std::time::Duration;

use super::{MAX_BAN_SECS, MAX_CHANNELS_LIMIT, MAX_REASON_BYTES};
use crate::{Channel, Error, ErrorKind, MessageId, Result};

/// Which channels to list ([`Producer::channels`](crate::Producer::channels)): every channel with a
/// connection or with history, in name order, one page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelsQuery {
    /// Only names that start with it (`/rooms/`).
    pub prefix: Option<String>,
    /// Names after this one: the previous page's [`next`](super::ChannelPage::next).
    pub after: Option<String>,
    /// Channels per page, 1 to 1000 (server default 100).
    pub limit: Option<u32>,
}

impl ChannelsQuery {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }
    pub fn after(mut self, channel: impl Into<String>) -> Self {
        self.after = Some(channel.into());
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// Which part of a channel's history to read ([`Producer::history`](crate::Producer::history)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HistoryRange {
    /// Every message the answering node holds in memory for the channel (at most
    /// `--history-size`, within `--history-age`).
    #[default]
    All,
    /// The newest N (1 to the server's `--max-batch`) the node holds in memory, oldest first.
    Last(u32),
    /// Every message after the cursor `id`, read as a resuming subscriber's would be (from the
    /// data dir or RabbitMQ too, with gaps for what is gone), at most `limit` (default and cap:
    /// `--max-batch`). Page on with `After { id: history.last_id, .. }` while `history.more`.
    After { id: MessageId, limit: Option<u32> },
}

impl HistoryRange {
    /// `After { id, limit: None }`.
    pub fn after(id: MessageId) -> HistoryRange {
        HistoryRange::After { id, limit: None }
    }

    /// The range of the options every SDK's `history(last, after, limit)` takes, refused as the
    /// server refuses the same query: `last` and `after` together, or `limit` without `after`.
    pub fn from_options(last: Option<u32>, after: Option<MessageId>, limit: Option<u32>) -> Result<HistoryRange> {
        let bad = |m: &str| Err(Error::new(ErrorKind::BadRequest, m));
        match (last, after, limit) {
            (Some(_), Some(_), _) => bad("give last or after, not both"),
            (_, None, Some(_)) => bad("limit goes with after; last is itself a count"),
            (Some(n), None, None) => Ok(HistoryRange::Last(n)),
            (None, Some(id), limit) => Ok(HistoryRange::After { id, limit }),
            (None, None, None) => Ok(HistoryRange::All),
        }
    }
}

/// Ends a consumer's subscriptions on every node ([`Producer::disconnect`](crate::Producer::disconnect)):
/// `Disconnect::new("alice").channel("/rooms/1").reason("logged out").ban(Duration::from_secs(600))`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Disconnect {
    /// The consumer id the subscribers sent (`Consumer-Id`, `?consumer=`, or their token's).
    pub consumer: String,
    /// Only the connections that include this channel (default: all of the consumer's).
    pub channel: Option<String>,
    /// Shown to the client (at most 200 bytes).
    pub reason: Option<String>,
    /// Also refuse the consumer's new subscriptions (to `channel`, or any) for this long, at most
    /// a day; rounded up to whole seconds.
    pub ban: Option<Duration>,
}

impl Disconnect {
    pub fn new(consumer: impl Into<String>) -> Self {
        Disconnect { consumer: consumer.into(), channel: None, reason: None, ban: None }
    }
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    pub fn ban(mut self, ban: Duration) -> Self {
        self.ban = Some(ban);
        self
    }
}

/// One server API request: a path under the producer's base URL, its query and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// POST with `body` as JSON, else GET.
    pub body: Option<serde_json::Value>,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// What it asks, for error messages ("channel info of /a").
    pub what: String,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::BadRequest, message)
}

impl Call {
    pub fn channel_info(channel: &str) -> Result<Call> {
        let channel = Channel::parse(channel)?;
        Ok(Call { body: None, path: format!("/_push/api/channel{channel}"), query: Vec::new(), what: format!("channel info of {channel}") })
    }

    pub fn presence(channel: &str) -> Result<Call> {
        let channel = Channel::parse(channel)?;
        Ok(Call { body: None, path: format!("/_push/api/presence{channel}"), query: Vec::new(), what: format!("presence on {channel}") })
    }

    pub fn channels(query: &ChannelsQuery) -> Result<Call> {
        let mut pairs = Vec::new();
        if let Some(prefix) = query.prefix.as_deref().filter(|p| !p.is_empty()) {
            // A prefix no channel name can start with is a mistake, not an empty page.
            let name_chars = |b: u8| b.is_ascii_alphanumeric() || b"._~-:@/".contains(&b);
            if !prefix.starts_with('/') || prefix.len() > crate::channel::MAX_LEN || !prefix.bytes().all(name_chars) {
                return Err(bad(format!("prefix {prefix:?} cannot begin a channel name (a '/', then A-Z a-z 0-9 . _ ~ - : @ and '/')")));
            }
            pairs.push(("prefix", prefix.to_owned()));
        }
        if let Some(after) = &query.after {
            pairs.push(("after", Channel::parse(after)?.to_string()));
        }
        if let Some(limit) = query.limit {
            if !(1..=MAX_CHANNELS_LIMIT).contains(&limit) {
                return Err(bad(format!("limit is 1 to {MAX_CHANNELS_LIMIT} channels a page, not {limit}")));
            }
            pairs.push(("limit", limit.to_string()));
        }
        Ok(Call { body: None, path: "/_push/api/channels".into(), query: pairs, what: "the channel list".into() })
    }

    pub fn history(channel: &str, range: HistoryRange) -> Result<Call> {
        let channel = Channel::parse(channel)?;
        let query = match range {
            HistoryRange::All => Vec::new(),
            HistoryRange::Last(0) => return Err(bad("last is at least 1 message")),
            HistoryRange::Last(n) => vec![("last", n.to_string())],
            HistoryRange::After { limit: Some(0), .. } => return Err(bad("limit is at least 1 message")),
            HistoryRange::After { id, limit } => {
                let mut q = vec![("after", id.to_string())];
                q.extend(limit.map(|l| ("limit", l.to_string())));
                q
            }
        };
        Ok(Call { body: None, path: format!("/_push/api/history{channel}"), query, what: format!("history of {channel}") })
    }

    pub fn disconnect(request: &Disconnect) -> Result<Call> {
        let consumer = request.consumer.as_str();
        if consumer.is_empty() || consumer.chars().any(char::is_control) {
            return Err(bad("a consumer id is not empty and has no control characters"));
        }
        let mut body = serde_json::json!({ "consumer": consumer });
        if let Some(channel) = &request.channel {
            body["channel"] = Channel::parse(channel)?.as_str().into();
        }
        if let Some(reason) = &request.reason {
            if reason.len() > MAX_REASON_BYTES {
                return Err(bad(format!("a disconnect's reason is at most {MAX_REASON_BYTES} bytes, not {}", reason.len())));
            }
            body["reason"] = reason.as_str().into();
        }
        if let Some(ban) = request.ban {
            let secs = ban.as_secs() + u64::from(ban.subsec_nanos() > 0);
            if secs > MAX_BAN_SECS {
                return Err(bad(format!("a ban is at most {MAX_BAN_SECS} s (a day), not {secs} s")));
            }
            body["ban"] = secs.into();
        }
        Ok(Call { body: Some(body), path: "/_push/api/disconnect".into(), query: Vec::new(), what: format!("disconnect of {consumer:?}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(r: Result<Call>) -> ErrorKind {
        r.unwrap_err().kind()
    }

    #[test]
    fn history_options_are_read_as_the_server_reads_its_query() {
        let id = MessageId(5);
        assert_eq!(HistoryRange::from_options(None, None, None).unwrap(), HistoryRange::All);
        assert_eq!(HistoryRange::from_options(Some(3), None, None).unwrap(), HistoryRange::Last(3));
        assert_eq!(HistoryRange::from_options(None, Some(id), Some(2)).unwrap(), HistoryRange::After { id, limit: Some(2) });
        for (last, after, limit) in [(Some(1), Some(id), None), (Some(1), None, Some(2)), (None, None, Some(2))] {
            assert_eq!(HistoryRange::from_options(last, after, limit).unwrap_err().kind(), ErrorKind::BadRequest);
        }
    }

    #[test]
    fn channel_info_and_history_check_the_name() {
        assert_eq!(Call::channel_info("/rooms/1").unwrap().path, "/_push/api/channel/rooms/1");
        assert_eq!(kind(Call::channel_info("rooms")), ErrorKind::InvalidChannel);
        assert_eq!(kind(Call::channel_info("/_push/x")), ErrorKind::InvalidChannel);
        assert_eq!(kind(Call::history("/a//b", HistoryRange::All)), ErrorKind::InvalidChannel);
    }

    #[test]
    fn history_ranges_become_queries() {
        let q = |r| Call::history("/a", r).unwrap().query;
        assert_eq!(Call::history("/a", HistoryRange::default()).unwrap().path, "/_push/api/history/a");
        assert!(q(HistoryRange::All).is_empty());
        assert_eq!(q(HistoryRange::Last(10)), [("last", "10".to_owned())]);
        assert_eq!(q(HistoryRange::after(MessageId(7))), [("after", "7".to_owned())]);
        assert_eq!(q(HistoryRange::After { id: MessageId(7), limit: Some(2) }), [("after", "7".to_owned()), ("limit", "2".to_owned())]);
        assert_eq!(kind(Call::history("/a", HistoryRange::Last(0))), ErrorKind::BadRequest);
        assert_eq!(kind(Call::history("/a", HistoryRange::After { id: MessageId(1), limit: Some(0) })), ErrorKind::BadRequest);
    }

    #[test]
    fn listings_check_prefix_after_and_limit() {
        let call = Call::channels(&ChannelsQuery::new().prefix("/rooms/").after("/rooms/9").limit(1000)).unwrap();
        assert_eq!(call.query, [("prefix", "/rooms/".to_owned()), ("after", "/rooms/9".to_owned()), ("limit", "1000".to_owned())]);
        assert!(Call::channels(&ChannelsQuery::new()).unwrap().query.is_empty());
        assert!(Call::channels(&ChannelsQuery::new().prefix("")).unwrap().query.is_empty());
        for bad in ["rooms", "/a b", "/é"] {
            assert_eq!(kind(Call::channels(&ChannelsQuery::new().prefix(bad))), ErrorKind::BadRequest, "{bad}");
        }
        assert_eq!(kind(Call::channels(&ChannelsQuery::new().after("nope"))), ErrorKind::InvalidChannel);
        assert_eq!(kind(Call::channels(&ChannelsQuery::new().limit(0))), ErrorKind::BadRequest);
        assert_eq!(kind(Call::channels(&ChannelsQuery::new().limit(1001))), ErrorKind::BadRequest);
    }

    #[test]
    fn disconnects_check_their_fields() {
        let call = Call::disconnect(&Disconnect::new("alice").channel("/rooms/1").reason("logged out").ban(Duration::from_millis(600_500))).unwrap();
        assert_eq!(call.body.unwrap(), serde_json::json!({"consumer": "alice", "channel": "/rooms/1", "reason": "logged out", "ban": 601}));
        assert_eq!(Call::disconnect(&Disconnect::new("bob")).unwrap().body.unwrap(), serde_json::json!({"consumer": "bob"}));
        assert!(Call::disconnect(&Disconnect::new("a").ban(Duration::from_secs(86_400))).is_ok());
        assert_eq!(kind(Call::disconnect(&Disconnect::new("a").ban(Duration::from_secs(86_401)))), ErrorKind::BadRequest);
        assert_eq!(kind(Call::disconnect(&Disconnect::new(""))), ErrorKind::BadRequest);
        assert_eq!(kind(Call::disconnect(&Disconnect::new("a\nb"))), ErrorKind::BadRequest);
        assert_eq!(kind(Call::disconnect(&Disconnect::new("a").reason("x".repeat(201)))), ErrorKind::BadRequest);
        assert!(Call::disconnect(&Disconnect::new("a").reason("x".repeat(200))).is_ok());
        assert_eq!(kind(Call::disconnect(&Disconnect::new("a").channel("bad"))), ErrorKind::InvalidChannel);
    }
}
