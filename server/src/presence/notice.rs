//! What presence tells: `presence`, `join` and `leave` frames to the subscribers that asked
//! (`?presence=1`), and the events of the same changes for the app.

use std::sync::Arc;

use futures_util::future::select_all;
use push_core::Channel;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{Info, Members, Presence, Transition};
use crate::events::Events;

/// A join or leave as its JSON frame, made once for every listener.
#[derive(Debug, Clone)]
pub struct Notice(pub Arc<str>);

fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialize")
}

impl Notice {
    pub fn new(joined: bool, channel: &Channel, consumer: &str, info: &Info) -> Notice {
        let kind = if joined { "join" } else { "leave" };
        let mut json = format!(r#"{{"type":"{kind}","channel":{},"consumer":{}"#, quoted(channel.as_str()), quoted(consumer));
        if let Some(info) = info {
            // Checked to be a compact JSON object when its token was.
            json.push_str(r#","info":"#);
            json.push_str(info);
        }
        json.push('}');
        Notice(Arc::from(json))
    }

    /// `join` or `leave`: the SSE event name.
    pub fn kind(&self) -> &'static str {
        if self.0.starts_with(r#"{"type":"join""#) {
            "join"
        } else {
            "leave"
        }
    }
}

/// The `presence` frame: a channel's members.
pub fn list_json(channel: &Channel, members: &Members) -> String {
    members_json(r#"{"type":"presence","channel":"#, channel, members, "}")
}

/// A channel's members as the HTTP answer (`GET /_push/api/presence/...`, `/_push/presence/...`):
/// counted over `nodes` nodes as of `as_of` (ms).
pub fn answer_json(channel: &Channel, members: &Members, nodes: u32, as_of: u64) -> String {
    members_json(r#"{"channel":"#, channel, members, &format!(r#","nodes":{nodes},"as_of":{as_of}}}"#))
}

fn members_json(head: &str, channel: &Channel, members: &Members, tail: &str) -> String {
    let mut json = format!(r#"{head}{},"count":{},"members":["#, quoted(channel.as_str()), members.count);
    for (i, (consumer, info)) in members.members.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(r#"{{"consumer":{}"#, quoted(consumer)));
        if let Some(info) = info {
            json.push_str(r#","info":"#);
            json.push_str(info);
        }
        json.push('}');
    }
    json.push(']');
    json.push_str(tail);
    json
}

/// A connection's presence notices, if it asked for them: one word on a connection that did
/// not (most of them).
pub struct Notices(pub(super) Option<Box<Listener>>);

impl Notices {
    /// Whether the connection listens to any presence channel.
    pub fn is_listening(&self) -> bool {
        self.0.is_some()
    }

    /// The next frame to send, as [`Listener::next`]; pending forever without a listener.
    pub async fn next(&mut self) -> (&'static str, Arc<str>) {
        match &mut self.0 {
            // Boxed: the plain connections' streams do not carry a listener's future inline.
            Some(listener) => Box::pin(listener.next()).await,
            None => std::future::pending().await,
        }
    }
}

/// A connection's view of its presence channels: their lists first, then each join and leave.
pub struct Listener {
    presence: Arc<Presence>,
    rooms: Vec<(Channel, broadcast::Receiver<Notice>)>,
    /// Frames to send before any notice (`presence` lists).
    pending: Vec<(&'static str, Arc<str>)>,
}

impl Listener {
    pub(super) fn new(presence: Arc<Presence>, rooms: Vec<(Channel, Members, broadcast::Receiver<Notice>)>) -> Listener {
        let pending = rooms.iter().rev().map(|(c, m, _)| ("presence", Arc::from(list_json(c, m)))).collect();
        Listener { presence, rooms: rooms.into_iter().map(|(c, _, rx)| (c, rx)).collect(), pending }
    }

    /// The next frame to send: `("presence" | "join" | "leave", json)`. Never ends while
    /// listening to a channel; pending forever without any.
    pub async fn next(&mut self) -> (&'static str, Arc<str>) {
        if let Some(frame) = self.pending.pop() {
            return frame;
        }
        if self.rooms.is_empty() {
            return std::future::pending().await;
        }
        loop {
            let (result, index, _) = select_all(self.rooms.iter_mut().map(|(_, rx)| Box::pin(rx.recv()))).await;
            match result {
                Ok(notice) => return (notice.kind(), notice.0),
                // Too far behind: the whole list again instead of what was missed.
                Err(RecvError::Lagged(_)) => {
                    let channel = &self.rooms[index].0;
                    return ("presence", Arc::from(list_json(channel, &self.presence.members(channel))));
                }
                Err(RecvError::Closed) => {
                    self.rooms.swap_remove(index);
                    if self.rooms.is_empty() {
                        return std::future::pending().await;
                    }
                }
            }
        }
    }
}

/// The app's event for a transition.
pub fn to_event(events: &Events, transition: Transition) {
    let info = |i: &Info| i.as_deref().and_then(|t| serde_json::from_str(t).ok());
    match transition {
        Transition::Occupied(c) => events.push("channel_occupied", |e| e.channel = Some(c.to_string())),
        Transition::Vacated(c) => events.push("channel_vacated", |e| e.channel = Some(c.to_string())),
        Transition::Joined(c, consumer, i) => events.push("member_joined", |e| {
            e.channel = Some(c.to_string());
            e.consumer = Some(consumer.to_string());
            e.info = info(&i);
        }),
        Transition::Left(c, consumer, i) => events.push("member_left", |e| {
            e.channel = Some(c.to_string());
            e.consumer = Some(consumer.to_string());
            e.info = info(&i);
        }),
        Transition::Connected(consumer) => events.push("consumer_connected", |e| e.consumer = Some(consumer.to_string())),
        Transition::Disconnected(consumer) => events.push("consumer_disconnected", |e| e.consumer = Some(consumer.to_string())),
    }
}
