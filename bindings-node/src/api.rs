//! The server API (`/_push/api/...`, docs/PROTOCOL.md "Server API") for `NativeProducer`: the
//! requests as `index.js` passes them, turned into sdk-core's (`push_core::api`), and sdk-core's
//! answers as plain objects. The values are checked here and by sdk-core, before any I/O;
//! `index.js` has checked the JavaScript types and turns times (ms) into `Date`s.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use push_core::api::{ChannelInfo, ChannelPage, ChannelsQuery, Disconnect, Disconnected, History, HistoryRange, Presence};
use push_core::{Error, ErrorKind, MessageId};

/// `channels({ prefix, after, limit })`.
#[napi(object, object_to_js = false)]
pub struct ChannelsRequest {
    pub prefix: Option<String>,
    pub after: Option<String>,
    pub limit: Option<f64>,
}

/// `channel(name).history({ last })` or `({ after, limit })`; neither is the whole history.
#[napi(object, object_to_js = false)]
pub struct HistoryRequest {
    pub last: Option<f64>,
    /// A message id, as a decimal string.
    pub after: Option<String>,
    pub limit: Option<f64>,
}

/// `disconnect({ consumer, channel, reason, ban })`, `ban` in seconds.
#[napi(object, object_to_js = false)]
pub struct DisconnectRequest {
    pub consumer: String,
    pub channel: Option<String>,
    pub reason: Option<String>,
    pub ban: Option<f64>,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeChannelInfo {
    pub channel: String,
    pub connections: f64,
    pub consumers: f64,
    pub last_id: Option<String>,
    pub history: f64,
    pub nodes: u32,
    /// ms since the Unix epoch.
    pub as_of: f64,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeMember {
    pub consumer: String,
    /// The token's info as JSON text (`index.js` parses it), `null` without one.
    pub info: Option<String>,
}

#[napi(object, object_from_js = false)]
pub struct NativePresence {
    pub channel: String,
    pub members: Vec<NativeMember>,
    pub count: f64,
    pub nodes: u32,
    /// ms since the Unix epoch.
    pub as_of: f64,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeChannelPage {
    pub channels: Vec<NativeChannelInfo>,
    pub next: Option<String>,
    pub nodes: u32,
    pub as_of: f64,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeHistoryMessage {
    pub id: String,
    pub channel: String,
    pub channels: Vec<String>,
    pub data: Buffer,
    /// The payload as text when it is UTF-8.
    pub text: Option<String>,
    pub content_type: String,
    pub event: Option<String>,
    /// ms since the Unix epoch.
    pub time: f64,
}

#[napi(object, object_from_js = false)]
pub struct NativeGap {
    pub channel: String,
    pub from: String,
    pub to: String,
}

#[napi(object, object_from_js = false)]
pub struct NativeHistory {
    pub messages: Vec<NativeHistoryMessage>,
    pub gaps: Vec<NativeGap>,
    pub last_id: String,
    pub more: bool,
}

#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NativeDisconnected {
    pub consumer: String,
    pub channel: Option<String>,
    pub disconnected: f64,
    /// ms since the Unix epoch.
    pub ban_until: Option<f64>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::BadRequest, message)
}

/// A JavaScript number as a count: whole, 0 or more (sdk-core checks the range).
fn count(name: &str, value: f64) -> push_core::Result<u32> {
    if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(bad(format!("{name} must be a whole number, got {value}")))
    }
}

impl ChannelsRequest {
    pub fn query(self) -> push_core::Result<ChannelsQuery> {
        let mut query = ChannelsQuery::new();
        query.prefix = self.prefix;
        query.after = self.after;
        query.limit = self.limit.map(|l| count("limit", l)).transpose()?;
        Ok(query)
    }
}

impl HistoryRequest {
    /// The range, refused as the server would refuse its query (both, or a limit without after).
    pub fn range(request: Option<HistoryRequest>) -> push_core::Result<HistoryRange> {
        let Some(HistoryRequest { last, after, limit }) = request else { return Ok(HistoryRange::All) };
        let after = after
            .map(|a| a.parse::<MessageId>().map_err(|e: push_core::message::ParseIdError| Error::new(ErrorKind::InvalidCursor, e.to_string())))
            .transpose()?;
        HistoryRange::from_options(last.map(|n| count("last", n)).transpose()?, after, limit.map(|l| count("limit", l)).transpose()?)
    }
}

impl DisconnectRequest {
    pub fn disconnect(self) -> push_core::Result<Disconnect> {
        let mut request = Disconnect::new(self.consumer);
        request.channel = self.channel;
        request.reason = self.reason;
        if let Some(seconds) = self.ban {
            // sdk-core caps it at a day; here only what is no duration at all.
            let ban = std::time::Duration::try_from_secs_f64(seconds).map_err(|_| bad(format!("ban is a number of seconds, 0 or more, got {seconds}")))?;
            request.ban = Some(ban);
        }
        Ok(request)
    }
}

impl From<ChannelInfo> for NativeChannelInfo {
    fn from(info: ChannelInfo) -> Self {
        NativeChannelInfo {
            channel: info.channel,
            connections: info.connections as f64,
            consumers: info.consumers as f64,
            last_id: info.last_id.map(|id| id.to_string()),
            history: info.history as f64,
            nodes: info.nodes,
            as_of: info.as_of as f64,
        }
    }
}

impl From<Presence> for NativePresence {
    fn from(p: Presence) -> Self {
        let members = p.members.into_iter().map(|m| NativeMember { consumer: m.consumer, info: m.info.map(|i| i.to_string()) }).collect();
        NativePresence { channel: p.channel, members, count: p.count as f64, nodes: p.nodes, as_of: p.as_of as f64 }
    }
}

impl From<ChannelPage> for NativeChannelPage {
    fn from(page: ChannelPage) -> Self {
        NativeChannelPage { channels: page.channels.into_iter().map(Into::into).collect(), next: page.next, nodes: page.nodes, as_of: page.as_of as f64 }
    }
}

impl From<History> for NativeHistory {
    fn from(history: History) -> Self {
        let messages = history
            .messages
            .into_iter()
            .map(|m| NativeHistoryMessage {
                id: m.id.to_string(),
                text: m.text().map(str::to_owned),
                data: Buffer::from(m.data.to_vec()),
                channel: m.channel,
                channels: m.channels,
                content_type: m.content_type,
                event: m.event,
                time: m.time as f64,
            })
            .collect();
        let gaps = history.gaps.into_iter().map(|g| NativeGap { channel: g.channel, from: g.from.to_string(), to: g.to.to_string() }).collect();
        NativeHistory { messages, gaps, last_id: history.last_id.to_string(), more: history.more }
    }
}

impl From<Disconnected> for NativeDisconnected {
    fn from(d: Disconnected) -> Self {
        NativeDisconnected { consumer: d.consumer, channel: d.channel, disconnected: d.disconnected as f64, ban_until: d.ban_until.map(|ms| ms as f64) }
    }
}
